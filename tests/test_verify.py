"""`estate verify` against a real HTTP AWS endpoint: moto in server mode on a loopback port.

Each test resets moto, creates with boto3 the compliant resources a stack's outputs name (from
`tests/fixtures/outputs/<stack>.json`, the outputs the offline render predicts), breaks one
property, and runs the CLI as a pipeline would (a subprocess with `--endpoint-url`).

The endpoint is moto's own WSGI app behind a small middleware that:
- answers as account 222222222222 (the account of fraud-prod and platform-prod);
- can deny or throttle one API, to prove AccessDenied becomes a finding and throttling is retried;
- turns moto's gaps into what AWS would answer, so a gap is reported honestly instead of as a
  slow run of retried HTTP 500s: an action moto does not implement (NotImplementedError, e.g.
  SageMaker GetModelPackageGroupPolicy) answers 501 NotImplemented, which verify reports as an
  advisory "cannot verify"; a describe of a missing SageMaker feature group or EKS cluster, which
  crashes moto with a KeyError, answers AWS's not-found error.
And moto invents `remoteAccess: {ec2SshKey: eksKeypair}` for every node group created without
remote access (AWS reports none); the harness removes that default for the session.

Moto gaps that verify cannot work around (documented, tested where possible otherwise):
- SageMaker: GetModelPackageGroupPolicy/PutModelPackageGroupPolicy are not implemented, so the
  model package group policy check reports "cannot verify" (advisory); DescribeFeatureGroup drops
  OnlineStoreConfig, so online-store encryption is tested with a botocore Stubber instead; there
  is no DeleteFeatureGroup/DeleteModelPackageGroup, so "deleted" means "never created".
- DynamoDB UpdateTable ignores SSESpecification: "table on the default key" recreates the table.
- Lake Formation: RegisterResource drops HybridAccessEnabled and DescribeResource answers without
  it, so the hybrid access check reports "cannot verify" (advisory); GetLFTag answers a missing
  key with no values (AWS: EntityNotFoundException), which verify treats alike; the default data
  lake settings carry the IAMAllowedPrincipals grants, as AWS's do, so the platform build clears
  them as the program does.
- CloudTrail answers every property verify checks (GetTrail, GetTrailStatus IsLogging,
  GetEventSelectors AdvancedEventSelectors); it refuses a multi-region trail without global
  service events, as AWS does.
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from components.gpu_pools import managed_name_prefix, node_labels, node_taints
from components.storage import bucket_policy_document, log_delivery_statement, tls_only_statement
from estate import verify
from estate.verify.checks import s3 as s3_checks
from estate.verify.checks import sagemaker as sagemaker_checks
from estate.verify.checks.base import Context, Target

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "outputs"
ACCOUNT = "222222222222"
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


# ---------------------------------------------------------------------------------------------
# The endpoint


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_S3_SUBRESOURCES = {
    "encryption": "BucketEncryption",
    "policy": "BucketPolicy",
    "versioning": "BucketVersioning",
    "publicAccessBlock": "PublicAccessBlock",
}
_JSON_NOT_FOUND = {
    # service (SigV4 scope) -> (status, AWS error code) for a name moto crashes on
    "sagemaker": (400, "ResourceNotFound"),
    "eks": (404, "ResourceNotFoundException"),
}


def _service(environ: dict[str, Any]) -> str:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" in auth:
        return auth.split("Credential=", 1)[1].split("/")[3]
    return ""


def _operation(environ: dict[str, Any], service: str) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rsplit(".", 1)[-1]
    path = environ.get("PATH_INFO", "")
    if "/operation/" in path:  # smithy rpc-v2-cbor
        return path.rsplit("/operation/", 1)[-1]
    if service == "s3":
        query = environ.get("QUERY_STRING", "")
        keys = {part.split("=", 1)[0] for part in query.split("&") if part}
        for key, noun in _S3_SUBRESOURCES.items():
            if key in keys:
                verb = {"GET": "Get", "PUT": "Put", "DELETE": "Delete"}.get(
                    environ["REQUEST_METHOD"]
                )
                return f"{verb}{noun}"
    return ""


def _json_error(status: int, code: str, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    body = json.dumps({"__type": code, "message": message}).encode()
    headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("x-amzn-ErrorType", code),
        ("Content-Length", str(len(body))),
    ]
    return f"{status} Error", headers, body


def _xml_error(status: int, code: str, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>{message}</Message><RequestId>harness</RequestId></Error>"
    ).encode()
    headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
    return f"{status} Error", headers, body


class AwsEndpoint:
    """moto's server app on a free loopback port, with fault injection (see module docstring)."""

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        self._moto = DomainDispatcherApplication(create_backend_app)
        self._lock = threading.Lock()
        self.denied: set[str] = set()
        self.throttle: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        port = _free_port()
        self._server = make_server("127.0.0.1", port, self, threaded=True)
        self.url = f"http://127.0.0.1:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def reset(self) -> None:
        with self._lock:
            self.denied.clear()
            self.throttle.clear()
            self.calls.clear()
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = ACCOUNT
        service = _service(environ)
        operation = _operation(environ, service)
        error: tuple[str, list[tuple[str, str]], bytes] | None = None
        with self._lock:
            self.calls[operation] += 1
            if operation in self.denied:
                error = (
                    _xml_error(403, "AccessDenied", "Access Denied")
                    if service == "s3"
                    else _json_error(400, "AccessDeniedException", f"not allowed: {operation}")
                )
            elif self.throttle[operation] > 0:
                self.throttle[operation] -= 1
                error = _json_error(400, "ThrottlingException", "Rate exceeded")
        if error is not None:
            start_response(error[0], error[1])
            return [error[2]]

        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        try:
            body = b"".join(self._moto(environ, capture))
        except NotImplementedError:
            error = _json_error(501, "NotImplemented", f"moto does not implement {operation}")
        except KeyError as exc:
            if service not in _JSON_NOT_FOUND:
                raise
            status, code = _JSON_NOT_FOUND[service]
            error = _json_error(status, code, f"{exc} not found")
        if error is not None:
            start_response(error[0], error[1])
            return [error[2]]
        start_response(captured["status"], captured["headers"])
        return [body]


@pytest.fixture(scope="session")
def endpoint() -> Iterator[AwsEndpoint]:
    import moto.eks.models
    import moto.eks.utils

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    partitions = boto3.Session().get_available_partitions()
    with pytest.MonkeyPatch.context() as patch:
        # AWS reports no remoteAccess for a node group created without it; moto invents one.
        patch.setattr(moto.eks.models, "DEFAULT_REMOTE_ACCESS", {})
        # Speed only: moto checks every EKS role ARN against a new boto3 Session's partitions,
        # which reloads botocore's endpoint data (a third of a second per cluster/node group).
        patch.setattr(
            moto.eks.utils,
            "Session",
            lambda: SimpleNamespace(get_available_partitions=lambda: partitions),
        )
        server = AwsEndpoint()
        yield server
        server.stop()


# ---------------------------------------------------------------------------------------------
# Building the compliant estate a stack's outputs name


