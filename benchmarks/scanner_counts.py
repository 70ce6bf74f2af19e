"""Count the public scanners' rules per resource type from snapshots fetched with the `fetch` tool.

    .venv/bin/python benchmarks/scanner_counts.py MIRROR_ROOT   # rewrites scanner_counts.json

MIRROR_ROOT holds bare clones named `<owner>+<name>/repo` (e.g. /work/.mirror). The script reads
each snapshot's HEAD with `git` (no work tree needed) and writes `benchmarks/scanner_counts.json`:
the commit counted and, per scanner, rule id (or file) -> the resource types it names, in the
scanner's own vocabulary. `rule_coverage.py` maps those types to Pulumi types and renders the
table offline from this file. What counts as one rule:

- Checkov (bridgecrewio/checkov): one check file (its `id`), for Terraform AWS under
  `checkov/terraform/checks/resource/aws/*.py` (the Terraform types in `supported_resources`) and
  `checkov/terraform/checks/graph_checks/aws/*.yaml` (the types the check filters on, not the
  connected types it looks for), and for Kubernetes `checkov/kubernetes/checks/resource/k8s/*.py`
  (the kinds in `supported_kind`/`supported_entities`, taken from the check's base class when the
  check does not list them itself).
- AWSGuard (aws-cloudformation/aws-guard-rules-registry): one `rules/aws/**/*.guard` file, for
  each CloudFormation type it selects (`Type == 'AWS::…'`).
- Pulumi compliance-policies (pulumi/compliance-policies): one policy file
  `vendor-aws/aws/<module>/<Resource>/<policy>.ts` or
  `vendor-kubernetes/kubernetes/<group>/<version>/<Kind>/<policy>.ts` (not `index.ts`); a policy
  is counted once per Kubernetes kind however many API versions carry it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

OUT = Path(__file__).resolve().parent / "scanner_counts.json"
CHECKOV = "bridgecrewio+checkov"
AWSGUARD = "aws-cloudformation+aws-guard-rules-registry"
COMPLIANCE = "pulumi+compliance-policies"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def _files(repo: Path, under: str) -> list[str]:
    return _git(repo, "ls-tree", "-r", "--name-only", "HEAD", under).split()


def _show(repo: Path, path: str) -> str:
    return _git(repo, "show", f"HEAD:{path}")


def _snapshot(repo: Path) -> dict[str, str]:
    commit, date = _git(repo, "log", "-1", "--format=%H %cs", "HEAD").split()
    return {"commit": commit, "date": date}


_CKV_ID = re.compile(r"""\b(?:check_)?id\s*=\s*["'](CKV2?_[A-Z0-9]+_\d+)["']""")
_LIST = r"""[\[\(]([^\]\)]*)[\]\)]"""
_TF_TYPES = re.compile(r"supported_(?:resources?|data)\s*=\s*" + _LIST, re.S)
_KINDS = re.compile(
    r"(?:supported_(?:kind|kinds|entities)|SUPPORTED_ENTITIES)\s*=\s*" + _LIST, re.S
)
_BASE = re.compile(
    r"from (checkov\.(?:kubernetes|terraform|cloudformation)\.checks\.[\w.]+) import"
)


def _strings(text: str) -> list[str]:
    return re.findall(r"""["']([\w.:-]+)["']""", text)


def _graph_types(node: object) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        if node.get("attribute") in ("resource_type", "kind") and isinstance(
            node.get("value"), list
        ):
            found |= {v for v in node["value"] if isinstance(v, str)}
        if isinstance(node.get("resource_types"), list):
            found |= {v for v in node["resource_types"] if isinstance(v, str)}
        for value in node.values():
            found |= _graph_types(value)
    elif isinstance(node, list):
        for item in node:
            found |= _graph_types(item)
    return found


def _declared(repo: Path, text: str, pattern: re.Pattern[str], depth: int = 3) -> list[str]:
    """The types a check declares, or (when it declares none) those of its base classes."""
    found = pattern.findall(text)
    if found or depth == 0:
        return sorted({t for group in found for t in _strings(group)})
    for module in _BASE.findall(text):
        try:
            base = _show(repo, module.replace(".", "/") + ".py")
        except subprocess.CalledProcessError:
            continue
        types = _declared(repo, base, pattern, depth - 1)
        if types:
            return types
    return []


def _python_checks(repo: Path, under: str, pattern: re.Pattern[str]) -> dict[str, list[str]]:
    checks: dict[str, list[str]] = {}
    for path in _files(repo, under):
        if not path.endswith(".py") or path.endswith("__init__.py"):
            continue
        text = _show(repo, path)
        ids, types = _CKV_ID.findall(text), _declared(repo, text, pattern)
        if ids and types:
            checks[ids[0]] = types
    return checks


def _graph_checks(repo: Path, under: str) -> dict[str, list[str]]:
    checks: dict[str, list[str]] = {}
    for path in _files(repo, under):
        if path.endswith(".yaml"):
            doc = yaml.safe_load(_show(repo, path))
            checks[doc["metadata"]["id"]] = sorted(_graph_types(doc.get("definition", {})))
    return checks


_SECRET = re.compile(r"""['"]([^'"]+)['"]\s*:\s*['"](CKV_SECRET_\d+)['"]""")
_POD_TEMPLATE_OWNERS = re.compile(r"SUPPORTED_POD_CONTAINERS_TYPES\s*=\s*\{([^}]*)\}")


def checkov(repo: Path) -> dict[str, object]:
    base = "checkov/terraform/checks"
    terraform = _python_checks(repo, f"{base}/resource/aws", _TF_TYPES)
    terraform |= {
        k: [t for t in v if t.startswith("aws_")]
        for k, v in _graph_checks(repo, f"{base}/graph_checks/aws").items()
    }
    kubernetes = _python_checks(repo, "checkov/kubernetes/checks/resource/k8s", _KINDS)
    kubernetes |= _graph_checks(repo, "checkov/kubernetes/checks/graph_checks")
    utils = _show(repo, "checkov/kubernetes/kubernetes_utils.py")
    return {
        **_snapshot(repo),
        "terraform": terraform,
        "terraform_data": _python_checks(repo, f"{base}/data/aws", _TF_TYPES),
        "cloudformation": _python_checks(
            repo, "checkov/cloudformation/checks/resource/aws", _TF_TYPES
        ),
        "kubernetes": kubernetes,
        "pod_template_owners": sorted(_strings(_POD_TEMPLATE_OWNERS.findall(utils)[0])),
        "secrets": {v: k for k, v in _SECRET.findall(_show(repo, "checkov/secrets/runner.py"))},
    }


_CFN_TYPE = re.compile(r"Type\s*==\s*['\"](AWS::[A-Za-z0-9]+::[A-Za-z0-9]+)['\"]")


def awsguard(repo: Path) -> dict[str, object]:
    rules = {
        path: sorted(set(_CFN_TYPE.findall(_show(repo, path))))
        for path in _files(repo, "rules/aws")
        if path.endswith(".guard")
    }
    return {**_snapshot(repo), "cloudformation": {k: v for k, v in rules.items() if v}}


def compliance(repo: Path) -> dict[str, object]:
    aws: dict[str, list[str]] = {}
    kubernetes: dict[str, list[str]] = {}
    for path in _files(repo, "vendor-aws/aws"):
        parts = path.split("/")
        if len(parts) == 5 and parts[4].endswith(".ts") and parts[4] != "index.ts":
            aws.setdefault(f"{parts[2]}/{parts[3]}", []).append(parts[4].removesuffix(".ts"))
    for path in _files(repo, "vendor-kubernetes/kubernetes"):
        parts = path.split("/")
        if len(parts) == 6 and parts[5].endswith(".ts") and parts[5] != "index.ts":
            kind = parts[4]
            if kind.endswith("List"):
                continue
            policies = kubernetes.setdefault(kind.removesuffix("Patch"), [])
            if parts[5].removesuffix(".ts") not in policies:
                policies.append(parts[5].removesuffix(".ts"))
    return {
        **_snapshot(repo),
        "aws": {k: sorted(v) for k, v in sorted(aws.items())},
        "kubernetes": {k: sorted(v) for k, v in sorted(kubernetes.items())},
    }


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/.mirror")
    data = {
        "checkov": checkov(root / CHECKOV / "repo"),
        "awsguard": awsguard(root / AWSGUARD / "repo"),
        "compliance_policies": compliance(root / COMPLIANCE / "repo"),
    }
    OUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
