"""`estate verify`: after `pulumi up`, check the live AWS resources against what governance needs.

Input is the stack's outputs document (`pulumi stack output --json --show-secrets`); verify reads
nothing else of the program, so it runs in a deploy pipeline's last step with read-only AWS
credentials and no Pulumi at all. Results are `estate.offline.model.StackResult`s with mandatory
findings, so `estate.reports.write_reports` writes the same JSON, SARIF and JUnit as `check`.

What gets checked is what the outputs declare, found two ways (so outputs that other components
add later are picked up without a change here):

- any string that is an ARN of a kind verify knows (S3 bucket, DynamoDB table, KMS key, ECR
  repository, EKS cluster, SageMaker feature group or model package group, CloudWatch alarm,
  SNS topic, budget, EventBridge archive, SageMaker model card, CloudTrail trail), wherever it
  sits in the outputs;
- any other string under a key that names the kind: `...BucketName`/`...Bucket` (the access-log
  bucket is `accessLogBucketName`), `...TableName`, `...RepositoryName`/`...RepositoryUrl`,
  `...ModelPackageGroupName`, `...FeatureGroupName`, `...AlarmName`, `...TopicArn`/`...TopicName`,
  `...BudgetName`, `clusterName`, `...KeyArn`/`...KeyId`, `...LocationArn` (a Lake Formation
  registered location), `...CatalogId` (the account's Lake Formation settings and LF-tags) (a
  dict or list under such a key holds several, e.g. `featureStore.onlineTableArns:
  {card-velocity: arn}`); `glue...` and `...LogGroup...` keys are not buckets or tables, and
  nothing under `...logArchive...` (another account's bucket and key) is checked;
- `gpuPools`: each `provisioner: managed` pool is an EKS managed node group in `clusterName`
  (a stack with its own cluster) or else the platform cluster of the environment
  (`platform-<env>-ai`). Karpenter pools have no node group; the node conformance suite
  (tests/infra) checks their nodes.

A family the outputs do not declare is skipped (listed as not applicable); a resource the
outputs declare but AWS does not have is a finding. The stack's customer key is `kmsKeyArn`
(BU stacks) or `platformKeyArn` (platform stacks): encrypted data must use it.

Every AWS answer becomes an outcome, never a traceback: not found -> a `...-exists` finding;
AccessDenied -> a mandatory finding ("could not be verified"); an API the endpoint does not
implement -> an advisory "cannot verify" finding; throttling is retried by botocore's standard
retry mode (`max_attempts` 10: up to 10 retries) and reported only if it never stops.

Exit codes: 0 every check holds, 1 findings (missing resources included), 2 usage errors (a bad
outputs file, no credentials, an unreachable endpoint) with one line naming the problem.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from components.estate import cluster_name as estate_cluster_name
from components.gpu_catalog import CATALOG
from components.gpu_pools import GPU_RESOURCE, node_labels, node_taints
from components.naming import prefix as name_prefix
from estate import __version__
from estate.offline.model import Finding, StackResult
from estate.offline.project import ROOT
from estate.verify.checks import CHECKS, KIND_POLICIES, KINDS, SERVICES
from estate.verify.checks.base import (
    ADVISORY,
    FAIL,
    PACK,
    PASS,
    POLICIES,
    SKIPPED,
    Context,
    Outcome,
    Target,
    policy,
)

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

RETRIES = {"mode": "standard", "max_attempts": 10}
"""botocore's standard retry mode: throttling and transient errors back off and retry.

