"""Proof of BU isolation on the shipped composition, judged by the IAM evaluator.

The shipped BU stacks (`fraud-prod`, `marketing-dev`) are rendered through the stack program
(`rendered` in conftest), and everything they really create is read back from the inventory:
the persona and workload roles with their inline policies and permission boundary, the BU key's
policy, the buckets' policies, the model package groups' policies, the tables, feature groups,
catalog and repositories. `estate.analysis.iam.evaluate` then answers, for every role:

- liveness: each role does its job in its own BU (exactly what docs/personas.md says), the
  configured key administrators administer the key, the deploy account reads and decrypts the
  model artifacts through S3;
- safety: every request of one BU's roles on the other BU's resources is refused by an explicit
  deny, both as shipped (the two BUs in different accounts) and with the other BU rendered into
  the same account and environment (BUs share one account per environment in many estates),
  and even a role that lost its boundary is refused by the key and bucket policies.

Every failure names the request and the evaluator's reason, which names the policy and the
statement (`Sid`) that refused or allowed it. Every rendered IAM document is linted too.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest

from components.access import (
    PERSONAS,
    WORKLOADS,
    BuResources,
    BuScope,
    boundary_statements,
    persona_statements,
    workload_statements,
)
from estate.analysis.iam import Decision, Principal, Request, evaluate
from estate.offline.engine import render
from estate.offline.model import Inventory, Resource
from estate.offline.project import load_project
from tests.conftest import ROOT, _render
from tests.test_access import mlflow_ui_under_wildcard

FRAUD, MARKETING = "fraud-prod", "marketing-dev"
ADMIN_ALL = (
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
)
"""An identity policy allowing everything: what a compromised or careless grant looks like."""


@cache
def marketing_beside_fraud() -> Inventory:
    """The shipped marketing stack file rendered into fraud-prod's account and environment, as
    an estate whose BUs share one account per environment would deploy it."""
    project = load_project(ROOT)
    raw = project.stack_config(MARKETING)
    # What prod asks of a stack that dev does not: pinned node AMIs; its dev endpoint (scale to
    # zero) stays behind, since serving is proved by tests/test_golden_path.py. Prod families are
    # owned and carded.
    pools = [{**pool, "amiVersion": "v20251120"} for pool in raw.get("ai-estate:gpuPools") or []]
    mlops = copy.deepcopy(raw.get("ai-estate:mlops") or {})
    for family in (mlops.get("families") or {}).values():
        family["owners"] = {
            "business": "marketing-lead@example.com",
            "technical": "marketing-ml@example.com",
            "risk": "model-risk@example.com",
        }
        family.setdefault("modelCard", {})["status"] = "Approved"
    config = {
        **{k: v for k, v in raw.items() if k != "ai-estate:serving"},
        "ai-estate:mlops": mlops,
        "ai-estate:gpuPools": pools,
        "ai-estate:environment": "prod",
        "ai-estate:accountId": _render(FRAUD).config["ai-estate:accountId"],
        "ai-estate:platformStack": "acme/ai-estate/platform-prod",
    }
    return render(
        ROOT,
        stack="marketing-prod",
        project=project.name,
        config=config,
        stack_outputs=lambda ref: _render(ref.rsplit("/", 1)[-1]).outputs,
    )


# -- the world as the evaluator sees it -------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One resource of a BU: its ARN, kind, and the resource policy AWS would consult."""

    arn: str
    kind: str
    policy: dict[str, Any] | None = None
    policy_name: str = ""
    """Which rendered resource the policy comes from (for failure messages)."""


@dataclass
class World:
    """One rendered BU stack: its roles (as evaluator principals), resources and key."""

    stack: str
    bu: str
    account: str
    region: str
    prefix: str
    principals: dict[str, Principal] = field(default_factory=dict)
    trusts: dict[str, dict[str, Any]] = field(default_factory=dict)
    service_roles: dict[str, Principal] = field(default_factory=dict)
    """Roles AWS services assume for the BU (the feature store's writer, MLflow), by name."""
    targets: list[Target] = field(default_factory=list)
    documents: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    """(kind, resource name, document) for every IAM document of the stack."""
    source_vpce: str = ""
    """The cluster VPC's S3 gateway endpoint (the platform's `s3GatewayEndpointId`): every S3
    request of the BU's pods comes through it."""

    def target(self, kind: str, contains: str = "") -> Target:
        return next(t for t in self.targets if t.kind == kind and contains in t.arn)

    @property
    def key(self) -> Target:
        return self.target("key")


POD_ENDPOINTS: dict[str, str] = {}
"""Pod role ARN -> the S3 gateway endpoint its requests come through (`decide` adds it)."""


def is_pod_role(who: str) -> bool:
    """Roles only pods assume (Pod Identity): the workloads and the endpoints' model servers."""
    return who in WORKLOADS or who.startswith("model-server-")


def of_type(inventory: Inventory, type_: str) -> list[Resource]:
    return [r for r in inventory.resources if r.type == type_]


