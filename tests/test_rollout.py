"""The rollout verdict against CloudWatch served by moto in server mode (a real HTTP endpoint)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto.server import ThreadedMotoServer

from estate import rollout

STABLE = ["fraud-dev-card-scoring-latency-p99", "fraud-dev-card-scoring-target-5xx"]
CANARY = ["fraud-dev-card-scoring-canary-latency-p99", "fraud-dev-card-scoring-canary-target-5xx"]


@pytest.fixture(scope="module")
def cloudwatch() -> Iterator[object]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    client = boto3.client(
        "cloudwatch",
        region_name="eu-west-1",
        endpoint_url=f"http://{host}:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    for name in STABLE + CANARY:
        client.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/ApplicationELB",
            MetricName="TargetResponseTime",
            Statistic="Maximum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
    yield client
    server.stop()


def _set(client: object, state: str, names: list[str]) -> None:
    for name in names:
        client.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")  # type: ignore[attr-defined]


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_all_alarms_ok_for_the_bake_time_promotes(cloudwatch: object) -> None:
    _set(cloudwatch, "OK", STABLE + CANARY)
    clock = _Clock()
    decision = rollout.watch(
        cloudwatch, STABLE + CANARY, bake=600, interval=60, clock=clock, sleep=clock.sleep
    )
    assert decision.verdict == "promote"
    assert clock.now == 600


def test_canary_alarm_in_alarm_rolls_back_at_once(cloudwatch: object) -> None:
    _set(cloudwatch, "OK", STABLE + CANARY)
    _set(cloudwatch, "ALARM", [CANARY[1]])
    clock = _Clock()
    decision = rollout.watch(
        cloudwatch, STABLE + CANARY, bake=600, interval=60, clock=clock, sleep=clock.sleep
    )
    assert decision.verdict == "rollback"
    assert CANARY[1] in decision.reason
    assert clock.now == 0


def test_a_watched_alarm_that_does_not_exist_rolls_back(cloudwatch: object) -> None:
    _set(cloudwatch, "OK", STABLE + CANARY)
    decision = rollout.watch(cloudwatch, [*STABLE, "no-such-alarm"], bake=0, interval=1)
    assert decision.verdict == "rollback"
    assert "no-such-alarm" in decision.reason


@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["OK", "ALARM", "INSUFFICIENT_DATA"]),
        min_size=3,
    ),
    st.floats(0, 1000),
    st.floats(0, 1000),
)
def test_decide_promotes_only_without_alarm_after_bake(
    states: dict[str, str], elapsed: float, bake: float
) -> None:
    decision = rollout.decide(states, ["a", "b", "c"], elapsed=elapsed, bake=bake)
    firing = "ALARM" in states.values()
    expected = "rollback" if firing else ("promote" if elapsed >= bake else "wait")
    assert decision.verdict == expected


def test_approved_version_reads_the_version_of_the_family_package() -> None:
    arn = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/fraud-dev-card-fraud/7"
    assert rollout.approved_version(arn, "fraud-dev", "card-fraud") == 7


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:sagemaker:eu-west-1:111111111111:model-package/fraud-dev-churn/7",
        "arn:aws:sagemaker:eu-west-1:111111111111:model-package/risk-dev-card-fraud/7",
        "arn:aws:sagemaker:eu-west-1:111111111111:model-package/fraud-dev-card-fraud",
        "arn:aws:sagemaker:eu-west-1:111111111111:model-package-group/fraud-dev-card-fraud",
    ],
)
def test_approved_version_refuses_other_families_and_unversioned_arns(arn: str) -> None:
    with pytest.raises(ValueError):
        rollout.approved_version(arn, "fraud-dev", "card-fraud")
