"""The promote-or-roll-back decision of a model rollout, from the endpoint's CloudWatch alarms.

A canary of an approved model version bakes for a configured time while the stable endpoint's
and the canary's alarms are watched. Any watched alarm in `ALARM` rolls the canary back at
once; when the bake time has passed with every watched alarm out of `ALARM`, the canary is
promoted. `INSUFFICIENT_DATA` does not block promotion (the endpoint alarms treat missing data
as not breaching, so a quiet canary is not a failing one).

This module holds only the decision and the watch (plain data in, a verdict out) so the deploy
workflow calls it rather than shell: `python -m estate.rollout --alarm NAME... --bake-seconds N`
prints the verdict and exits 0 on promote, 1 on roll back.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


def main(argv: Sequence[str] | None = None) -> int:
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