def world(inventory: Inventory) -> World:
    config = inventory.config
    bu, env = config["ai-estate:businessUnit"], config["ai-estate:environment"]
    w = World(
        inventory.stack,
        bu,
        account=str(config["ai-estate:accountId"]),
        region=config["aws:region"],
        prefix=f"{bu}-{env}",
    )
    arn = f"arn:aws:{{}}:{w.region}:{w.account}:{{}}".format
    by_urn = inventory.by_urn()
    platform = str(config["ai-estate:platformStack"]).rsplit("/", 1)[-1]
    w.source_vpce = _render(platform).outputs["s3GatewayEndpointId"]

    [alias] = [
        a
        for a in of_type(inventory, "aws:kms/alias:Alias")
        if a.inputs["name"] == f"alias/ai-estate/{w.prefix}"
    ]
    [key] = [k for k in of_type(inventory, "aws:kms/key:Key") if k.parent == alias.parent]
    key_policy = json.loads(key.inputs["policy"])
    w.documents.append(("key", key.name, key_policy))
    key_arn = arn("kms", f"key/{alias.inputs['targetKeyId']}")

    boundaries = {
        f"arn:aws:iam::{w.account}:policy{p.inputs['path']}{p.inputs['name']}": json.loads(
            p.inputs["policy"]
        )
        for p in of_type(inventory, "aws:iam/policy:Policy")
    }
    for boundary_arn, document in boundaries.items():
        w.documents.append(("boundary", boundary_arn, document))
        w.targets.append(Target(boundary_arn, "policy"))
    inline: dict[str, list[dict[str, Any]]] = {}
    for rp in of_type(inventory, "aws:iam/rolePolicy:RolePolicy"):
        document = json.loads(rp.inputs["policy"])
        [role_urn] = rp.property_dependencies["role"]
        inline.setdefault(role_urn, []).append(document)
        w.documents.append(("identity", rp.name, document))
    for role in of_type(inventory, "aws:iam/role:Role"):
        path = role.inputs.get("path") or "/"
        name = role.inputs.get("name") or role.name
        role_arn = f"arn:aws:iam::{w.account}:role{path}{name}"
        trust = json.loads(role.inputs["assumeRolePolicy"])
        w.documents.append(("trust", role_arn, trust))
        if path != f"/ai-estate/{bu}/":
            # Service and node roles: no person or pod of the BU acts as them.
            w.service_roles[name] = Principal(
                role_arn, identity_policies=tuple(inline.get(role.urn, []))
            )
            continue
        w.targets.append(Target(role_arn, "role", trust, role.name))
        who = name.removeprefix(f"{w.prefix}-")
        if is_pod_role(who):
            POD_ENDPOINTS[role_arn] = w.source_vpce
        w.trusts[who] = trust
        w.principals[who] = Principal(
            role_arn,
            identity_policies=tuple(inline.get(role.urn, [])),
            permissions_boundary=boundaries[role.inputs["permissionsBoundary"]],
        )

    bucket_policies: dict[str, tuple[str, dict[str, Any]]] = {}
    for bp in of_type(inventory, "aws:s3/bucketPolicy:BucketPolicy"):
        [bucket_urn] = bp.property_dependencies["bucket"]
        bucket_name = by_urn[bucket_urn].inputs["bucket"]
        bucket_policies[bucket_name] = (bp.name, json.loads(bp.inputs["policy"]))
        w.documents.append(("bucket", bucket_name, bucket_policies[bucket_name][1]))
    for bucket in of_type(inventory, "aws:s3/bucket:Bucket"):
        name = bucket.inputs["bucket"]
        policy_name, policy = bucket_policies.get(name, ("", None))
        purpose = name.removeprefix(f"{w.prefix}-").rsplit("-", 1)[0]
        w.targets.append(Target(f"arn:aws:s3:::{name}", f"bucket:{purpose}", policy, policy_name))
        for key_name in (
            "models/m.tar.gz",
            "offline/part-0",
            "mlflow/run/artifact",
            "athena-results/q.csv",
        ):
            w.targets.append(
                Target(f"arn:aws:s3:::{name}/{key_name}", f"object:{purpose}", policy, policy_name)
            )
    for table in of_type(inventory, "aws:dynamodb/table:Table"):
        w.targets.append(Target(arn("dynamodb", f"table/{table.inputs['name']}"), "table"))
    for group in of_type(inventory, "aws:sagemaker/featureGroup:FeatureGroup"):
        group_name = group.inputs["featureGroupName"]
        w.targets.append(Target(arn("sagemaker", f"feature-group/{group_name}"), "feature-group"))
    for database in of_type(inventory, "aws:glue/catalogDatabase:CatalogDatabase"):
        db = database.inputs["name"]
        w.targets.append(Target(arn("glue", f"database/{db}"), "glue"))
        for group in of_type(inventory, "aws:sagemaker/featureGroup:FeatureGroup"):
            table_name = group.inputs["featureGroupName"].replace("-", "_")
            w.targets.append(Target(arn("glue", f"table/{db}/{table_name}"), "glue"))
    for gp in of_type(inventory, "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy"):
        group_name = gp.inputs["modelPackageGroupName"]
        policy = json.loads(gp.inputs["resourcePolicy"])
        w.documents.append(("group", gp.name, policy))
        w.targets.append(
            Target(
                arn("sagemaker", f"model-package-group/{group_name}"),
                "model-package-group",
                policy,
                gp.name,
            )
        )
        w.targets.append(
            Target(
                arn("sagemaker", f"model-package/{group_name}/1"), "model-package", policy, gp.name
            )
        )
    for workgroup in of_type(inventory, "aws:athena/workgroup:Workgroup"):
        w.targets.append(
            Target(arn("athena", f"workgroup/{workgroup.inputs['name']}"), "workgroup")
        )
    for server in of_type(inventory, "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer"):
        server_name = server.inputs["trackingServerName"]
        w.targets.append(
            Target(arn("sagemaker", f"mlflow-tracking-server/{server_name}"), "tracking-server")
        )
    for repo in of_type(inventory, "aws:ecr/repository:Repository"):
        w.targets.append(Target(arn("ecr", f"repository/{repo.inputs['name']}"), "repository"))
    w.targets += [
        Target(arn("logs", f"log-group:/ai-estate/{w.prefix}/app"), "log-group"),
        Target(key_arn, "key", key_policy, key.name),
    ]
    return w


@pytest.fixture(scope="module")
def worlds(rendered) -> dict[str, World]:
    return {
        FRAUD: world(rendered(FRAUD)),
        MARKETING: world(rendered(MARKETING)),
        "marketing-prod": world(marketing_beside_fraud()),
    }


def via(w: World, service: str) -> dict[str, str]:
    return {"kms:ViaService": f"{service}.{w.region}.amazonaws.com"}


PENDING = {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}
APPROVED = {"sagemaker:ModelApprovalStatus": "Approved"}


