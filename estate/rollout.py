"""The promote-or-roll-back decision of a model rollout, from the endpoint's CloudWatch alarms.

A canary of an approved model version bakes for a configured time while the stable endpoint's
and the canary's alarms are watched. Any watched alarm in `ALARM` rolls the canary back at
once; when the bake time has passed with every watched alarm out of `ALARM`, the canary is
promoted. `INSUFFICIENT_DATA` does not block promotion (the endpoint alarms treat missing data
as not breaching, so a quiet canary is not a failing one).

This module holds the decision and the watch (plain data in, a verdict out) so the deploy
workflow calls it rather than shell: `python -m estate.rollout --alarm NAME... --bake-seconds N`
prints the verdict and exits 0 on promote, 1 on roll back.

It also holds the stack-file edits of a rollout, so the workflow never hand-edits YAML
(comments and key order survive: ruamel.yaml's round trip):

    python -m estate.rollout approved-version --stack S --family F --arn ARN   # prints N
    python -m estate.rollout stage   --stack S --family F --version N [--weight W]
    python -m estate.rollout alarms  --stack S --family F                      # one per line
    python -m estate.rollout promote --stack S --family F --version N
    python -m estate.rollout abort   --stack S --family F

`stage` puts `canary: {modelVersion: N, weight: W}` on every endpoint of the stack serving
family F; `promote` makes N their `modelVersion` and removes the canary; `abort` removes it.
Each prints what it changed and exits 2 when there is nothing to do (no endpoint of F, or N
already served), so the workflow can stop early.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Verdict = Literal["promote", "rollback", "wait"]


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str


def decide(
    states: dict[str, str], watched: Sequence[str], *, elapsed: float, bake: float
) -> Decision:
    """The verdict for one look at the alarms: `rollback` if a watched alarm is in ALARM or
    missing (a rollout never promotes past an alarm it cannot see), `promote` once `elapsed`
    reaches `bake`, otherwise `wait`."""
    missing = sorted(set(watched) - set(states))
    if missing:
        return Decision("rollback", f"watched alarms not found: {', '.join(missing)}")
    firing = sorted(a for a in watched if states[a] == "ALARM")
    if firing:
        return Decision("rollback", f"alarms in ALARM: {', '.join(firing)}")
    if elapsed >= bake:
        return Decision("promote", f"no watched alarm fired in {bake:g}s")
    return Decision("wait", f"{elapsed:g}s of {bake:g}s baked")


_PACKAGE_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/([A-Za-z0-9-]{1,63})/(\d+)$"
)


def approved_version(model_package_arn: str, name_prefix: str, family: str) -> int:
    """The version number of an approved model package version of `family`, from its ARN
    (`arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>`, the group being
    `model_package_group_name(name_prefix, family)`, e.g. `fraud-dev-card-fraud`): what the
    deploy path writes to the endpoint's `modelVersion`. A package of another group is refused."""
    from components.model_registry import model_package_group_name

    group = model_package_group_name(name_prefix, family)
    match = _PACKAGE_ARN.match(model_package_arn)
    if match is None:
        raise ValueError(f"not a versioned model package ARN: {model_package_arn!r}")
    if match.group(1) != group:
        raise ValueError(
            f"model package {model_package_arn!r} is in group {match.group(1)!r}, not {group!r}"
        )
    return int(match.group(2))


def alarm_states(cloudwatch: Any, names: Sequence[str]) -> dict[str, str]:
    """`{alarm name: state}` of the named metric alarms (absent names are absent)."""
    states: dict[str, str] = {}
    names = list(names)
    for i in range(0, len(names), 100):  # DescribeAlarms takes at most 100 names
        paginator = cloudwatch.get_paginator("describe_alarms")
        for page in paginator.paginate(AlarmNames=names[i : i + 100], AlarmTypes=["MetricAlarm"]):
            for alarm in page["MetricAlarms"]:
                states[alarm["AlarmName"]] = alarm["StateValue"]
    return states