def fixture_outputs(stack: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{stack}.json").read_text())


_BUILDER_CLIENTS: dict[tuple[str, str], Any] = {}


class Estate:
    """Creates, with boto3, the resources of one stack as its program would configure them."""

    def __init__(self, endpoint: AwsEndpoint, stack: str) -> None:
        endpoint.reset()
        self.endpoint = endpoint
        self.stack = stack
        self.outputs = fixture_outputs(stack)

    def client(self, service: str) -> Any:
        # Shared by every test: making a client loads its service model, the slow part.
        key = (self.endpoint.url, service)
        if key not in _BUILDER_CLIENTS:
            _BUILDER_CLIENTS[key] = boto3.client(
                service,
                endpoint_url=self.endpoint.url,
                region_name=REGION,
                config=Config(retries={"mode": "standard", "max_attempts": 2}),
                **CREDENTIALS,
            )
        return _BUILDER_CLIENTS[key]

    # -- resources --------------------------------------------------------------------------

    def key(self, declared_arn: str) -> str:
        """A rotated customer key; the outputs' (rendered) ARN is replaced by the live one."""
        kms = self.client("kms")
        arn = kms.create_key(Description=f"{self.stack} key")["KeyMetadata"]["Arn"]
        kms.enable_key_rotation(KeyId=arn)
        self.outputs = json.loads(json.dumps(self.outputs).replace(declared_arn, arn))
        return arn

    def other_key(self) -> str:
        return self.client("kms").create_key(Description="not the stack key")["KeyMetadata"]["Arn"]

    def bucket(self, name: str, *, kms_key: str | None, extra_statements: list[Any] = ()) -> None:
        s3 = self.client("s3")
        s3.create_bucket(Bucket=name)
        default: dict[str, Any] = (
            {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key}
            if kms_key
            else {"SSEAlgorithm": "AES256"}
        )
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": default,
                        "BucketKeyEnabled": kms_key is not None,
                    }
                ]
            },
        )
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_policy(
            Bucket=name,
            Policy=bucket_policy_document(f"arn:aws:s3:::{name}", list(extra_statements)),
        )

    def table(self, name: str, *, kms_key: str | None, protect: bool = True) -> None:
        ddb = self.client("dynamodb")
        extra: dict[str, Any] = {}
        if kms_key:
            extra["SSESpecification"] = {
                "Enabled": True,
                "SSEType": "KMS",
                "KMSMasterKeyId": kms_key,
            }
        ddb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[
                {"AttributeName": "card_id", "KeyType": "HASH"},
                {"AttributeName": "window", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "card_id", "AttributeType": "S"},
                {"AttributeName": "window", "AttributeType": "S"},
            ],
            DeletionProtectionEnabled=protect,
            **extra,
        )
        ddb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )

    def feature_group(self, name: str, *, kms_key: str, bucket: str) -> None:
        self.client("sagemaker").create_feature_group(
            FeatureGroupName=name,
            RecordIdentifierFeatureName="id",
            EventTimeFeatureName="event_time",
            FeatureDefinitions=[
                {"FeatureName": "id", "FeatureType": "String"},
                {"FeatureName": "event_time", "FeatureType": "Fractional"},
            ],
            OnlineStoreConfig={"EnableOnlineStore": True, "SecurityConfig": {"KmsKeyId": kms_key}},
            OfflineStoreConfig={
                "S3StorageConfig": {"S3Uri": f"s3://{bucket}/offline", "KmsKeyId": kms_key}
            },
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{self.stack}-feature-store",
        )

    def cluster(self, name: str, *, kms_key: str, version: str = "1.31", **overrides: Any) -> None:
        spec: dict[str, Any] = {
            "name": name,
            "version": version,
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/{name}-cluster",
            "resourcesVpcConfig": {
                "subnetIds": ["subnet-a", "subnet-b"],
                "endpointPrivateAccess": True,
                "endpointPublicAccess": False,
            },
            "logging": {
                "clusterLogging": [
                    {
                        "types": [
                            "api",
                            "audit",
                            "authenticator",
                            "controllerManager",
                            "scheduler",
                        ],
                        "enabled": True,
                    }
                ]
            },
            "encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": kms_key}}],
        }
        spec.update(overrides)
        self.client("eks").create_cluster(**{k: v for k, v in spec.items() if v is not None})

    def node_group(self, cluster: str, pool_name: str, **overrides: Any) -> str:
        bu, env = self.outputs["businessUnit"], self.outputs["environment"]
        pool = self.outputs["gpuPools"][pool_name]
        name = managed_name_prefix(bu, env, pool_name) + "20250101000000000000000001"
        labels = node_labels(
            bu,
            {
                "name": pool_name,
                "instance_types": pool["instanceTypes"],
                "capacity_type": pool["capacityType"],
                "labels": {},
            },  # type: ignore[typeddict-item]
        )
        spec: dict[str, Any] = {
            "clusterName": cluster,
            "nodegroupName": name,
            "nodeRole": f"arn:aws:iam::{ACCOUNT}:role/ai-estate/nodes/{bu}-{env}-gpu-node",
            "subnets": ["subnet-a", "subnet-b"],
            "scalingConfig": {
                "minSize": pool["minSize"],
                "maxSize": pool["maxSize"],
                "desiredSize": pool["minSize"],
            },
            "amiType": "AL2023_x86_64_NVIDIA",
            "instanceTypes": pool["instanceTypes"],
            "capacityType": "ON_DEMAND" if pool["capacityType"] == "on-demand" else "SPOT",
            "labels": labels,
            "taints": [
                {"key": t.key, "value": t.value, "effect": t.eks_effect()} for t in node_taints(bu)
            ],
        }
        spec.update(overrides)
        self.client("eks").create_nodegroup(**spec)
        return name

    def repository(self, name: str, *, kms_key: str | None) -> None:
        encryption = (
            {"encryptionType": "KMS", "kmsKey": kms_key}
            if kms_key
            else {"encryptionType": "AES256"}
        )
        self.client("ecr").create_repository(
            repositoryName=name,
            imageTagMutability="IMMUTABLE",
            imageScanningConfiguration={"scanOnPush": True},
            encryptionConfiguration=encryption,
        )

    def topic(self, name: str, *, kms_key: str) -> str:
        return self.client("sns").create_topic(Name=name, Attributes={"KmsMasterKeyId": kms_key})[
            "TopicArn"
        ]

    def alarm(self, name: str, topic_arn: str) -> None:
        self.client("cloudwatch").put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/SageMaker",
            MetricName="Invocation5XXErrors",
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            AlarmActions=[topic_arn],
        )

    def backup_vault(self, name: str, *, kms_key: str, compliance: bool) -> None:
        """The vault as BuBackup builds it: BU key, a lock (compliance mode in prod), a plan."""
        backup = self.client("backup")
        backup.create_backup_vault(BackupVaultName=name, EncryptionKeyArn=kms_key)
        backup.put_backup_vault_lock_configuration(
            BackupVaultName=name,
            MinRetentionDays=35,
            **({"ChangeableForDays": 3} if compliance else {}),
        )
        backup.create_backup_plan(
            BackupPlan={
                "BackupPlanName": name.removesuffix("-vault") + "-backup",
                "Rules": [
                    {
                        "RuleName": "every-4h",
                        "TargetBackupVaultName": name,
                        "ScheduleExpression": "cron(0 0/4 * * ? *)",
                    }
                ],
            }
        )

    def retraining_queue(self, name: str, *, kms_key: str) -> None:
        """The queue as RetrainingLoop builds it: BU key, a DLQ, and its manual rule's target."""
        sqs = self.client("sqs")
        dlq = sqs.create_queue(QueueName=f"{name}-dlq", Attributes={"KmsMasterKeyId": kms_key})
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq["QueueUrl"], AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        queue = sqs.create_queue(
            QueueName=name,
            Attributes={
                "KmsMasterKeyId": kms_key,
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}),
            },
        )
        arn = sqs.get_queue_attributes(QueueUrl=queue["QueueUrl"], AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events = self.client("events")
        events.put_rule(
            Name=f"{name}-manual",
            EventPattern=json.dumps({"source": ["ai-estate.mlops"]}),
        )
        events.put_targets(Rule=f"{name}-manual", Targets=[{"Id": "retraining-queue", "Arn": arn}])

    def archive(self, name: str) -> None:
        self.client("events").create_archive(
            ArchiveName=name,
            EventSourceArn=f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default",
            EventPattern=json.dumps({"source": ["aws.sagemaker"]}),
        )

    def model_card(self, name: str, *, kms_key: str, status: str = "Approved") -> None:
        self.client("sagemaker").create_model_card(
            ModelCardName=name,
            SecurityConfig={"KmsKeyId": kms_key},
            Content=json.dumps({"model_overview": {"model_description": name}}),
            ModelCardStatus=status,
        )

    def trail(self, name: str, *, kms_key: str) -> None:
        """The trail as BuAuditTrail builds it: log file validation, the BU key, one advanced
        event selector per kind of data store (the outputs' stores, as the program passes
        them), logging; global service events exactly when multi-region (moto, like AWS,
        refuses a multi-region trail without them)."""
        audit = self.outputs["audit"]
        cloudtrail = self.client("cloudtrail")
        multi_region = bool(audit["multiRegion"])
        cloudtrail.create_trail(
            Name=name,
            S3BucketName=audit["bucketName"],
            S3KeyPrefix="cloudtrail",
            KmsKeyId=kms_key,
            EnableLogFileValidation=True,
            IncludeGlobalServiceEvents=multi_region,
            IsMultiRegionTrail=multi_region,
        )
        store = self.outputs["featureStore"]
        buckets = [store["offlineBucketName"], self.outputs["modelRegistry"]["artifactBucketName"]]

        def selector(label: str, kind: str, op: str, values: list[str]) -> dict[str, Any]:
            return {
                "Name": label,
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": [kind]},
                    {"Field": "resources.ARN", op: values},
                ],
            }

        cloudtrail.put_event_selectors(
            TrailName=name,
            AdvancedEventSelectors=[
                selector(
                    "s3-objects",
                    "AWS::S3::Object",
                    "StartsWith",
                    [f"arn:aws:s3:::{b}/" for b in buckets],
                ),
                selector(
                    "dynamodb-items",
                    "AWS::DynamoDB::Table",
                    "Equals",
                    sorted(store["onlineTableArns"].values()),
                ),
                selector(
                    "feature-records",
                    "AWS::SageMaker::FeatureGroup",
                    "Equals",
                    sorted(store["featureGroupArns"].values()),
                ),
            ],
        )
        cloudtrail.start_logging(Name=name)

    def location(self, arn: str) -> None:
        """The offline store registered with the BU's Lake Formation role (moto keeps no
        HybridAccessEnabled: the parameter is accepted and dropped)."""
        lf = self.outputs["lakeFormation"]
        self.client("lakeformation").register_resource(
            ResourceArn=arn, RoleArn=lf["roleArn"], HybridAccessEnabled=lf["hybridAccess"]
        )

    def lake_settings(self, catalog: str) -> None:
        """PlatformDataGovernance's settings (no default grants, the admins) and LF-tags."""
        governance = self.outputs["dataGovernance"]
        lf = self.client("lakeformation")
        lf.put_data_lake_settings(
            CatalogId=catalog,
            DataLakeSettings={
                "DataLakeAdmins": [
                    {"DataLakePrincipalIdentifier": a} for a in governance["lakeFormationAdmins"]
                ],
                "CreateDatabaseDefaultPermissions": [],
                "CreateTableDefaultPermissions": [],
            },
        )
        for key, values in governance["lfTags"].items():
            lf.create_lf_tag(CatalogId=catalog, TagKey=key, TagValues=values)

    def budget(self, name: str) -> None:
        self.client("budgets").create_budget(
            AccountId=ACCOUNT,
            Budget={
                "BudgetName": name,
                "BudgetLimit": {"Amount": "25000", "Unit": "USD"},
                "TimeUnit": "MONTHLY",
                "BudgetType": "COST",
            },
        )