def actions(w: World) -> dict[str, list[tuple[str, dict[str, str]]]]:
    return {
        "bucket": [
            ("s3:ListBucket", {}),
            ("s3:GetBucketPolicy", {}),
            ("s3:PutBucketPolicy", {}),
            ("s3:DeleteBucket", {}),
        ],
        "object": [("s3:GetObject", {}), ("s3:PutObject", {}), ("s3:DeleteObject", {})],
        "table": [
            ("dynamodb:GetItem", {}),
            ("dynamodb:Query", {}),
            ("dynamodb:PutItem", {}),
            ("dynamodb:DescribeTable", {}),
            ("dynamodb:DeleteTable", {}),
        ],
        "feature-group": [
            ("sagemaker:GetRecord", {}),
            ("sagemaker:PutRecord", {}),
            ("sagemaker:DescribeFeatureGroup", {}),
            ("sagemaker:DeleteFeatureGroup", {}),
        ],
        "glue": [("glue:GetTable", {}), ("glue:GetPartitions", {}), ("glue:DeleteTable", {})],
        "model-package-group": [
            ("sagemaker:DescribeModelPackageGroup", {}),
            ("sagemaker:CreateModelPackage", PENDING),
            ("sagemaker:DeleteModelPackageGroup", {}),
        ],
        "model-package": [
            ("sagemaker:DescribeModelPackage", {}),
            ("sagemaker:CreateModelPackage", PENDING),
            ("sagemaker:CreateModelPackage", APPROVED),
            ("sagemaker:UpdateModelPackage", APPROVED),
        ],
        "repository": [
            ("ecr:BatchGetImage", {}),
            ("ecr:DescribeImages", {}),
            ("ecr:PutImage", {}),
            ("ecr:InitiateLayerUpload", {}),
            ("ecr:DeleteRepository", {}),
        ],
        "log-group": [("logs:GetLogEvents", {}), ("logs:DeleteLogGroup", {})],
        "workgroup": [
            ("athena:StartQueryExecution", {}),
            ("athena:GetQueryResults", {}),
            ("athena:UpdateWorkGroup", {}),
            ("athena:DeleteWorkGroup", {}),
        ],
        "tracking-server": [
            ("sagemaker-mlflow:CreateExperiment", {}),
            ("sagemaker-mlflow:LogMetric", {}),
            ("sagemaker-mlflow:SearchRuns", {}),
            ("sagemaker:CreatePresignedMlflowTrackingServerUrl", {}),
            ("sagemaker:DeleteMlflowTrackingServer", {}),
        ],
        "key": [
            ("kms:Decrypt", via(w, "s3")),
            ("kms:Decrypt", via(w, "dynamodb")),
            ("kms:GenerateDataKey", via(w, "s3")),
            ("kms:Decrypt", {}),
            ("kms:DescribeKey", {}),
            ("kms:ScheduleKeyDeletion", {}),
            ("kms:PutKeyPolicy", {}),
        ],
        "role": [
            ("iam:GetRole", {}),
            ("iam:PutRolePolicy", {}),
            ("iam:UpdateAssumeRolePolicy", {}),
            ("iam:DeleteRolePermissionsBoundary", {}),
            ("iam:PassRole", {}),
            ("sts:AssumeRole", {}),
        ],
        "policy": [("iam:GetPolicy", {}), ("iam:CreatePolicyVersion", {})],
    }


def decide(
    principal: Principal, action: str, target: Target, context: dict, owner: World
) -> Decision:
    """`principal`'s request; a pod's S3 requests carry its cluster's endpoint as AWS sets it."""
    endpoint = POD_ENDPOINTS.get(principal.arn)
    if endpoint and action.startswith("s3:") and "aws:SourceVpce" not in context:
        context = {**context, "aws:SourceVpce": endpoint}
    return evaluate(
        Request(
            principal=principal,
            action=action,
            resource=target.arn,
            context=context,
            resource_policy=target.policy,
            resource_account=owner.account,
        )
    )


def explain(who: str, action: str, target: Target, decision: Decision) -> str:
    policy = f" [{target.kind} policy {target.policy_name}]" if target.policy_name else ""
    return f"{who} {action} on {target.arn}{policy}: {decision.reason}"


def every_request(w: World, owner: World) -> Iterator[tuple[str, str, Target, dict[str, str]]]:
    table = actions(owner)
    for who in w.principals:
        for target in owner.targets:
            for action, context in table[target.kind.split(":")[0]]:
                yield who, action, target, context


# -- what the shipped stacks create -----------------------------------------------------------


def test_the_shipped_bu_stacks_render_every_role_and_resource_the_proof_needs(worlds):
    assert set(worlds[FRAUD].principals) == {
        *PERSONAS,
        *WORKLOADS,
        *SERVERS[FRAUD],
        # EventBridge's invoke role of the deploy dispatch: it may invoke its API destination
        # and nothing of the world (tests/test_deploy_dispatch.py proves the allow)
        "deploy-dispatch",
        *GATES[FRAUD],
    }
    assert set(worlds[MARKETING].principals) == {
        "data-scientist",
        "ml-engineer",
        *WORKLOADS,
        *SERVERS[MARKETING],
        *GATES[MARKETING],
    }
    for w in worlds.values():
        kinds = {t.kind for t in w.targets}
        assert {"key", "bucket:features", "object:models", "model-package-group"} <= kinds, w.stack
    assert "table" in {t.kind for t in worlds[FRAUD].targets}
    # The key policy is the one the stack renders, not a stand-in.
    sids = {s["Sid"] for s in worlds[FRAUD].key.policy["Statement"]}
    assert {"AccountAdministersKey", "DenyOtherBusinessUnitRoles"} <= sids


# -- liveness: each BU's own roles, key admins, deploy accounts -------------------------------

FEATURE_OBJECT_PREFIXES = ("offline/", "models/", "mlflow/", "athena-results/")
"""Every object of the features bucket (the data scientist reads them all)."""
EXPERIMENTS = [
    # MLflow on the BU's tracking server (runs, metrics, the presigned UI URL), its artifacts;
    # Athena in the BU's workgroup, writing results under the BU key.
    ("tracking-server", "sagemaker-mlflow:CreateExperiment", ""),
    ("tracking-server", "sagemaker-mlflow:LogMetric", ""),
    ("tracking-server", "sagemaker-mlflow:SearchRuns", ""),
    ("tracking-server", "sagemaker:CreatePresignedMlflowTrackingServerUrl", ""),
    ("object:models", "s3:GetObject", "mlflow/"),
    ("object:models", "s3:PutObject", "mlflow/"),
    ("workgroup", "athena:StartQueryExecution", ""),
    ("workgroup", "athena:GetQueryResults", ""),
    ("object:features", "s3:PutObject", "athena-results/"),
    ("key", "kms:GenerateDataKey", "s3"),
]
"""What a data scientist and an ML engineer do in experiments (issue 11, item 7)."""

