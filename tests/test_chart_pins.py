"""Helm chart pins (components/charts.yaml): each one published upstream, recorded with where
and when it was read, used as pinned by the rendered platform stacks, and resolved by the
deploy workflow's `scripts/check_chart_pins.py` (tested here against fake `helm`/`aws`)."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.charts import all_charts, chart

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "tests" / "vendor" / "charts"
SCRIPT = ROOT / "scripts" / "check_chart_pins.py"
RELEASE = "kubernetes:helm.sh/v3:Release"


def test_every_pin_is_a_published_version_with_its_source_and_date():
    published = yaml.safe_load((VENDOR / "published-versions.yaml").read_text())
    pins = all_charts()
    assert set(pins) >= {
        "cluster-autoscaler",
        "karpenter",
        "karpenter-crd",
        "nvidia-device-plugin",
        "dcgm-exporter",
        "gpu-operator",
    }
    for name, pin in pins.items():
        assert pin.version in published[pin.chart]["versions"], f"{name} {pin.version}"
        assert pin.source and pin.verified_on == dt.date(2026, 12, 3)
        assert (VENDOR / f"{pin.chart}-{pin.version}" / "values.yaml").is_file(), name


def test_dcgm_exporter_is_pinned_to_the_newest_published_4_8():
    # 4.8.3 was never published; the index ends at 4.8.2 (and 4.9 renames metrics).
    published = yaml.safe_load((VENDOR / "published-versions.yaml").read_text())
    four_eight = [v for v in published["dcgm-exporter"]["versions"] if v.startswith("4.8.")]
    assert chart("dcgm-exporter").version == max(four_eight, key=lambda v: int(v.split(".")[2]))
    assert "4.8.3" not in four_eight


def test_karpenter_crd_chart_moves_with_the_controller():
    assert chart("karpenter-crd").version == chart("karpenter").version
    assert chart("karpenter-crd").repo == chart("karpenter").repo


@pytest.mark.parametrize("stack", ["platform-prod", "platform-dev"])
def test_rendered_releases_install_exactly_the_pins(rendered, stack):
    releases = [r for r in rendered(stack).resources if r.type == RELEASE]
    # every release the platform installs is a pin of charts.yaml (serving's included)
    ours = [r for r in releases if r.inputs["name"] in all_charts()]
    assert ours == releases
    assert {r.inputs["name"] for r in ours} >= {
        "karpenter",
        "karpenter-crd",
        "dcgm-exporter",
        "aws-load-balancer-controller",
        "keda",
    }
    for release in ours:
        pin = chart(release.inputs["name"])
        assert release.inputs["chart"] == pin.reference
        assert release.inputs["version"] == pin.version
        if pin.is_oci:
            assert pin.reference == f"{pin.repo}/{pin.chart}"
            assert "repositoryOpts" not in release.inputs
        else:
            assert release.inputs["repositoryOpts"] == {"repo": pin.repo}


def test_unknown_chart_is_named_with_the_file():
    with pytest.raises(KeyError, match=r"charts\.yaml: no chart 'nope'"):
        chart("nope")


# -- the pin check the deploy workflow runs --------------------------------------------------


def fake_tool(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


FAKE_HELM = """
import json, os, sys
with open(os.environ["HELM_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
args = sys.argv[1:]
version = args[args.index("--version") + 1]
missing = os.environ.get("HELM_MISSING", "")
if version == missing:
    sys.stderr.write(f"Error: chart version {version} not found\\n")
    sys.exit(1)
print("apiVersion: v2")
"""


def run_check(tmp_path: Path, *extra: str, **env: str) -> subprocess.CompletedProcess[str]:
    fake_tool(tmp_path, "helm", FAKE_HELM)
    environment = {
        **os.environ,
        "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}",
        "HELM_LOG": str(tmp_path / "helm.log"),
        **env,
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT), *extra],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
    )


def test_check_resolves_every_pin_with_helm_show_chart(tmp_path):
    result = run_check(tmp_path)
    assert result.returncode == 0, result.stderr
    calls = [json.loads(line) for line in (tmp_path / "helm.log").read_text().splitlines()]
    assert len(calls) == len(all_charts())
    assert [
        "show",
        "chart",
        "oci://public.ecr.aws/karpenter/karpenter",
        "--version",
        chart("karpenter").version,
    ] in calls
    assert [
        "show",
        "chart",
        "--repo",
        "https://nvidia.github.io/dcgm-exporter/helm-charts",
        "dcgm-exporter",
        "--version",
        "4.8.2",
    ] in calls


def test_check_fails_naming_a_pin_that_does_not_resolve(tmp_path):
    charts = tmp_path / "charts.yaml"
    doc = yaml.safe_load((ROOT / "components" / "charts.yaml").read_text())
    doc["charts"]["dcgm-exporter"]["version"] = "4.8.3"  # the old, never-published pin
    charts.write_text(yaml.safe_dump(doc))
    result = run_check(tmp_path, "--charts", str(charts), HELM_MISSING="4.8.3")
    assert result.returncode == 1
    assert "charts.dcgm-exporter: dcgm-exporter 4.8.3 not found" in result.stderr
    assert "chart version 4.8.3 not found" in result.stderr


def test_check_without_helm_says_so(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--helm", "no-such-helm"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "no-such-helm is not on PATH" in result.stderr


FAKE_AWS = """
import json, sys
args = sys.argv[1:]
addon = args[args.index("--addon-name") + 1]
offered = {"vpc-cni": ["v1.21.1-eksbuild.3"], "coredns": ["v1.13.2-eksbuild.1"]}
print(json.dumps(offered.get(addon, [])))
"""


def test_check_resolves_the_stacks_eks_addon_pins(tmp_path):
    fake_tool(tmp_path, "aws", FAKE_AWS)
    stack = tmp_path / "Pulumi.platform-x.yaml"
    stack.write_text(
        yaml.safe_dump(
            {
                "config": {
                    "ai-estate:cluster": {
                        "version": "1.35",
                        "addonVersions": {
                            "vpc-cni": "v1.21.1-eksbuild.3",
                            "coredns": "v1.99.0-eksbuild.1",
                        },
                    }
                }
            }
        )
    )
    result = run_check(tmp_path, "--eks-addons", str(stack))
    assert result.returncode == 1
    assert "ai-estate:cluster.addonVersions.coredns: v1.99.0-eksbuild.1 is not offered" in (
        result.stderr
    )
    assert "vpc-cni" not in result.stderr


def test_deploy_workflow_checks_pins_before_pulumi_up():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    for job in ("platform", "bu"):
        steps = workflow["jobs"][job]["steps"]
        names = [str(s.get("uses") or s.get("name")) for s in steps]
        check = next(i for i, s in enumerate(steps) if "check_chart_pins.py" in s.get("run", ""))
        up = next(i for i, n in enumerate(names) if n.startswith("pulumi/actions@"))
        helm = next(i for i, n in enumerate(names) if n.startswith("azure/setup-helm@"))
        credentials = next(i for i, n in enumerate(names) if "configure-aws-credentials" in n)
        assert credentials < check and helm < check < up
        assert "--eks-addons" in steps[check]["run"]
