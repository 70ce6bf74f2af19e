"""What every live check shares: targets, outcomes, the policy catalogue and AWS call handling.

A check never raises for something AWS tells it: a missing resource, a denied call, an API the
endpoint does not implement or a call that still fails after botocore's retries all become an
`Outcome` that names the policy and the resource. Exceptions are left for bugs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from estate.offline.model import PolicyInfo

PACK = "ai-estate-verify"
"""The `pack` of every verify finding (reports group by it)."""

PASS, FAIL, ADVISORY, SKIPPED = "pass", "fail", "advisory", "skipped"
"""Outcome statuses: `fail` blocks (a mandatory finding), `advisory` is reported but does not
block (a check the endpoint cannot answer), `skipped` is not reported (a check of a resource
that does not exist, which already has its own finding)."""


@dataclass(frozen=True)
class Kind:
    """A family of live resources verify knows how to check."""

    key: str
    label: str
    """How a message names one, e.g. `S3 bucket`."""
    plural: str
    resource_type: str
    """The Pulumi type token of the resource the program declares for it."""


KINDS: dict[str, Kind] = {
    k.key: k
    for k in (
        Kind("aws-account", "AWS account", "AWS account", "aws:account"),
        Kind("kms-key", "KMS key", "KMS keys", "aws:kms/key:Key"),
        Kind("s3-bucket", "S3 bucket", "S3 buckets", "aws:s3/bucket:Bucket"),
        Kind("dynamodb-table", "DynamoDB table", "DynamoDB tables", "aws:dynamodb/table:Table"),
        Kind(
            "ecr-repository", "ECR repository", "ECR repositories", "aws:ecr/repository:Repository"
        ),
        Kind("eks-cluster", "EKS cluster", "EKS clusters", "aws:eks/cluster:Cluster"),
        Kind("eks-nodegroup", "EKS node group", "EKS node groups", "aws:eks/nodeGroup:NodeGroup"),
        Kind(
            "sagemaker-feature-group",
            "SageMaker feature group",
            "SageMaker feature groups",
            "aws:sagemaker/featureGroup:FeatureGroup",
        ),
        Kind(
            "sagemaker-model-package-group",
            "SageMaker model package group",
            "SageMaker model package groups",
            "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
        ),
        Kind(
            "cloudwatch-alarm",
            "CloudWatch alarm",
            "CloudWatch alarms",
            "aws:cloudwatch/metricAlarm:MetricAlarm",
        ),
        Kind("sns-topic", "SNS topic", "SNS topics", "aws:sns/topic:Topic"),
        Kind("budget", "budget", "budgets", "aws:budgets/budget:Budget"),
        Kind("backup-vault", "Backup vault", "Backup vaults", "aws:backup/vault:Vault"),
        Kind("sqs-queue", "SQS queue", "SQS queues", "aws:sqs/queue:Queue"),
        Kind(
            "events-archive",
            "EventBridge archive",
            "EventBridge archives",
            "aws:cloudwatch/eventArchive:EventArchive",
        ),
        Kind(
            "sagemaker-model-card",
            "SageMaker model card",
            "SageMaker model cards",
            "aws:sagemaker/modelCard:ModelCard",
        ),
        Kind(
            "cloudtrail-trail",
            "CloudTrail trail",
            "CloudTrail trails",
            "aws:cloudtrail/trail:Trail",
        ),
        Kind(
            "lakeformation-location",
            "Lake Formation location",
            "Lake Formation locations",
            "aws:lakeformation/resource:Resource",
        ),
        Kind(
            "lakeformation-settings",
            "Lake Formation settings of catalog",
            "Lake Formation settings",
            "aws:lakeformation/dataLakeSettings:DataLakeSettings",
        ),
    )
}


@dataclass(frozen=True)
class Target:
    """One live resource the stack's outputs declare."""

    kind: str
    """A key of `KINDS`."""
    name: str
    """Physical name or id (bucket name, table name, key ARN, GPU pool name, ...)."""
    declared_by: str
    """The outputs path that declared it, e.g. `featureStore.offlineBucketName`."""
    arn: str = ""
    """The ARN when the outputs gave one (or verify can build it)."""
    role: str = ""
    """Extra meaning: `access-logs` for the access-log bucket; the cluster of a node group pool."""


@dataclass
class Outcome:
    """The result of one policy on one resource."""

    policy: str
    kind: str
    resource: str
    """The resource as a finding names it (physical name)."""
    status: str
    message: str
    """One sentence; for a pass, what was confirmed."""
    arn: str = ""


@dataclass(frozen=True)
class Policy:
    """A verify policy: what it requires, how bad a violation is, how to fix it."""

    name: str
    severity: str
    description: str
    remediation: str = ""

    def info(self) -> PolicyInfo:
        return PolicyInfo(
            name=self.name,
            description=self.description,
            enforcement="mandatory",
            severity=self.severity,
            kind="resource",
            remediation=self.remediation,
            tags=["verify", "security"] if self.severity in ("high", "critical") else ["verify"],
        )