# (who, target kind, action, context label) -> allowed. Anything not listed must be refused.
EXPECTED: set[tuple[str, str, str, str]] = {
    # data-scientist: reads features and models, writes nothing
    ("data-scientist", "bucket:features", "s3:ListBucket", ""),
    *(
        ("data-scientist", "object:features", "s3:GetObject", prefix)
        for prefix in FEATURE_OBJECT_PREFIXES
    ),
    ("data-scientist", "object:models", "s3:GetObject", "models/"),
    ("data-scientist", "bucket:models", "s3:ListBucket", ""),
    ("data-scientist", "table", "dynamodb:GetItem", ""),
    ("data-scientist", "table", "dynamodb:Query", ""),
    ("data-scientist", "table", "dynamodb:DescribeTable", ""),
    ("data-scientist", "feature-group", "sagemaker:GetRecord", ""),
    ("data-scientist", "feature-group", "sagemaker:DescribeFeatureGroup", ""),
    ("data-scientist", "glue", "glue:GetTable", ""),
    ("data-scientist", "glue", "glue:GetPartitions", ""),
    ("data-scientist", "model-package-group", "sagemaker:DescribeModelPackageGroup", ""),
    ("data-scientist", "model-package", "sagemaker:DescribeModelPackage", ""),
    ("data-scientist", "key", "kms:Decrypt", "s3"),
    ("data-scientist", "key", "kms:Decrypt", "dynamodb"),
    ("data-scientist", "key", "kms:DescribeKey", ""),
    *(("data-scientist", *e) for e in EXPERIMENTS),
    # ml-engineer: data scientist + writes features, pulls images
    *(
        ("ml-engineer", kind, action, ctx)
        for kind, action, ctx in [
            ("bucket:features", "s3:ListBucket", ""),
            *(
                ("object:features", action, prefix)
                for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
                for prefix in FEATURE_OBJECT_PREFIXES
            ),
            ("object:models", "s3:GetObject", "models/"),
            ("bucket:models", "s3:ListBucket", ""),
            ("table", "dynamodb:GetItem", ""),
            ("table", "dynamodb:Query", ""),
            ("table", "dynamodb:PutItem", ""),
            ("table", "dynamodb:DescribeTable", ""),
            ("feature-group", "sagemaker:GetRecord", ""),
            ("feature-group", "sagemaker:PutRecord", ""),
            ("feature-group", "sagemaker:DescribeFeatureGroup", ""),
            ("glue", "glue:GetTable", ""),
            ("glue", "glue:GetPartitions", ""),
            ("model-package-group", "sagemaker:DescribeModelPackageGroup", ""),
            ("model-package", "sagemaker:DescribeModelPackage", ""),
            ("repository", "ecr:BatchGetImage", ""),
            ("repository", "ecr:DescribeImages", ""),
            ("key", "kms:Decrypt", "s3"),
            ("key", "kms:Decrypt", "dynamodb"),
            ("key", "kms:GenerateDataKey", "s3"),
            ("key", "kms:DescribeKey", ""),
            *EXPERIMENTS,
        ]
    ),
    # model-approver: reads what it approves, approves
    ("model-approver", "object:models", "s3:GetObject", "models/"),
    ("model-approver", "bucket:models", "s3:ListBucket", ""),
    ("model-approver", "model-package-group", "sagemaker:DescribeModelPackageGroup", ""),
    ("model-approver", "model-package", "sagemaker:DescribeModelPackage", ""),
    ("model-approver", "model-package", "sagemaker:UpdateModelPackage", "Approved"),
    ("model-approver", "repository", "ecr:DescribeImages", ""),
    ("model-approver", "key", "kms:Decrypt", "s3"),
    ("model-approver", "key", "kms:DescribeKey", ""),
    # auditor: configuration and logs, never data, never writes
    *(
        ("auditor", kind, action, ctx)
        for kind, action, ctx in [
            ("bucket:features", "s3:GetBucketPolicy", ""),
            ("bucket:models", "s3:GetBucketPolicy", ""),
            ("bucket:access-logs", "s3:GetBucketPolicy", ""),
            ("bucket:audit", "s3:GetBucketPolicy", ""),
            # the model artifacts' DR replica and its access logs (fraud-prod: backup.drRegion)
            ("bucket:models-dr", "s3:GetBucketPolicy", ""),
            ("bucket:access-logs-dr", "s3:GetBucketPolicy", ""),
            ("bucket:access-logs", "s3:ListBucket", ""),
            *(("object:access-logs", "s3:GetObject", p) for p in FEATURE_OBJECT_PREFIXES),
            ("table", "dynamodb:DescribeTable", ""),
            ("feature-group", "sagemaker:DescribeFeatureGroup", ""),
            ("glue", "glue:GetTable", ""),
            ("model-package-group", "sagemaker:DescribeModelPackageGroup", ""),
            ("model-package", "sagemaker:DescribeModelPackage", ""),
            ("repository", "ecr:DescribeImages", ""),
            ("log-group", "logs:GetLogEvents", ""),
            ("key", "kms:DescribeKey", ""),
            ("role", "iam:GetRole", ""),
            ("policy", "iam:GetPolicy", ""),
        ]
    ),
    # feature-reader: online features only (and, like every BU principal, the registry's group
    # metadata: the groups' resource policies grant the BU's roles read, BuPrincipalsRead)
    ("feature-reader", "model-package-group", "sagemaker:DescribeModelPackageGroup", ""),
    ("feature-reader", "model-package", "sagemaker:DescribeModelPackage", ""),
    ("feature-reader", "table", "dynamodb:GetItem", ""),
    ("feature-reader", "table", "dynamodb:Query", ""),
    ("feature-reader", "feature-group", "sagemaker:GetRecord", ""),
    ("feature-reader", "key", "kms:Decrypt", "dynamodb"),
    # model-publisher: registers (pending only), uploads, pushes; never approves
    ("model-publisher", "object:models", "s3:GetObject", "models/"),
    ("model-publisher", "object:models", "s3:PutObject", "models/"),
    ("model-publisher", "bucket:models", "s3:ListBucket", ""),
    ("model-publisher", "model-package-group", "sagemaker:CreateModelPackage", "Pending"),
    ("model-publisher", "model-package-group", "sagemaker:DescribeModelPackageGroup", ""),
    ("model-publisher", "model-package", "sagemaker:CreateModelPackage", "Pending"),
    ("model-publisher", "model-package", "sagemaker:DescribeModelPackage", ""),
    ("model-publisher", "repository", "ecr:BatchGetImage", ""),
    ("model-publisher", "repository", "ecr:DescribeImages", ""),
    ("model-publisher", "repository", "ecr:PutImage", ""),
    ("model-publisher", "repository", "ecr:InitiateLayerUpload", ""),
    ("model-publisher", "key", "kms:GenerateDataKey", "s3"),
    ("model-publisher", "key", "kms:Decrypt", "s3"),
    # model-trainer (the retraining jobs, components/mlops.py): the publisher's hands plus the
    # offline store it trains on; never approves (its retraining queue is proved in
    # tests/test_mlops.py: the world has no queue target)
    ("model-trainer", "bucket:features", "s3:ListBucket", ""),
    *(("model-trainer", "object:features", "s3:GetObject", p) for p in FEATURE_OBJECT_PREFIXES),
    ("model-trainer", "glue", "glue:GetTable", ""),
    ("model-trainer", "glue", "glue:GetPartitions", ""),
    ("model-trainer", "object:models", "s3:GetObject", "models/"),
    ("model-trainer", "object:models", "s3:PutObject", "models/"),
    ("model-trainer", "bucket:models", "s3:ListBucket", ""),
    ("model-trainer", "model-package-group", "sagemaker:CreateModelPackage", "Pending"),
    ("model-trainer", "model-package-group", "sagemaker:DescribeModelPackageGroup", ""),
    ("model-trainer", "model-package", "sagemaker:CreateModelPackage", "Pending"),
    ("model-trainer", "model-package", "sagemaker:DescribeModelPackage", ""),
    ("model-trainer", "repository", "ecr:BatchGetImage", ""),
    ("model-trainer", "repository", "ecr:DescribeImages", ""),
    ("model-trainer", "repository", "ecr:PutImage", ""),
    ("model-trainer", "repository", "ecr:InitiateLayerUpload", ""),
    ("model-trainer", "key", "kms:GenerateDataKey", "s3"),
    ("model-trainer", "key", "kms:Decrypt", "s3"),
    # gate-<family> (components/validation_gate.py): reads its family's versions and their
    # metrics; its only write, rejecting, is proved in tests/test_validation_gate.py
    *(
        (gate, kind, action, ctx)
        for gate in ("gate-card-fraud", "gate-merchant-risk", "gate-propensity")
        for kind, action, ctx in [
            ("model-package", "sagemaker:DescribeModelPackage", ""),
            ("key", "kms:Decrypt", "s3"),
        ]
    ),
    # model-server-<endpoint> (serving): its family's artifacts (the world's sample object is
    # not under one family's prefix, so no object read shows here; tests/test_serving.py and
    # tests/test_golden_path.py prove the family read), the tables it declares, the key
    ("model-server-card-scoring", "table", "dynamodb:GetItem", ""),
    ("model-server-card-scoring", "table", "dynamodb:Query", ""),
    ("model-server-card-scoring", "key", "kms:Decrypt", "dynamodb"),
    ("model-server-card-scoring", "key", "kms:Decrypt", "s3"),
    ("model-server-propensity", "key", "kms:Decrypt", "s3"),
}
SERVERS = {FRAUD: {"model-server-card-scoring"}, MARKETING: {"model-server-propensity"}}
"""The model-server roles of the endpoints each shipped BU declares."""
GATES = {FRAUD: {"gate-card-fraud", "gate-merchant-risk"}, MARKETING: {"gate-propensity"}}
"""The validation gates' reject-only roles, one per model family of the shipped BUs."""