FRAUD_REPOSITORY = "fraud-prod/card-fraud"
FRAUD_MODEL_GROUPS = ("fraud-prod-card-fraud", "fraud-prod-merchant-risk")
FRAUD_TOPIC = "fraud-prod-alarms"
FRAUD_BUDGET = "ai-estate-fraud-prod-monthly"
FRAUD_VAULT = "fraud-prod-vault"
FRAUD_QUEUE = "fraud-prod-card-fraud-retrain"
FRAUD_ARCHIVE = "fraud-prod-model-packages"
FRAUD_CARD = "fraud-prod-card-fraud"
FRAUD_TRAIL = "fraud-prod-data-events"
FRAUD_LOCATION = json.loads((FIXTURES / "fraud-prod.json").read_text())["lakeFormation"][
    "offlineLocationArn"
]
PLATFORM_CLUSTER = "platform-prod-ai"

# The stack exports its alarms (`alarmArns`); the drift cases break the first two of them.
FRAUD_ALARM_ARNS = sorted(
    json.loads((FIXTURES / "fraud-prod.json").read_text())["alarmArns"].values()
)
FRAUD_ENDPOINT_ALARM_ARNS = sorted(
    arn
    for endpoint in json.loads((FIXTURES / "fraud-prod.json").read_text())["serving"][
        "endpoints"
    ].values()
    for arn in endpoint["alarmArns"].values()
)
"""The serving endpoints' alarms (issue 12), exported per endpoint and verified like the rest."""
TEST_DECLARED_ALARMS = tuple(arn.rsplit(":", 1)[-1] for arn in FRAUD_ALARM_ARNS[:2])

_CREATE_ORDER = (
    "kms-key",
    "sns-topic",  # alarms notify a topic
    "s3-bucket",
    "dynamodb-table",
    "ecr-repository",
    "eks-cluster",
    "eks-nodegroup",
    "sagemaker-feature-group",
    "sagemaker-model-package-group",
    "cloudwatch-alarm",
    "budget",
    "backup-vault",
    "sqs-queue",
    "events-archive",
    "sagemaker-model-card",
    "cloudtrail-trail",  # after the audit bucket it delivers to
    "lakeformation-location",
    "lakeformation-settings",
)


def build(
    endpoint: AwsEndpoint, stack: str, omit: frozenset[str] = frozenset(), **cluster: Any
) -> Estate:
    """Every resource the stack's fixture outputs declare, created compliant (as the program
    configures it), except those named in `omit`. Which resources the outputs declare is pinned
    by `test_plan_of_each_fixture_names_what_the_stack_deploys`; a new kind fails here loudly."""
    estate = Estate(endpoint, stack)
    outputs = estate.outputs
    if outputs["businessUnit"] != "platform":
        # a BU stack declares its alarms; without them the alarm checks would be vacuous
        assert any(t.kind == "cloudwatch-alarm" for t in verify.plan_targets(outputs).targets)
    for target in verify.plan_targets(estate.outputs).targets:
        if target.kind == "kms-key":
            estate.key(target.arn)
    outputs = estate.outputs
    key = outputs.get("kmsKeyArn") or outputs["platformKeyArn"]
    plan = verify.plan_targets(outputs)
    topics: list[str] = []
    if plan.cluster_for_pools and plan.cluster_for_pools != outputs.get("clusterName"):
        estate.cluster(plan.cluster_for_pools, kms_key=estate.other_key())  # the platform's cluster
    for target in sorted(plan.targets, key=lambda t: _CREATE_ORDER.index(t.kind)):
        name = target.name
        # a model card is named as its family's package group: `card:<name>` omits the card
        omitted = f"card:{name}" if target.kind == "sagemaker-model-card" else name
        if omitted in omit or target.kind == "kms-key":
            continue
        if target.kind == "sns-topic":
            topics.append(estate.topic(name, kms_key=key))
        elif target.kind == "s3-bucket" and target.role == "access-logs":
            log_delivery = log_delivery_statement(f"arn:aws:s3:::{name}", ACCOUNT)
            estate.bucket(name, kms_key=None, extra_statements=[log_delivery])
        elif target.kind == "s3-bucket":
            estate.bucket(name, kms_key=key)
        elif target.kind == "dynamodb-table":
            estate.table(name, kms_key=key, protect=outputs["environment"] == "prod")
        elif target.kind == "ecr-repository":
            estate.repository(name, kms_key=key)
        elif target.kind == "eks-cluster":
            # the version the stack declares (its outputs); a case may override it
            estate.cluster(
                name, kms_key=key, **{"version": outputs.get("clusterVersion", "1.35"), **cluster}
            )
        elif target.kind == "eks-nodegroup":
            estate.node_group(target.role, name)
        elif target.kind == "sagemaker-feature-group":
            bucket = outputs["featureStore"]["offlineBucketName"]
            estate.feature_group(name, kms_key=key, bucket=bucket)
        elif target.kind == "sagemaker-model-package-group":
            estate.client("sagemaker").create_model_package_group(ModelPackageGroupName=name)
        elif target.kind == "cloudwatch-alarm":
            estate.alarm(name, outputs.get("alarmTopicArn") or topics[0])
        elif target.kind == "budget":
            estate.budget(name)
        elif target.kind == "backup-vault":
            estate.backup_vault(name, kms_key=key, compliance=outputs["environment"] == "prod")
        elif target.kind == "sqs-queue":
            estate.retraining_queue(name, kms_key=key)
        elif target.kind == "events-archive":
            estate.archive(name)
        elif target.kind == "sagemaker-model-card":
            estate.model_card(name, kms_key=key)
        elif target.kind == "cloudtrail-trail":
            estate.trail(name, kms_key=key)
        elif target.kind == "lakeformation-location":
            estate.location(name)
        elif target.kind == "lakeformation-settings":
            estate.lake_settings(name)
        else:
            raise AssertionError(
                f"the test cannot create a {target.kind} yet ({target.declared_by})"
            )
    return estate


def build_fraud_prod(endpoint: AwsEndpoint, omit: frozenset[str] = frozenset()) -> Estate:
    """fraud-prod as deployed, with the platform cluster its managed GPU pool joins."""
    return build(endpoint, "fraud-prod", omit)


def build_platform_prod(endpoint: AwsEndpoint, **cluster: Any) -> Estate:
    return build(endpoint, "platform-prod", **cluster)


# ---------------------------------------------------------------------------------------------
# Running the CLI as a pipeline does


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PULUMI_"))}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    env.update(extra)
    return env


class Verified:
    def __init__(self, done: subprocess.CompletedProcess[str], report: dict[str, Any] | None):
        self.code = done.returncode
        self.stdout, self.stderr = done.stdout, done.stderr
        self.report = report or {}

    @property
    def findings(self) -> list[dict[str, Any]]:
        return [f for s in self.report.get("stacks", []) for f in s["findings"]]

    def blocking(self) -> set[tuple[str, str]]:
        return {(f["policy"], f["resource_name"]) for f in self.findings if f["blocking"]}

    def advisories(self) -> set[tuple[str, str]]:
        return {(f["policy"], f["resource_name"]) for f in self.findings if not f["blocking"]}