POLICIES: dict[str, Policy] = {}


def policy(name: str, severity: str, description: str, remediation: str = "") -> str:
    """Register a verify policy; returns its id (`verify-<service>-<property>`)."""
    if name in POLICIES:
        raise ValueError(f"verify policy {name} is registered twice")
    POLICIES[name] = Policy(name, severity, description, remediation)
    return name


# ---------------------------------------------------------------------------------------------
# AWS calls

NOT_FOUND_CODES = frozenset(
    {
        "404",
        "NoSuchBucket",
        "NotFound",
        "NotFoundException",
        "ResourceNotFound",
        "ResourceNotFoundException",
        "RepositoryNotFoundException",
        "TableNotFoundException",
        "NoSuchEntity",
        "TrailNotFoundException",
        "EntityNotFoundException",
    }
)
DENIED_CODES = frozenset(
    {
        "403",
        "AccessDenied",
        "AccessDeniedException",
        "AuthorizationError",
        "AuthorizationErrorException",
        "Forbidden",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
    }
)
UNSUPPORTED_CODES = frozenset(
    {
        "501",
        "NotImplemented",
        "NotImplementedException",
        "UnknownOperationException",
        "InvalidAction",
    }
)

_IAM_PREFIX = {"monitoring": "cloudwatch", "api.ecr": "ecr", "api.sagemaker": "sagemaker"}


class MissingResourceError(Exception):
    """AWS says the resource does not exist."""


class CannotVerifyError(Exception):
    """The call did not answer: denied, not implemented by the endpoint, or failed after retries.

    `status` is `fail` (denied or failed: the property is unproven, which blocks) or `advisory`
    (the endpoint does not implement the API: nothing to prove it with, reported, not blocking).
    """

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def api_name(client: Any, operation: str) -> str:
    """`s3:GetBucketEncryption`: how messages name an AWS API call."""
    model = client.meta.service_model
    prefix = _IAM_PREFIX.get(model.endpoint_prefix, model.endpoint_prefix)
    try:
        op = model.operation_model(client.meta.method_to_api_mapping.get(operation, operation))
        return f"{prefix}:{op.name}"
    except Exception:  # an unknown operation is the caller's bug; still name it
        return f"{prefix}:{operation}"