def _gate_of_its_family(who: str, target: Target) -> bool:
    """A gate reads the versions of its own family only (every other role: no such limit)."""
    if not who.startswith("gate-") or not target.kind.startswith("model-package"):
        return True
    return f"-{who.removeprefix('gate-')}/" in target.arn


def _context_label(target: Target, context: dict[str, str]) -> str:
    if "kms:ViaService" in context:
        return context["kms:ViaService"].split(".")[0]
    if "sagemaker:ModelApprovalStatus" in context:
        return context["sagemaker:ModelApprovalStatus"].removesuffix("ManualApproval")
    if target.kind.startswith("object:"):
        return next((p for p in OBJECT_PREFIXES if f"/{p}" in target.arn), "")
    return ""


OBJECT_PREFIXES = ("models/", "mlflow/", "athena-results/", "offline/")


@pytest.mark.parametrize("stack", [FRAUD, MARKETING])
def test_each_role_does_exactly_its_job_in_its_own_bu(worlds, stack):
    w = worlds[stack]
    mismatches, seen = [], set()
    for who, action, target, context in every_request(w, w):
        label = (who, target.kind, action, _context_label(target, context))
        expected = label in EXPECTED and _gate_of_its_family(who, target)
        seen.add(label)
        decision = decide(w.principals[who], action, target, context, w)
        if bool(decision) != expected:
            verdict = "refused" if expected else "allowed"
            mismatches.append(f"{verdict}: {explain(who, action, target, decision)}")
    assert not mismatches, "\n".join(mismatches)
    # Every expected grant of the roles this stack has was exercised (the table cannot rot).
    kinds = {t.kind for t in w.targets}
    mine = {e for e in EXPECTED if e[0] in w.principals and e[1] in kinds}
    assert mine <= seen, sorted(mine - seen)


def test_the_configured_key_administrators_administer_the_key_and_never_use_it(worlds, rendered):
    w = worlds[FRAUD]
    [admin_arn] = rendered(FRAUD).config["ai-estate:access"]["keyAdminRoleArns"]
    # No identity policy at all: what they may do, the key policy itself grants.
    admin = Principal(admin_arn)
    for action in (
        "kms:EnableKeyRotation",
        "kms:GetKeyRotationStatus",
        "kms:TagResource",
        "kms:DisableKey",
        "kms:ScheduleKeyDeletion",
        "kms:CancelKeyDeletion",
        "kms:DescribeKey",
    ):
        decision = decide(admin, action, w.key, {}, w)
        assert decision and "KeyAdministrators" in decision.reason, explain(
            "key admin", action, w.key, decision
        )
    for action, context in (
        ("kms:Decrypt", via(w, "s3")),
        ("kms:Decrypt", {}),
        ("kms:GenerateDataKey", via(w, "dynamodb")),
        ("kms:CreateGrant", {}),
        ("kms:PutKeyPolicy", {}),
    ):
        decision = decide(admin, action, w.key, context, w)
        assert not decision, explain("key admin", action, w.key, decision)


def test_the_deploy_account_reads_and_decrypts_model_artifacts_through_s3(worlds, rendered):
    w = worlds[FRAUD]
    [deploy_account] = rendered(FRAUD).config["ai-estate:modelRegistry"]["deployAccountIds"]
    # The deploy account's own IAM allows its pipeline everything; the BU's side decides.
    pipeline = Principal(
        f"arn:aws:iam::{deploy_account}:role/deploy-pipeline", identity_policies=ADMIN_ALL
    )
    artifact = w.target("object:models", "/models/")
    read = decide(pipeline, "s3:GetObject", artifact, {}, w)
    assert read, explain("deploy account", "s3:GetObject", artifact, read)
    decrypt = decide(pipeline, "kms:Decrypt", w.key, via(w, "s3"), w)
    assert decrypt and "OtherAccountsDecryptViaS3" in decrypt.reason, explain(
        "deploy account", "kms:Decrypt via S3", w.key, decrypt
    )
    # ...and nothing else: no other prefix, no other service, no writes, no direct decrypt.
    for action, target, context in (
        ("s3:GetObject", w.target("object:features", "/offline/"), {}),
        ("s3:GetObject", w.target("object:models", "/mlflow/"), {}),
        ("s3:PutObject", artifact, {}),
        ("kms:Decrypt", w.key, {}),
        ("kms:Decrypt", w.key, via(w, "dynamodb")),
        ("kms:GenerateDataKey", w.key, via(w, "s3")),
        ("dynamodb:GetItem", w.target("table"), {}),
    ):
        decision = decide(pipeline, action, target, context, w)
        assert not decision, explain("deploy account", action, target, decision)