def run_verify_cli(
    tmp_path: Path,
    stack: str,
    outputs: dict[str, Any] | str,
    endpoint: AwsEndpoint | None,
    *extra: str,
    env: dict[str, str] | None = None,
) -> Verified:
    path = tmp_path / f"{stack}-outputs.json"
    path.write_text(outputs if isinstance(outputs, str) else json.dumps(outputs, indent=2))
    report = tmp_path / f"{stack}-verify.json"
    args = ["verify", "--stack", stack, "--outputs", str(path), "--json", str(report), *extra]
    if endpoint is not None:
        args += ["--endpoint-url", endpoint.url]
    done = subprocess.run(
        [sys.executable, "-m", "estate", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env or cli_env(),
        timeout=120,
    )
    return Verified(done, json.loads(report.read_text()) if report.is_file() else None)


@pytest.fixture(scope="session")
def session() -> boto3.Session:
    """One boto3 session for in-process runs, so service models load once per test session."""
    return boto3.Session(region_name=REGION, **CREDENTIALS)


def run_verify_in_process(
    tmp_path: Path,
    stack: str,
    outputs: dict[str, Any] | str,
    endpoint: AwsEndpoint | None,
    session: Any = None,
) -> Verified:
    """The command's own code path (`verify_command`, what `estate verify` runs after parsing
    its options), in this process: the drift matrix would spend most of its time starting
    Python and loading botocore models in subprocesses. The subprocess tests cover parsing."""
    path = tmp_path / f"{stack}-outputs.json"
    path.write_text(outputs if isinstance(outputs, str) else json.dumps(outputs, indent=2))
    report = tmp_path / f"{stack}-verify.json"
    out, err = io.StringIO(), io.StringIO()
    code = verify.verify_command(
        stack=stack,
        outputs_path=path,
        region=None,
        endpoint_url=endpoint.url if endpoint else None,
        json_path=report,
        sarif_path=None,
        junit_path=None,
        pool=None,
        pool_output=None,
        min_driver_version=None,
        out=Console(file=out, width=100, soft_wrap=True),
        err=Console(file=err, width=100, soft_wrap=True),
        session=session,
    )
    done = subprocess.CompletedProcess([], code, out.getvalue(), err.getvalue())
    return Verified(done, json.loads(report.read_text()) if report.is_file() else None)


# ---------------------------------------------------------------------------------------------
# Fixtures stay what the render predicts


@pytest.mark.parametrize("stack", ["platform-dev", "platform-prod", "fraud-prod", "marketing-dev"])
def test_outputs_fixture_matches_the_offline_render(rendered, stack):
    sys.path.insert(0, str(FIXTURES))
    try:
        import generate
    finally:
        sys.path.remove(str(FIXTURES))
    expected = generate.fixture_text(rendered(stack).outputs)
    assert (FIXTURES / f"{stack}.json").read_text() == expected, (
        f"tests/fixtures/outputs/{stack}.json is stale: run "
        ".venv/bin/python tests/fixtures/outputs/generate.py"
    )


def test_every_stack_has_a_fixture_and_no_fixture_is_orphaned():
    stacks = {
        p.name.removeprefix("Pulumi.").removesuffix(".yaml")
        for p in (ROOT / "stacks").glob("Pulumi.*.yaml")
    }
    assert {p.stem for p in FIXTURES.glob("*.json")} == stacks


def test_plan_of_each_fixture_names_what_the_stack_deploys():
    """What the fixtures declare and verify must find (outputs added later may add more)."""
    bu = verify.plan_targets(fixture_outputs("fraud-prod"))
    assert {(t.kind, t.name, t.role) for t in bu.targets} >= {
        ("kms-key", fixture_outputs("fraud-prod")["kmsKeyArn"], ""),
        ("s3-bucket", "fraud-prod-access-logs-76eb17a8", "access-logs"),
        ("s3-bucket", "fraud-prod-features-76eb17a8", ""),
        ("s3-bucket", "fraud-prod-models-76eb17a8", ""),
        ("dynamodb-table", "fraud-prod-card-velocity", ""),
        ("sagemaker-feature-group", "fraud-prod-transactions", ""),
        ("sagemaker-feature-group", "fraud-prod-merchants", ""),
        ("sagemaker-model-package-group", "fraud-prod-card-fraud", ""),
        ("sagemaker-model-package-group", "fraud-prod-merchant-risk", ""),
        ("ecr-repository", "fraud-prod/card-fraud", ""),
        ("ecr-repository", "fraud-prod/merchant-risk", ""),
        ("sns-topic", "fraud-prod-alarms", ""),
        ("sns-topic", "fraud-prod-model-approvals", ""),
        ("budget", "ai-estate-fraud-prod-monthly", ""),
        ("eks-nodegroup", "serve-a10g", "platform-prod-ai"),
        ("backup-vault", "fraud-prod-vault", ""),
        ("sqs-queue", "fraud-prod-card-fraud-retrain", ""),
        ("sqs-queue", "fraud-prod-merchant-risk-retrain", ""),
        ("events-archive", "fraud-prod-model-packages", ""),
        ("sagemaker-model-card", "fraud-prod-card-fraud", ""),
        ("sagemaker-model-card", "fraud-prod-merchant-risk", ""),
        ("cloudtrail-trail", "fraud-prod-data-events", ""),
        ("lakeformation-location", "arn:aws:s3:::fraud-prod-features-76eb17a8/offline", ""),
    }
    assert [t.kind for t in bu.targets].count("kms-key") == 1
    assert not any(t.kind == "eks-nodegroup" and t.name == "train-a10g" for t in bu.targets)
    assert any("train-a10g" in n["reason"] for n in bu.notes)  # Karpenter: no node group
    platform = verify.plan_targets(fixture_outputs("platform-prod"))
    assert {(t.kind, t.name) for t in platform.targets} >= {
        ("kms-key", fixture_outputs("platform-prod")["platformKeyArn"]),
        ("eks-cluster", "platform-prod-ai"),
        ("lakeformation-settings", ACCOUNT),
    }
    # the CUR 2.0 export bucket (telemetry) is the platform's one bucket verify checks
    export_bucket = fixture_outputs("platform-prod")["costGovernance"]["exportBucketName"]
    buckets = [t.name for t in platform.targets if t.kind == "s3-bucket"]
    assert buckets == [export_bucket]


def test_plan_finds_later_outputs_by_arn_or_key_name():
    outputs = {
        "environment": "prod",
        "businessUnit": "fraud",
        "region": REGION,
        "accountId": ACCOUNT,
        "modelRegistry": {
            "artifactBucket": "s3://fraud-prod-models-1/registry",
            "repositoryUrl": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/fraud-prod/scoring:v1",
            "groups": [f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/g1"],
        },
        "monitoring": {
            "alarmTopicName": "fraud-prod-alarms",
            "alarms": {"a": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:gpu-idle"},
            "budgetNames": ["fraud-prod-monthly"],
            "dashboardName": "fraud-prod",
            "logGroupName": "/ai-estate/fraud-prod/app",
        },
        "glueDatabaseName": "fraud_prod_features",
        "audit": {
            "trailArn": f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/fraud-prod-data-events",
            # another account's bucket and key: never targets of this stack's verify
            "logArchive": {
                "bucket": "org-log-archive",
                "kmsKeyArn": f"arn:aws:kms:{REGION}:999999999999:key/archive",
            },
        },
        "lakeFormation": {
            "offlineLocationArn": "arn:aws:s3:::fraud-prod-features-1/offline",
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/fraud-prod-lake-formation",
        },
        "dataGovernance": {"catalogId": ACCOUNT, "lfTags": {"BusinessUnit": ["fraud"]}},
    }
    found = {(t.kind, t.name) for t in verify.plan_targets(outputs).targets}
    assert found == {
        ("s3-bucket", "fraud-prod-models-1"),
        ("ecr-repository", "fraud-prod/scoring"),
        ("sagemaker-model-package-group", "g1"),
        ("sns-topic", "fraud-prod-alarms"),
        ("cloudwatch-alarm", "gpu-idle"),
        ("budget", "fraud-prod-monthly"),
        ("cloudtrail-trail", "fraud-prod-data-events"),
        ("lakeformation-location", "arn:aws:s3:::fraud-prod-features-1/offline"),
        ("lakeformation-settings", ACCOUNT),
    }


# ---------------------------------------------------------------------------------------------
# Clean passes


def test_bu_stack_that_holds_passes_with_exit_0(endpoint, tmp_path):
    estate = build_fraud_prod(endpoint)
    sarif, junit = tmp_path / "v.sarif", tmp_path / "v.xml"
    result = run_verify_cli(
        tmp_path,
        "fraud-prod",
        estate.outputs,
        endpoint,
        "--sarif",
        str(sarif),
        "--junit",
        str(junit),
    )
    assert result.code == 0, result.stdout + result.stderr
    assert result.blocking() == set()
    # moto does not implement GetModelPackageGroupPolicy, and its DescribeResource answers
    # without HybridAccessEnabled: reported, not pretended, not blocking.
    assert result.advisories() == {
        ("verify-sagemaker-model-package-group-policy", group) for group in FRAUD_MODEL_GROUPS
    } | {("verify-lakeformation-location-hybrid-access", FRAUD_LOCATION)}
    for advisory in result.findings:
        assert advisory["enforcement"] == "advisory"
        assert (
            "does not implement sagemaker:GetModelPackageGroupPolicy" in advisory["message"]
            or "does not report HybridAccessEnabled (lakeformation:DescribeResource)"
            in advisory["message"]
        )
    assert "fraud-prod: " in result.stdout and "0 failed" in result.stdout
    stack = result.report["stacks"][0]
    assert stack["source"] == "stacks/Pulumi.fraud-prod.yaml"
    # 18 declared resources besides the alarms (the shared cluster, the backup vault and the
    # audit bucket included), the loop's 2 queues, archive and 2 model cards, the audit trail
    # and the registered offline store location, and every alarm
    assert stack["resources"] == (
        18 + 5 + 2 + len(FRAUD_ALARM_ARNS) + len(FRAUD_ENDPOINT_ALARM_ARNS)
    )
    sarif_doc = json.loads(sarif.read_text())
    rules = {r["id"] for r in sarif_doc["runs"][0]["tool"]["driver"]["rules"]}
    assert {
        "verify-s3-bucket-encryption",
        "verify-eks-nodegroup-taints",
        "verify-budget-exists",
    } <= rules
    suites = ET.parse(junit).getroot()
    assert suites.get("failures") == "0" and int(suites.get("tests")) > 20


def test_platform_stack_that_holds_passes_with_exit_0(endpoint, tmp_path):
    estate = build_platform_prod(endpoint)
    result = run_verify_cli(tmp_path, "platform-prod", estate.outputs, endpoint)
    assert result.code == 0, result.stdout + result.stderr
    assert result.findings == []
    assert "verify-eks-secrets-encryption" in result.stdout
    assert "verify-lakeformation-no-default-grants" in result.stdout
    stack = result.report["stacks"][0]
    # the key, the cluster, the cost export bucket and the account's Lake Formation settings
    assert stack["resources"] == 4


# ---------------------------------------------------------------------------------------------
# Drift: one property broken at a time, named by policy and resource, exit 1

FEATURES = "fraud-prod-features-76eb17a8"
LOGS = "fraud-prod-access-logs-76eb17a8"
TABLE = "fraud-prod-card-velocity"
NODE_GROUP = managed_name_prefix("fraud", "prod", "serve-a10g") + "20250101000000000000000001"


def _s3(e: Estate) -> Any:
    return e.client("s3")


def _sse(e: Estate, bucket: str, default: dict[str, Any], bucket_key: bool) -> None:
    _s3(e).put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": bucket_key}
            ]
        },
    )


