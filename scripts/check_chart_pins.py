#!/usr/bin/env python3
"""Resolve every pin the platform deploys against the live repositories, before `pulumi up`.

- Helm charts (components/charts.yaml): `helm show chart --repo <repo> <chart> --version <v>`,
  or `helm show chart oci://<registry>/<chart> --version <v>` for OCI registries.
- With `--eks-addons STACK_FILE...`: every `ai-estate:cluster.addonVersions` pin of those stack
  files, with `aws eks describe-addon-versions` for the stack's Kubernetes version (needs AWS
  credentials; the deploy workflow runs it after assuming the deploy role).

Exits 1 naming every pin that does not resolve, 2 when a tool is missing. Needs network access
(the offline tests point it at fake `helm` and `aws` executables).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CHARTS = ROOT / "components" / "charts.yaml"


def helm_command(helm: str, pin: dict[str, Any]) -> list[str]:
    """The `helm show chart` invocation that resolves one pin."""
    repo, chart, version = str(pin["repo"]), str(pin["chart"]), str(pin["version"])
    if repo.startswith("oci://"):
        return [helm, "show", "chart", f"{repo.rstrip('/')}/{chart}", "--version", version]
    return [helm, "show", "chart", "--repo", repo, chart, "--version", version]


def check_charts(charts_file: Path, helm: str) -> list[str]:
    """One line per chart pin that does not resolve."""
    pins = (yaml.safe_load(charts_file.read_text()) or {}).get("charts", {})
    missing = []
    for name, pin in pins.items():
        result = subprocess.run(helm_command(helm, pin), capture_output=True, text=True)
        if result.returncode != 0:
            why = (result.stderr.strip().splitlines() or ["no output"])[-1]
            missing.append(
                f"{charts_file.name}: charts.{name}: {pin['chart']} {pin['version']} not found "
                f"in {pin['repo']} ({why})"
            )
        else:
            print(f"ok  {name} {pin['version']} ({pin['repo']})")
    return missing


def stack_addon_pins(stack_file: Path) -> tuple[str, dict[str, str]]:
    """The Kubernetes version and add-on pins of one stack file."""
    config = (yaml.safe_load(stack_file.read_text()) or {}).get("config", {})
    cluster = config.get("ai-estate:cluster") or {}
    if isinstance(cluster, str):  # Pulumi may store structured config as JSON text
        cluster = json.loads(cluster)
    return str(cluster.get("version", "")), dict(cluster.get("addonVersions") or {})


def check_addons(stack_files: list[Path], aws: str) -> list[str]:
    """One line per EKS add-on pin that EKS does not offer for the stack's version."""
    missing = []
    for stack_file in stack_files:
        version, pins = stack_addon_pins(stack_file)
        for addon, pinned in sorted(pins.items()):
            command = [
                aws,
                "eks",
                "describe-addon-versions",
                "--addon-name",
                addon,
                "--kubernetes-version",
                version,
                "--query",
                "addons[].addonVersions[].addonVersion",
                "--output",
                "json",
            ]
            result = subprocess.run(command, capture_output=True, text=True)
            offered: list[str] = []
            if result.returncode == 0:
                try:
                    offered = [str(v) for v in json.loads(result.stdout or "[]")]
                except json.JSONDecodeError:
                    offered = []
            if pinned not in offered:
                why = (
                    f"EKS offers {', '.join(offered[:5]) or 'none'}"
                    if result.returncode == 0
                    else (result.stderr.strip().splitlines() or ["aws failed"])[-1]
                )
                missing.append(
                    f"{stack_file.name}: ai-estate:cluster.addonVersions.{addon}: {pinned} is not "
                    f"offered for Kubernetes {version} ({why})"
                )
            else:
                print(f"ok  {stack_file.name} {addon} {pinned} (Kubernetes {version})")
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charts", type=Path, default=DEFAULT_CHARTS, help="charts.yaml to check")
    parser.add_argument("--helm", default="helm", help="helm executable")
    parser.add_argument("--aws", default="aws", help="aws CLI executable")
    parser.add_argument(
        "--eks-addons",
        type=Path,
        nargs="*",
        default=[],
        help="stack files whose add-on pins to check",
    )
    args = parser.parse_args(argv)
    tools = [args.helm] + ([args.aws] if args.eks_addons else [])
    for tool in tools:
        if shutil.which(tool) is None:
            print(f"check_chart_pins: {tool} is not on PATH", file=sys.stderr)
            return 2
    missing = check_charts(args.charts, args.helm)
    if args.eks_addons:
        missing += check_addons(args.eks_addons, args.aws)
    for line in missing:
        print(f"missing: {line}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