def test_separation_of_duties(worlds):
    w = worlds[FRAUD]
    package = w.target("model-package")
    publisher, approver = w.principals["model-publisher"], w.principals["model-approver"]
    for status in ("Approved", "Rejected"):
        approve = decide(publisher, "sagemaker:UpdateModelPackage", package, {
            "sagemaker:ModelApprovalStatus": status}, w)  # fmt: skip
        assert not approve and approve.reason.startswith("explicit deny"), approve.reason
    self_approved = decide(publisher, "sagemaker:CreateModelPackage", package, APPROVED, w)
    assert not self_approved and "DenySelfApproval" in self_approved.reason
    # Leaving the status out is allowed: SageMaker then registers the version pending approval.
    assert decide(publisher, "sagemaker:CreateModelPackage", package, {}, w)
    publish = decide(approver, "sagemaker:CreateModelPackage", package, PENDING, w)
    assert not publish and "DenyPublishing" in publish.reason
    assert not decide(approver, "s3:PutObject", w.target("object:models", "/models/"), {}, w)


def test_experiments_run_in_the_bus_own_workgroup_and_tracking_server_only(worlds, rendered):
    """MLflow and Athena are usable by the BU's people, and only on the BU's own (issue 11/7)."""
    marketing, fraud = worlds[MARKETING], worlds[FRAUD]
    for who in ("data-scientist", "ml-engineer"):
        scientist = marketing.principals[who]
        for action, target, context in (
            ("sagemaker-mlflow:CreateRun", marketing.target("tracking-server"), {}),
            (
                "sagemaker:CreatePresignedMlflowTrackingServerUrl",
                marketing.target("tracking-server"),
                {},
            ),
            ("s3:PutObject", marketing.target("object:models", "/mlflow/"), {}),
            ("kms:GenerateDataKey", marketing.key, via(marketing, "s3")),
            ("athena:StartQueryExecution", marketing.target("workgroup"), {}),
            ("athena:GetQueryResults", marketing.target("workgroup"), {}),
            ("s3:PutObject", marketing.target("object:features", "/athena-results/"), {}),
            ("s3:GetObject", marketing.target("object:features", "/athena-results/"), {}),
            ("s3:GetObject", marketing.target("object:features", "/offline/"), {}),
            ("glue:GetTable", marketing.target("glue", "table/"), {}),
            ("glue:GetPartitions", marketing.target("glue", "table/"), {}),
        ):
            decision = decide(scientist, action, target, context, marketing)
            assert decision, explain(who, action, target, decision)
        # Another BU's workgroup, results and tracking server: refused, even in one account.
        other = worlds["marketing-prod"].principals[who]
        for action, target in (
            ("athena:StartQueryExecution", fraud.target("workgroup")),
            ("s3:GetObject", fraud.target("object:features", "/athena-results/")),
            ("glue:GetTable", fraud.target("glue", "table/")),
        ):
            decision = decide(other, action, target, {}, fraud)
            assert not decision and "DenyOutsideBusinessUnit" in decision.reason, explain(
                who, action, target, decision
            )
    # The workgroup enforces an encrypted results location in the BU's bucket, under its key.
    for stack, w in ((FRAUD, fraud), (MARKETING, marketing)):
        [workgroup] = of_type(rendered(stack), "aws:athena/workgroup:Workgroup")
        configuration = workgroup.inputs["configuration"]
        assert configuration["enforceWorkgroupConfiguration"] is True
        results = configuration["resultConfiguration"]
        bucket = w.target("bucket:features").arn.removeprefix("arn:aws:s3:::")
        assert results["outputLocation"] == f"s3://{bucket}/athena-results/"
        assert results["encryptionConfiguration"] == {
            "encryptionOption": "SSE_KMS",
            "kmsKeyArn": w.key.arn,
        }


def test_the_feature_store_writer_has_aws_documented_offline_store_minimum(worlds):
    """AmazonSageMakerFeatureStoreAccess (v3): PutObject, PutObjectAcl, GetBucketAcl; held to
    the BU's offline prefix (issue 11, item 8)."""
    for stack in (FRAUD, MARKETING):
        w = worlds[stack]
        writer = w.service_roles[f"{w.prefix}-feature-store"]
        bucket = w.target("bucket:features")
        offline = w.target("object:features", "/offline/")
        for action, target in (
            ("s3:PutObject", offline),
            ("s3:PutObjectAcl", offline),
            ("s3:GetBucketAcl", bucket),
            ("glue:UpdateTable", w.target("glue", "table/")),
        ):
            decision = decide(writer, action, target, {}, w)
            assert decision, explain(writer.arn, action, target, decision)
        for action, target in (
            ("s3:PutObjectAcl", w.target("object:features", "/athena-results/")),
            ("s3:PutObjectAcl", w.target("object:models", "/models/")),
        ):
            decision = decide(writer, action, target, {}, w)
            assert not decision, explain(writer.arn, action, target, decision)


