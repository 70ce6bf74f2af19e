"""The golden path: a table of flows, proved on every shipped BU stack rendered through the program.

Each row is a `Flow`: a name, the hop it exercises (network, IAM, admission, quota), a source,
a destination, the action or port, and whether it must be allowed. The hop checkers resolve
source and destination against the rendered inventories (the BU stack, its platform stack, and
the other shipped BU) and ask the evaluators in estate/analysis/: `netpol` for NetworkPolicies,
`iam` for identity + boundary + resource + key policies, `admission` for the platform's
ValidatingAdmissionPolicies, `quota` for ResourceQuota and pool caps, and `pack` for the
governance rules a change must pass before `pulumi up` (run on a copy of the inventory with one
thing changed, as a pull request would change it). A row that fails prints
the evaluator's sentence naming the hop that refuses it (policy, statement, quota).

How the world is assembled:

- The BU's pods are pods of its namespace running as one of its workload service accounts
  (`pod:<service-account>`); their IAM identity is the role the rendered Pod Identity association
  binds to that service account, whose trust policy must let `pods.eks.amazonaws.com` in.
- "The other BU" is the other shipped BU stack, placed in this BU's cluster and account (its
  documents are rewritten to this account): the harder case, since separate accounts and clusters
  would refuse even more. Its pods are checked against this BU's policies only (its own
  policies are not trusted to keep its pods in); this BU's pods reaching it face both.
- AWS endpoints are addresses: S3 and DynamoDB through the gateway endpoints are addresses of
  the services' regional prefix lists (an address in 52.216.0.0/15 for S3 and 52.94.0.0/22 for
  DynamoDB, both in the us-east-1 lists `com.amazonaws.us-east-1.s3`/`.dynamodb`); interface
  endpoints (STS, SageMaker API/runtime, ECR) are network interfaces in the VPC's private subnets.

Adding the serving rows (issue 12) once `components/serving.py` renders endpoints: sources and
destinations `deployment:<name>` resolve to the rendered Deployment of that name (its pod
template's labels, service account and resources; `@max` takes the HPA's `maxReplicas`), and
`load-balancer` to an address in the VPC's private subnets (the internal ALB's), e.g.
`Flow("client through the gateway reaches the endpoint", "network", "load-balancer",
"deployment:card-scoring", "TCP/8080", True)` and
`Flow("endpoint fits quota and pool at max replicas", "quota", "deployment:card-scoring@max",
"pool:serve-a10g", "", True)`.

Known gap, marked `xfail(strict=True)` so the marks must go when it is fixed: issue 11 item 4,
today's tenant NetworkPolicies refuse BU pods' HTTPS to S3, DynamoDB and the interface endpoints.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest

from estate.analysis import admission, netpol, quota
from estate.analysis.iam import Decision, Principal, Request, condition_holds
from estate.analysis.iam import evaluate as iam_evaluate
from estate.analysis.iam import statements as iam_statements
from estate.offline.model import Inventory, Resource
from estate.offline.project import load_project
from tests.conftest import ROOT, SHIPPED_STACKS

ISSUE_11_ITEM_4 = (
    "issue 11 item 4: the tenant NetworkPolicies allow only DNS, the Pod Identity agent and the "
    "namespace itself, so BU pods cannot open HTTPS to the AWS endpoints"
)
S3_ADDRESS = "52.216.0.10"
"""In 52.216.0.0/15, an entry of the AWS-managed prefix list com.amazonaws.us-east-1.s3."""
DYNAMODB_ADDRESS = "52.94.0.10"
"""In 52.94.0.0/22, an entry of the AWS-managed prefix list com.amazonaws.us-east-1.dynamodb."""
POD_IDENTITY_AGENT = "169.254.170.23"
PENDING = {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}
APPROVED = {"sagemaker:ModelApprovalStatus": "Approved"}


# -- the table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flow:
    """One row of the table."""

    name: str
    hop: str
    """network | iam | admission | quota | pack"""
    src: str
    dst: str
    action: str
    """`TCP/443` for network rows, an IAM action for IAM rows, unused otherwise."""
    expected: bool
    context: tuple[tuple[str, str], ...] = ()
    """IAM request context (`kms:ViaService`, `sagemaker:ModelApprovalStatus`)."""
    refused_by: str = ""
    """For a denied row: words the refusal must contain (which hop, which statement)."""
    requires: tuple[str, ...] = ()
    """Features the stack must declare for the row to apply (see `features`)."""
    xfail: str = ""


def via(service: str) -> tuple[tuple[str, str], ...]:
    return (("kms:ViaService", f"{service}.us-east-1.amazonaws.com"),)


FLOWS: list[Flow] = [
    # -- network: what BU pods need -------------------------------------------------------------
    Flow(
        "pod resolves names through kube-dns",
        "network",
        "pod:feature-reader",
        "kube-dns",
        "UDP/53",
        True,
    ),
    Flow(
        "pod gets credentials from the Pod Identity agent",
        "network",
        "pod:feature-reader",
        "pod-identity-agent",
        "TCP/80",
        True,
    ),
    Flow(
        "pods of the BU reach each other",
        "network",
        "pod:feature-reader",
        "pod:model-publisher",
        "TCP/8080",
        True,
    ),
    Flow(
        "feature-reader reaches DynamoDB (gateway endpoint)",
        "network",
        "pod:feature-reader",
        "aws:dynamodb",
        "TCP/443",
        True,
        xfail=ISSUE_11_ITEM_4,
    ),
    Flow(
        "model-publisher reaches S3 (gateway endpoint)",
        "network",
        "pod:model-publisher",
        "aws:s3",
        "TCP/443",
        True,
        xfail=ISSUE_11_ITEM_4,
    ),
    Flow(
        "model-publisher reaches the SageMaker/STS interface endpoints (VPC, 443)",
        "network",
        "pod:model-publisher",
        "aws:interface-endpoint",
        "TCP/443",
        True,
        xfail=ISSUE_11_ITEM_4,
    ),
    # -- network: what must stay shut -----------------------------------------------------------
    Flow(
        "other BU's pod cannot reach this BU's pods (HTTPS)",
        "network",
        "other:pod:feature-reader",
        "pod:feature-reader",
        "TCP/443",
        False,
        refused_by="refused at ingress of {ns}/feature-reader",
    ),
    Flow(
        "other BU's pod cannot reach this BU's pods (any port)",
        "network",
        "other:pod:model-publisher",
        "pod:model-publisher",
        "TCP/8080",
        False,
        refused_by="refused at ingress of {ns}/model-publisher",
    ),
    Flow(
        "this BU's pod cannot reach the other BU's pods",
        "network",
        "pod:feature-reader",
        "other:pod:feature-reader",
        "TCP/443",
        False,
    ),
    Flow(
        "pod cannot reach the internet",
        "network",
        "pod:feature-reader",
        "internet",
        "TCP/443",
        False,
        refused_by="refused at egress of {ns}/feature-reader",
    ),
    # -- IAM: the BU's own data -----------------------------------------------------------------
    Flow(
        "feature-reader reads the online table",
        "iam",
        "pod:feature-reader",
        "table:online",
        "dynamodb:GetItem",
        True,
        requires=("online-table",),
    ),
    Flow(
        "feature-reader decrypts with the BU key through DynamoDB",
        "iam",
        "pod:feature-reader",
        "key",
        "kms:Decrypt",
        True,
        via("dynamodb"),
    ),
    Flow(
        "model-publisher reads models/* from the artifact bucket",
        "iam",
        "pod:model-publisher",
        "bucket:artifacts/models/card/1/model.tar.gz",
        "s3:GetObject",
        True,
    ),
    Flow(
        "model-publisher decrypts artifacts with the BU key through S3",
        "iam",
        "pod:model-publisher",
        "key",
        "kms:Decrypt",
        True,
        via("s3"),
    ),
    Flow(
        "training pod writes an artifact",
        "iam",
        "pod:model-publisher",
        "bucket:artifacts/models/card/2/model.tar.gz",
        "s3:PutObject",
        True,
    ),
    Flow(
        "training pod encrypts the artifact with the BU key through S3",
        "iam",
        "pod:model-publisher",
        "key",
        "kms:GenerateDataKey",
        True,
        via("s3"),
    ),
    Flow(
        "publisher registers a model package version (pending approval)",
        "iam",
        "pod:model-publisher",
        "model-package-group",
        "sagemaker:CreateModelPackage",
        True,
        tuple(PENDING.items()),
    ),
    Flow(
        "approver approves the model package version",
        "iam",
        "role:model-approver",
        "model-package",
        "sagemaker:UpdateModelPackage",
        True,
        tuple(APPROVED.items()),
        requires=("approver",),
    ),
    # -- IAM: separation of duties and the other BU ---------------------------------------------
    Flow(
        "publisher cannot approve (separation of duties)",
        "iam",
        "pod:model-publisher",
        "model-package",
        "sagemaker:UpdateModelPackage",
        False,
        tuple(APPROVED.items()),
        refused_by="statement DenyApproval (explicit deny)",
    ),
    Flow(
        "publisher cannot register a version as approved",
        "iam",
        "pod:model-publisher",
        "model-package-group",
        "sagemaker:CreateModelPackage",
        False,
        tuple(APPROVED.items()),
        refused_by="statement DenySelfApproval (explicit deny)",
    ),
    Flow(
        "approver cannot publish artifacts",
        "iam",
        "role:model-approver",
        "bucket:artifacts/models/card/3/model.tar.gz",
        "s3:PutObject",
        False,
        refused_by="explicit deny",
        requires=("approver",),
    ),
    Flow(
        "feature-reader cannot read the artifact bucket",
        "iam",
        "pod:feature-reader",
        "bucket:artifacts/models/card/1/model.tar.gz",
        "s3:GetObject",
        False,
    ),
    *[
        Flow(
            f"{who} cannot read the other BU's artifact bucket",
            "iam",
            f"pod:{who}",
            "other:bucket:artifacts/models/m/1/model.tar.gz",
            "s3:GetObject",
            False,
            refused_by="statement DenyOutsideBusinessUnit (explicit deny)",
        )
        for who in ("feature-reader", "model-publisher")
    ],
    Flow(
        "model-publisher cannot write the other BU's artifact bucket",
        "iam",
        "pod:model-publisher",
        "other:bucket:artifacts/models/m/2/model.tar.gz",
        "s3:PutObject",
        False,
        refused_by="statement DenyOutsideBusinessUnit (explicit deny)",
    ),
    Flow(
        "feature-reader cannot read the other BU's online table",
        "iam",
        "pod:feature-reader",
        "other:table:online",
        "dynamodb:GetItem",
        False,
        refused_by="statement DenyOutsideBusinessUnit (explicit deny)",
        requires=("other-online-table",),
    ),
    *[
        Flow(
            f"{who} cannot decrypt with the other BU's key",
            "iam",
            f"pod:{who}",
            "other:key",
            "kms:Decrypt",
            False,
            via(service),
            refused_by="statement DenyOutsideBusinessUnit (explicit deny)",
        )
        for who, service in (("feature-reader", "dynamodb"), ("model-publisher", "s3"))
    ],
    Flow(
        "approver cannot approve the other BU's models",
        "iam",
        "role:model-approver",
        "other:model-package",
        "sagemaker:UpdateModelPackage",
        False,
        tuple(APPROVED.items()),
        refused_by="statement DenyOutsideBusinessUnit (explicit deny)",
        requires=("approver",),
    ),
    Flow(
        "other BU's pods cannot assume this BU's workload role",
        "iam",
        "other:pod:feature-reader",
        "role:feature-reader",
        "sts:AssumeRole",
        False,
        refused_by="condition StringEquals aws:RequestTag/kubernetes-namespace = {ns}",
    ),
    # -- admission and quota: GPU workloads -----------------------------------------------------
    Flow(
        "GPU pod on its BU's pool is admitted",
        "admission",
        "trainer:first-pool",
        "platform",
        "",
        True,
    ),
    Flow(
        "pod tolerating the other BU's taint is refused",
        "admission",
        "trainer:first-pool@other-bu-toleration",
        "platform",
        "",
        False,
        refused_by="ai-estate-bu-toleration-guard",
    ),
    Flow(
        "privileged pod is refused by Pod Security (restricted namespace)",
        "admission",
        "trainer:first-pool@privileged",
        "platform",
        "",
        False,
        refused_by='refused by Pod Security Admission: namespace {ns} enforces "restricted"',
    ),
    Flow(
        "pod pinned to a node with spec.nodeName is refused",
        "admission",
        "trainer:first-pool@node-name",
        "platform",
        "",
        False,
        refused_by="may not set spec.nodeName",
    ),
    Flow(
        "every GPU pool filled to its cap fits the namespace quota",
        "quota",
        "fill:every-pool",
        "quota",
        "",
        True,
    ),
    Flow(
        "each GPU pool filled to its cap fits its pool cap",
        "quota",
        "fill:every-pool",
        "pool",
        "",
        True,
    ),
    Flow(
        "one pod beyond a pool's cap is refused by the pool",
        "quota",
        "fill:first-pool+1",
        "pool",
        "",
        False,
        refused_by="refused by pool",
    ),
    Flow(
        "GPUs beyond the namespace quota are refused by the quota",
        "quota",
        "fill:quota+1",
        "quota",
        "",
        False,
        refused_by="refused by ResourceQuota {ns}/compute: requests.nvidia.com/gpu",
    ),
]


# -- which rows apply to which stack (decided from the stack files, before rendering) -----------


@cache
def _project():
    return load_project(ROOT)


def bu_stacks() -> list[str]:
    return [s for s in SHIPPED_STACKS if _project().stack_config(s).get("ai-estate:kind") == "bu"]


def other_bu(stack: str) -> str:
    others = [s for s in bu_stacks() if s != stack]
    assert others, "the golden path needs two shipped BU stacks"
    return others[0]


def features(stack: str) -> set[str]:
    def own(s: str) -> set[str]:
        config = _project().stack_config(s)
        found = set()
        if (config.get("ai-estate:featureStore") or {}).get("onlineTables"):
            found.add("online-table")
        if "model-approver" in ((config.get("ai-estate:access") or {}).get("personas") or {}):
            found.add("approver")
        if endpoints(s):
            found.add("serving")
        return found

    return own(stack) | {f"other-{f}" for f in own(other_bu(stack))}


def endpoints(stack: str) -> list[dict[str, Any]]:
    """The serving endpoints a stack file declares (`ai-estate:serving.endpoints`)."""
    return list(
        (_project().stack_config(stack).get("ai-estate:serving") or {}).get("endpoints") or []
    )


def serving_flows(stack: str) -> list[Flow]:
    """The serving rows of issue 12, one set per endpoint the stack declares."""
    rows: list[Flow] = []
    families = list(
        (_project().stack_config(stack).get("ai-estate:modelRegistry") or {}).get("modelFamilies")
        or []
    )
    other_has_table = "other-online-table" in features(stack)
    for ep in endpoints(stack):
        name, port = ep["name"], int(ep.get("port", 8080))
        d = f"deployment:{name}"
        artifact = (
            f"bucket:artifacts/models/{ep['modelFamily']}/{ep.get('modelVersion', 1)}/model.tar.gz"
        )
        rows += [
            Flow(
                f"client through the gateway reaches endpoint {name}",
                "network",
                "load-balancer",
                d,
                f"TCP/{port}",
                True,
            ),
            Flow(
                f"other BU's pod cannot reach endpoint {name}",
                "network",
                "other:pod:feature-reader",
                d,
                f"TCP/{port}",
                False,
                refused_by=f"refused at ingress of {{ns}}/{name}",
            ),
            Flow(
                f"endpoint {name} reaches S3 (gateway endpoint)",
                "network",
                d,
                "aws:s3",
                "TCP/443",
                True,
            ),
            Flow(
                f"endpoint {name} reaches the sagemaker-runtime/STS interface endpoints",
                "network",
                d,
                "aws:interface-endpoint",
                "TCP/443",
                True,
            ),
            Flow(
                f"endpoint {name} cannot reach the other BU's pods",
                "network",
                d,
                "other:pod:feature-reader",
                "TCP/443",
                False,
            ),
            Flow(
                f"endpoint {name} reads its model artifacts",
                "iam",
                d,
                artifact,
                "s3:GetObject",
                True,
            ),
            Flow(
                f"endpoint {name} decrypts artifacts with the BU key through S3",
                "iam",
                d,
                "key",
                "kms:Decrypt",
                True,
                via("s3"),
            ),
            Flow(
                f"endpoint {name} cannot overwrite its model artifacts",
                "iam",
                d,
                artifact,
                "s3:PutObject",
                False,
            ),
            Flow(
                f"endpoint {name} cannot read the other BU's artifacts",
                "iam",
                d,
                f"other:{artifact}",
                "s3:GetObject",
                False,
                refused_by="statement DenyOutsideBusinessUnit (explicit deny)",
            ),
            Flow(
                f"endpoint {name} cannot decrypt with the other BU's key",
                "iam",
                d,
                "other:key",
                "kms:Decrypt",
                False,
                via("s3"),
                refused_by="statement DenyOutsideBusinessUnit (explicit deny)",
            ),
            Flow(f"endpoint {name}'s Deployment is admitted", "admission", d, "platform", "", True),
            Flow(
                f"endpoint {name} at max replicas fits the namespace quota",
                "quota",
                f"{d}@max",
                "quota",
                "",
                True,
            ),
            Flow(
                f"endpoint {name} at max replicas fits pool {ep['gpuPool']}",
                "quota",
                f"{d}@max",
                f"pool:{ep['gpuPool']}",
                "",
                True,
            ),
        ]
        rows += [
            Flow(
                f"endpoint {name} runs an image of the BU's ECR",
                "pack",
                d,
                "serving-image-from-bu-registry",
                "",
                True,
            ),
            Flow(
                f"endpoint {name} with an image outside the BU's ECR is refused",
                "pack",
                f"{d}@image=docker.io/library/nginx:1.27",
                "serving-image-from-bu-registry",
                "",
                False,
                refused_by="not one of BU {bu}'s ECR repositories",
            ),
        ]
        if _project().stack_config(stack).get("ai-estate:environment") == "prod":
            rows += [
                Flow(
                    f"endpoint {name}'s route authenticates",
                    "pack",
                    f"route:{name}",
                    "serving-route-authenticated",
                    "",
                    True,
                ),
                Flow(
                    f"an unauthenticated route to {name} is refused in prod",
                    "pack",
                    f"route:{name}@unauthenticated",
                    "serving-route-authenticated",
                    "",
                    False,
                    refused_by="without authentication",
                ),
            ]
        for other_family in [f for f in families if f != ep["modelFamily"]][:1]:
            rows.append(
                Flow(
                    f"endpoint {name} cannot read another model family's artifacts",
                    "iam",
                    d,
                    f"bucket:artifacts/models/{other_family}/1/model.tar.gz",
                    "s3:GetObject",
                    False,
                )
            )
        for table_name in ep.get("onlineTables") or []:
            rows += [
                Flow(
                    f"endpoint {name} reads online table {table_name}",
                    "iam",
                    d,
                    f"table:{table_name}",
                    "dynamodb:GetItem",
                    True,
                ),
                Flow(
                    f"endpoint {name} reaches DynamoDB (gateway endpoint)",
                    "network",
                    d,
                    "aws:dynamodb",
                    "TCP/443",
                    True,
                ),
                Flow(
                    f"endpoint {name} decrypts features with the BU key through DynamoDB",
                    "iam",
                    d,
                    "key",
                    "kms:Decrypt",
                    True,
                    via("dynamodb"),
                ),
            ]
        if other_has_table:
            rows.append(
                Flow(
                    f"endpoint {name} cannot read the other BU's online table",
                    "iam",
                    d,
                    "other:table:online",
                    "dynamodb:GetItem",
                    False,
                    refused_by="statement DenyOutsideBusinessUnit (explicit deny)",
                )
            )
    return rows


def table() -> Iterator[Any]:
    for stack in bu_stacks():
        have = features(stack)
        for flow in [*FLOWS, *serving_flows(stack)]:
            if not set(flow.requires) <= have:
                continue
            marks = [pytest.mark.xfail(strict=True, reason=flow.xfail)] if flow.xfail else []
            verb = "allowed" if flow.expected else "denied"
            yield pytest.param(stack, flow, id=f"{stack}: {verb}: {flow.name}", marks=marks)


# -- the rendered world --------------------------------------------------------------------------


def of_type(inventory: Inventory, suffix: str) -> list[Resource]:
    return [r for r in inventory.resources if r.type.endswith(suffix)]


def doc(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else value


BUCKET_PURPOSES = {
    "registry-artifacts": "artifacts",
    "features-offline": "features",
    "access-logs": "access-logs",
}
"""Logical-name marker of a BU bucket -> what the table calls it."""


@dataclass
class Bu:
    """One BU stack as the checkers see it."""

    stack: str
    inventory: Inventory
    account: str
    name: str = ""
    prefix: str = ""
    namespace: dict[str, Any] = field(default_factory=dict)
    netpols: list[dict[str, Any]] = field(default_factory=list)
    roles: dict[str, Principal] = field(default_factory=dict)
    """Role name without the stack prefix -> principal with its policies."""
    role_policy_names: dict[str, list[str]] = field(default_factory=dict)
    boundary_name: str = ""
    trusts: dict[str, dict[str, Any]] = field(default_factory=dict)
    pod_roles: dict[tuple[str, str], str] = field(default_factory=dict)
    """(namespace, service account) -> role ARN, from the Pod Identity associations."""
    buckets: dict[str, tuple[str, dict[str, Any] | None]] = field(default_factory=dict)
    """purpose (`artifacts`, `features`) -> (bucket name, bucket policy)."""
    tables: list[str] = field(default_factory=list)
    key_arn: str = ""
    key_policy: dict[str, Any] = field(default_factory=dict)
    package_groups: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    @property
    def ns(self) -> str:
        return self.namespace["metadata"]["name"]


def _relocate(value: Any, source: str, target: str) -> Any:
    """A document with one account ID replaced by another (the other BU moved into this one's)."""
    if source == target:
        return value
    return json.loads(json.dumps(value).replace(source, target))


def load_bu(stack: str, inventory: Inventory, account: str) -> Bu:
    own_account = str(inventory.outputs["accountId"])

    def moved(value: Any) -> Any:
        return _relocate(value, own_account, account)

    bu = Bu(stack, inventory, account, name=str(inventory.outputs["businessUnit"]))
    bu.prefix = f"{bu.name}-{inventory.outputs['environment']}"
    [namespace] = of_type(inventory, ":Namespace")
    bu.namespace = namespace.inputs
    bu.netpols = [r.inputs for r in of_type(inventory, ":NetworkPolicy")]
    boundaries = {}
    for p in of_type(inventory, "aws:iam/policy:Policy"):
        arn = f"arn:aws:iam::{account}:policy{p.inputs['path']}{p.inputs['name']}"
        boundaries[arn] = (p.inputs["name"], moved(doc(p.inputs["policy"])))
    inline: dict[str, list[tuple[str, dict]]] = {}
    for rp in of_type(inventory, "aws:iam/rolePolicy:RolePolicy"):
        inline.setdefault(rp.inputs["role"], []).append(
            (rp.inputs.get("name") or rp.name, moved(doc(rp.inputs["policy"])))
        )
    for role in of_type(inventory, "aws:iam/role:Role"):
        path = role.inputs.get("path") or "/"
        role_name = role.inputs["name"]
        arn = f"arn:aws:iam::{account}:role{path}{role_name}"
        short = role_name.removeprefix(f"{bu.prefix}-")
        boundary_arn = moved(role.inputs.get("permissionsBoundary"))
        boundary = boundaries.get(boundary_arn) if boundary_arn else None
        policies = inline.get(role_name, [])
        bu.roles[short] = Principal(
            arn,
            identity_policies=tuple(d for _, d in policies),
            permissions_boundary=boundary[1] if boundary else None,
        )
        bu.role_policy_names[short] = [n for n, _ in policies]
        bu.trusts[short] = moved(doc(role.inputs["assumeRolePolicy"]))
        if boundary:
            bu.boundary_name = boundary[0]
    for association in of_type(inventory, "aws:eks/podIdentityAssociation:PodIdentityAssociation"):
        key = (association.inputs["namespace"], association.inputs["serviceAccount"])
        bu.pod_roles[key] = moved(association.inputs["roleArn"])
    bucket_names = {r.urn: r.inputs["bucket"] for r in of_type(inventory, "aws:s3/bucket:Bucket")}
    policies_by_bucket = {
        bp.inputs["bucket"]: moved(doc(bp.inputs["policy"]))
        for bp in of_type(inventory, "aws:s3/bucketPolicy:BucketPolicy")
    }
    for bucket in of_type(inventory, "aws:s3/bucket:Bucket"):
        name = bucket.inputs["bucket"]
        purpose = next(
            (p for marker, p in BUCKET_PURPOSES.items() if marker in bucket.name), bucket.name
        )
        bu.buckets[purpose] = (name, policies_by_bucket.get(name))
    assert bucket_names
    bu.tables = [t.inputs["name"] for t in of_type(inventory, "aws:dynamodb/table:Table")]
    [key] = of_type(inventory, "aws:kms/key:Key")
    bu.key_arn = moved(str(inventory.outputs["kmsKeyArn"]))
    bu.key_policy = moved(doc(key.inputs["policy"]))
    group_policies = {
        p.inputs["modelPackageGroupName"]: moved(doc(p.inputs["resourcePolicy"]))
        for p in of_type(inventory, "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy")
    }
    for group in of_type(inventory, "aws:sagemaker/modelPackageGroup:ModelPackageGroup"):
        name = group.inputs["modelPackageGroupName"]
        bu.package_groups[name] = group_policies.get(name)
    return bu


@dataclass
class World:
    """A BU stack, its platform stack, and the other shipped BU moved into its cluster/account."""

    bu: Bu
    other: Bu
    platform: Inventory
    region: str = "us-east-1"

    @property
    def account(self) -> str:
        return self.bu.account

    def private_subnets(self) -> list[ipaddress.IPv4Network]:
        subnets = [
            ipaddress.ip_network(r.inputs["cidrBlock"])
            for r in of_type(self.platform, "aws:ec2/subnet:Subnet")
            if "private" in r.name
        ]
        assert subnets, f"{self.platform.stack} renders no private subnets"
        return sorted(subnets)

    def load_balancer_address(self) -> str:
        """An address of the gateway's ALB: in the subnets the platform says it uses, else in
        the private subnets (an internal ALB's)."""
        serving = self.platform.outputs.get("serving") or self.platform.outputs.get("gateway")
        cidrs = (serving or {}).get("loadBalancerSubnetCidrs")
        if cidrs:
            return str(ipaddress.ip_network(sorted(cidrs)[0]).network_address + 200)
        return self.address(2, 200)

    def address(self, subnet: int, offset: int) -> str:
        return str(self.private_subnets()[subnet].network_address + offset)


@cache
def _world(stack: str) -> World:
    from tests.conftest import _render

    inventory = _render(stack)
    platform = _render(
        str(_project().stack_config(stack)["ai-estate:platformStack"]).rsplit("/", 1)[-1]
    )
    account = str(inventory.outputs["accountId"])
    other = _render(other_bu(stack))
    return World(load_bu(stack, inventory, account), load_bu(other.stack, other, account), platform)


@pytest.fixture(scope="session")
def world(rendered) -> Callable[[str], World]:
    return _world


# -- network hop ---------------------------------------------------------------------------------


def network_endpoint(w: World, ref: str) -> netpol.Endpoint:
    if ref.startswith("other:pod:"):
        sa = ref.removeprefix("other:pod:")
        return _pod(w.other, sa, w.address(0, 532))
    if ref.startswith("pod:"):
        return _pod(w.bu, ref.removeprefix("pod:"), w.address(0, 266))
    if ref.startswith("deployment:"):
        return _deployment_pod(w, ref.removeprefix("deployment:"))
    fixed = {
        "kube-dns": lambda: netpol.pod(
            "kube-system", "coredns", {"k8s-app": "kube-dns"}, ip=w.address(1, 53)
        ),
        "pod-identity-agent": lambda: netpol.external(
            "the EKS Pod Identity agent", POD_IDENTITY_AGENT
        ),
        "aws:s3": lambda: netpol.external("S3 (gateway endpoint)", S3_ADDRESS),
        "aws:dynamodb": lambda: netpol.external("DynamoDB (gateway endpoint)", DYNAMODB_ADDRESS),
        "aws:interface-endpoint": lambda: netpol.external(
            "an interface endpoint (SageMaker, STS, ECR) in the VPC", w.address(1, 100)
        ),
        "load-balancer": lambda: netpol.external(
            "the gateway's load balancer", w.load_balancer_address()
        ),
        "internet": lambda: netpol.external("the internet", "203.0.113.10"),
    }
    return fixed[ref]()


def _pod(bu: Bu, service_account: str, ip: str) -> netpol.Endpoint:
    labels = {"app.kubernetes.io/name": service_account}
    return netpol.pod(
        bu.ns,
        service_account,
        labels,
        namespace_labels=bu.namespace["metadata"].get("labels") or {},
        ip=ip,
    )


def _deployment_in(bu: Bu, name: str) -> dict[str, Any]:
    for r in of_type(bu.inventory, "apps/v1:Deployment"):
        if r.inputs["metadata"]["name"] == name:
            return r.inputs
    raise AssertionError(f"{bu.stack} renders no Deployment {name!r}")


def _deployment(w: World, name: str) -> dict[str, Any]:
    return _deployment_in(w.bu, name)


def _deployment_pod(w: World, name: str) -> netpol.Endpoint:
    template = _deployment(w, name.split("@")[0])["spec"]["template"]
    named = {
        p["name"]: (p["containerPort"], p.get("protocol", "TCP"))
        for c in template["spec"]["containers"]
        for p in c.get("ports") or []
        if p.get("name")
    }
    return netpol.pod(
        w.bu.ns,
        name,
        template["metadata"].get("labels") or {},
        namespace_labels=w.bu.namespace["metadata"].get("labels") or {},
        ip=w.address(0, 300),
        named_ports=named,
    )


def check_network(w: World, flow: Flow) -> tuple[bool, str]:
    src, dst = network_endpoint(w, flow.src), network_endpoint(w, flow.dst)
    protocol, port = flow.action.split("/")
    policies = list(w.bu.netpols)
    if flow.dst.startswith("other:"):
        policies += w.other.netpols
    verdict = netpol.evaluate(policies, src, dst, int(port), protocol)
    return verdict.allowed, verdict.reason


# -- IAM hop -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    arn: str
    label: str
    policy: dict[str, Any] | None = None
    policy_label: str = ""


def iam_target(w: World, ref: str) -> Target:
    bu = w.other if ref.startswith("other:") else w.bu
    ref = ref.removeprefix("other:")
    kind, _, rest = ref.partition(":")
    arn = f"arn:aws:{{}}:{w.region}:{w.account}:{{}}".format
    if kind == "bucket":
        purpose, _, key = rest.partition("/")
        name, policy = bu.buckets[purpose]
        return Target(
            f"arn:aws:s3:::{name}/{key}" if key else f"arn:aws:s3:::{name}",
            f"{bu.name} {purpose} bucket {name}",
            policy,
            f"bucket policy {name}",
        )
    if kind == "table":
        assert bu.tables, f"{bu.stack} has no online table"
        table_name = bu.tables[0] if rest == "online" else f"{bu.prefix}-{rest}"
        return Target(arn("dynamodb", f"table/{table_name}"), f"{bu.name} table {table_name}")
    if kind == "key":
        return Target(bu.key_arn, f"{bu.name} key", bu.key_policy, f"key policy of {bu.prefix}")
    if kind in ("model-package-group", "model-package"):
        group = sorted(bu.package_groups)[0]
        policy = bu.package_groups[group]
        resource = (
            f"model-package-group/{group}"
            if kind == "model-package-group"
            else f"model-package/{group}/1"
        )
        return Target(
            arn("sagemaker", resource),
            f"{bu.name} {resource}",
            policy,
            f"model package group policy {group}",
        )
    if kind == "role":
        principal = bu.roles[rest]
        return Target(
            principal.arn, f"{bu.name} role {rest}", bu.trusts[rest], f"trust policy of {rest}"
        )
    raise AssertionError(f"unknown IAM target {ref!r}")


def pod_identity_assumes(
    w: World,
    namespace: str,
    service_account: str,
    role_arn: str,
    trust: dict | None,
    action: str = "sts:AssumeRole",
) -> tuple[Decision, dict[str, str]]:
    """EKS Pod Identity assuming a role for a pod, with the session tags EKS attaches
    (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-abac.html)."""
    pods = Principal("pods.eks.amazonaws.com", kind="service")
    context = {
        "aws:SourceAccount": w.account,
        "aws:RequestTag/eks-cluster-name": str(w.platform.outputs["clusterName"]),
        "aws:RequestTag/kubernetes-namespace": namespace,
        "aws:RequestTag/kubernetes-service-account": service_account,
        "aws:RequestTag/kubernetes-pod-name": f"{service_account}-0",
        "aws:RequestTag/kubernetes-pod-uid": "00000000-0000-0000-0000-000000000000",
    }
    return iam_evaluate(
        Request(pods, action, role_arn, context=context, resource_policy=trust)
    ), context


def iam_principal(w: World, ref: str) -> tuple[Principal, str, list[str], str, list[str]]:
    """(principal, label, identity policy names, boundary name, hops already passed)."""
    bu = w.other if ref.startswith("other:") else w.bu
    ref = ref.removeprefix("other:")
    kind, _, name = ref.partition(":")
    if kind == "role":
        return bu.roles[name], f"{bu.name}/{name}", bu.role_policy_names[name], bu.boundary_name, []
    if kind == "deployment":
        template = _deployment_in(bu, name.split("@")[0])["spec"]["template"]
        sa = template["spec"].get("serviceAccountName", "default")
    else:
        sa = name
    role_arn = bu.pod_roles.get((bu.ns, sa))
    if role_arn is None:
        raise AssertionError(
            f"{bu.stack}: no Pod Identity association for service account {bu.ns}/{sa}"
        )
    short = next(k for k, p in bu.roles.items() if p.arn == role_arn)
    # The pod's credentials come from Pod Identity: the role's trust policy must let EKS in.
    trust, _ = pod_identity_assumes(w, bu.ns, sa, role_arn, bu.trusts[short])
    if not trust:
        raise AssertionError(
            f"{bu.name}/{sa}: EKS Pod Identity cannot assume {role_arn}: {trust.reason}"
        )
    return (
        bu.roles[short],
        f"{bu.name}/{sa}",
        bu.role_policy_names[short],
        bu.boundary_name,
        [f"Pod Identity binds {bu.ns}/{sa} to {short}"],
    )


_REASON = re.compile(
    r"^(?P<head>explicit deny in|allowed by) (?P<where>identity policy #(?P<i>\d+)|permissions boundary|resource policy) \((?P<sid>[^)]*)\)(?P<tail>.*)$"
)


def near_misses(target: Target, context: dict[str, Any]) -> str:
    """Resource-policy Allow statements that failed only on a condition, and which condition."""
    found = []
    for statement in iam_statements(target.policy):
        if statement.get("Effect") != "Allow":
            continue
        for operator, entries in (statement.get("Condition") or {}).items():
            for key, value in entries.items():
                if not condition_holds(operator, key, value, context):
                    found.append(
                        f"{target.policy_label} statement {statement.get('Sid', '?')}: condition "
                        f"{operator} {key} = {value} does not hold (request: {context.get(key)})"
                    )
    return "; " + "; ".join(found) if found else ""


def explain(
    decision: Decision,
    names: list[str],
    boundary: str,
    target: Target,
    context: dict[str, Any] | None = None,
) -> str:
    """The evaluator's reason with the policies named as the stack names them."""
    match = _REASON.match(decision.reason)
    if not match:
        if decision.reason.startswith("implicit deny"):
            consulted = [
                *(f"identity policy {n}" for n in names),
                *([f"boundary {boundary}"] if boundary else []),
                *([target.policy_label] if target.policy else []),
            ]
            near = near_misses(target, context or {})
            return f"refused: {decision.reason} (consulted {', '.join(consulted)}{near})"
        return decision.reason
    where = match["where"]
    if match["i"] is not None:
        where = f"identity policy {names[int(match['i'])]}"
    elif where == "permissions boundary":
        where = f"permissions boundary {boundary}"
    else:
        where = target.policy_label
    if match["head"] == "explicit deny in":
        return f"refused by {where} statement {match['sid']} (explicit deny)"
    return f"allowed by {where} statement {match['sid']}{match['tail']}"


def check_iam(w: World, flow: Flow) -> tuple[bool, str]:
    if flow.action == "sts:AssumeRole" and flow.src.startswith("other:pod:"):
        # Another BU's pod asking EKS Pod Identity for this BU's role: the session tags EKS sets
        # name the pod's cluster, namespace and service account; the trust policy decides.
        sa = flow.src.removeprefix("other:pod:")
        target = iam_target(w, flow.dst)
        decision, context = pod_identity_assumes(w, w.other.ns, sa, target.arn, target.policy)
        sentence = explain(decision, [], "", target, context)
        return (
            decision.allowed,
            f"{w.other.name}/{sa} (Pod Identity) → {target.label} {flow.action}: {sentence}",
        )
    principal, label, names, boundary, hops = iam_principal(w, flow.src)
    target = iam_target(w, flow.dst)
    decision = iam_evaluate(
        Request(
            principal,
            flow.action,
            target.arn,
            context=dict(flow.context),
            resource_policy=target.policy,
        )
    )
    sentence = (
        f"{label} → {target.label} {flow.action}: {explain(decision, names, boundary, target)}"
    )
    if hops:
        sentence += f" ({'; '.join(hops)})"
    return decision.allowed, sentence


# -- admission hop -------------------------------------------------------------------------------


def pools(w: World) -> dict[str, dict[str, Any]]:
    return dict(w.bu.inventory.outputs["gpuPools"])


def trainer_pod(w: World, pool: str, variant: str = "", gpus: int = 1) -> dict[str, Any]:
    """A pod as the BU's training jobs run it on one of its pools."""
    toleration_bu = w.other.name if variant == "other-bu-toleration" else w.bu.name
    spec: dict[str, Any] = {
        "serviceAccountName": "model-publisher",
        "nodeSelector": {"ai-estate/pool": pool, "ai-estate/bu": w.bu.name},
        "tolerations": [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
            {
                "key": "ai-estate/bu",
                "operator": "Equal",
                "value": toleration_bu,
                "effect": "NoSchedule",
            },
        ],
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "train",
                "image": f"{w.account}.dkr.ecr.{w.region}.amazonaws.com/{w.bu.prefix}/trainer:1",
                "resources": {
                    "requests": {"cpu": "500m", "memory": "2Gi"},
                    "limits": {"cpu": "1", "memory": "2Gi", "nvidia.com/gpu": gpus},
                },
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    }
    if variant == "node-name":
        spec["nodeName"] = "ip-10-0-0-1.ec2.internal"
    if variant == "privileged":
        spec["containers"][0]["securityContext"]["privileged"] = True
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{pool}-worker", "namespace": w.bu.ns},
        "spec": spec,
    }


