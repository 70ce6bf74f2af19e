"""Run `estate check` over the public Pulumi Python examples, as a platform team's own programs.

Point it at a checkout of https://github.com/pulumi/examples (nothing is downloaded here):

    git clone --depth 1 https://github.com/pulumi/examples /tmp/pulumi-examples
    .venv/bin/python benchmarks/public_examples.py /tmp/pulumi-examples

Every Python project under the `aws-*` and `kubernetes-*` examples (`--all`: every Python
example) is checked offline with `--stack dev`, `aws:region=us-west-2` and the config its README
asks for (`EXAMPLE_CONFIG`). Each gets a verdict (exit 0 or 1), a one-line reason it cannot be
rendered (exit 2: a provider SDK it needs is missing, config it needs, a stack of another project
it reads), or is an engine bug (exit 3, which the summary counts and the script exits non-zero on).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

EXAMPLE_CONFIG: dict[str, list[str]] = {
    "aws-py-static-website": ["targetDomain=www.example.com", "pathToWebsiteContents=www"],
    "aws-py-redshift-glue-etl": [
        "clusterIdentifier=etl",
        "clusterNodeType=ra3.xlplus",
        "clusterDBName=dev",
        "clusterDBUsername=admin",
        "glueDBName=glue",
    ],
    "kubernetes-py-exposed-deployment": ["is_minikube=false"],
    "kubernetes-py-jenkins": ["isMinikube=false", "username=admin"],
    "aws-py-assume-role/create-role": ["unprivilegedUsername=alice"],
    "aws-py-assume-role/assume-role": ["roleToAssumeARN=arn:aws:iam::123456789012:role/deployer"],
    "aws-py-ecs-instances-autoapi/py-ecs-instance": ["cfg:autoscalingGroupSize=2"],
    "aws-py-stackreference/company": ["companyName=acme"],
    "aws-py-stackreference/department": ["departmentName=platform"],
    "aws-py-stackreference/team": [
        "companyStack=acme/company/dev",
        "departmentStack=acme/department/dev",
        "teamName=checkout",
    ],
}
EXAMPLE_SECRETS: dict[str, list[str]] = {
    "aws-py-redshift-glue-etl": ["clusterDBPassword=not-a-real-password-1"],
    "kubernetes-py-jenkins": ["password=not-a-real-password-1"],
}


def python_projects(examples: Path, every: bool) -> list[Path]:
    found = []
    for pulumi_yaml in sorted(examples.glob("*/**/Pulumi.yaml")):
        rel = pulumi_yaml.parent.relative_to(examples)
        if any(part in ("venv", ".venv", "node_modules") for part in rel.parts):
            continue
        if not every and not rel.parts[0].startswith(("aws-", "kubernetes-")):
            continue
        runtime = (yaml.safe_load(pulumi_yaml.read_text()) or {}).get("runtime")
        name = runtime.get("name") if isinstance(runtime, dict) else runtime
        if name == "python":
            found.append(pulumi_yaml.parent)
    return found


def check(project: Path, key: str) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "estate", "check", "--project", str(project), "--stack", "dev"]
    cmd += ["--quiet", "--jobs", "1", "--config", "aws:region=us-west-2"]
    for value in EXAMPLE_CONFIG.get(key, []):
        cmd += ["--config", value]
    for value in EXAMPLE_SECRETS.get(key, []):
        cmd += ["--config-secret", value]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    lines = [ln.strip() for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
    verdict = next((ln for ln in lines if "stack(s)," in ln), "")
    reason = next((ln for ln in lines if "stack(s)," not in ln), "")
    return done.returncode, verdict if done.returncode in (0, 1) else reason


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", type=Path, help="a checkout of pulumi/examples")
    parser.add_argument("--all", action="store_true", help="every Python example, any cloud")
    args = parser.parse_args()
    rows = []
    for project in python_projects(args.examples, args.all):
        key = project.relative_to(args.examples).as_posix()
        code, line = check(project, key)
        rows.append((key, code, line))
        print(f"| {key} | {code} | {line.replace('|', '/')} |", flush=True)
    counts = {c: sum(1 for _, code, _ in rows if code == c) for c in (0, 1, 2, 3)}
    print(
        f"\n{len(rows)} programs: {counts[0] + counts[1]} rendered and judged (exit 0: "
        f"{counts[0]}, exit 1: {counts[1]}), {counts[2]} with a one-line reason (exit 2), "
        f"{counts[3]} engine errors (exit 3)"
    )
    sys.exit(1 if counts[3] else 0)


if __name__ == "__main__":
    main()
