"""Malformed stack files: `estate validate`, `check` and `preview` give the same one-line errors.

Every case starts from a shipped stack file, breaks one thing in a scratch copy of the project,
and runs both commands through the CLI (in-process, output captured). Both must exit 2 with the
same lines on stderr, each naming the stack file and the key, with no traceback and no Python
field names. Before this work, `validate` passed most of these and `check` then crashed (exit 3)
or failed late with component internals (`TypeError ... (at components/gpu_pools.py:408)`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from estate.cli import app
from estate.stack.config import (
    MAX_SHOWN,
    StackConfig,
    _field_names,
    known_policies,
    load_stack,
)

ROOT = Path(__file__).resolve().parent.parent
IN_A_MONTH = (dt.date.today() + dt.timedelta(days=30)).isoformat()


def make_project(where: Path) -> Path:
    """A scratch copy of the estate project whose stack files a test may break."""
    where.mkdir(parents=True, exist_ok=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, where / name)
    for name in ("components", "estate"):
        (where / name).symlink_to(ROOT / name)
    shutil.copytree(ROOT / "stacks", where / "stacks")
    return where


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


def run(*args: str) -> tuple[int, list[str], str]:
    """Exit code, stderr lines and all output of one CLI run; an exception is exit 3, as
    `estate.cli.main` turns it into."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"estate {' '.join(args)} raised {result.exception!r}")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return result.exit_code, lines, result.stdout + result.stderr


def both(project: Path, stack: str) -> list[str]:
    """Run validate, check and preview on one stack; assert they agree; return the lines."""
    code_v, lines_v, out_v = run("validate", "--stack", stack, "--project", str(project))
    code_c, lines_c, out_c = run("check", "--stack", stack, "--project", str(project), "-q")
    code_p, lines_p, out_p = run("preview", "--stack", stack, "--project", str(project))
    assert (code_v, code_c, code_p) == (2, 2, 2), (code_v, code_c, code_p, out_v, out_c)
    assert lines_v == lines_c == lines_p, (lines_v, lines_c, lines_p)
    for out in (out_v, out_c, out_p):
        assert "Traceback" not in out and "internal error" not in out
    return lines_v


def add_waiver(text: str, **fields: str) -> str:
    waiver = {
        "policy": "s3-bucket-access-logging",
        "resource": '"scratch-*"',
        "reason": "Throwaway bucket for a load test",
        "ticket": "SEC-1234",
        "expires": IN_A_MONTH,
        **fields,
    }
    body = "".join(f"      {k}: {v}\n" for k, v in waiver.items()).replace("      ", "    - ", 1)
    return text + "  ai-estate:waivers:\n" + body


