"""Regenerate the pack's column of benchmarks/coverage.md: rules per SageMaker resource type.

    .venv/bin/python benchmarks/rule_coverage.py            # print the table
    .venv/bin/python benchmarks/rule_coverage.py --write    # rewrite it in coverage.md

The pack's counts come from `governance.pack.RULES` (resource rules whose `resource_types` name
the type; stack rules are not counted, as they see every type). The other columns are public
counts recorded by hand at the commits named in coverage.md, with how each was counted; they do
not change when the pack does, so the script keeps them as data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "policies"), str(ROOT)]

from governance.pack import RULES  # noqa: E402

COVERAGE = ROOT / "benchmarks" / "coverage.md"
BEGIN, END = "<!-- coverage:begin -->", "<!-- coverage:end -->"

#: Pulumi type token -> (Terraform type, AWSGuard, Pulumi compliance-policies, Checkov).
UPSTREAM: dict[str, tuple[str, int, int, int]] = {
    "aws:sagemaker/notebookInstance:NotebookInstance": ("aws_sagemaker_notebook_instance", 0, 0, 8),
    "aws:sagemaker/domain:Domain": ("aws_sagemaker_domain", 0, 0, 1),
    "aws:sagemaker/model:Model": ("aws_sagemaker_model", 0, 0, 1),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": (
        "aws_sagemaker_endpoint_configuration",
        0,
        0,
        1,
    ),
    "aws:sagemaker/trainingJob:TrainingJob": ("aws_sagemaker_training_job", 0, 0, 0),
    "aws:sagemaker/hyperParameterTuningJob:HyperParameterTuningJob": (
        "aws_sagemaker_hyper_parameter_tuning_job",
        0,
        0,
        0,
    ),
    "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition": (
        "aws_sagemaker_data_quality_job_definition",
        0,
        0,
        3,
    ),
    "aws:sagemaker/monitoringSchedule:MonitoringSchedule": (
        "aws_sagemaker_monitoring_schedule",
        0,
        0,
        0,
    ),
    "aws:sagemaker/labelingJob:LabelingJob": ("aws_sagemaker_labeling_job", 0, 0, 0),
    "aws:sagemaker/flowDefinition:FlowDefinition": ("aws_sagemaker_flow_definition", 0, 0, 1),
    "aws:sagemaker/featureGroup:FeatureGroup": ("aws_sagemaker_feature_group", 0, 0, 0),
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": (
        "aws_sagemaker_model_package_group",
        0,
        0,
        0,
    ),
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": (
        "aws_sagemaker_model_package_group_policy",
        0,
        0,
        0,
    ),
}


def pack_counts() -> dict[str, list[str]]:
    """Type token -> ids of the pack's resource rules that judge it."""
    found: dict[str, list[str]] = {token: [] for token in UPSTREAM}
    for rule in RULES:
        for token in rule.resource_types:
            if token in found:
                found[token].append(rule.id)
    return found


def table() -> str:
    counts = pack_counts()
    lines = [
        "| resource type (Pulumi) | this pack | AWSGuard | Pulumi compliance-policies | Checkov |",
        "|---|---:|---:|---:|---:|",
    ]
    for token, (_, awsguard, compliance, checkov) in UPSTREAM.items():
        name = token.rsplit(":", 1)[-1]
        lines.append(f"| `{name}` | {len(counts[token])} | {awsguard} | {compliance} | {checkov} |")
    total = [
        sum(len(v) for v in counts.values()),
        *(sum(u[i] for u in UPSTREAM.values()) for i in (1, 2, 3)),
    ]
    lines.append(
        f"| **total** | **{total[0]}** | **{total[1]}** | **{total[2]}** | **{total[3]}** |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the table in coverage.md")
    args = parser.parse_args()
    rendered = table()
    if not args.write:
        print(rendered)
        return
    text = COVERAGE.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    COVERAGE.write_text(f"{head}{BEGIN}\n{rendered}\n{END}{tail}")


if __name__ == "__main__":
    main()