def admission_object(w: World, ref: str) -> dict[str, Any]:
    kind, _, rest = ref.partition(":")
    name, _, variant = rest.partition("@")
    if kind == "trainer":
        pool = sorted(pools(w))[0] if name == "first-pool" else name
        return trainer_pod(w, pool, variant)
    if kind == "deployment":
        deployment = _deployment(w, name)
        template = deployment["spec"]["template"]
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                **(template.get("metadata") or {}),
                "name": f"{name}-0",
                "namespace": w.bu.ns,
            },
            "spec": template["spec"],
        }
    raise AssertionError(f"unknown admission object {ref!r}")


def check_admission(w: World, flow: Flow) -> tuple[bool, str]:
    policies = [r.inputs for r in of_type(w.platform, ":ValidatingAdmissionPolicy")]
    bindings = [r.inputs for r in of_type(w.platform, ":ValidatingAdmissionPolicyBinding")]
    assert policies, f"{w.platform.stack} renders no ValidatingAdmissionPolicy"
    request = admission.AdmissionRequest(
        admission_object(w, flow.src), namespace_object=w.bu.namespace
    )
    verdict = admission.evaluate(policies, bindings, request)
    return verdict.allowed, verdict.reason


# -- quota hop -----------------------------------------------------------------------------------


def slices(w: World) -> int:
    cluster = _project().stack_config(w.platform.stack).get("ai-estate:cluster") or {}
    return int(cluster.get("timeSlicingReplicas") or 1)