def replace(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return edit


DEDICATED = (
    "  ai-estate:cluster:\n    mode: dedicated\n"
    # prod pins every EKS add-on (the platform's pins)
    "    addonVersions: {eks-pod-identity-agent: v1.3.10-eksbuild.3, vpc-cni: v1.21.1-eksbuild.3,"
    " kube-proxy: v1.35.0-eksbuild.2, coredns: v1.13.2-eksbuild.1,"
    " aws-ebs-csi-driver: v1.57.1-eksbuild.1}\n"
    "  ai-estate:network:\n    cidr: 10.20.128.0/17\n"
)


def without_serving(text: str) -> str:
    """A stack file without its `ai-estate:serving` block (endpoints need the shared cluster's
    Gateway, so a dedicated-cluster copy drops them)."""
    lines, out, skipping = text.splitlines(keepends=True), [], False
    for line in lines:
        if line.startswith("  ai-estate:serving:"):
            skipping = True
            continue
        if skipping and line.startswith("  ") and not line.startswith("    "):
            skipping = False
        if not skipping:
            out.append(line)
    return "".join(out)


# (id, stack, edit, key, fragment[, stack file renamed to])
CASES: list[tuple] = [
    (
        "namespace-typo",
        "fraud-prod",
        replace("ai-estate:monitoring:", "ai-estat:monitoring:"),
        "ai-estat:monitoring",
        "did you mean ai-estate:monitoring?",
    ),
    (
        "aws-provider-key-typo",
        "fraud-prod",
        replace("aws:region: us-east-1", "aws:regoin: us-east-1"),
        "aws:regoin",
        "is not a config key of the aws provider; did you mean aws:region?",
    ),
    (
        "duplicate-top-level-key",
        "fraud-prod",
        replace("  ai-estate:costCenter: CC-2100\n", "  ai-estate:costCenter: CC-2100\n" * 2),
        "ai-estate:costCenter",
        "duplicate key (line 9; first at line 8)",
    ),
    (
        "duplicate-nested-key",
        "fraud-prod",
        replace("      maxSize: 4\n", "      maxSize: 4\n      maxSize: 40\n"),
        "ai-estate:gpuPools[0].maxSize",
        "duplicate key",
    ),
    (
        "file-name-vs-business-unit",
        "marketing-dev",
        replace("businessUnit: marketing", "businessUnit: sales"),
        "ai-estate:businessUnit",
        "should be Pulumi.sales-dev.yaml",
    ),
    (
        "file-name-vs-environment",
        "platform-dev",
        replace("environment: dev", "environment: staging"),
        "ai-estate:environment",
        "should be Pulumi.platform-staging.yaml",
    ),
    (
        "file-name-vs-kind",
        "platform-dev",
        replace("ai-estate:businessUnit: platform", "ai-estate:businessUnit: sales"),
        "ai-estate:businessUnit",
        "must be 'platform' for a platform stack",
    ),
    (
        "unknown-region",
        "fraud-prod",
        replace("aws:region: us-east-1", "aws:region: us-east-9"),
        "aws:region",
        "is not an AWS region (got 'us-east-9')",
    ),
    (
        "account-id-octal-reading",
        "fraud-prod",
        replace('accountId: "222222222222"', "accountId: 012345670123"),
        "ai-estate:accountId",
        "YAML reads 012345670123 as the octal number 1402433619; write '012345670123' in quotes",
    ),
    (
        "account-id-unquoted",
        "fraud-prod",
        replace('accountId: "222222222222"', "accountId: 222222222222"),
        "ai-estate:accountId",
        "must be a quoted 12-digit string",
    ),
    (
        "deploy-account-unquoted",
        "fraud-prod",
        replace('deployAccountIds: ["333333333333"]', "deployAccountIds: [333333333333]"),
        "ai-estate:modelRegistry.deployAccountIds[0]",
        "in quotes",
    ),
    (
        "impossible-date",
        "fraud-prod",
        lambda t: add_waiver(t, expires="2027-13-45"),
        "ai-estate:waivers[0].expires",
        "is not a real date (month must be in 1..12) (got '2027-13-45')",
    ),
    (
        "date-not-a-date",
        "fraud-prod",
        lambda t: add_waiver(t, expires="next week"),
        "ai-estate:waivers[0].expires",
        "must be a date YYYY-MM-DD",
    ),
    (
        "unknown-waiver-policy",
        "fraud-prod",
        lambda t: add_waiver(t, policy="s3-bucket-acces-logging"),
        "ai-estate:waivers[0].policy",
        "did you mean s3-bucket-access-logging?",
    ),
    (
        "platform-stack-missing",
        "fraud-prod",
        replace("acme/ai-estate/platform-prod", "acme/ai-estate/platform-nope"),
        "ai-estate:platformStack",
        "no Pulumi.platform-nope.yaml",
    ),
    (
        "platform-stack-is-a-bu",
        "fraud-prod",
        replace("acme/ai-estate/platform-prod", "acme/ai-estate/marketing-dev"),
        "ai-estate:platformStack",
        "is a bu stack, not a platform stack",
    ),
    (
        "platform-stack-other-environment",
        "fraud-prod",
        replace("acme/ai-estate/platform-prod", "acme/ai-estate/platform-dev"),
        "ai-estate:platformStack",
        "platform-dev is the dev platform; this stack's environment is prod",
    ),
    (
        "platform-stack-other-account",
        "fraud-prod",
        lambda t: t.replace("222222222222", "333333333333"),
        "ai-estate:platformStack",
        "platform-prod deploys to account 222222222222",
    ),
    (
        "reserved-namespace-bu",
        "kube-system-dev",
        replace("businessUnit: marketing", "businessUnit: kube-system"),
        "ai-estate:businessUnit",
        "system namespace",
        "marketing-dev",
    ),
    (
        "kube-prefixed-bu",
        "kube-ml-dev",
        replace("businessUnit: marketing", "businessUnit: kube-ml"),
        "ai-estate:businessUnit",
        "system namespace",
        "marketing-dev",
    ),
    (
        "default-namespace-bu",
        "default-dev",
        replace("businessUnit: marketing", "businessUnit: default"),
        "ai-estate:businessUnit",
        "system namespace",
        "marketing-dev",
    ),
    (
        "feature-group-name-over-sagemaker-limit",
        "abcdefghijklmnopqrstuvwxyzabcd-dev",
        lambda t: t.replace(
            "businessUnit: marketing", "businessUnit: abcdefghijklmnopqrstuvwxyzabcd"
        ).replace("name: customer-propensity", "name: customer-propensity-scores-by-ch"),
        "ai-estate:featureStore.featureGroups[0].name",
        "over SageMaker's 64 characters",
        "marketing-dev",
    ),
    (
        "log-retention-cloudwatch-refuses",
        "platform-dev",
        replace("    azCount: 3\n", "    azCount: 3\n    flowLogRetentionDays: 100\n"),
        "ai-estate:network.flowLogRetentionDays",
        "must be a retention CloudWatch Logs accepts",
    ),
    (
        "account-id-hex",
        "platform-dev",
        replace('accountId: "111111111111"', "accountId: 0x1F"),
        "ai-estate:accountId",
        "YAML reads 0x1F as the number 31",
    ),
    (
        "bad-cpu-quantity",
        "marketing-dev",
        replace('cpuQuota: "32"', "cpuQuota: lots"),
        "ai-estate:tenant.cpuQuota",
        "must be a Kubernetes quantity",
    ),
    (
        "bad-memory-quantity",
        "fraud-prod",
        replace("memoryQuota: 512Gi", "memoryQuota: 512GB"),
        "ai-estate:tenant.memoryQuota",
        "must be a Kubernetes quantity",
    ),
    (
        "negative-quantity",
        "fraud-prod",
        replace("memoryQuota: 512Gi", "memoryQuota: -1"),
        "ai-estate:tenant.memoryQuota",
        "must be a Kubernetes quantity",
    ),
    (
        "gpu-container-default",
        "fraud-prod",
        replace(
            "    memoryQuota: 512Gi\n",
            '    memoryQuota: 512Gi\n    defaultContainerLimits: {nvidia.com/gpu: "1"}\n',
        ),
        "ai-estate:tenant.defaultContainerLimits",
        "not 'nvidia.com/gpu'",
    ),
    (
        "bad-label-key",
        "marketing-dev",
        replace("      diskGib: 100\n", '      diskGib: 100\n      labels: {"Bad Key!": x}\n'),
        "ai-estate:gpuPools[0].labels",
        "not a valid Kubernetes label name",
    ),
    (
        "reserved-label-domain",
        "marketing-dev",
        replace("      diskGib: 100\n", "      diskGib: 100\n      labels: {karpenter.sh/x: y}\n"),
        "ai-estate:gpuPools[0].labels",
        "reserved for Kubernetes/Karpenter",
    ),
    (
        "bad-service-account",
        "fraud-prod",
        replace(
            "  ai-estate:access:\n",
            "  ai-estate:access:\n    serviceAccounts: {feature-reader: Feature_Reader}\n",
        ),
        "ai-estate:access.serviceAccounts.feature-reader",
        "service account name",
    ),
    (
        "range-key-is-hash-key",
        "fraud-prod",
        replace("rangeKey: window", "rangeKey: card_id"),
        "ai-estate:featureStore.onlineTables[0].rangeKey",
        "must differ from hashKey (got 'card_id')",
    ),
    (
        "pool-desired-over-max",
        "fraud-prod",
        replace("desiredSize: 1", "desiredSize: 9"),
        "ai-estate:gpuPools[0].desiredSize",
        "minSize <= desiredSize <= maxSize (got 1, 9, 4)",
    ),
    (
        "pool-min-over-max",
        "fraud-prod",
        replace("minSize: 1\n      desiredSize: 1", "minSize: 5\n      desiredSize: 5"),
        "ai-estate:gpuPools[0].minSize",
        "minSize <= desiredSize <= maxSize",
    ),
    (
        "system-nodes-desired-over-max",
        "platform-prod",
        replace("desiredSize: 3", "desiredSize: 7"),
        "ai-estate:cluster.systemNodes.desiredSize",
        "minSize <= desiredSize <= maxSize (got 3, 7, 6)",
    ),
    (
        "managed-spot-pool-one-type",
        "fraud-prod",
        replace(
            "      instanceTypes: [g5.xlarge, g5.2xlarge]\n      capacityType: on-demand",
            "      instanceTypes: [g5.xlarge]\n      capacityType: spot",
        ),
        "ai-estate:gpuPools[0]",
        "a managed spot pool needs at least two instance types",
    ),
    (
        "managed-pool-name-too-long",
        "fraud-prod",
        replace("name: serve-a10g", "name: serve-a10g-realtime-scoring-x"),
        "ai-estate:gpuPools[0]",
        "must stay within 37 characters",
    ),
    (
        "cluster-version-too-old",
        "platform-prod",
        replace('version: "1.35"', 'version: "1.28"'),
        "ai-estate:cluster.version",
        "too old",
    ),
    (
        "dedicated-cidr-overlaps-platform",
        "fraud-prod",
        lambda t: t + DEDICATED,
        "ai-estate:network.cidr",
        "overlaps the platform network 10.20.0.0/16 of platform-prod",
    ),
    (
        "string-over-bound-is-truncated",
        "fraud-prod",
        replace("owner: fraud-ml@example.com", "owner: " + "a" * 1_000_000 + "@example.com"),
        "ai-estate:owner",
        "(1000012 characters)",
    ),
    (
        "ten-thousand-pools",
        "fraud-prod",
        replace(
            "  ai-estate:gpuPools:\n",
            "  ai-estate:gpuPools:\n"
            + "".join(
                f"    - {{name: p{i:05d}, instanceTypes: [g5.xlarge], maxSize: 1}}\n"
                for i in range(10_000)
            ),
        ),
        "ai-estate:gpuPools",
        "must have at most 100 entries (got 10002)",
    ),
    (
        "yaml-boolean-for-text",
        "fraud-prod",
        replace("costCenter: CC-2100", "costCenter: no"),
        "ai-estate:costCenter",
        "must be a string (got false); YAML reads unquoted true/false/yes/no/on/off as booleans",
    ),
    (
        "number-for-text",
        "fraud-prod",
        replace("costCenter: CC-2100", "costCenter: 2100"),
        "ai-estate:costCenter",
        "quote it",
    ),
    (
        "snake-case-key",
        "fraud-prod",
        replace("    maxSessionHours: 4", "    max_session_hours: 4"),
        "ai-estate:access.personas.data-scientist.max_session_hours",
        "did you mean maxSessionHours?",
    ),
    (
        "key-typo",
        "fraud-prod",
        replace("      minSize: 1", "      minSiz: 1"),
        "ai-estate:gpuPools[0].minSiz",
        "did you mean minSize?",
    ),
    (
        "infinite-number",
        "fraud-prod",
        replace("monthlyLimitUsd: 20000", "monthlyLimitUsd: .inf"),
        "ai-estate:budget.monthlyLimitUsd",
        "finite number",
    ),
    (
        "json-looking-text",
        "fraud-prod",
        replace("costCenter: CC-2100", "costCenter: '[1]'"),
        "ai-estate:costCenter",
        "must be a string",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_malformed_stack_gets_the_same_one_line_errors_from_validate_and_check(project, case):
    _, stack, edit, key, fragment, *renamed = case
    source_name = renamed[0] if renamed else stack
    source = project / "stacks" / f"Pulumi.{source_name}.yaml"
    text = edit(source.read_text())
    source.unlink()
    (project / "stacks" / f"Pulumi.{stack}.yaml").write_text(text)

    lines = both(project, stack)
    prefix = f"stacks/Pulumi.{stack}.yaml: "
    assert lines and all(line.startswith(prefix) for line in lines), lines
    named = [line for line in lines if line.startswith(f"{prefix}{key}: ")]
    assert named and fragment in named[0], lines
    snake = _field_names()
    for line in lines:
        assert len(line) < 2 * MAX_SHOWN + 300, line[:400]
        message = line[len(prefix) :].split(": ", 1)[1]
        leaked = [w for w in re.findall(r"(?<![\w'])[a-z0-9]+(?:_[a-z0-9]+)+(?![\w'])", message)]
        assert not [w for w in leaked if w in snake], line
        assert "datetime" not in line and "Error:" not in line and ".py" not in line


def test_empty_stack_file_says_it_is_empty(project):
    for body in ("", "# nothing yet\n\n", "config:\n"):
        (project / "stacks" / "Pulumi.marketing-dev.yaml").write_text(body)
        [line] = both(project, "marketing-dev")
        assert line.startswith("stacks/Pulumi.marketing-dev.yaml: ") and "empty" in line


def test_all_errors_at_once_across_yaml_schema_and_context(project):
    stack = project / "stacks" / "Pulumi.fraud-prod.yaml"
    text = stack.read_text()
    text = text.replace("aws:region: us-east-1", "aws:region: mars-1")
    text = text.replace("ai-estate:monitoring:", "ai-estat:monitoring:")
    text = text.replace("rangeKey: window", "rangeKey: card_id")
    text = text.replace("acme/ai-estate/platform-prod", "acme/ai-estate/platform-nope")
    stack.write_text(text)
    keys = [line.split(": ")[1] for line in both(project, "fraud-prod")]
    assert set(keys) == {
        "ai-estat:monitoring",
        "ai-estate:featureStore.onlineTables[0].rangeKey",
        "aws:region",
        "ai-estate:platformStack",
    }


def test_the_readme_waiver_with_an_unquoted_date_validates_as_quoted(project):
    # `expires: 2026-12-31` unquoted made check/preview crash with "date is not JSON
    # serializable" (exit 3). The loader keeps YAML dates as text, as the Pulumi CLI does.
    stack = project / "stacks" / "Pulumi.fraud-prod.yaml"
    original = stack.read_text()
    for expires in (IN_A_MONTH, f'"{IN_A_MONTH}"'):
        stack.write_text(add_waiver(original, expires=expires))
        code, lines, _ = run("validate", "--stack", "fraud-prod", "--project", str(project))
        assert (code, lines) == (0, [])
        loaded = load_stack(stack)
        assert loaded.config.waivers[0].expires == dt.date.fromisoformat(IN_A_MONTH)
        assert loaded.raw["ai-estate:waivers"][0]["expires"] == IN_A_MONTH
        json.dumps(loaded.raw)  # what the engine and the pack are handed


@pytest.mark.slow
def test_the_readme_waiver_passes_check_and_is_applied(project):
    stack = project / "stacks" / "Pulumi.fraud-prod.yaml"
    stack.write_text(add_waiver(stack.read_text(), resource='"fraud-prod-*"'))
    report = project / "report.json"
    code, lines, out = run(
        "check", "--stack", "fraud-prod", "--project", str(project), "-q", "--json", str(report)
    )
    assert code in (0, 1) and lines == [], out
    data = json.loads(report.read_text())
    assert data["stacks"][0]["error"] in (None, "")


def test_every_list_and_map_of_the_schema_is_bounded():
    # Walked from StackConfig, so a list added later without a bound fails here.
    import typing

    import annotated_types

    from estate.stack.config import MAX_STRING, _models_of, _unwrap

    assert StackConfig.model_config.get("str_max_length") == MAX_STRING
    todo, seen, unbounded = [StackConfig], set(), []
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            annotation = _unwrap(field.annotation)
            origin = typing.get_origin(annotation)
            keys = typing.get_args(annotation)[0] if origin is dict else None
            listing = (
                origin in (tuple, list, dict) and typing.get_origin(keys) is not typing.Literal
            )
            if listing and not any(isinstance(m, annotated_types.MaxLen) for m in field.metadata):
                unbounded.append(f"{model.__name__}.{name}")
            todo.extend(_models_of(field.annotation))
    assert unbounded == []


def test_waiver_policies_come_from_the_pack_registry():
    known = known_policies(ROOT / "policies")
    assert known is not None and {"s3-bucket-access-logging", "waiver-expired"} <= known
    assert len(known) > 20


def test_two_dedicated_clusters_of_one_account_need_distinct_ranges(project):
    fraud = project / "stacks" / "Pulumi.fraud-prod.yaml"
    text = without_serving(fraud.read_text()) + DEDICATED.replace("10.20.128.0/17", "10.60.0.0/16")
    fraud.write_text(text)
    (project / "stacks" / "Pulumi.payments-prod.yaml").write_text(
        text.replace("businessUnit: fraud", "businessUnit: payments").replace(
            "10.60.0.0/16", "10.60.128.0/17"
        )
    )
    [line] = both(project, "payments-prod")
    assert line.startswith("stacks/Pulumi.payments-prod.yaml: ai-estate:network.cidr: overlaps ")
    assert "10.60.0.0/16 of the dedicated cluster of fraud-prod" in line


def test_dedicated_cluster_with_its_own_range_is_accepted(project):
    stack = project / "stacks" / "Pulumi.fraud-prod.yaml"
    stack.write_text(
        without_serving(stack.read_text()) + DEDICATED.replace("10.20.128.0/17", "10.60.0.0/16")
    )
    code, lines, _ = run("validate", "--stack", "fraud-prod", "--project", str(project))
    assert (code, lines) == (0, [])


# -- property tests: nothing a user writes makes `validate` crash ---------------------------------

_TOP_KEYS = sorted(f.alias or n for n, f in StackConfig.model_fields.items())
_YAMLISH_TEXT = st.sampled_from(
    [
        "2026-12-31",
        "2027-13-45",
        "012345670123",
        "0x1F",
        "1e400",
        ".inf",
        ".nan",
        "yes",
        "off",
        "~",
        "null",
        "",
        "'",
        "[",
        "{a: 1",
        "!!binary aGVsbG8=",
        "!!set {a, b}",
        "!!timestamp 2026-01-01",
        "&a [*a]",
        "kube-system",
        "a" * 300,
        "- x\n- y",
        "2001:db8::/32",
        "10.0.0.0/8",
    ]
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    _YAMLISH_TEXT,
    st.dates().map(str),
)


def _containers(inner: st.SearchStrategy) -> st.SearchStrategy:
    keys = st.one_of(st.sampled_from(_TOP_KEYS), st.text(max_size=12))
    return st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4)


_VALUES = st.recursive(_SCALARS, _containers, max_leaves=12)


@pytest.fixture(scope="module")
def scratch_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("prop") / "project")


def _validate_never_crashes(project: Path, stack: str, text: str) -> None:
    (project / "stacks" / f"Pulumi.{stack}.yaml").write_text(text)
    code, lines, out = run("validate", "--stack", stack, "--project", str(project))
    assert code in (0, 2), out
    assert "Traceback" not in out
    if code == 2:
        assert all(line.startswith(f"stacks/Pulumi.{stack}.yaml: ") for line in lines), lines


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(key=st.sampled_from([*_TOP_KEYS, "region"]), value=_VALUES)
def test_any_value_in_any_top_level_key_is_a_config_error_never_a_crash(
    scratch_project, key, value
):
    shipped = (ROOT / "stacks" / "Pulumi.fraud-prod.yaml").read_text()
    doc = yaml.safe_load(shipped)
    full = "aws:region" if key == "region" else f"ai-estate:{key}"
    doc["config"][full] = value
    _validate_never_crashes(scratch_project, "fraud-prod", yaml.safe_dump(doc))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(key=st.sampled_from(_TOP_KEYS), raw=st.one_of(_YAMLISH_TEXT, st.text(max_size=30)))
def test_raw_yaml_text_in_any_top_level_key_never_crashes(scratch_project, key, raw):
    # Written unescaped, so the YAML parser itself sees tags, anchors, flow syntax and garbage.
    shipped = (ROOT / "stacks" / "Pulumi.marketing-dev.yaml").read_text()
    line = f"  ai-estate:{key}: {raw}\n"
    _validate_never_crashes(scratch_project, "marketing-dev", shipped + line)


# -- large configs reach the policy pack --------------------------------------------------------


def test_the_pack_reads_its_config_from_the_file_and_pulumi_config_wins(tmp_path):
    import sys

    sys.path.insert(0, str(ROOT / "policies"))
    try:
        from governance.profiles import CONFIG_FILE_VARIABLE, stack_config
    finally:
        sys.path.remove(str(ROOT / "policies"))
    from estate.offline.runner import CONFIG_FILE_VARIABLE as RUNNER_VARIABLE

    assert RUNNER_VARIABLE == CONFIG_FILE_VARIABLE
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"ai-estate:environment": "dev"}))
    assert stack_config({CONFIG_FILE_VARIABLE: str(path)}) == {"ai-estate:environment": "dev"}
    # The real CLI sets PULUMI_CONFIG; it is what the pack reads then.
    both_set = {
        "PULUMI_CONFIG": '{"ai-estate:environment": "prod"}',
        CONFIG_FILE_VARIABLE: str(path),
    }
    assert stack_config(both_set) == {"ai-estate:environment": "prod"}
    assert stack_config({CONFIG_FILE_VARIABLE: str(tmp_path / "gone.json")}) == {}