def _empty_and_delete(e: Estate, bucket: str) -> None:
    _s3(e).delete_bucket(Bucket=bucket)


def _recreate_table(e: Estate, **kwargs: Any) -> None:
    ddb = e.client("dynamodb")
    ddb.update_table(TableName=TABLE, DeletionProtectionEnabled=False)
    ddb.delete_table(TableName=TABLE)
    e.table(TABLE, **kwargs)


def _recreate_node_group(e: Estate, **overrides: Any) -> None:
    eks = e.client("eks")
    eks.delete_nodegroup(clusterName=PLATFORM_CLUSTER, nodegroupName=NODE_GROUP)
    e.node_group(PLATFORM_CLUSTER, "serve-a10g", **overrides)


def _key_id(e: Estate) -> str:
    return e.outputs["kmsKeyArn"].rsplit("/", 1)[-1]


def _drop_selector(e: Estate, name: str) -> None:
    cloudtrail = e.client("cloudtrail")
    selectors = cloudtrail.get_event_selectors(TrailName=FRAUD_TRAIL)["AdvancedEventSelectors"]
    kept = [s for s in selectors if s.get("Name") != name]
    assert len(kept) == len(selectors) - 1
    cloudtrail.put_event_selectors(TrailName=FRAUD_TRAIL, AdvancedEventSelectors=kept)


def _recreate_repository(e: Estate, **kwargs: Any) -> None:
    e.client("ecr").delete_repository(repositoryName=FRAUD_REPOSITORY)
    e.repository(FRAUD_REPOSITORY, **kwargs)