def pool_cap(w: World, pool: str) -> quota.PoolCap:
    for node_pool in of_type(w.bu.inventory, "karpenter.sh/v1:NodePool"):
        if node_pool.inputs["metadata"]["labels"].get("ai-estate/pool") == pool:
            return quota.PoolCap.from_node_pool(node_pool.inputs, slices(w))
    for group in of_type(w.bu.inventory, "aws:eks/nodeGroup:NodeGroup"):
        if (group.inputs.get("labels") or {}).get("ai-estate/pool") == pool:
            return quota.PoolCap.from_node_group({"nodeGroupName": pool, **group.inputs}, slices(w))
    raise AssertionError(f"{w.bu.stack} renders no node pool or node group for pool {pool!r}")


def filling(w: World, pool: str, extra: int = 0) -> quota.Workload:
    """Pods of the pool's smallest node size (in devices), as many as the pool's cap holds."""
    cap = pool_cap(w, pool)
    per_pod = min(cap.smallest_node_devices, cap.device_cap)
    count = cap.device_cap // per_pod
    if cap.max_nodes is not None:
        count = min(count, cap.max_nodes * (cap.smallest_node_devices // per_pod))
    return quota.Workload.from_manifest(trainer_pod(w, pool, gpus=per_pod), replicas=count + extra)


def check_quota(w: World, flow: Flow) -> tuple[bool, str]:
    quotas = [r.inputs for r in of_type(w.bu.inventory, ":ResourceQuota")]
    limit_ranges = [r.inputs for r in of_type(w.bu.inventory, ":LimitRange")]
    assert quotas, f"{w.bu.stack} renders no ResourceQuota"
    every = sorted(pools(w))
    if flow.src.startswith("deployment:"):
        name, _, at = flow.src.removeprefix("deployment:").partition("@")
        manifest = _deployment(w, name)
        replicas = _max_replicas(w, name) if at == "max" else None
        workloads = [
            (
                manifest["spec"]["template"]["spec"].get("nodeSelector", {}).get("ai-estate/pool"),
                quota.Workload.from_manifest(manifest, replicas),
            )
        ]
    elif flow.src == "fill:every-pool":
        workloads = [(p, filling(w, p)) for p in every]
    elif flow.src == "fill:first-pool+1":
        workloads = [(every[0], filling(w, every[0], extra=1))]
    elif flow.src == "fill:quota+1":
        hard = quota.parse_quantity(quotas[0]["spec"]["hard"][f"requests.{quota.GPU}"])
        workloads = [
            (None, quota.Workload.from_manifest(trainer_pod(w, every[0]), replicas=int(hard) + 1))
        ]
    else:
        raise AssertionError(f"unknown quota workload {flow.src!r}")
    sentences = []
    if flow.dst == "quota":
        # The pools' pods run at once: they add up in the one namespace quota.
        used: dict[str, str] = {}
        for _, workload in workloads:
            verdict = quota.fits_quota(workload, quotas, limit_ranges, used)
            sentences.append(verdict.reason)
            if not verdict:
                return False, "; ".join(sentences)
            usage = quota.pod_usage(workload.pod_spec, limit_ranges)
            for key, amount in usage.items():
                if amount is not None:
                    before = quota.parse_quantity(used.get(key, "0"))
                    used[key] = quota.show(before + amount * workload.replicas)
        return True, "; ".join(sentences)
    for pool, workload in workloads:
        pool_name = flow.dst.removeprefix("pool:") if flow.dst.startswith("pool:") else pool
        verdict = quota.fits_pool(workload, pool_cap(w, str(pool_name)))
        sentences.append(verdict.reason)
        if not verdict:
            return False, "; ".join(sentences)
    return True, "; ".join(sentences)


def _max_replicas(w: World, name: str) -> int:
    for hpa in of_type(w.bu.inventory, ":HorizontalPodAutoscaler"):
        if hpa.inputs["spec"]["scaleTargetRef"]["name"] == name:
            return int(hpa.inputs["spec"]["maxReplicas"])
    for scaled in of_type(w.bu.inventory, ":ScaledObject"):
        if scaled.inputs["spec"]["scaleTargetRef"]["name"] == name:
            return int(scaled.inputs["spec"]["maxReplicaCount"])
    raise AssertionError(f"{w.bu.stack}: no HPA or ScaledObject scales Deployment {name!r}")


# -- pack hop ------------------------------------------------------------------------------------


def changed_inventory(w: World, ref: str) -> tuple[Inventory, str]:
    """A copy of the BU inventory with the change `ref` names, and the logical name it touched."""
    import copy

    inventory = copy.deepcopy(w.bu.inventory)
    kind, _, rest = ref.partition(":")
    name, _, change = rest.partition("@")
    suffix = {"deployment": "apps/v1:Deployment", "route": ":HTTPRoute"}[kind]
    [resource] = [
        r
        for r in of_type(inventory, suffix)
        if (r.inputs.get("metadata") or {}).get("name") == name
    ] or [None]
    if resource is None:
        raise AssertionError(f"{w.bu.stack} renders no {kind} {name!r}")
    if change.startswith("image="):
        for container in resource.inputs["spec"]["template"]["spec"]["containers"]:
            container["image"] = change.removeprefix("image=")
    elif change == "unauthenticated":
        for rule in resource.inputs["spec"]["rules"]:
            rule.pop("filters", None)
    elif change:
        raise AssertionError(f"unknown change {change!r}")
    return inventory, resource.name


def check_pack(w: World, flow: Flow) -> tuple[bool, str]:
    import os
    import sys

    policies_dir = str(ROOT / "policies")
    if policies_dir not in sys.path:
        sys.path.insert(0, policies_dir)  # the pack sees its rules as the package `governance`
    from governance import rule as find_rule
    from governance.profiles import profile_for

    from estate.offline.engine import config_to_wire
    from tests.policies.policy_harness import check

    inventory, touched = changed_inventory(w, flow.src)
    wire = config_to_wire(inventory.config)
    enforcement = profile_for(wire).enforcement(find_rule(flow.dst))
    saved = os.environ.get("PULUMI_CONFIG")
    os.environ["PULUMI_CONFIG"] = json.dumps(wire)  # what the CLI hands the pack
    try:
        violations = check(flow.dst, inventory)
    finally:
        if saved is None:
            os.environ.pop("PULUMI_CONFIG", None)
        else:
            os.environ["PULUMI_CONFIG"] = saved
    blocking = enforcement in ("mandatory", "remediate")
    if violations and blocking:
        return False, f"{touched}: refused by rule {flow.dst} ({enforcement}): " + "; ".join(
            v.message for v in violations
        )
    if violations:
        return True, f"{touched}: rule {flow.dst} is only {enforcement}: " + "; ".join(
            v.message for v in violations
        )
    return True, f"{touched}: passes rule {flow.dst} ({enforcement})"


CHECKERS: dict[str, Callable[[World, Flow], tuple[bool, str]]] = {
    "pack": check_pack,
    "network": check_network,
    "iam": check_iam,
    "admission": check_admission,
    "quota": check_quota,
}


# -- the proof -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("stack", "flow"), list(table()))
def test_flow(world, stack: str, flow: Flow):
    w = world(stack)
    allowed, sentence = CHECKERS[flow.hop](w, flow)
    verb = "allowed" if flow.expected else "refused"
    assert allowed is flow.expected, f"{stack}: {flow.name} should be {verb}, but {sentence}"
    if not flow.expected and flow.refused_by:
        words = flow.refused_by.format(ns=w.bu.ns, bu=w.bu.name)
        assert words in sentence, (
            f"{stack}: {flow.name} is refused, but not by {words!r}: {sentence}"
        )


def test_every_shipped_bu_has_a_table():
    stacks = {p.values[0] for p in table()}
    assert stacks == set(bu_stacks()) and len(stacks) >= 2
    assert all(sum(1 for p in table() if p.values[0] == s) >= 30 for s in stacks)


def test_a_broken_flow_names_the_statement_that_refuses_it(world):
    # The sentence a reviewer reads when the table breaks: which BU, which role, which resource,
    # which policy and statement.
    w = world("fraud-prod")
    flow = next(
        f for f in FLOWS if f.name == "model-publisher cannot read the other BU's artifact bucket"
    )
    allowed, sentence = check_iam(w, flow)
    bucket = w.other.buckets["artifacts"][0]
    assert not allowed
    assert sentence.startswith(
        f"fraud/model-publisher → marketing artifacts bucket {bucket} s3:GetObject: "
    )
    assert (
        "refused by permissions boundary fraud-prod-boundary statement DenyOutsideBusinessUnit (explicit deny)"
        in sentence
    )


def test_the_other_bus_bucket_policy_refuses_on_its_own(world):
    # Defence in depth: without this BU's boundary, the other BU's bucket policy still refuses.
    w = world("fraud-prod")
    principal = w.bu.roles["model-publisher"]
    unbounded = Principal(
        principal.arn,
        identity_policies=({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},),
    )
    target = iam_target(w, "other:bucket:artifacts/models/m/1/model.tar.gz")
    decision = iam_evaluate(
        Request(unbounded, "s3:GetObject", target.arn, resource_policy=target.policy)
    )
    assert not decision
    assert explain(decision, ["admin"], "", target) == (
        f"refused by bucket policy {target.arn.split(':::')[1].split('/')[0]} statement "
        "DenyDataOutsideBusinessUnit (explicit deny)"
    )


def test_serving_rows_are_data_once_a_deployment_renders(world):
    # The serving rows resolve against rendered objects: add a Deployment on the serve pool and
    # its HPA (objects no policy of the stack was written for) to a copy of fraud-prod, and run
    # the kinds of rows `serving_flows` makes. Resolution, not the shipped endpoints, is proved.
    import copy

    w = copy.deepcopy(world("fraud-prod"))
    pod = trainer_pod(w, "serve-a10g")
    template = {
        "metadata": {"labels": {"app.kubernetes.io/name": "probe-endpoint"}},
        "spec": {
            **pod["spec"],
            "serviceAccountName": "model-server",
            "containers": [
                {**pod["spec"]["containers"][0], "ports": [{"name": "http", "containerPort": 8080}]}
            ],
        },
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "probe-endpoint", "namespace": w.bu.ns},
        "spec": {"replicas": 2, "template": template},
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "probe-endpoint", "namespace": w.bu.ns},
        "spec": {"scaleTargetRef": {"name": "probe-endpoint"}, "maxReplicas": 4, "minReplicas": 2},
    }
    for kind, inputs in (
        ("apps/v1:Deployment", deployment),
        ("autoscaling/v2:HorizontalPodAutoscaler", hpa),
    ):
        w.bu.inventory.resources.append(
            Resource(
                urn=f"urn:{kind}", type=f"kubernetes:{kind}", name="x", custom=True, inputs=inputs
            )
        )
    fits = Flow(
        "endpoint fits at max replicas",
        "quota",
        "deployment:probe-endpoint@max",
        "pool:serve-a10g",
        "",
        True,
    )
    allowed, sentence = check_quota(w, fits)
    assert allowed and "(4 x 1 nvidia.com/gpu): fits pool serve-a10g (4/4 pods)" in sentence
    over = dataclasses.replace(fits, dst="quota")
    assert check_quota(w, over)[0]
    admitted = Flow(
        "endpoint admitted", "admission", "deployment:probe-endpoint", "platform", "", True
    )
    assert check_admission(w, admitted)[0]
    gateway = Flow(
        "gateway reaches endpoint",
        "network",
        "load-balancer",
        "deployment:probe-endpoint",
        "TCP/8080",
        True,
    )
    allowed, sentence = check_network(w, gateway)
    # no policy opens this Deployment to the load balancer: the sentence says which hop refuses
    assert not allowed and "refused at ingress of fraud/probe-endpoint" in sentence