def watch(
    cloudwatch: Any,
    watched: Sequence[str],
    *,
    bake: float,
    interval: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Decision:
    """Look at the alarms every `interval` seconds until the verdict is not `wait`."""
    start = clock()
    while True:
        decision = decide(
            alarm_states(cloudwatch, watched), watched, elapsed=clock() - start, bake=bake
        )
        if decision.verdict != "wait":
            return decision
        sleep(interval)


# -- stack-file edits ------------------------------------------------------------------------

SERVING_KEY = "ai-estate:serving"
STACK_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
NOTHING_TO_DO = 2
"""Exit status of an edit that changed nothing (the workflow stops early on it)."""


def stack_file(stacks_dir: Path, stack: str) -> Path:
    """`stacks/Pulumi.<stack>.yaml`, refusing names that are not stack names."""
    if not STACK_NAME.match(stack) or stack.startswith("platform-"):
        raise ValueError(f"{stack!r} is not a BU stack name (<bu>-<env>)")
    path = stacks_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise ValueError(f"{path}: no such stack file")
    return path


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()  # round trip: comments, order and quoting are kept
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap the file's long flow-style lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _trailing_comment(node: Any) -> Any:
    """Remove and return the comment lines after `node`'s last value (ruamel keeps them on
    the deepest last key), or None."""
    from ruamel.yaml.comments import CommentedMap

    if not isinstance(node, CommentedMap) or not node:
        return None
    last = list(node)[-1]
    return _trailing_comment(node[last]) or node.ca.items.pop(last, None)


def _pop(mapping: Any, key: str) -> Any:
    """`mapping.pop(key)`, keeping the comment lines that trail it: ruamel attaches the
    comments after a block to its last key, so removing that key would drop them (here: the
    next section's heading comment after the last endpoint)."""
    if key not in mapping:
        return None
    keys = list(mapping)
    comment = _trailing_comment(mapping[key]) or mapping.ca.items.pop(key, None)
    value = mapping.pop(key)
    if comment is not None and keys[-1] == key and len(keys) > 1:
        mapping.ca.items[keys[-2]] = comment
    return value


def family_endpoints(document: Any, family: str) -> list[Any]:
    """The endpoints (mappings of the loaded stack file) serving `family`."""
    config = document.get("config") or {}
    serving = config.get(SERVING_KEY) or {}
    return [e for e in serving.get("endpoints") or [] if e.get("modelFamily") == family]


def stage(document: Any, family: str, version: int, weight: int) -> list[str]:
    """Put a canary of `version` on each endpoint of `family` that does not serve it yet."""
    from ruamel.yaml.comments import CommentedMap

    if not 1 <= weight <= 50:
        raise ValueError(f"canary weight {weight} must be 1-50")
    changed = []
    for endpoint in family_endpoints(document, family):
        if str(endpoint.get("modelVersion")) == str(version):
            continue
        canary = CommentedMap()
        canary["modelVersion"] = version
        canary["weight"] = weight
        endpoint["canary"] = canary
        changed.append(str(endpoint["name"]))
    return changed


def promote(document: Any, family: str, version: int) -> list[str]:
    """Serve `version` on each endpoint of `family` and remove its canary."""
    changed = []
    for endpoint in family_endpoints(document, family):
        had_canary = _pop(endpoint, "canary") is not None
        if str(endpoint.get("modelVersion")) != str(version) or had_canary:
            endpoint["modelVersion"] = version
            changed.append(str(endpoint["name"]))
    return changed


def abort(document: Any, family: str) -> list[str]:
    """Remove the canary of each endpoint of `family` (the stable version keeps serving)."""
    return [
        str(endpoint["name"])
        for endpoint in family_endpoints(document, family)
        if _pop(endpoint, "canary") is not None
    ]


def watched_alarms(document: Any, stack: str, family: str) -> list[str]:
    """The alarms a canary of `family` on `stack` bakes against (components/serving.py)."""
    from components.serving import rollout_alarm_names

    return [
        name
        for endpoint in family_endpoints(document, family)
        for name in rollout_alarm_names(stack, str(endpoint["name"]))
    ]


def edit_stack(path: Path, change: Callable[[Any], list[str]]) -> list[str]:
    """Load `path`, apply `change`, write it back if anything changed; the changed endpoints."""
    yaml = _yaml()
    document = yaml.load(path.read_text())
    changed = change(document)
    if changed:
        with path.open("w") as out:
            yaml.dump(document, out)
    return changed


def _edit_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m estate.rollout")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("approved-version", "stage", "alarms", "promote", "abort"):
        p = sub.add_parser(command)
        p.add_argument("--stack", required=True)
        p.add_argument("--family", required=True)
        p.add_argument("--stacks-dir", type=Path, default=Path("stacks"))
        if command == "approved-version":
            p.add_argument("--arn", required=True)
        if command in ("stage", "promote"):
            p.add_argument("--version", type=int, required=True)
        if command == "stage":
            p.add_argument("--weight", type=int, default=10)
    ns = parser.parse_args(argv)
    try:
        if ns.command == "approved-version":
            print(approved_version(ns.arn, ns.stack, ns.family))
            return 0
        path = stack_file(ns.stacks_dir, ns.stack)
        if ns.command == "alarms":
            names = watched_alarms(_yaml().load(path.read_text()), ns.stack, ns.family)
            print("\n".join(names))
            return 0 if names else NOTHING_TO_DO
        changes: dict[str, Callable[[Any], list[str]]] = {
            "stage": lambda d: stage(d, ns.family, ns.version, ns.weight),
            "promote": lambda d: promote(d, ns.family, ns.version),
            "abort": lambda d: abort(d, ns.family),
        }
        changed = edit_stack(path, changes[ns.command])
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{ns.command} {ns.stack} {ns.family}: {', '.join(changed) or 'nothing to change'}")
    return 0 if changed else NOTHING_TO_DO


EDIT_COMMANDS = frozenset({"approved-version", "stage", "alarms", "promote", "abort"})


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in EDIT_COMMANDS:
        return _edit_main(argv)
    parser = argparse.ArgumentParser(prog="python -m estate.rollout", description=__doc__)
    parser.add_argument("--alarm", action="append", required=True, help="alarm name to watch")
    parser.add_argument("--bake-seconds", type=float, required=True)
    parser.add_argument("--interval-seconds", type=float, default=30)
    parser.add_argument("--region", default=None)
    ns = parser.parse_args(argv)
    import boto3

    cloudwatch = boto3.client("cloudwatch", region_name=ns.region)
    decision = watch(cloudwatch, ns.alarm, bake=ns.bake_seconds, interval=ns.interval_seconds)
    print(f"{decision.verdict}: {decision.reason}")
    return 0 if decision.verdict == "promote" else 1


if __name__ == "__main__":
    sys.exit(main())