BU_DRIFT: dict[str, tuple[frozenset[str], Callable[[Estate], None], set[tuple[str, str]]]] = {
    # case: (resources not created, the break, the blocking findings expected: policy, resource)
    "bucket versioning suspended": (
        frozenset(),
        lambda e: _s3(e).put_bucket_versioning(
            Bucket=FEATURES, VersioningConfiguration={"Status": "Suspended"}
        ),
        {("verify-s3-bucket-versioning", FEATURES)},
    ),
    "public access block flag off": (
        frozenset(),
        lambda e: _s3(e).put_public_access_block(
            Bucket=FEATURES,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": False,
                "RestrictPublicBuckets": True,
            },
        ),
        {("verify-s3-public-access-block", FEATURES)},
    ),
    "public access block removed": (
        frozenset(),
        lambda e: _s3(e).delete_public_access_block(Bucket=LOGS),
        {("verify-s3-public-access-block", LOGS)},
    ),
    "SSE switched to AES256": (
        frozenset(),
        lambda e: _sse(e, FEATURES, {"SSEAlgorithm": "AES256"}, False),
        {("verify-s3-bucket-encryption", FEATURES)},
    ),
    "SSE-KMS with another key": (
        frozenset(),
        lambda e: _sse(
            e, FEATURES, {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": e.other_key()}, True
        ),
        {("verify-s3-bucket-encryption", FEATURES)},
    ),
    "bucket key off": (
        frozenset(),
        lambda e: _sse(
            e, FEATURES, {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": _key_id(e)}, False
        ),
        {("verify-s3-bucket-encryption", FEATURES)},
    ),
    "access-log bucket moved to SSE-KMS": (
        frozenset(),
        lambda e: _sse(e, LOGS, {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": _key_id(e)}, True),
        {("verify-s3-bucket-encryption", LOGS)},
    ),
    "bucket policy removed": (
        frozenset(),
        lambda e: _s3(e).delete_bucket_policy(Bucket=FEATURES),
        {("verify-s3-bucket-tls-policy", FEATURES)},
    ),
    "bucket deleted": (
        frozenset(),
        lambda e: _empty_and_delete(e, FEATURES),
        {("verify-s3-bucket-exists", FEATURES)},
    ),
    "table PITR off": (
        frozenset(),
        lambda e: e.client("dynamodb").update_continuous_backups(
            TableName=TABLE,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False},
        ),
        {("verify-dynamodb-table-pitr", TABLE)},
    ),
    "table SSE on the default key": (
        frozenset(),
        lambda e: _recreate_table(e, kms_key=None),
        {("verify-dynamodb-table-encryption", TABLE)},
    ),
    "table deletion protection off in prod": (
        frozenset(),
        lambda e: e.client("dynamodb").update_table(
            TableName=TABLE, DeletionProtectionEnabled=False
        ),
        {("verify-dynamodb-deletion-protection", TABLE)},
    ),
    "table deleted": (
        frozenset(),
        lambda e: (
            e.client("dynamodb").update_table(TableName=TABLE, DeletionProtectionEnabled=False),
            e.client("dynamodb").delete_table(TableName=TABLE),
        ),
        {("verify-dynamodb-table-exists", TABLE)},
    ),
    "key rotation off": (
        frozenset(),
        lambda e: e.client("kms").disable_key_rotation(KeyId=_key_id(e)),
        {("verify-kms-key-rotation", "key/")},
    ),
    "key disabled": (
        frozenset(),
        lambda e: e.client("kms").disable_key(KeyId=_key_id(e)),
        {("verify-kms-key-enabled", "key/")},
    ),
    "ECR tags mutable": (
        frozenset(),
        lambda e: e.client("ecr").put_image_tag_mutability(
            repositoryName=FRAUD_REPOSITORY, imageTagMutability="MUTABLE"
        ),
        {("verify-ecr-tag-immutability", FRAUD_REPOSITORY)},
    ),
    "ECR scan on push off": (
        frozenset(),
        lambda e: e.client("ecr").put_image_scanning_configuration(
            repositoryName=FRAUD_REPOSITORY, imageScanningConfiguration={"scanOnPush": False}
        ),
        {("verify-ecr-scan-on-push", FRAUD_REPOSITORY)},
    ),
    "ECR encrypted with AES256": (
        frozenset(),
        lambda e: _recreate_repository(e, kms_key=None),
        {("verify-ecr-encryption", FRAUD_REPOSITORY)},
    ),
    "node group max changed": (
        frozenset(),
        lambda e: e.client("eks").update_nodegroup_config(
            clusterName=PLATFORM_CLUSTER,
            nodegroupName=NODE_GROUP,
            scalingConfig={"minSize": 1, "maxSize": 12, "desiredSize": 1},
        ),
        {("verify-eks-nodegroup-scaling", NODE_GROUP)},
    ),
    "node group BU taint removed": (
        frozenset(),
        lambda e: e.client("eks").update_nodegroup_config(
            clusterName=PLATFORM_CLUSTER,
            nodegroupName=NODE_GROUP,
            taints={
                "removeTaints": [{"key": "ai-estate/bu", "value": "fraud", "effect": "NO_SCHEDULE"}]
            },
        ),
        {("verify-eks-nodegroup-taints", NODE_GROUP)},
    ),
    "node group without the NVIDIA AMI": (
        frozenset(),
        lambda e: _recreate_node_group(e, amiType="AL2023_x86_64_STANDARD"),
        {("verify-eks-nodegroup-ami", NODE_GROUP)},
    ),
    "node group with SSH remote access": (
        frozenset(),
        lambda e: _recreate_node_group(e, remoteAccess={"ec2SshKey": "ops-key"}),
        {("verify-eks-nodegroup-remote-access", NODE_GROUP)},
    ),
    "node group deleted": (
        frozenset(),
        lambda e: e.client("eks").delete_nodegroup(
            clusterName=PLATFORM_CLUSTER, nodegroupName=NODE_GROUP
        ),
        {("verify-eks-nodegroup-exists", "serve-a10g (pool)")},
    ),
    "feature group missing": (
        frozenset({"fraud-prod-merchants"}),
        lambda e: None,
        {("verify-sagemaker-feature-group-exists", "fraud-prod-merchants")},
    ),
    "feature group offline store on another key": (
        frozenset({"fraud-prod-merchants"}),
        lambda e: e.feature_group("fraud-prod-merchants", kms_key=e.other_key(), bucket=FEATURES),
        {("verify-sagemaker-feature-group-encryption", "fraud-prod-merchants")},
    ),
    "model package group missing": (
        frozenset({FRAUD_MODEL_GROUPS[0]}),
        lambda e: None,
        {("verify-sagemaker-model-package-group-exists", FRAUD_MODEL_GROUPS[0])},
    ),
    "alarm without actions": (
        frozenset(),
        lambda e: e.client("cloudwatch").put_metric_alarm(
            AlarmName=TEST_DECLARED_ALARMS[0],
            Namespace="AWS/SageMaker",
            MetricName="Invocation5XXErrors",
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            AlarmActions=[],
        ),
        {("verify-cloudwatch-alarm-actions", TEST_DECLARED_ALARMS[0])},
    ),
    "alarm deleted": (
        frozenset(),
        lambda e: e.client("cloudwatch").delete_alarms(AlarmNames=[TEST_DECLARED_ALARMS[1]]),
        {("verify-cloudwatch-alarm-exists", TEST_DECLARED_ALARMS[1])},
    ),
    "SNS topic unencrypted": (
        frozenset(),
        lambda e: e.client("sns").set_topic_attributes(
            TopicArn=e.outputs["alarmTopicArn"],
            AttributeName="KmsMasterKeyId",
            AttributeValue="",
        ),
        {("verify-sns-topic-encryption", FRAUD_TOPIC)},
    ),
    "SNS topic on the AWS managed key": (
        frozenset(),
        lambda e: e.client("sns").set_topic_attributes(
            TopicArn=e.outputs["alarmTopicArn"],
            AttributeName="KmsMasterKeyId",
            AttributeValue="alias/aws/sns",
        ),
        {("verify-sns-topic-encryption", FRAUD_TOPIC)},
    ),
    "budget missing": (
        frozenset(),
        lambda e: e.client("budgets").delete_budget(AccountId=ACCOUNT, BudgetName=FRAUD_BUDGET),
        {("verify-budget-exists", FRAUD_BUDGET)},
    ),
    "backup vault lock removed": (
        frozenset(),
        lambda e: e.client("backup").delete_backup_vault_lock_configuration(
            BackupVaultName=FRAUD_VAULT
        ),
        {("verify-backup-vault-lock", FRAUD_VAULT)},
    ),
    "backup vault in governance mode in prod": (
        frozenset(),
        lambda e: (
            e.client("backup").delete_backup_vault_lock_configuration(BackupVaultName=FRAUD_VAULT),
            e.client("backup").put_backup_vault_lock_configuration(
                BackupVaultName=FRAUD_VAULT, MinRetentionDays=35
            ),
        ),
        {("verify-backup-vault-lock", FRAUD_VAULT)},
    ),
    "backup plan deleted": (
        frozenset(),
        lambda e: [
            e.client("backup").delete_backup_plan(BackupPlanId=p["BackupPlanId"])
            for p in e.client("backup").list_backup_plans()["BackupPlansList"]
        ],
        {("verify-backup-plan-targets-vault", FRAUD_VAULT)},
    ),
    "backup vault on another key": (
        frozenset({FRAUD_VAULT}),
        lambda e: (
            e.client("backup").create_backup_vault(
                BackupVaultName=FRAUD_VAULT, EncryptionKeyArn=e.other_key()
            ),
            e.client("backup").put_backup_vault_lock_configuration(
                BackupVaultName=FRAUD_VAULT, MinRetentionDays=35, ChangeableForDays=3
            ),
            e.client("backup").create_backup_plan(
                BackupPlan={
                    "BackupPlanName": "fraud-prod-backup",
                    "Rules": [
                        {
                            "RuleName": "r",
                            "TargetBackupVaultName": FRAUD_VAULT,
                            "ScheduleExpression": "cron(0 5 * * ? *)",
                        }
                    ],
                }
            ),
        ),
        {("verify-backup-vault-encryption", FRAUD_VAULT)},
    ),
    "backup vault missing": (
        frozenset({FRAUD_VAULT}),
        lambda e: None,
        {("verify-backup-vault-exists", FRAUD_VAULT)},
    ),
    # the retraining loop (issue 13)
    "retraining queue's trigger deleted": (
        frozenset(),
        lambda e: (
            e.client("events").remove_targets(
                Rule=f"{FRAUD_QUEUE}-manual", Ids=["retraining-queue"]
            ),
        ),
        {("verify-sqs-queue-triggered", FRAUD_QUEUE)},
    ),
    "retraining queue without its dead-letter queue": (
        frozenset(),
        lambda e: e.client("sqs").set_queue_attributes(
            QueueUrl=e.client("sqs").get_queue_url(QueueName=FRAUD_QUEUE)["QueueUrl"],
            Attributes={"RedrivePolicy": ""},
        ),
        {("verify-sqs-queue-dead-letter", FRAUD_QUEUE)},
    ),
    "retraining queue on another key": (
        frozenset(),
        lambda e: e.client("sqs").set_queue_attributes(
            QueueUrl=e.client("sqs").get_queue_url(QueueName=FRAUD_QUEUE)["QueueUrl"],
            Attributes={"KmsMasterKeyId": e.other_key()},
        ),
        {("verify-sqs-queue-encryption", FRAUD_QUEUE)},
    ),
    "model-package archive missing": (
        frozenset({FRAUD_ARCHIVE}),
        lambda e: None,
        {("verify-events-archive-exists", FRAUD_ARCHIVE)},
    ),
    "model card missing": (
        frozenset({f"card:{FRAUD_CARD}"}),
        lambda e: None,
        {("verify-sagemaker-model-card-exists", FRAUD_CARD)},
    ),
    "prod model card back in review": (
        frozenset(),
        lambda e: (
            e.client("sagemaker").delete_model_card(ModelCardName=FRAUD_CARD),
            e.model_card(FRAUD_CARD, kms_key=e.outputs["kmsKeyArn"], status="PendingReview"),
        ),
        {("verify-sagemaker-model-card-approved", FRAUD_CARD)},
    ),
    # the audit trail and Lake Formation (issue 14)
    "audit trail stopped logging": (
        frozenset(),
        lambda e: e.client("cloudtrail").stop_logging(Name=FRAUD_TRAIL),
        {("verify-cloudtrail-trail-logging", FRAUD_TRAIL)},
    ),
    "audit trail log file validation off": (
        frozenset(),
        lambda e: e.client("cloudtrail").update_trail(
            Name=FRAUD_TRAIL, EnableLogFileValidation=False
        ),
        {("verify-cloudtrail-trail-log-validation", FRAUD_TRAIL)},
    ),
    "audit trail's feature group records selector removed": (
        frozenset(),
        lambda e: _drop_selector(e, "feature-records"),
        {("verify-cloudtrail-trail-data-events", FRAUD_TRAIL)},
    ),
    "audit trail on another key": (
        frozenset(),
        lambda e: e.client("cloudtrail").update_trail(Name=FRAUD_TRAIL, KmsKeyId=e.other_key()),
        {("verify-cloudtrail-trail-encryption", FRAUD_TRAIL)},
    ),
    "audit trail single-region while data is replicated": (
        frozenset(),
        lambda e: e.client("cloudtrail").update_trail(Name=FRAUD_TRAIL, IsMultiRegionTrail=False),
        {("verify-cloudtrail-trail-multi-region", FRAUD_TRAIL)},
    ),
    "offline store location deregistered": (
        frozenset(),
        lambda e: e.client("lakeformation").deregister_resource(ResourceArn=FRAUD_LOCATION),
        {("verify-lakeformation-location-registered", FRAUD_LOCATION)},
    ),
}


def _matches(found: set[tuple[str, str]], expected: set[tuple[str, str]]) -> bool:
    """Findings equal the expected (policy, resource) pairs; a resource `key/` is any key id."""
    if len(found) != len(expected):
        return False
    return all(
        any(p == ep and (r == er or (er == "key/" and r.startswith("key/"))) for p, r in found)
        for ep, er in expected
    )


@pytest.mark.parametrize("case", list(BU_DRIFT))
def test_bu_drift_is_named_and_exits_1(endpoint, session, tmp_path, case):
    omit, drift, expected = BU_DRIFT[case]
    estate = build_fraud_prod(endpoint, omit)
    drift(estate)
    result = run_verify_in_process(tmp_path, "fraud-prod", estate.outputs, endpoint, session)
    assert result.code == 1, result.stdout + result.stderr
    assert _matches(result.blocking(), expected), (case, result.blocking())
    for finding in result.findings:
        if finding["blocking"]:
            assert finding["enforcement"] == "mandatory" and finding["severity"]
            assert finding["resource_name"] in finding["message"]
            assert "\n" not in finding["message"]
    policy = next(iter(expected))[0]
    assert policy in result.stdout  # the table names it too


def _iam_allowed_principals_default(e: Estate) -> None:
    lf = e.client("lakeformation")
    settings = lf.get_data_lake_settings(CatalogId=ACCOUNT)["DataLakeSettings"]
    settings["CreateTableDefaultPermissions"] = [
        {
            "Principal": {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"},
            "Permissions": ["ALL"],
        }
    ]
    lf.put_data_lake_settings(CatalogId=ACCOUNT, DataLakeSettings=settings)


def _extra_admin(e: Estate) -> None:
    lf = e.client("lakeformation")
    settings = lf.get_data_lake_settings(CatalogId=ACCOUNT)["DataLakeSettings"]
    settings["DataLakeAdmins"].append(
        {"DataLakePrincipalIdentifier": f"arn:aws:iam::{ACCOUNT}:role/someone-else"}
    )
    lf.put_data_lake_settings(CatalogId=ACCOUNT, DataLakeSettings=settings)


PLATFORM_DRIFT: dict[
    str, tuple[dict[str, Any], Callable[[Estate], None] | None, str | tuple[str, str]]
] = {
    # case: (cluster overrides, the break, the policy expected on the cluster, or
    # (policy, resource) for another resource)
    "public endpoint open to 0.0.0.0/0": (
        {},
        lambda e: e.client("eks").update_cluster_config(
            name=PLATFORM_CLUSTER,
            resourcesVpcConfig={
                "subnetIds": ["subnet-a", "subnet-b"],
                "endpointPrivateAccess": True,
                "endpointPublicAccess": True,
                "publicAccessCidrs": ["0.0.0.0/0"],
            },
        ),
        "verify-eks-endpoint-access",
    ),
    "control-plane audit log off": (
        {
            "logging": {
                "clusterLogging": [
                    {
                        "types": ["api", "authenticator", "controllerManager", "scheduler"],
                        "enabled": True,
                    },
                    {"types": ["audit"], "enabled": False},
                ]
            }
        },
        None,
        "verify-eks-logging",
    ),
    "secrets not encrypted": ({"encryptionConfig": None}, None, "verify-eks-secrets-encryption"),
    "version differs from the stack": ({"version": "1.30"}, None, "verify-eks-version"),
    "cluster deleted": (
        {},
        lambda e: e.client("eks").delete_cluster(name=PLATFORM_CLUSTER),
        "verify-eks-cluster-exists",
    ),
    "IAMAllowedPrincipals default permission on new tables": (
        {},
        _iam_allowed_principals_default,
        ("verify-lakeformation-no-default-grants", ACCOUNT),
    ),
    "an unconfigured data lake administrator": (
        {},
        _extra_admin,
        ("verify-lakeformation-admins", ACCOUNT),
    ),
    "a DataClassification value removed": (
        {},
        lambda e: e.client("lakeformation").update_lf_tag(
            CatalogId=ACCOUNT, TagKey="DataClassification", TagValuesToDelete=["restricted"]
        ),
        ("verify-lakeformation-lf-tags", ACCOUNT),
    ),
}


@pytest.mark.parametrize("case", list(PLATFORM_DRIFT))
def test_platform_drift_is_named_and_exits_1(endpoint, session, tmp_path, case):
    overrides, drift, policy = PLATFORM_DRIFT[case]
    estate = build_platform_prod(endpoint, **overrides)
    if drift:
        drift(estate)
    result = run_verify_in_process(tmp_path, "platform-prod", estate.outputs, endpoint, session)
    assert result.code == 1, result.stdout + result.stderr
    expected = policy if isinstance(policy, tuple) else (policy, PLATFORM_CLUSTER)
    assert result.blocking() == {expected}
    assert expected[0] in result.stdout


def test_a_trail_delivering_to_a_log_archive_is_held_to_the_archive_key(
    endpoint, session, tmp_path
):
    """With `audit.logArchive`, the trail's key is the archive's (components/audit.py), and
    nothing under `logArchive` (another account's bucket and key) becomes a target."""
    estate = build_fraud_prod(endpoint)
    archive_key = estate.other_key()
    estate.client("cloudtrail").update_trail(Name=FRAUD_TRAIL, KmsKeyId=archive_key)
    outputs = json.loads(json.dumps(estate.outputs))
    outputs["audit"]["logArchive"] = {"bucket": "org-log-archive", "kmsKeyArn": archive_key}
    result = run_verify_in_process(tmp_path, "fraud-prod", outputs, endpoint, session)
    assert result.code == 0, result.stdout
    assert "org-log-archive" not in {t.name for t in verify.plan_targets(outputs).targets}
    outputs["audit"]["logArchive"]["kmsKeyArn"] = outputs["kmsKeyArn"]
    result = run_verify_in_process(tmp_path, "fraud-prod", outputs, endpoint, session)
    assert result.blocking() == {("verify-cloudtrail-trail-encryption", FRAUD_TRAIL)}
    assert "not the log archive's key" in result.stdout


def test_pools_are_missing_when_the_cluster_they_join_is_gone(endpoint, session, tmp_path):
    estate = build_fraud_prod(endpoint)
    eks = estate.client("eks")
    eks.delete_nodegroup(clusterName=PLATFORM_CLUSTER, nodegroupName=NODE_GROUP)
    eks.delete_cluster(name=PLATFORM_CLUSTER)
    result = run_verify_in_process(tmp_path, "fraud-prod", estate.outputs, endpoint, session)
    assert result.code == 1
    # the BU exports the cluster it runs on, so the cluster itself is named missing too
    assert result.blocking() == {
        ("verify-eks-cluster-exists", "platform-prod-ai"),
        ("verify-eks-nodegroup-exists", "serve-a10g (pool)"),
    }
    [finding] = [
        f for f in result.findings if f["blocking"] and f["policy"] == "verify-eks-nodegroup-exists"
    ]
    assert "has no managed node group in cluster platform-prod-ai" in finding["message"]


# ---------------------------------------------------------------------------------------------
# What AWS answers besides data: denied, throttled, wrong account, no credentials


def test_access_denied_becomes_a_finding_not_a_traceback(endpoint, tmp_path):
    estate = build_fraud_prod(endpoint)
    endpoint.denied |= {"GetBucketEncryption", "DescribeContinuousBackups"}
    result = run_verify_cli(tmp_path, "fraud-prod", estate.outputs, endpoint)
    assert result.code == 1, result.stderr
    assert "Traceback" not in result.stderr
    buckets = {t.name for t in verify.plan_targets(estate.outputs).targets if t.kind == "s3-bucket"}
    assert len(buckets) == 4  # access logs, features, models, audit
    assert result.blocking() == {("verify-s3-bucket-encryption", b) for b in buckets} | {
        ("verify-dynamodb-table-pitr", TABLE)
    }
    messages = {f["message"] for f in result.findings if f["blocking"]}
    assert (
        f"S3 bucket {FEATURES}: could not be verified: access denied calling s3:GetBucketEncryption (AccessDenied)"
        in messages
    )
    assert any("dynamodb:DescribeContinuousBackups" in m for m in messages)


def test_throttling_is_retried_by_the_standard_retry_mode(endpoint, tmp_path):
    estate = build_fraud_prod(endpoint)
    endpoint.throttle["GetKeyRotationStatus"] = 2
    result = run_verify_cli(tmp_path, "fraud-prod", estate.outputs, endpoint)
    assert result.code == 0, result.stdout + result.stderr
    assert endpoint.calls["GetKeyRotationStatus"] == 3  # two throttled, then the answer


def test_verify_clients_use_standard_retries_with_10_attempts():
    config = verify.client_config()
    assert config.retries == {"mode": "standard", "max_attempts": 10}
    client = boto3.client("kms", region_name=REGION, config=config, **CREDENTIALS)
    assert client.meta.config.retries["mode"] == "standard"
    # botocore reads max_attempts as retries: the first call plus 10 retries.
    assert client.meta.config.retries["total_max_attempts"] == 11


def test_credentials_for_another_account_are_one_finding(endpoint, session, tmp_path):
    estate = build_platform_prod(endpoint)
    outputs = {**estate.outputs, "accountId": "333333333333"}
    result = run_verify_in_process(tmp_path, "platform-prod", outputs, endpoint, session)
    assert result.code == 1
    assert result.blocking() == {("verify-aws-account", ACCOUNT)}
    assert "333333333333" in result.findings[0]["message"]


def test_no_credentials_exits_2_with_one_line(tmp_path):
    env = cli_env()
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    result = run_verify_cli(
        tmp_path, "platform-prod", fixture_outputs("platform-prod"), None, env=env
    )
    assert result.code == 2
    assert result.stderr.strip().splitlines() == [
        "estate verify: no AWS credentials found (set AWS_PROFILE, or run in a role)"
    ]


# ---------------------------------------------------------------------------------------------
# Usage errors: exit 2, one line naming the file


@pytest.mark.parametrize(
    ("content", "stack", "expected"),
    [
        ("{not json", "fraud-prod", "not valid JSON at line 1"),
        ("[1, 2]", "fraud-prod", "must be a JSON object of output name to value"),
        ('{"businessUnit": "fraud"}', "fraud-prod", "environment: missing"),
        (
            json.dumps(
                {
                    **fixture_outputs("fraud-prod"),
                    "gpuPools": {"serve-a10g": {"minSize": 1, "maxSize": "4"}},
                }
            ),
            "fraud-prod",
            'gpuPools.serve-a10g.maxSize: must be an integer (got "4")',
        ),
        (json.dumps(fixture_outputs("fraud-prod")), "marketing-dev", "outputs of stack fraud-prod"),
        (
            json.dumps({**fixture_outputs("fraud-prod"), "kmsKeyArn": "[secret]"}),
            "fraud-prod",
            "--show-secrets",
        ),
    ],
    ids=["not-json", "not-object", "missing-key", "bad-pool", "other-stack", "unrevealed-secret"],
)
def test_malformed_outputs_exit_2_with_one_line_naming_the_file(tmp_path, content, stack, expected):
    result = run_verify_in_process(tmp_path, stack, content, None)
    assert result.code == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(str(tmp_path / f"{stack}-outputs.json") + ": ")
    assert expected in lines[0]
    assert result.report == {}


def test_outputs_that_are_not_json_exit_2_from_the_cli(tmp_path):
    result = run_verify_cli(tmp_path, "fraud-prod", '{"environment": "prod",', None)
    assert result.code == 2
    assert result.stderr.strip() == (
        f"{tmp_path / 'fraud-prod-outputs.json'}: not valid JSON at line 1: Expecting property name "
        "enclosed in double quotes (write it with `pulumi stack output --json --show-secrets`)"
    )


def test_missing_outputs_file_exits_2(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "estate",
            "verify",
            "--stack",
            "fraud-prod",
            "--outputs",
            str(tmp_path / "nope.json"),
        ],
        capture_output=True,
        text=True,
        env=cli_env(),
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"{tmp_path / 'nope.json'}: cannot read the stack outputs (No such file or directory)"
    )


# ---------------------------------------------------------------------------------------------
# Checks moto cannot exercise, with a botocore Stubber


def _stubbed_context(client: Any, key: str) -> Context:
    return Context(
        stack="fraud-prod",
        business_unit="fraud",
        environment="prod",
        region=REGION,
        account_id=ACCOUNT,
        partition="aws",
        key_arn=key,
        cluster_version=None,
        gpu_pools={},
        client=lambda service: client,
    )


def _feature_group(online: dict[str, Any] | None, offline_key: str) -> dict[str, Any]:
    group: dict[str, Any] = {
        "FeatureGroupArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:feature-group/fraud-prod-transactions",
        "FeatureGroupName": "fraud-prod-transactions",
        "RecordIdentifierFeatureName": "id",
        "EventTimeFeatureName": "event_time",
        "FeatureDefinitions": [{"FeatureName": "id", "FeatureType": "String"}],
        "CreationTime": "2025-01-01T00:00:00Z",
        "FeatureGroupStatus": "Created",
        "NextToken": "",
        "OfflineStoreConfig": {
            "S3StorageConfig": {"S3Uri": "s3://b/offline", "KmsKeyId": offline_key}
        },
    }
    if online is not None:
        group["OnlineStoreConfig"] = online
    return group


@pytest.mark.parametrize(
    ("online", "problem"),
    [
        ({"EnableOnlineStore": True, "SecurityConfig": {"KmsKeyId": "KEY"}}, None),
        ({"EnableOnlineStore": True}, "the online store is not encrypted with a customer key"),
        (
            {
                "EnableOnlineStore": True,
                "SecurityConfig": {"KmsKeyId": "arn:aws:kms:us-east-1:1:key/other"},
            },
            "the online store uses key key/other",
        ),
    ],
    ids=["online-on-bu-key", "online-unencrypted", "online-other-key"],
)
def test_online_store_encryption_with_a_stubbed_sagemaker(online, problem):
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/bu"
    if online and online.get("SecurityConfig", {}).get("KmsKeyId") == "KEY":
        online["SecurityConfig"]["KmsKeyId"] = key
    client = boto3.client("sagemaker", region_name=REGION, **CREDENTIALS)
    with Stubber(client) as stub:
        stub.add_response(
            "describe_feature_group",
            _feature_group(online, key),
            {"FeatureGroupName": "fraud-prod-transactions"},
        )
        target = Target(
            "sagemaker-feature-group",
            "fraud-prod-transactions",
            "featureStore.featureGroupArns.transactions",
        )
        outcomes = sagemaker_checks.check_feature_group(_stubbed_context(client, key), target)
    encryption = next(
        o for o in outcomes if o.policy == "verify-sagemaker-feature-group-encryption"
    )
    if problem is None:
        assert encryption.status == "pass"
    else:
        assert encryption.status == "fail" and problem in encryption.message


def test_model_package_group_policy_present_and_absent_with_a_stubber():
    client = boto3.client("sagemaker", region_name=REGION, **CREDENTIALS)
    group = {
        "ModelPackageGroupName": "g",
        "ModelPackageGroupArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/g",
        "CreationTime": "2025-01-01T00:00:00Z",
        "CreatedBy": {},
        "ModelPackageGroupStatus": "Completed",
    }
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "sagemaker:DescribeModelPackage",
                "Resource": "*",
            }
        ],
    }
    target = Target("sagemaker-model-package-group", "g", "modelRegistry.groups")
    with Stubber(client) as stub:
        stub.add_response("describe_model_package_group", group)
        stub.add_response("get_model_package_group_policy", {"ResourcePolicy": json.dumps(policy)})
        stub.add_response("describe_model_package_group", group)
        stub.add_client_error("get_model_package_group_policy", "ValidationException", "no policy")
        ctx = _stubbed_context(client, "k")
        present = sagemaker_checks.check_model_package_group(ctx, target)
        absent = sagemaker_checks.check_model_package_group(ctx, target)
    assert [o.status for o in present] == ["pass", "pass"]
    assert (
        absent[1].status == "fail"
        and absent[1].message == "SageMaker model package group g: has no resource policy"
    )