@pytest.mark.slow
def test_a_megabyte_of_config_does_not_break_the_pack_process_start():
    # An environment string over 128 KB fails exec with "Argument list too long" (E2BIG) on
    # Linux; the runner used to pass the whole config in PULUMI_CONFIG.
    from estate.offline.runner import AnalyzerClient

    config = {"ai-estate:environment": "dev", "ai-estate:owner": "a" * 1_000_000}
    client = AnalyzerClient(pack_dir=ROOT / "policies", project="p", stack="s", config=config)
    with client:
        info = client.info()
        assert client.config_file is not None and client.config_file.is_file()
        config_file = client.config_file
    assert "dev profile" in info.description  # the pack read the environment from the file
    assert not config_file.exists()


def test_the_program_entry_applies_the_same_rules_to_the_config_pulumi_hands_it(project):
    # Under `pulumi up` the program sees every value as text (structures as JSON); the rules
    # and the lines must be the ones `estate validate` prints for the file.
    from estate.stack.config import (
        ConfigError,
        as_pulumi_config,
        read_stack_file,
        validate_pulumi_config,
    )

    stack = project / "stacks" / "Pulumi.fraud-prod.yaml"
    text = stack.read_text().replace("ai-estate:monitoring:", "ai-estat:monitoring:")
    stack.write_text(text.replace("rangeKey: window", "rangeKey: card_id"))
    source = "stacks/Pulumi.fraud-prod.yaml"
    with pytest.raises(ConfigError) as from_file:
        load_stack(stack, source)
    wire = as_pulumi_config(read_stack_file(stack))
    with pytest.raises(ConfigError) as from_program:
        validate_pulumi_config(wire, "fraud-prod", source, stack.parent)
    assert from_program.value.lines == from_file.value.lines
    assert len(from_file.value.lines) == 2


def test_the_region_list_knows_every_region_of_the_installed_botocore():
    from estate.stack.aws_regions import main

    assert main(["--check"]) == 0, "regenerate: python -m estate.stack.aws_regions"