botocore reads `max_attempts` as retries after the first call, so a call is tried 11 times."""

DEFAULT_WORKERS = 8
"""Resources checked at once (boto3 clients are thread-safe; AWS read APIs allow far more)."""

DEFAULT_MIN_DRIVER_VERSION = "550.54.14"
"""The NVIDIA driver floor for GPU nodes: the first driver of CUDA 12.4 (Linux)."""

DCGM_METRICS_URL = "http://127.0.0.1:9400/metrics"
"""Where dcgm-exporter answers on a GPU node (its default port)."""

POOL_CONFIG_SCHEMA = "ai-estate/gpu-pool-conformance/v1"

READ_ONLY_ACTIONS = (
    "sts:GetCallerIdentity",
    "kms:DescribeKey",
    "kms:GetKeyRotationStatus",
    "s3:ListBucket",  # HeadBucket
    "s3:GetEncryptionConfiguration",
    "s3:GetBucketVersioning",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketPolicy",
    "dynamodb:DescribeTable",
    "dynamodb:DescribeContinuousBackups",
    "ecr:DescribeRepositories",
    "ecr:GetRegistryScanningConfiguration",
    "eks:DescribeCluster",
    "eks:ListNodegroups",
    "eks:DescribeNodegroup",
    "sagemaker:DescribeFeatureGroup",
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:GetModelPackageGroupPolicy",
    "cloudwatch:DescribeAlarms",
    "sns:GetTopicAttributes",
    "budgets:ViewBudget",
    "backup:DescribeBackupVault",
    "backup:ListBackupPlans",
    "backup:GetBackupPlan",
    "sqs:GetQueueUrl",
    "sqs:GetQueueAttributes",
    "events:ListRuleNamesByTarget",
    "events:DescribeArchive",
    "scheduler:ListSchedules",
    "sagemaker:DescribeModelCard",
    "cloudtrail:GetTrail",
    "cloudtrail:GetTrailStatus",
    "cloudtrail:GetEventSelectors",
    "lakeformation:DescribeResource",
    "lakeformation:GetDataLakeSettings",
    "lakeformation:GetLFTag",
)
"""Every IAM action verify needs (all read-only): the verifier role's policy, nothing more."""

ACCOUNT = policy(
    "verify-aws-account",
    "critical",
    "The credentials verify runs with are for the account the stack's outputs name (accountId).",
    "Run verify with credentials for the stack's account (AWS_PROFILE or a role of that account).",
)

_SECRET_SIG = "4dabf18193072939515e22adb298388d"
"""The key Pulumi marks a secret value with in state and in some JSON exports."""


class VerifyError(Exception):
    """A usage problem (exit 2): one line naming the file or setting that is wrong."""


# ---------------------------------------------------------------------------------------------
# The outputs document