def aws_call(client: Any, operation: str, *, absent: Iterable[str] = (), **kwargs: Any) -> Any:
    """`client.<operation>(**kwargs)`, with AWS errors turned into what a check can report.

    Returns None when the error code is in `absent` (the setting asked about is not there, e.g.
    `NoSuchBucketPolicy`); raises `MissingResourceError` for a not-found error and `CannotVerifyError` for
    everything else AWS (or the network) answers. Throttling has already been retried by the
    client's retry config by the time an error gets here.
    """
    try:
        return getattr(client, operation)(**kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        api = api_name(client, operation)
        if code in set(absent):
            return None
        if code in NOT_FOUND_CODES:
            raise MissingResourceError(str(error.get("Message") or code)) from None
        if code in DENIED_CODES or status == 403:
            raise CannotVerifyError(
                FAIL, f"could not be verified: access denied calling {api} ({code or status})"
            ) from None
        if code in UNSUPPORTED_CODES or status == 501:
            raise CannotVerifyError(
                ADVISORY, f"cannot verify: the endpoint does not implement {api}"
            ) from None
        attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
        retried = f" after {attempts + 1} attempts" if attempts else ""
        message = " ".join(str(error.get("Message") or "").split())[:200]
        raise CannotVerifyError(
            FAIL,
            f"could not be verified: {api} failed{retried} with {code or status}"
            + (f" ({message})" if message and not message.startswith("<") else ""),
        ) from None
    except BotoCoreError as exc:
        raise CannotVerifyError(
            FAIL, f"could not be verified: {api_name(client, operation)} failed ({exc})"
        ) from None


def reported(found: dict[str, Any] | None, field: str, api: str) -> Any:
    """`found[field]`, or an advisory "cannot verify" when the endpoint's answer lacks the
    field (an emulator that does not model the property): reported, never assumed."""
    if not isinstance(found, dict) or field not in found:
        raise CannotVerifyError(
            ADVISORY, f"cannot verify: the endpoint does not report {field} ({api})"
        )
    return found[field]


# ---------------------------------------------------------------------------------------------
# What checks run with


@dataclass
class Context:
    """Everything a check needs: the stack's expectations (from its outputs) and AWS clients."""

    stack: str
    business_unit: str
    environment: str
    region: str
    account_id: str
    partition: str
    key_arn: str | None
    """The stack's customer key (`kmsKeyArn`, else `platformKeyArn`): what data must use."""
    cluster_version: str | None
    """`clusterVersion` from the outputs, when the stack owns a cluster."""
    gpu_pools: dict[str, dict[str, Any]]
    client: Callable[[str], Any]
    """`client("s3")`: a boto3 client for the stack's region with the verify retry config."""
    alarm_names: tuple[str, ...] = ()
    """Every alarm the outputs declare, so one DescribeAlarms call can answer for them all."""
    outputs: dict[str, Any] = field(default_factory=dict)
    """The whole outputs document, for checks whose expectations sit beside the resource (a
    trail's settings and the data stores it records; a registered location's role)."""
    _cache: dict[Any, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cached(self, key: Any, load: Callable[[], Any]) -> Any:
        """`load()` once per key across the check threads (a failure is cached too)."""
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                entry = self._cache[key] = _Once(load)
        return entry.get()

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        where = self.region if region else ""
        account = self.account_id if service != "s3" else ""
        return f"arn:{self.partition}:{service}:{where}:{account}:{resource}"

    def same_key(self, live: str | None, expected: str) -> bool:
        """Whether a key reference AWS returned (ARN, id, alias) names the expected key."""
        if not live:
            return False
        if live == expected or expected.endswith(f"/{live}"):
            return True
        if "alias/" in live:
            resolved = self.cached(("key-of", live), lambda: self._resolve(live))
            return resolved == expected
        return False

    def _resolve(self, key: str) -> str | None:
        try:
            meta = aws_call(self.client("kms"), "describe_key", KeyId=key)
        except (MissingResourceError, CannotVerifyError):
            return None
        return meta["KeyMetadata"]["Arn"]


def section_of(ctx: Context, target: Target) -> dict[str, Any]:
    """The outputs object that holds the key which declared `target` (`audit` for
    `audit.trailArn`): where its sibling settings are. Empty when it is not an object."""
    value: Any = ctx.outputs
    for part in target.declared_by.split(".")[:-1]:
        value = value.get(part) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


class _Once:
    def __init__(self, load: Callable[[], Any]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None

    def get(self) -> Any:
        with self._lock:
            if not self._done:
                try:
                    self._value = self._load()
                except (MissingResourceError, CannotVerifyError) as exc:
                    self._error = exc
                self._done = True
        if self._error is not None:
            raise self._error
        return self._value


Problem = str | None
"""What a property check returns: None when the property holds, else what is wrong."""


class Run:
    """Runs the policies of one resource and collects their outcomes.

    `exists` first: when the resource is missing that is the one finding, and every later check
    of it is recorded as skipped rather than reported again.
    """

    def __init__(self, target: Target, resource: str | None = None, arn: str = "") -> None:
        self.target = target
        self.kind = KINDS[target.kind]
        self.resource = resource or target.name
        self.arn = arn or target.arn
        self.outcomes: list[Outcome] = []
        self.missing = False
        self._why_not = ""

    def _add(self, policy_id: str, status: str, message: str) -> None:
        self.outcomes.append(
            Outcome(
                policy=policy_id,
                kind=self.target.kind,
                resource=self.resource,
                status=status,
                message=f"{self.kind.label} {self.resource}: {message}",
                arn=self.arn,
            )
        )

    def exists(self, policy_id: str, describe: Callable[[], Any], missing: str = "") -> Any:
        """Describe the resource; None (with a finding) when it is missing or cannot be read."""
        try:
            found = describe()
        except MissingResourceError:
            found = None
        except CannotVerifyError as exc:
            self._add(policy_id, exc.status, exc.message)
            self.missing, self._why_not = True, "the resource could not be described"
            return None
        if found is None:
            self._add(
                policy_id,
                FAIL,
                missing
                or f"does not exist, but the outputs declare it ({self.target.declared_by})",
            )
            self.missing, self._why_not = True, "the resource is missing"
            return None
        self._add(policy_id, PASS, "exists")
        return found

    def check(self, policy_id: str, probe: Callable[[], Problem], ok: str = "as required") -> None:
        """Run one property check; its problem (if any) becomes a failed outcome."""
        if self.missing:
            self._add(policy_id, SKIPPED, f"not checked: {self._why_not}")
            return
        try:
            problem = probe()
        except MissingResourceError:
            problem = "disappeared while it was being checked"
        except CannotVerifyError as exc:
            self._add(policy_id, exc.status, exc.message)
            return
        if problem:
            self._add(policy_id, FAIL, problem)
        else:
            self._add(policy_id, PASS, ok)

    def skip(self, policy_id: str, reason: str) -> None:
        self._add(policy_id, SKIPPED, reason)


def short_key(key: str | None) -> str:
    """A key ARN as people read it in a message: its id (or the alias)."""
    if not key:
        return "(none)"
    return key.rsplit(":", 1)[-1] if key.startswith("arn:") else key