def test_a_throttle_that_never_stops_is_a_finding_after_the_retries(monkeypatch):
    """botocore's standard mode retries ThrottlingException; what is left after the attempts is
    a finding naming the call. (Stubber answers before the retry loop, so this proves the
    reporting; the HTTP test above proves the retry itself.)"""
    client = boto3.client("kms", region_name=REGION, config=verify.client_config(), **CREDENTIALS)
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k"
    with Stubber(client) as stub:
        stub.add_response(
            "describe_key", {"KeyMetadata": {"KeyId": "k", "Arn": key, "KeyState": "Enabled"}}
        )
        stub.add_client_error(
            "get_key_rotation_status",
            "ThrottlingException",
            "Rate exceeded",
            http_status_code=400,
            response_meta={"RetryAttempts": 9},
        )
        from estate.verify.checks import kms as kms_checks

        outcomes = kms_checks.check_key(
            _stubbed_context(client, key), Target("kms-key", key, "kmsKeyArn", arn=key)
        )
    rotation = outcomes[-1]
    assert rotation.status == "fail"
    assert rotation.message == (
        "KMS key key/k: could not be verified: kms:GetKeyRotationStatus failed after 10 attempts "
        "with ThrottlingException (Rate exceeded)"
    )


# ---------------------------------------------------------------------------------------------
# The node conformance config a pool's nodes are checked against