def unwrap_secrets(value: Any) -> Any:
    """Plain JSON: Pulumi's secret envelopes (`{sig: ..., value: v}`) replaced by their value."""
    if isinstance(value, dict):
        if _SECRET_SIG in value:
            return unwrap_secrets(value["value"]) if "value" in value else "[secret]"
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def load_outputs(path: Path) -> dict[str, Any]:
    """Read and check an outputs document; `VerifyError` names the file and what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise VerifyError(f"{path}: cannot read the stack outputs ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise VerifyError(f"{path}: not UTF-8 text (expected JSON stack outputs)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise VerifyError(
            f"{path}: not valid JSON at line {exc.lineno}: {exc.msg} "
            "(write it with `pulumi stack output --json --show-secrets`)"
        ) from None
    if not isinstance(data, dict):
        raise VerifyError(
            f"{path}: must be a JSON object of output name to value "
            "(`pulumi stack output --json --show-secrets`)"
        )
    outputs = unwrap_secrets(data)
    check_outputs(outputs, str(path))
    return outputs


def _type_error(where: str, key: str, wanted: str, got: Any) -> VerifyError:
    return VerifyError(f"{where}: {key}: must be {wanted} (got {json.dumps(got)[:60]})")


def check_outputs(outputs: dict[str, Any], where: str) -> None:
    """The outputs verify relies on have the types the stack program exports."""
    for key in ("environment", "businessUnit"):
        if key not in outputs:
            raise VerifyError(
                f"{where}: {key}: missing (is this `pulumi stack output --json` of an AI Estate "
                "stack?)"
            )
        if not isinstance(outputs[key], str) or not outputs[key]:
            raise _type_error(where, key, "a non-empty string", outputs[key])
    for key in (
        "region",
        "accountId",
        "kmsKeyArn",
        "platformKeyArn",
        "clusterName",
        "clusterVersion",
    ):
        if key in outputs and outputs[key] is not None and not isinstance(outputs[key], str):
            raise _type_error(where, key, "a string", outputs[key])
        if outputs.get(key) == "[secret]":
            raise VerifyError(
                f"{where}: {key}: is '[secret]'; export the outputs with --show-secrets"
            )
    pools = outputs.get("gpuPools")
    if pools is None:
        return
    if not isinstance(pools, dict):
        raise _type_error(where, "gpuPools", "an object of pool name to pool", pools)
    for name, pool in pools.items():
        at = f"gpuPools.{name}"
        if not isinstance(pool, dict):
            raise _type_error(where, at, "an object", pool)
        for key in ("minSize", "maxSize"):
            value = pool.get(key)
            if not isinstance(value, int) or isinstance(value, bool):
                raise _type_error(where, f"{at}.{key}", "an integer", value)
        for key in ("provisioner", "capacityType"):
            if not isinstance(pool.get(key), str):
                raise _type_error(where, f"{at}.{key}", "a string", pool.get(key))
        types = pool.get("instanceTypes")
        if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
            raise _type_error(where, f"{at}.instanceTypes", "a list of instance types", types)


def check_stack_matches(stack: str, outputs: dict[str, Any], where: str) -> None:
    """`--stack fraud-prod` with the outputs of `marketing-dev` is a mistake worth stopping."""
    short = stack.rsplit("/", 1)[-1]
    declared = name_prefix(outputs["businessUnit"], outputs["environment"])
    if short != declared:
        raise VerifyError(
            f"{where}: these are the outputs of stack {declared} (businessUnit "
            f"{outputs['businessUnit']}, environment {outputs['environment']}), not {short}"
        )


# ---------------------------------------------------------------------------------------------
# Which live resources the outputs declare

_ARN = re.compile(
    r"^arn:(?P<partition>[\w-]+):(?P<service>[\w-]+):(?P<region>[\w-]*):(?P<account>\d*):"
    r"(?P<resource>.+)$"
)

_KEY_RULES: tuple[tuple[str, str | None, str], ...] = (
    # (lower-cased key fragment, kind or None to ignore, role). The first match wins.
    # An ignored key hides everything under it, ARNs included: the central log archive's bucket
    # and key belong to another account, which this stack's credentials do not read.
    ("logarchive", None, ""),
    ("accesslogbucket", "s3-bucket", "access-logs"),
    ("glue", None, ""),
    ("loggroup", None, ""),
    ("bucket", "s3-bucket", ""),
    ("modelpackagegroup", "sagemaker-model-package-group", ""),
    ("featuregroup", "sagemaker-feature-group", ""),
    ("repositoryur", "ecr-repository", "url"),
    ("repourl", "ecr-repository", "url"),
    ("repositor", "ecr-repository", ""),
    ("table", "dynamodb-table", ""),
    ("topic", "sns-topic", ""),
    ("alarm", "cloudwatch-alarm", ""),
    ("budget", "budget", ""),
    ("vaultname", "backup-vault", ""),
    ("clustername", "eks-cluster", ""),
    ("locationarn", "lakeformation-location", ""),
    ("catalogid", "lakeformation-settings", ""),
    ("keyarn", "kms-key", ""),
    ("keyid", "kms-key", ""),
)


_ARN_NAMED = frozenset({"lakeformation-location"})
"""Kinds named by an ARN that `kind_of_arn` cannot tell apart (a registered location is an S3
ARN with a path): found by their key only."""


def _key_rule(key: str) -> tuple[str | None, str] | None:
    lowered = key.lower()
    for fragment, kind, role in _KEY_RULES:
        if fragment in lowered:
            return kind, role
    return None


def kind_of_arn(arn: str) -> tuple[str, str] | None:
    """(kind, physical name) of an ARN verify can check, else None."""
    match = _ARN.match(arn)
    if not match:
        return None
    service, resource = match["service"], match["resource"]
    prefixed = {
        ("dynamodb", "table/"): "dynamodb-table",
        ("ecr", "repository/"): "ecr-repository",
        ("eks", "cluster/"): "eks-cluster",
        ("sagemaker", "feature-group/"): "sagemaker-feature-group",
        ("sagemaker", "model-package-group/"): "sagemaker-model-package-group",
        ("cloudwatch", "alarm:"): "cloudwatch-alarm",
        ("budgets", "budget/"): "budget",
        ("events", "archive/"): "events-archive",
        ("sagemaker", "model-card/"): "sagemaker-model-card",
        ("cloudtrail", "trail/"): "cloudtrail-trail",
    }
    for (svc, lead), kind in prefixed.items():
        if service == svc and resource.startswith(lead):
            name = resource[len(lead) :]
            return (kind, name) if name and "/" not in name else None
    if service == "kms" and resource.startswith("key/"):
        return "kms-key", arn
    if service == "s3" and resource and "/" not in resource:
        return "s3-bucket", resource
    if service == "sns" and resource and ":" not in resource:
        return "sns-topic", resource
    if service == "sqs" and resource and ":" not in resource:
        return "sqs-queue", resource
    return None


def _name_value(kind: str, role: str, value: str) -> str:
    if kind == "s3-bucket" and value.startswith("s3://"):
        return value[5:].split("/", 1)[0]
    if kind == "ecr-repository" and role == "url" and "/" in value:
        # 123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud-prod/serving:tag -> fraud-prod/serving
        return re.split(r"[:@]", value.split("/", 1)[1], maxsplit=1)[0]
    return value


@dataclass
class Plan:
    """What verify will check for a stack, and which families its outputs do not declare."""

    targets: list[Target]
    not_declared: list[str]
    """Kinds with no target (their policies are not applicable)."""
    notes: list[dict[str, str]] = field(default_factory=list)
    """Not-applicable entries for `StackResult.not_applicable` (e.g. Karpenter pools)."""
    cluster_for_pools: str | None = None


def _walk(
    value: Any, path: str, rule: tuple[str | None, str] | None
) -> Iterator[tuple[str, str, tuple[str | None, str] | None]]:
    if isinstance(value, dict):
        for key, child in value.items():
            if not path and key == "gpuPools":
                continue  # pools are node groups, handled from their config below
            own = _key_rule(str(key))
            ignored = rule is not None and rule[0] is None
            yield from _walk(
                child, f"{path}.{key}" if path else str(key), rule if ignored else own or rule
            )
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _walk(child, f"{path}[{index}]", rule)
    elif isinstance(value, str):
        yield path, value, rule


def plan_targets(outputs: dict[str, Any], *, where: str = "outputs") -> Plan:
    """The live resources a stack's outputs declare (see the module docstring for the rules)."""
    found: dict[tuple[str, str], Target] = {}
    region = str(outputs.get("region") or "")
    account = str(outputs.get("accountId") or "")

    def add(target: Target) -> None:
        key = (target.kind, target.name)
        if key not in found or (target.role and not found[key].role):
            found[key] = target

    for path, value, rule in _walk(outputs, "", None):
        if value == "<computed>":
            continue  # an unknown of an offline render; deployed outputs are always known
        if rule and rule[0] is None:
            continue
        if rule and rule[0] in _ARN_NAMED and value.startswith("arn:"):
            add(Target(str(rule[0]), value, path, arn=value))
            continue
        from_arn = kind_of_arn(value) if value.startswith("arn:") else None
        if from_arn:
            kind, name = from_arn
            role = rule[1] if rule and rule[0] == kind and rule[1] != "url" else ""
            add(Target(kind, name, path, arn=value, role=role))
            continue
        if not rule or rule[0] is None or value.startswith("arn:"):
            continue
        kind, role = str(rule[0]), rule[1]
        if value == "[secret]":
            raise VerifyError(
                f"{where}: {path}: is '[secret]'; export the outputs with --show-secrets"
            )
        if not value:
            continue
        name = _name_value(kind, role, value)
        arn = f"arn:aws:sns:{region}:{account}:{name}" if kind == "sns-topic" else ""
        add(Target(kind, name, path, arn=arn, role="" if role == "url" else role))

    plan = Plan(targets=[], not_declared=[])
    pools = outputs.get("gpuPools") or {}
    managed = [n for n, p in pools.items() if p.get("provisioner") == "managed"]
    if managed:
        cluster = outputs.get("clusterName") or estate_cluster_name(
            name_prefix("platform", outputs["environment"])
        )
        plan.cluster_for_pools = cluster
        for pool in managed:
            add(Target("eks-nodegroup", pool, f"gpuPools.{pool}", role=cluster))
    for pool, config in pools.items():
        if config.get("provisioner") != "managed":
            plan.notes.append(
                {
                    "policy": "verify-eks-nodegroup-exists",
                    "reason": f"GPU pool {pool} is provisioned by {config.get('provisioner')}, "
                    "which creates no EKS node group; its nodes are checked by the node "
                    "conformance suite",
                    "urn": "",
                }
            )
    order = list(CHECKS)
    plan.targets = sorted(found.values(), key=lambda t: (order.index(t.kind), t.name))
    declared = {t.kind for t in plan.targets}
    plan.not_declared = [k for k in CHECKS if k not in declared]
    return plan