def test_pod_roles_reach_the_data_buckets_only_through_the_clusters_s3_endpoint(worlds, rendered):
    """BU pods' roles read and write their data through the cluster VPC's S3 gateway endpoint
    (`aws:SourceVpce`) and nowhere else, while the paths that never come through the VPC still
    work: people, SageMaker writing the offline store as the BU's service role, AWS Backup, the
    deploy account."""
    for stack in (FRAUD, MARKETING):
        w = worlds[stack]
        assert w.source_vpce.startswith("vpce-"), w.source_vpce
        pods = {who: p for who, p in w.principals.items() if is_pod_role(who)}
        # Every role only pods assume is one the buckets fence (the trust says who assumes it).
        assert set(pods) == {
            who for who, trust in w.trusts.items() if "pods.eks.amazonaws.com" in json.dumps(trust)
        }
        jobs = [
            ("model-publisher", "s3:PutObject", w.target("object:models", "/models/")),
            ("model-publisher", "s3:GetObject", w.target("object:models", "/models/")),
        ]
        for who, action, target in jobs:
            inside = decide(pods[who], action, target, {"aws:SourceVpce": w.source_vpce}, w)
            assert inside, explain(who, action, target, inside)
            for context in ({"aws:SourceVpce": "vpce-0elsewhere0000000"}, {"aws:SourceIp": "x"}):
                outside = evaluate(
                    Request(
                        principal=pods[who],
                        action=action,
                        resource=target.arn,
                        context=context,
                        resource_policy=target.policy,
                        resource_account=w.account,
                    )
                )
                assert not outside and "DenyPodRolesOutsideTheClusterVpc" in outside.reason, (
                    explain(f"{who} from {context}", action, target, outside)
                )
        # Not pods: no endpoint on their requests, and nothing refuses them for it.
        people = [("data-scientist", "s3:GetObject", w.target("object:models", "/models/"))]
        for who, action, target in people:
            decision = decide(w.principals[who], action, target, {}, w)
            assert decision, explain(who, action, target, decision)
        writer = w.service_roles[f"{w.prefix}-feature-store"]
        offline = w.target("object:features", "/offline/")
        decision = decide(writer, "s3:PutObject", offline, {}, w)
        assert decision, explain(
            "SageMaker offline store writer", "s3:PutObject", offline, decision
        )
        if f"{w.prefix}-backup" in w.service_roles:
            # AWS Backup's managed policies grant its role S3 reads; the bucket must not refuse.
            backup = Principal(
                w.service_roles[f"{w.prefix}-backup"].arn, identity_policies=ADMIN_ALL
            )
            for target in (offline, w.target("object:models", "/models/")):
                decision = decide(backup, "s3:GetObject", target, {}, w)
                assert decision, explain("AWS Backup", "s3:GetObject", target, decision)
    [deploy_account] = rendered(FRAUD).config["ai-estate:modelRegistry"]["deployAccountIds"]
    pipeline = Principal(
        f"arn:aws:iam::{deploy_account}:role/deploy-pipeline", identity_policies=ADMIN_ALL
    )
    w = worlds[FRAUD]
    artifact = w.target("object:models", "/models/")
    assert decide(pipeline, "s3:GetObject", artifact, {}, w)


# -- safety: the other BU is refused everything ------------------------------------------------

PAIRS = [
    (MARKETING, FRAUD),  # as shipped: different accounts
    (FRAUD, MARKETING),
    ("marketing-prod", FRAUD),  # the same account and environment
    (FRAUD, "marketing-prod"),
]


@pytest.mark.parametrize(("stack", "other"), PAIRS)
def test_no_role_reaches_any_resource_of_the_other_bu(worlds, stack, other):
    w, theirs = worlds[stack], worlds[other]
    checked, leaks = 0, []
    for who, action, target, context in every_request(w, theirs):
        checked += 1
        decision = decide(w.principals[who], action, target, context, theirs)
        # An implicit deny would open as soon as someone widened an identity policy: every
        # cross-BU request must meet an explicit deny (the boundary's DenyOutsideBusinessUnit).
        if decision or not decision.reason.startswith("explicit deny"):
            leaks.append(explain(f"{w.bu} {who}", action, target, decision))
    assert not leaks, "\n".join(leaks)
    assert checked > 300


@pytest.mark.parametrize(("stack", "other"), [("marketing-prod", FRAUD), (FRAUD, "marketing-prod")])
def test_a_role_that_lost_its_boundary_is_still_refused_by_the_key_and_the_buckets(
    worlds, stack, other
):
    """Defence in depth, in one account: another BU's role with `*` on `*` and no boundary."""
    w, theirs = worlds[stack], worlds[other]
    for who, principal in w.principals.items():
        rogue = Principal(principal.arn, identity_policies=ADMIN_ALL)
        for action, context in (
            ("kms:Decrypt", via(theirs, "s3")),
            ("kms:Decrypt", via(theirs, "dynamodb")),
            ("kms:Decrypt", {}),
            ("kms:GenerateDataKey", via(theirs, "s3")),
            ("kms:CreateGrant", {}),
            ("kms:DescribeKey", {}),
        ):
            decision = decide(rogue, action, theirs.key, context, theirs)
            assert not decision and "DenyOtherBusinessUnitRoles" in decision.reason, explain(
                f"{w.bu} {who} (no boundary)", action, theirs.key, decision
            )
        for target in theirs.targets:
            if target.kind not in ("object:features", "object:models"):
                continue
            decision = decide(rogue, "s3:GetObject", target, {}, theirs)
            assert not decision and "DenyDataOutsideBusinessUnit" in decision.reason, explain(
                f"{w.bu} {who} (no boundary)", "s3:GetObject", target, decision
            )


def test_the_platform_keeps_managing_bu_buckets_but_never_reads_their_data(worlds):
    w = worlds[FRAUD]
    deployer = Principal(
        f"arn:aws:iam::{w.account}:role/platform-deployer", identity_policies=ADMIN_ALL
    )
    bucket = w.target("bucket:models")
    assert decide(deployer, "s3:PutBucketPolicy", bucket, {}, w)
    decision = decide(deployer, "s3:GetObject", w.target("object:models", "/models/"), {}, w)
    assert not decision and "DenyDataOutsideBusinessUnit" in decision.reason