def test_pool_config_is_written_from_the_outputs(tmp_path):
    outputs = tmp_path / "fraud-prod.json"
    outputs.write_text((FIXTURES / "fraud-prod.json").read_text())
    target = tmp_path / "pool.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "estate",
            "verify",
            "--stack",
            "fraud-prod",
            "--outputs",
            str(outputs),
            "--pool-config",
            "serve-a10g",
            "-o",
            str(target),
        ],
        capture_output=True,
        text=True,
        env=cli_env(),
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    config = json.loads(target.read_text())
    assert config["gpusPerInstanceType"] == {"g5.xlarge": 1, "g5.2xlarge": 1}
    assert config["expectedLabels"]["ai-estate/bu"] == "fraud"
    assert config["expectedLabels"]["ai-estate/pool"] == "serve-a10g"
    assert {"key": "ai-estate/bu", "value": "fraud", "effect": "NoSchedule"} in config[
        "expectedTaints"
    ]
    assert config["minDriverVersion"] == verify.DEFAULT_MIN_DRIVER_VERSION
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "estate",
            "verify",
            "--stack",
            "fraud-prod",
            "--outputs",
            str(outputs),
            "--pool-config",
            "nope",
        ],
        capture_output=True,
        text=True,
        env=cli_env(),
        cwd=ROOT,
    )
    assert bad.returncode == 2
    assert (
        bad.stderr.strip() == f"{outputs}: gpuPools: no pool 'nope' (pools: serve-a10g, train-a10g)"
    )


# ---------------------------------------------------------------------------------------------
# Least privilege


_IAM_ACTION_OF = {
    "s3:HeadBucket": "s3:ListBucket",
    "s3:GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "s3:GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "budgets:DescribeBudget": "budgets:ViewBudget",
}


@pytest.mark.parametrize("stack", ["fraud-prod", "platform-prod"])
def test_verify_only_reads_and_needs_only_the_documented_actions(
    endpoint, session, tmp_path, stack
):
    estate = build(endpoint, stack)
    called: set[str] = set()

    def record(model: Any, **kwargs: Any) -> None:
        prefix = {"monitoring": "cloudwatch"}.get(model.service_model.endpoint_prefix)
        prefix = prefix or model.service_model.signing_name
        called.add(f"{prefix}:{model.name}")

    session.events.register("before-call", record)
    try:
        result = run_verify_in_process(tmp_path, stack, estate.outputs, endpoint, session)
    finally:
        session.events.unregister("before-call", record)
    assert result.code == 0
    assert all(op.split(":")[1].startswith(("Describe", "Get", "List", "Head")) for op in called)
    assert {_IAM_ACTION_OF.get(op, op) for op in called} <= set(verify.READ_ONLY_ACTIONS)


# ---------------------------------------------------------------------------------------------
# Free-form JSON from AWS (bucket policies) never raises


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
_statement_keys = st.sampled_from(["Effect", "Principal", "Action", "Resource", "Condition", "Sid"])


@given(st.dictionaries(_statement_keys, _json, max_size=6) | _json)
@settings(max_examples=300, deadline=None)
def test_tls_statement_detection_never_raises_on_odd_json(statement):
    assert s3_checks.denies_insecure_transport(statement, "b") in (True, False)


def test_tls_statement_detection_accepts_the_programs_statement_only():
    good = tls_only_statement("arn:aws:s3:::b")
    assert s3_checks.denies_insecure_transport(good, "b")
    for broken in (
        {**good, "Effect": "Allow"},
        {**good, "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
        {**good, "Resource": "arn:aws:s3:::b"},
        {**good, "Principal": {"AWS": "arn:aws:iam::1:root"}},
        {**good, "Condition": "Bool"},
    ):
        assert not s3_checks.denies_insecure_transport(broken, "b"), broken