# ---------------------------------------------------------------------------------------------
# AWS clients


def client_config(endpoint_url: str | None = None) -> Config:
    """The botocore config of every verify client: standard retry mode, `max_attempts` 10."""
    return Config(
        retries=dict(RETRIES),
        connect_timeout=5,
        read_timeout=30,
        user_agent_extra=f"ai-estate-verify/{__version__}",
        # A custom endpoint (moto, LocalStack, a VPC endpoint URL) rarely resolves bucket
        # subdomains; path-style works everywhere.
        s3={"addressing_style": "path"} if endpoint_url else None,
    )


class Clients:
    """boto3 clients for one region, made up front: a boto3 Session is not thread-safe."""

    def __init__(
        self,
        session: boto3.Session,
        region: str,
        endpoint_url: str | None,
        services: set[str],
    ) -> None:
        self._session = session
        self._region = region
        self._endpoint_url = endpoint_url
        self._config = client_config(endpoint_url)
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        for service in sorted(services | {"sts", "kms"}):
            self(service)

    def __call__(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(
                    service,
                    region_name=self._region,
                    endpoint_url=self._endpoint_url,
                    config=self._config,
                )
            return self._clients[service]


# ---------------------------------------------------------------------------------------------
# Running


@dataclass
class VerifyReport:
    """One stack's verification: the report-ready result and every outcome behind it."""

    result: StackResult
    outcomes: list[Outcome]
    plan: Plan


def source_for(stack: str, outputs_path: Path | None = None) -> str:
    """The file findings point at: the stack's config file when this repo has it."""
    short = stack.rsplit("/", 1)[-1]
    stack_file = ROOT / "stacks" / f"Pulumi.{short}.yaml"
    if stack_file.is_file():
        return stack_file.relative_to(ROOT).as_posix()
    return str(outputs_path) if outputs_path else f"stacks/Pulumi.{short}.yaml"


def _identity(clients: Clients, endpoint_url: str | None) -> dict[str, Any]:
    sts = clients("sts")
    try:
        return sts.get_caller_identity()
    except NoCredentialsError:
        raise VerifyError(
            "estate verify: no AWS credentials found (set AWS_PROFILE, or run in a role)"
        ) from None
    except EndpointConnectionError as exc:
        where = endpoint_url or exc.kwargs.get("endpoint_url", "AWS")
        raise VerifyError(f"estate verify: cannot reach {where} ({exc})") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise VerifyError(
            f"estate verify: AWS rejected the credentials ({error.get('Code')}: "
            f"{error.get('Message')})"
        ) from None
    except BotoCoreError as exc:
        raise VerifyError(f"estate verify: cannot call AWS STS ({exc})") from None


def finding_of(stack: str, outcome: Outcome) -> Finding:
    info = POLICIES[outcome.policy]
    return Finding(
        stack=stack,
        policy=outcome.policy,
        message=outcome.message,
        enforcement="advisory" if outcome.status == ADVISORY else "mandatory",
        severity=info.severity,
        urn=outcome.arn,
        resource_type=KINDS[outcome.kind].resource_type,
        resource_name=outcome.resource,
        description=info.description,
        pack=PACK,
    )


def run_verify(
    stack: str,
    outputs: dict[str, Any],
    *,
    source: str = "",
    region: str | None = None,
    endpoint_url: str | None = None,
    session: boto3.Session | None = None,
    workers: int = DEFAULT_WORKERS,
) -> VerifyReport:
    """Check one stack's live resources; raises `VerifyError` only for usage problems."""
    started = time.perf_counter()
    plan = plan_targets(outputs, where=source or "outputs")
    session = session or boto3.Session()
    region = region or str(outputs.get("region") or "") or session.region_name
    if not region:
        raise VerifyError("estate verify: no region (outputs have no `region`; pass --region)")
    try:
        clients = Clients(session, region, endpoint_url, {SERVICES[t.kind] for t in plan.targets})
    except (NoRegionError, ValueError) as exc:
        raise VerifyError(f"estate verify: cannot make AWS clients ({exc})") from None
    identity = _identity(clients, endpoint_url)
    account = str(identity.get("Account", ""))
    partition = str(identity.get("Arn", "arn:aws:")).split(":")[1] or "aws"
    expected_account = str(outputs.get("accountId") or account)

    result = StackResult(stack=stack, source=source or source_for(stack))
    outcomes: list[Outcome] = []
    used_policies = {ACCOUNT}
    if account != expected_account:
        outcomes.append(
            Outcome(
                ACCOUNT,
                "aws-account",
                account,
                FAIL,
                f"AWS account {account}: the credentials are for this account, but the stack "
                f"deploys to {expected_account}; nothing else was checked",
                f"arn:{partition}:iam::{account}:root",
            )
        )
    else:
        ctx = Context(
            stack=stack,
            business_unit=outputs["businessUnit"],
            environment=outputs["environment"],
            region=region,
            account_id=account,
            partition=partition,
            key_arn=outputs.get("kmsKeyArn") or outputs.get("platformKeyArn"),
            cluster_version=outputs.get("clusterVersion") if outputs.get("clusterName") else None,
            gpu_pools=outputs.get("gpuPools") or {},
            client=clients,
            alarm_names=tuple(t.name for t in plan.targets if t.kind == "cloudwatch-alarm"),
            outputs=outputs,
        )
        outcomes.append(
            Outcome(ACCOUNT, "aws-account", account, PASS, f"AWS account {account}: as declared")
        )
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for found in pool.map(lambda t: CHECKS[t.kind](ctx, t), plan.targets):
                outcomes += found
        used_policies |= {o.policy for o in outcomes}
        for kind in plan.not_declared:
            for name in KIND_POLICIES[kind]:
                result.not_applicable.append(
                    {
                        "policy": name,
                        "reason": f"the outputs declare no {KINDS[kind].plural}",
                        "urn": "",
                    }
                )
        result.not_applicable += plan.notes
    result.policies = [POLICIES[name].info() for name in sorted(used_policies)]
    result.findings = [finding_of(stack, o) for o in outcomes if o.status in (FAIL, ADVISORY)]
    result.resource_count = len(plan.targets)
    result.seconds = round(time.perf_counter() - started, 3)
    return VerifyReport(result=result, outcomes=outcomes, plan=plan)


# ---------------------------------------------------------------------------------------------
# Terminal

_STATUS = {
    FAIL: ("FAIL", "bold red"),
    ADVISORY: ("ADVISORY", "yellow"),
    PASS: ("ok", "green"),
    SKIPPED: ("n/a", "dim"),
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _plain(text: str) -> str:
    return _CONTROL.sub(" ", text)


def render_report(report: VerifyReport, console: Console) -> None:
    """A table of every check (failures first), then what the outputs did not declare."""
    order = {FAIL: 0, ADVISORY: 1, PASS: 2, SKIPPED: 3}
    kind_order = list(CHECKS)
    table = Table(
        title=f"Verify {report.result.stack}",
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
    )
    # Explicit widths: policy ids are what people grep CI logs for, so they are never folded,
    # and the detail takes the rest of the line even in an 80-column log.
    status_width = max(len(label) for label, _ in _STATUS.values())
    policy_width = max(len(p) for p in POLICIES)
    detail_width = max(16, console.width - status_width - policy_width - 10)
    table.add_column("Status", width=status_width, no_wrap=True)
    table.add_column("Policy / resource", width=policy_width, overflow="fold")
    table.add_column("Detail", width=detail_width, overflow="fold")
    rows = sorted(
        report.outcomes,
        key=lambda o: (
            order[o.status],
            kind_order.index(o.kind) if o.kind in kind_order else -1,
            o.resource,
            o.policy,
        ),
    )
    for outcome in rows:
        label, style = _STATUS[outcome.status]
        detail = outcome.message.split(": ", 1)[-1]
        quiet = outcome.status in (PASS, SKIPPED)
        table.add_row(
            Text(label, style=style),
            Text.assemble(
                (_plain(outcome.policy), "" if quiet else "bold"),
                "\n",
                (_plain(outcome.resource), "dim"),
            ),
            Text(_plain(detail), style="dim" if quiet else ""),
        )
    console.print(table, soft_wrap=False)
    if report.plan.not_declared:
        names = ", ".join(KINDS[k].plural for k in report.plan.not_declared)
        console.print(Text(f"Not declared by the outputs (skipped): {names}", style="dim"))


def verdict(report: VerifyReport) -> str:
    counts = {s: sum(1 for o in report.outcomes if o.status == s) for s in _STATUS}
    return (
        f"{report.result.stack}: {len(report.outcomes) - counts[SKIPPED]} checks on "
        f"{report.result.resource_count} resources: {counts[FAIL]} failed, "
        f"{counts[ADVISORY]} cannot verify (advisory), {counts[PASS]} passed"
    )


# ---------------------------------------------------------------------------------------------
# GPU node conformance config


def pool_conformance_config(
    stack: str,
    outputs: dict[str, Any],
    pool_name: str,
    *,
    min_driver_version: str = DEFAULT_MIN_DRIVER_VERSION,
    where: str = "outputs",
) -> dict[str, Any]:
    """What the node conformance suite (tests/infra) expects of every node of one GPU pool."""
    pools = outputs.get("gpuPools") or {}
    if pool_name not in pools:
        known = ", ".join(sorted(pools)) or "none"
        raise VerifyError(f"{where}: gpuPools: no pool {pool_name!r} (pools: {known})")
    if not re.fullmatch(r"\d+(\.\d+)*", min_driver_version):
        raise VerifyError(
            f"estate verify: --min-driver-version must look like 550.54.14 (got {min_driver_version!r})"
        )
    pool = pools[pool_name]
    business_unit = outputs["businessUnit"]
    unknown = [t for t in pool["instanceTypes"] if t not in CATALOG]
    if unknown:
        raise VerifyError(
            f"{where}: gpuPools.{pool_name}.instanceTypes: {', '.join(unknown)} not in the GPU "
            "catalog (components/gpu_catalog.py)"
        )
    labels = node_labels(
        business_unit,
        {  # type: ignore[typeddict-item]
            "name": pool_name,
            "instance_types": list(pool["instanceTypes"]),
            "capacity_type": pool["capacityType"],
            "labels": {},
        },
    )
    return {
        "schema": POOL_CONFIG_SCHEMA,
        "stack": stack,
        "businessUnit": business_unit,
        "pool": pool_name,
        "provisioner": pool["provisioner"],
        "gpuModel": pool.get("gpuModel", ""),
        "instanceTypes": list(pool["instanceTypes"]),
        "gpusPerInstanceType": {t: CATALOG[t].gpus for t in pool["instanceTypes"]},
        "minDriverVersion": min_driver_version,
        "expectedLabels": labels,
        "expectedTaints": [
            {"key": t.key, "value": t.value, "effect": t.effect} for t in node_taints(business_unit)
        ],
        "gpuResource": GPU_RESOURCE,
        "dcgmMetricsUrl": DCGM_METRICS_URL,
        "dcgmMetric": "DCGM_FI_DEV_GPU_UTIL",
        "services": {"persistenced": "nvidia-persistenced", "kubelet": "kubelet"},
        "containerdConfig": "/etc/containerd/config.toml",
        "procModules": "/proc/modules",
        "nodeObjectCommand": (
            'kubectl --kubeconfig /var/lib/kubelet/kubeconfig get node "$(hostname)" -o json'
        ),
    }


# ---------------------------------------------------------------------------------------------
# The command


def verify_command(
    *,
    stack: str,
    outputs_path: Path,
    region: str | None,
    endpoint_url: str | None,
    json_path: Path | None,
    sarif_path: Path | None,
    junit_path: Path | None,
    pool: str | None,
    pool_output: Path | None,
    min_driver_version: str | None,
    out: Console,
    err: Console,
    session: boto3.Session | None = None,
) -> int:
    """`estate verify` end to end; returns the exit code (one line on stderr for exit 2)."""
    from estate.reports import write_reports

    try:
        outputs = load_outputs(outputs_path)
        check_stack_matches(stack, outputs, str(outputs_path))
        if pool is not None:
            config = pool_conformance_config(
                stack,
                outputs,
                pool,
                min_driver_version=min_driver_version or DEFAULT_MIN_DRIVER_VERSION,
                where=str(outputs_path),
            )
            text = json.dumps(config, indent=2) + "\n"
            if pool_output is None:
                out.file.write(text)
            else:
                pool_output.parent.mkdir(parents=True, exist_ok=True)
                pool_output.write_text(text, encoding="utf-8")
                err.print(f"wrote {pool_output}", markup=False)
            return EXIT_OK
        report = run_verify(
            stack,
            outputs,
            source=source_for(stack, outputs_path),
            region=region,
            endpoint_url=endpoint_url,
            session=session,
        )
    except VerifyError as exc:
        err.print(str(exc), markup=False)
        return EXIT_USAGE
    write_reports(
        [report.result],
        json_path=json_path,
        sarif_path=sarif_path,
        junit_path=junit_path,
        tool_version=__version__,
    )
    render_report(report, out)
    out.print(verdict(report), markup=False)
    return EXIT_FINDINGS if report.result.blocking else EXIT_OK