def test_other_bus_cannot_assume_each_others_roles(worlds):
    fraud, marketing = worlds[FRAUD], worlds["marketing-prod"]
    # The trust names the account and holds it to the permission-set roles, so the caller's
    # own policy (the permission set's) must allow sts:AssumeRole too.
    center = Principal(
        f"arn:aws:iam::{fraud.account}:role/aws-reserved/sso.amazonaws.com/"
        "AWSReservedSSO_FraudDataScientist_0123abcd",
        identity_policies=ADMIN_ALL,
    )
    target = fraud.target("role", "fraud-prod-data-scientist")
    assert decide(center, "sts:AssumeRole", target, {}, fraud)
    for arn in (
        marketing.principals["data-scientist"].arn,
        f"arn:aws:iam::{fraud.account}:role/aws-reserved/sso.amazonaws.com/"
        "AWSReservedSSO_MarketingDataScientist_0123abcd",
    ):
        caller = Principal(arn, identity_policies=ADMIN_ALL)
        decision = decide(caller, "sts:AssumeRole", target, {}, fraud)
        assert not decision, explain(arn, "sts:AssumeRole", target, decision)
    saml = Principal(marketing.trusts["data-scientist"]["Statement"][0]["Principal"]["Federated"],
                     kind="federated")  # fmt: skip
    decision = evaluate(
        Request(
            saml,
            "sts:AssumeRoleWithSAML",
            target.arn,
            {"SAML:aud": "https://signin.aws.amazon.com/saml"},
            target.policy,
        )
    )
    assert not decision, decision.reason
    pods = Principal("pods.eks.amazonaws.com", kind="service")
    reader = fraud.target("role", "fraud-prod-feature-reader")

    def pod(namespace: str, service_account: str) -> dict[str, str]:
        return {
            "aws:SourceAccount": fraud.account,
            "aws:RequestTag/eks-cluster-name": "platform-prod-ai",
            "aws:RequestTag/kubernetes-namespace": namespace,
            "aws:RequestTag/kubernetes-service-account": service_account,
        }

    trust = reader.policy
    assert evaluate(
        Request(pods, "sts:AssumeRole", reader.arn, pod("fraud", "feature-reader"), trust)
    )
    for namespace, account in (("marketing", "feature-reader"), ("fraud", "default")):
        assert not evaluate(
            Request(pods, "sts:AssumeRole", reader.arn, pod(namespace, account), trust)
        )


WRITES = [
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:PutBucketPolicy",
    "dynamodb:PutItem",
    "dynamodb:DeleteTable",
    "sagemaker:PutRecord",
    "sagemaker:CreateModelPackage",
    "sagemaker:UpdateModelPackage",
    "ecr:PutImage",
    "glue:CreateTable",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "logs:PutLogEvents",
    "iam:PutRolePolicy",
    "iam:CreateAccessKey",
]


def test_the_auditor_cannot_write_anything_anywhere(worlds):
    w = worlds[FRAUD]
    auditor = w.principals["auditor"]
    for target in w.targets:
        for action in WRITES:
            decision = decide(auditor, action, target, via(w, "s3"), w)
            assert not decision and decision.reason.startswith("explicit deny"), explain(
                "auditor", action, target, decision
            )


def test_no_role_can_touch_iam_or_leave_its_boundary(worlds):
    w = worlds[FRAUD]
    for who, principal in w.principals.items():
        for target in [t for t in w.targets if t.kind in ("role", "policy")]:
            for action in (
                "iam:PutRolePolicy",
                "iam:AttachRolePolicy",
                "iam:DeleteRolePermissionsBoundary",
                "iam:PutRolePermissionsBoundary",
                "iam:CreatePolicyVersion",
                "iam:SetDefaultPolicyVersion",
                "iam:PassRole",
                "iam:CreateUser",
                "iam:CreateAccessKey",
            ):
                decision = decide(principal, action, target, {}, w)
                assert not decision and decision.reason.startswith("explicit deny"), explain(
                    who, action, target, decision
                )


# -- the policy builders themselves --------------------------------------------------------------

ACCOUNT, REGION, CLUSTER = "111122223333", "us-east-1", "platform-prod-ai"
ROOT_KEY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ],
}


def test_every_identity_grant_lies_inside_the_boundary():
    """No persona or workload statement allows what the boundary would cut off anyway."""
    scope = BuScope("fraud", "prod", ACCOUNT, REGION)
    res = BuResources.default(scope, f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k", CLUSTER)
    boundary_only = Principal(
        scope.role_arn("probe"),
        identity_policies=({"Version": "2012-10-17", "Statement": boundary_statements(res)},),
    )
    statements = [s for p in PERSONAS for s in persona_statements(p, res)]
    statements += [s for w in WORKLOADS for s in workload_statements(w, res)]
    checked = 0
    for statement in statements:
        if statement["Effect"] != "Allow":
            continue
        resources = statement["Resource"]
        for resource in [resources] if isinstance(resources, str) else resources:
            concrete = resource.replace("*", "x") if resource != "*" else "*"
            for action in statement["Action"]:
                checked += 1
                context = {"kms:ViaService": f"s3.{REGION}.amazonaws.com", **PENDING}
                key_policy = ROOT_KEY_POLICY if action.startswith("kms:") else None
                decision = evaluate(Request(boundary_only, action, concrete, context, key_policy))
                assert decision, (action, concrete, decision.reason)
    assert checked > 100


def test_only_the_documented_account_level_reads_use_resource_star():
    scope = BuScope("fraud", "prod", ACCOUNT, REGION)
    res = BuResources.default(scope, f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k", CLUSTER)
    star_allows = {
        action
        for statements in [
            *(persona_statements(p, res) for p in PERSONAS),
            *(workload_statements(w, res) for w in WORKLOADS),
        ]
        for s in statements
        if s["Effect"] == "Allow" and s["Resource"] == "*"
        for action in s["Action"]
    }
    assert star_allows == {
        "ecr:GetAuthorizationToken",
        "lakeformation:GetDataAccess",
        "sagemaker:ListFeatureGroups",
        "sagemaker:ListModelPackageGroups",
        "sagemaker:ListModelPackages",
        "sagemaker-mlflow:AccessUI",
    }


# -- parliament over every rendered document --------------------------------------------------

ACCEPTED_LOW = {
    # Key policies: "*" is how a key policy names the key it is attached to.
    ("key", "RESOURCE_STAR"),
}


def lint(kind: str, name: str, document: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    import parliament

    if kind == "trust":
        # parliament lints permission policies: a trust policy has no Resource element (the
        # role it is attached to is the resource), so give it the role's ARN to lint.
        document = {
            **document,
            "Statement": [{**s, "Resource": name} for s in document["Statement"]],
        }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analysed = parliament.analyze_policy_string(
            json.dumps(document), ignore_private_auditors=True
        )
    return [
        (kind, f.issue, parliament.enhance_finding(f).severity, name, str(f.detail))
        for f in analysed.findings
    ]


def test_every_rendered_iam_document_passes_parliament(worlds):
    findings = [
        finding
        for stack in (FRAUD, MARKETING)
        for kind, name, document in worlds[stack].documents
        for finding in lint(kind, name, document)
    ]
    kinds = {kind for w in worlds.values() for kind, _, _ in w.documents}
    assert {"key", "boundary", "identity", "trust", "bucket", "group"} <= kinds
    serious = [
        f
        for f in findings
        if f[2] in ("MEDIUM", "HIGH", "CRITICAL") and not mlflow_ui_under_wildcard(f[1], f[4])
    ]
    assert not serious, serious
    low = {(f[0], f[1]) for f in findings if f[2] == "LOW"}
    assert low <= ACCEPTED_LOW, low
