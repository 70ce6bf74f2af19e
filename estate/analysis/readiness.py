"""Production readiness of a BU stack: seven capabilities, each item proved by evidence.

A BU stack is scored on the capabilities a production AI estate needs: data foundations,
scalable infrastructure, MLOps, integration, governance, ownership and business outcomes.
Every item is judged from what the stack really renders — resource types and their inputs in
the inventory (the BU's own and its platform stack's, which holds the shared cluster and the
account-wide services) — and from the policy pack's results on the stack. Nothing is read from
a list of what a stack is supposed to have: an item is met when the evidence is there, names
the resources (URN, type, input key) that satisfied it, and otherwise says what is missing and
which config key adds it.

Items are `met` (1 point), `partial` (½) or `missing` (0); an item whose evidence needs policy
results is `unknown` when the stack was only rendered (a `--base` render) and is left out of
the score. A capability scores the mean of its items (0-100); the stack scores the mean of its
capabilities, so each capability weighs the same however many items it has.

Checks for capabilities other changes deliver (AWS Backup, Glue Data Quality, Lake Formation,
CloudTrail, the retraining loop, Kueue, model-family owners) look for the resource types those
resources have, so they light up as soon as a stack renders them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from estate.offline.model import Finding, Inventory, Resource, StackResult

Status = Literal["met", "partial", "missing", "unknown"]

POINTS: Mapping[str, float] = {"met": 1.0, "partial": 0.5, "missing": 0.0}

CAPABILITIES: tuple[tuple[str, str], ...] = (
    ("data", "Data foundations"),
    ("infrastructure", "Scalable infrastructure"),
    ("mlops", "MLOps"),
    ("integration", "Integration"),
    ("governance", "Governance"),
    ("ownership", "Ownership"),
    ("outcomes", "Business outcomes"),
)
"""(id, title) of each capability, in the order a scorecard lists them."""

LEVELS: tuple[tuple[int, str], ...] = ((80, "production"), (50, "pilot"), (0, "exploration"))
"""The word a leader reads beside a score: the first level whose floor the score reaches."""

KPI_NAMESPACE = "AIEstate/BusinessKPI"
"""CloudWatch namespace of the business KPIs BU jobs publish (dimension `ModelFamily`)."""

MODEL_QUALITY_NAMESPACE = "AIEstate/ModelQuality"
"""CloudWatch namespace of the model quality and drift metrics (dimension `Model`)."""

WAIVER_WARNING_DAYS = 30
"""A waiver expiring within this many days makes the waiver item partial: renew or fix now."""

# Resource types the checks look for (the pulumi-aws and pulumi-kubernetes type tokens).
FEATURE_GROUP = "aws:sagemaker/featureGroup:FeatureGroup"
DQ_RULESET = "aws:glue/dataQualityRuleset:DataQualityRuleset"
DQ_RESULTS_EVENT = "Data Quality Evaluation Results Available"
"""Glue Data Quality's EventBridge detail type of a finished evaluation."""
LF_PERMISSIONS = "aws:lakeformation/permissions:Permissions"
LF_TYPES = frozenset(
    {
        LF_PERMISSIONS,
        "aws:lakeformation/lfTag:LfTag",
        "aws:lakeformation/resourceLfTags:ResourceLfTags",
        "aws:lakeformation/resource:Resource",
        "aws:lakeformation/dataCellsFilter:DataCellsFilter",
    }
)
LF_SETTINGS = "aws:lakeformation/dataLakeSettings:DataLakeSettings"
LF_RESOURCE = "aws:lakeformation/resource:Resource"
LF_RESOURCE_TAGS = "aws:lakeformation/resourceLfTags:ResourceLfTags"
LF_CELLS_FILTER = "aws:lakeformation/dataCellsFilter:DataCellsFilter"
BACKUP_SELECTION = "aws:backup/selection:Selection"
BACKUP_PLAN = "aws:backup/plan:Plan"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
RESOURCE_QUOTA = "kubernetes:core/v1:ResourceQuota"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
SCALED_JOB = "kubernetes:keda.sh/v1alpha1:ScaledJob"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
LOCAL_QUEUE = "kubernetes:kueue.x-k8s.io/v1beta2:LocalQueue"
CLUSTER_QUEUE = "kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
MODEL_PACKAGE_GROUP = "aws:sagemaker/modelPackageGroup:ModelPackageGroup"
MODEL_CARD = "aws:sagemaker/modelCard:ModelCard"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
SQS_QUEUE = "aws:sqs/queue:Queue"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
ROLE = "aws:iam/role:Role"
SNS_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
HTTP_ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
LISTENER_RULE_CONFIG = "kubernetes:gateway.k8s.aws/v1:ListenerRuleConfiguration"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
TRAIL = "aws:cloudtrail/trail:Trail"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ADMISSION_BINDING = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
BUDGET = "aws:budgets/budget:Budget"
ANOMALY_MONITOR = "aws:costexplorer/anomalyMonitor:AnomalyMonitor"
ANOMALY_SUBSCRIPTION = "aws:costexplorer/anomalySubscription:AnomalySubscription"
COST_CATEGORY = "aws:costexplorer/costCategory:CostCategory"
DATA_EXPORT = "aws:bcmdata/export:Export"
AWS_PROVIDER = "pulumi:providers:aws"

GPU_RESOURCE = "nvidia.com/gpu"
MODEL_PACKAGE_EVENT = "SageMaker Model Package State Change"
OWNERSHIP_TAGS = ("Owner", "CostCenter")


# -- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """One resource that proves (part of) an item: where it is and which input says so."""

    stack: str
    urn: str
    type: str
    key: str
    """The input key (dotted path) or policy whose value is the proof."""
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "stack": self.stack,
            "urn": self.urn,
            "type": self.type,
            "key": self.key,
            "detail": self.detail,
        }

    @property
    def label(self) -> str:
        """The resource's logical name (the URN's last segment), or the policy id."""
        return self.urn.rsplit("::", 1)[-1] if self.urn else self.key


@dataclass
class Item:
    """One judged readiness item."""

    id: str
    capability: str
    title: str
    status: Status
    evidence: list[Evidence] = field(default_factory=list)
    missing: str = ""
    """What is missing (empty when met)."""
    fix: str = ""
    """The config key that adds what is missing."""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "capability": self.capability,
            "title": self.title,
            "status": self.status,
            "evidence": [e.to_json() for e in self.evidence],
            "missing": self.missing,
            "fix": self.fix if self.status != "met" else "",
        }


@dataclass
class Scorecard:
    """A BU stack's readiness: its items, capability scores and overall score."""

    stack: str
    items: list[Item]

    def capability_scores(self) -> dict[str, int | None]:
        scores: dict[str, int | None] = {}
        for cap, _title in CAPABILITIES:
            known = [i for i in self.items if i.capability == cap and i.status in POINTS]
            scores[cap] = (
                round(100 * sum(POINTS[i.status] for i in known) / len(known)) if known else None
            )
        return scores

    @property
    def score(self) -> int:
        known = [s for s in self.capability_scores().values() if s is not None]
        return round(sum(known) / len(known)) if known else 0

    @property
    def level(self) -> str:
        return level_of(self.score)

    def item(self, item_id: str) -> Item:
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(item_id)

    def to_json(self) -> dict[str, Any]:
        caps = self.capability_scores()
        return {
            "stack": self.stack,
            "score": self.score,
            "level": self.level,
            "capabilities": [
                {
                    "id": cap,
                    "title": title,
                    "score": caps[cap],
                    "items": [i.to_json() for i in self.items if i.capability == cap],
                }
                for cap, title in CAPABILITIES
            ],
        }


def level_of(score: int) -> str:
    return next(name for floor, name in LEVELS if score >= floor)


# -- what a check sees ----------------------------------------------------------------------


@dataclass
class Context:
    """A BU stack's evidence: its inventory, its platform's, and the policy results."""

    inventory: Inventory
    platform: Inventory | None = None
    result: StackResult | None = None
    """The policy run on the stack (None: only rendered, policy items are `unknown`)."""
    today: dt.date = field(default_factory=dt.date.today)

    @property
    def stack(self) -> str:
        return self.inventory.stack

    @property
    def bu(self) -> str:
        return str(self.inventory.config.get("ai-estate:businessUnit") or "")

    def config(self, key: str, default: Any = None) -> Any:
        return self.inventory.config.get(f"ai-estate:{key}", default)

    def own(self, *types: str) -> list[Resource]:
        """The BU stack's own resources of these types."""
        return [r for r in self.inventory.resources if r.type in types]

    def cluster_side(self, *types: str) -> list[tuple[Inventory, Resource]]:
        """Resources of these types on the cluster the BU runs on: its platform stack's, and
        its own (a dedicated cluster, or the BU's side of a shared one)."""
        found = [(self.inventory, r) for r in self.own(*types)]
        if self.platform is not None:
            found += [(self.platform, r) for r in self.platform.resources if r.type in types]
        return found

    def evidence(
        self, r: Resource, key: str, detail: str = "", inventory: Inventory | None = None
    ) -> Evidence:
        return Evidence((inventory or self.inventory).stack, r.urn, r.type, key, detail)

    def model_families(self) -> list[str]:
        """The families the registry renders (one model package group each)."""
        families = []
        prefix = f"{self.stack}-"
        for r in self.own(MODEL_PACKAGE_GROUP):
            name = str(r.inputs.get("modelPackageGroupName") or r.name)
            families.append(name.removeprefix(prefix))
        return sorted(families)


@dataclass(frozen=True)
class Verdict:
    status: Status
    evidence: list[Evidence] = field(default_factory=list)
    missing: str = ""


Judge = Callable[[Context], Verdict]


@dataclass(frozen=True)
class Check:
    """One readiness item as data: what it is, which key adds it, and how it is judged."""

    id: str
    capability: str
    title: str
    fix: str
    judge: Judge


def _get(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


def _labels(r: Resource) -> Mapping[str, Any]:
    labels = _get(r.inputs, "metadata.labels")
    return labels if isinstance(labels, Mapping) else {}


def _tags(r: Resource) -> Mapping[str, Any]:
    tags = r.inputs.get("tags")
    return tags if isinstance(tags, Mapping) else {}


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _coverage(have: int, want: int, missing: str) -> tuple[Status, str]:
    """met when everything wanted is there, partial for some, missing for none."""
    if want > 0 and have >= want:
        return "met", ""
    return ("partial" if have else "missing"), missing


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# -- data foundations -----------------------------------------------------------------------


def _feature_store(ctx: Context) -> Verdict:
    groups = ctx.own(FEATURE_GROUP)
    if not groups:
        return Verdict("missing", missing="no feature group: the BU has no governed feature data")
    evidence, plain = [], []
    for r in groups:
        offline = _get(r.inputs, "offlineStoreConfig.s3StorageConfig.kmsKeyId")
        online_store = r.inputs.get("onlineStoreConfig")
        online = _get(online_store, "securityConfig.kmsKeyId") if online_store else True
        if offline and online:
            key = "offlineStoreConfig.s3StorageConfig.kmsKeyId"
            evidence.append(ctx.evidence(r, key, "KMS-encrypted offline (and online) store"))
        else:
            plain.append(r.name)
    status, missing = _coverage(
        len(evidence), len(groups), f"feature groups without a KMS key: {', '.join(plain)}"
    )
    return Verdict(status, evidence, missing)


def _data_quality(ctx: Context) -> Verdict:
    """Every feature group with an offline table has a ruleset whose targetTable is that table."""
    groups = [g for g in ctx.own(FEATURE_GROUP) if g.inputs.get("offlineStoreConfig")]
    rulesets = ctx.own(DQ_RULESET)
    targets = {_get(r.inputs, "targetTable.tableName") for r in rulesets}
    evidence = [ctx.evidence(r, "ruleset", "Glue Data Quality ruleset") for r in rulesets]
    if not groups:
        return Verdict("missing", evidence, "no offline feature group whose data a ruleset checks")
    table = "offlineStoreConfig.dataCatalogConfig.tableName"
    unchecked = [g.name for g in groups if _get(g.inputs, table) not in targets]
    status, missing = _coverage(
        len(groups) - len(unchecked),
        len(groups),
        f"feature groups without a Glue Data Quality ruleset on their offline table: "
        f"{', '.join(unchecked)}",
    )
    routed: set[str] = set()
    for rule in ctx.own(EVENT_RULE):
        pattern = _json(rule.inputs.get("eventPattern")) or {}
        raw = pattern.get("detail")
        detail: dict[str, Any] = raw if isinstance(raw, dict) else {}
        branches = [detail, *(b for b in detail.get("$or") or [] if isinstance(b, dict))]
        failed = any("FAILED" in (b.get("state") or []) for b in branches)
        results = DQ_RESULTS_EVENT in (pattern.get("detail-type") or [])
        if results and failed and _targets_of(ctx, rule):
            routed.update(_get(pattern, "detail.rulesetNames") or [])
            evidence.append(ctx.evidence(rule, "eventPattern", "FAILED DQ results notified"))
    silent = sorted(
        str(r.inputs.get("name")) for r in rulesets if r.inputs.get("name") not in routed
    )
    if status == "met" and silent:
        status = "partial"
        missing = f"rulesets whose FAILED results notify nobody: {', '.join(silent)}"
    return Verdict(status, evidence, missing)


def _offline_locations(ctx: Context) -> list[tuple[Resource, str]]:
    """(feature group, its offline store as an S3 ARN) of the BU's groups with one."""
    found = []
    for group in ctx.own(FEATURE_GROUP):
        uri = _get(group.inputs, "offlineStoreConfig.s3StorageConfig.s3Uri")
        if isinstance(uri, str):
            found.append((group, "arn:aws:s3:::" + uri.removeprefix("s3://").rstrip("/")))
    return found


def _lf_tag_values(r: Resource, key: str) -> list[str]:
    return [
        str(v)
        for e in _get(r.inputs, "lfTagPolicy.expressions") or []
        if isinstance(e, Mapping) and e.get("key") == key
        for v in e.get("values") or []
    ]


def _lake_formation(ctx: Context) -> Verdict:
    """Lake Formation governs the BU's offline store: the location is registered, the database
    LF-tagged with the BU, personas granted by a tag expression naming this BU only, and the
    account's settings give no IAMAllowedPrincipals default."""
    evidence, missing = [], []
    stores = _offline_locations(ctx)
    if not stores:
        return Verdict("missing", missing="no offline feature store for Lake Formation to govern")
    registered = [
        r
        for r in ctx.own(LF_RESOURCE)
        if isinstance(r.inputs.get("arn"), str)
        and all(
            loc == r.inputs["arn"].rstrip("/") or loc.startswith(r.inputs["arn"].rstrip("/") + "/")
            for _g, loc in stores
        )
    ]
    evidence += [ctx.evidence(r, "arn", "offline store registered") for r in registered]
    if not registered:
        missing.append("the offline store's S3 location is not registered with Lake Formation")
    tagged = [
        r
        for r in ctx.own(LF_RESOURCE_TAGS)
        if r.inputs.get("database")
        and any(t.get("key") == "BusinessUnit" and t.get("value") == ctx.bu
                for t in r.inputs.get("lfTags") or [] if isinstance(t, Mapping))
    ]  # fmt: skip
    evidence += [ctx.evidence(r, "lfTags", f"BusinessUnit={ctx.bu}") for r in tagged]
    if not tagged:
        missing.append("the BU's Glue database carries no BusinessUnit LF-tag")
    grants = [r for r in ctx.own(LF_PERMISSIONS) if _lf_tag_values(r, "BusinessUnit") == [ctx.bu]]
    evidence += [
        ctx.evidence(r, "lfTagPolicy", f"{','.join(r.inputs.get('permissions') or [])} by tag")
        for r in grants
    ]
    if not grants:
        missing.append("no persona is granted the BU's data by an LF-tag expression")
    evidence += [
        ctx.evidence(r, "tableData", "restricted columns filtered")
        for r in ctx.own(LF_CELLS_FILTER)
    ]
    settings = [
        (inv, r)
        for inv, r in ctx.cluster_side(LF_SETTINGS)
        if not any(
            isinstance(p, Mapping) and p.get("principal") == "IAM_ALLOWED_PRINCIPALS"
            for key in ("createDatabaseDefaultPermissions", "createTableDefaultPermissions")
            for p in r.inputs.get(key) or []
        )
    ]
    evidence += [
        ctx.evidence(r, "admins", "no IAMAllowedPrincipals default", inv) for inv, r in settings
    ]
    if not settings:
        missing.append("the account's data lake settings still grant IAMAllowedPrincipals")
    if not missing:
        return Verdict("met", evidence)
    return Verdict("partial" if evidence else "missing", evidence, "; ".join(missing))


def _backup(ctx: Context) -> Verdict:
    selections = ctx.own(BACKUP_SELECTION)
    plans = ctx.own(BACKUP_PLAN)
    evidence = [ctx.evidence(r, "planId", "AWS Backup selection") for r in selections]
    evidence += [ctx.evidence(r, "rules", "AWS Backup plan") for r in plans]
    if selections and plans:
        return Verdict("met", evidence)
    return Verdict(
        "partial" if evidence else "missing",
        evidence,
        "no AWS Backup plan and selection covering the BU's tables and buckets",
    )


# -- scalable infrastructure ----------------------------------------------------------------


def _bu_pools(ctx: Context) -> list[Resource]:
    """The BU's GPU pools: node groups and Karpenter NodePools of its own stack."""
    return ctx.own(NODE_GROUP, NODE_POOL)


def _gpu_quota(ctx: Context) -> list[tuple[Resource, float]]:
    quotas = []
    for r in ctx.own(RESOURCE_QUOTA):
        hard = _get(r.inputs, "spec.hard") or {}
        value = hard.get(f"requests.{GPU_RESOURCE}") if isinstance(hard, Mapping) else None
        try:
            amount = float(value) if value is not None else 0.0
        except (TypeError, ValueError):
            amount = 0.0
        if amount > 0:
            quotas.append((r, amount))
    return quotas


def _gpu_pools(ctx: Context) -> Verdict:
    pools = _bu_pools(ctx)
    quotas = _gpu_quota(ctx)
    evidence = [
        ctx.evidence(r, "scalingConfig" if r.type == NODE_GROUP else "spec.limits") for r in pools
    ]
    evidence += [
        ctx.evidence(r, f"spec.hard.requests.{GPU_RESOURCE}", f"{amount:g} GPUs")
        for r, amount in quotas
    ]
    if pools and quotas:
        return Verdict("met", evidence)
    missing = "no GPU pool" if not pools else "no namespace GPU quota"
    return Verdict("partial" if evidence else "missing", evidence, missing)


def _autoscaling(ctx: Context) -> Verdict:
    evidence: list[Evidence] = []
    fixed: list[str] = []
    for r in _bu_pools(ctx):
        if r.type == NODE_POOL:
            evidence.append(ctx.evidence(r, "spec.limits", "Karpenter provisions on demand"))
            continue
        scaling = r.inputs.get("scalingConfig") or {}
        low, high = scaling.get("minSize"), scaling.get("maxSize")
        if isinstance(low, int | float) and isinstance(high, int | float) and high > low:
            evidence.append(ctx.evidence(r, "scalingConfig.maxSize", f"{low:g} to {high:g} nodes"))
        else:
            fixed.append(f"pool {r.name} cannot grow (maxSize {high} = minSize {low})")
    scaled = set()
    for r in ctx.own(SCALED_OBJECT, HPA):
        target = _get(r.inputs, "spec.scaleTargetRef.name")
        low = _get(r.inputs, "spec.minReplicaCount") or _get(r.inputs, "spec.minReplicas") or 0
        high = _get(r.inputs, "spec.maxReplicaCount") or _get(r.inputs, "spec.maxReplicas") or 0
        if target and high > low:
            scaled.add((_get(r.inputs, "metadata.namespace"), target))
            evidence.append(ctx.evidence(r, "spec.maxReplicaCount", f"{target}: {low} to {high}"))
    for r in ctx.own(DEPLOYMENT):
        if "ai-estate/endpoint" not in _labels(r):
            continue
        key = (_get(r.inputs, "metadata.namespace"), _get(r.inputs, "metadata.name"))
        if key not in scaled:
            fixed.append(f"endpoint {key[1]} has a fixed replica count")
    if not evidence and not fixed:
        return Verdict("missing", missing="no GPU pool or endpoint that could scale")
    if fixed:
        return Verdict("partial" if evidence else "missing", evidence, "; ".join(fixed))
    return Verdict("met", evidence)


def _gpu_quota_of(cluster_queue: Resource) -> tuple[float, float]:
    """The GPUs (nominal, borrowing) a ClusterQueue admits, summed over its flavors."""
    nominal = borrowing = 0.0
    for group in _get(cluster_queue.inputs, "spec.resourceGroups") or []:
        for flavor in (group.get("flavors") or []) if isinstance(group, Mapping) else []:
            for q in (flavor.get("resources") or []) if isinstance(flavor, Mapping) else []:
                if isinstance(q, Mapping) and q.get("name") == GPU_RESOURCE:
                    nominal += float(q.get("nominalQuota") or 0)
                    borrowing += float(q.get("borrowingLimit") or 0)
    return nominal, borrowing


def _fair_share(ctx: Context) -> Verdict:
    """Met when a LocalQueue in the BU namespace submits to a ClusterQueue that holds GPU
    quota for the BU in a cohort (idle quota is lent, the owner reclaims it)."""
    local = [
        r
        for r in ctx.own(LOCAL_QUEUE)
        if _get(r.inputs, "metadata.namespace") in (None, ctx.bu)
        and _get(r.inputs, "spec.clusterQueue")
    ]
    if not local:
        return Verdict(
            "missing",
            missing="no Kueue LocalQueue in the BU namespace: GPU jobs are admitted first "
            "come, first served",
        )
    evidence = [ctx.evidence(r, "spec.clusterQueue", f"LocalQueue in {ctx.bu}") for r in local]
    wanted = {str(_get(r.inputs, "spec.clusterQueue")) for r in local}
    cluster = [
        (inv, r)
        for inv, r in ctx.cluster_side(CLUSTER_QUEUE)
        if str(_get(r.inputs, "metadata.name") or r.name) in wanted
    ]
    problems = []
    if not cluster:
        problems.append(f"no ClusterQueue {', '.join(sorted(wanted))} for the LocalQueue")
    for inv, r in cluster:
        name = str(_get(r.inputs, "metadata.name") or r.name)
        nominal, borrowing = _gpu_quota_of(r)
        cohort = _get(r.inputs, "spec.cohortName") or _get(r.inputs, "spec.cohort")
        if nominal <= 0:
            problems.append(
                f"ClusterQueue {name} holds no GPU quota: the BU's GPU jobs are never admitted"
            )
        else:
            detail = f"{name}: {nominal:g} {GPU_RESOURCE} nominal, {borrowing:g} borrowable"
            evidence.append(ctx.evidence(r, "spec.resourceGroups", detail, inv))
        if not cohort:
            problems.append(f"ClusterQueue {name} is in no cohort: idle GPUs are not shared")
        else:
            evidence.append(ctx.evidence(r, "spec.cohortName", f"cohort {cohort}", inv))
    if problems:
        return Verdict("partial", evidence, "; ".join(problems))
    return Verdict("met", evidence)


def _releases(ctx: Context, *charts: str) -> list[tuple[Inventory, Resource]]:
    return [
        (inv, r)
        for inv, r in ctx.cluster_side(HELM_RELEASE)
        if str(r.inputs.get("chart") or "").rsplit("/", 1)[-1] in charts
    ]


def _node_health(ctx: Context) -> Verdict:
    pools = _bu_pools(ctx)
    if not pools:
        return Verdict("missing", missing="no GPU pool whose nodes could be watched")
    exporters = _releases(ctx, "dcgm-exporter", "gpu-operator")
    evidence = [ctx.evidence(r, "chart", "GPU health metrics (DCGM)", inv) for inv, r in exporters]
    gpu_alarms = [r for r in ctx.own(METRIC_ALARM) if r.inputs.get("namespace") == "AIEstate/GPU"]
    evidence += [ctx.evidence(r, "metricName", str(r.inputs.get("metricName"))) for r in gpu_alarms]
    problems = []
    if not exporters:
        problems.append("no DCGM exporter on the cluster")
    if not gpu_alarms:
        problems.append("no GPU utilisation alarm for the BU")
    if ctx.result is not None:
        unwatched = [f for f in ctx.result.findings if f.policy == "gpu-pool-has-alarm"]
        problems += [f"{f.resource_name}: {f.message}" for f in unwatched]
        if not unwatched:
            evidence.append(Evidence(ctx.stack, "", "policy", "gpu-pool-has-alarm", "passed"))
    if problems:
        return Verdict("partial" if evidence else "missing", evidence, "; ".join(problems))
    return Verdict("met", evidence)


# -- MLOps ----------------------------------------------------------------------------------


def _registry(ctx: Context) -> Verdict:
    groups = ctx.own(MODEL_PACKAGE_GROUP)
    repos = ctx.own(ECR_REPOSITORY)
    evidence = [
        ctx.evidence(r, "modelPackageGroupName", "versioned model packages") for r in groups
    ]
    immutable = [r for r in repos if r.inputs.get("imageTagMutability") == "IMMUTABLE"]
    evidence += [ctx.evidence(r, "imageTagMutability", "immutable image tags") for r in immutable]
    if groups and immutable:
        return Verdict("met", evidence)
    missing = "no model package group" if not groups else "no immutable image repository"
    return Verdict("partial" if evidence else "missing", evidence, missing)


def _retraining_queues(ctx: Context) -> list[Resource]:
    def is_retraining(r: Resource) -> bool:
        text = " ".join(
            [r.name, str(r.inputs.get("name") or ""), *map(str, _tags(r).values())]
        ).lower()
        return "retrain" in text

    return [r for r in ctx.own(SQS_QUEUE) if is_retraining(r)]


def _family_covered(family: str, r: Resource) -> bool:
    text = " ".join([r.name, str(r.inputs.get("name") or ""), *map(str, _tags(r).values())])
    return family in text


def _retraining(ctx: Context) -> Verdict:
    families = ctx.model_families()
    queues = _retraining_queues(ctx)
    jobs = ctx.own(SCALED_JOB)
    evidence = [ctx.evidence(r, "tags", "retraining queue") for r in queues]
    evidence += [ctx.evidence(r, "spec.jobTargetRef", "queue-driven training job") for r in jobs]
    if not families:
        return Verdict("missing", evidence, "no model family to retrain")
    covered = [f for f in families if any(_family_covered(f, q) for q in queues)]
    uncovered = [f for f in families if f not in covered]
    status, missing = _coverage(
        len(covered), len(families), f"no retraining queue for {', '.join(uncovered)}"
    )
    if status == "met" and not jobs:
        status, missing = "partial", "retraining queues have no queue-driven job (KEDA ScaledJob)"
    return Verdict(status, evidence, missing)


def _package_rules(ctx: Context) -> list[Resource]:
    rules = []
    for r in ctx.own(EVENT_RULE):
        pattern = _json(r.inputs.get("eventPattern")) or {}
        if MODEL_PACKAGE_EVENT in (pattern.get("detail-type") or []):
            rules.append(r)
    return rules


def _targets_of(ctx: Context, rule: Resource) -> list[Resource]:
    name = rule.inputs.get("name") or rule.name
    return [t for t in ctx.own(EVENT_TARGET) if t.inputs.get("rule") == name]


def _validation_gate(ctx: Context) -> Verdict:
    evidence: list[Evidence] = []
    for rule in _package_rules(ctx):
        pattern = _json(rule.inputs.get("eventPattern")) or {}
        status = _get(pattern, "detail.ModelApprovalStatus")
        if status and "PendingManualApproval" not in json.dumps(status):
            continue
        for target in _targets_of(ctx, rule):
            arn = str(target.inputs.get("arn") or "")
            if ":sns:" not in arn:  # a notification is not a gate
                evidence.append(ctx.evidence(target, "arn", f"evaluates candidates of {rule.name}"))
    if evidence:
        return Verdict("met", evidence)
    return Verdict(
        "missing",
        missing="no rule sends pending model versions to an automatic validation gate (only "
        "notifications)",
    )


def _persona_roles(ctx: Context, persona: str) -> list[Resource]:
    return [r for r in ctx.own(ROLE) if _tags(r).get("Persona") == persona]


def _approval(ctx: Context) -> Verdict:
    approvers = _persona_roles(ctx, "model-approver")
    evidence = [ctx.evidence(r, "tags.Persona", "approves model versions") for r in approvers]
    if ctx.result is not None:
        sod = [f for f in ctx.result.findings if f.policy.startswith("registry-")]
        if not sod:
            evidence.append(Evidence(ctx.stack, "", "policy", "registry-*", "passed"))
    if approvers:
        return Verdict("met", evidence)
    return Verdict("missing", evidence, "no model-approver persona: nobody can approve a version")


# -- integration ----------------------------------------------------------------------------


def _endpoint_routes(ctx: Context) -> list[Resource]:
    return [r for r in ctx.own(HTTP_ROUTE) if "ai-estate/endpoint" in _labels(r)]


def _endpoints(ctx: Context) -> Verdict:
    routes = _endpoint_routes(ctx)
    deployments = [r for r in ctx.own(DEPLOYMENT) if "ai-estate/endpoint" in _labels(r)]
    evidence = [ctx.evidence(r, "spec.rules", "route on the internal Gateway") for r in routes]
    evidence += [ctx.evidence(r, "spec.template", "model server") for r in deployments]
    if routes and deployments:
        return Verdict("met", evidence)
    return Verdict("missing", evidence, "no serving endpoint: nothing can call the BU's models")


def _auth(ctx: Context) -> Verdict:
    routes = _endpoint_routes(ctx)
    if not routes:
        return Verdict("missing", missing="no endpoint route whose callers could be checked")
    checked = {}
    for r in ctx.own(LISTENER_RULE_CONFIG):
        actions = _get(r.inputs, "spec.actions") or []
        if any(isinstance(a, Mapping) and a.get("type") == "jwt-validation" for a in actions):
            checked[_labels(r).get("ai-estate/endpoint")] = r
    evidence, open_ = [], []
    for route in routes:
        endpoint = _labels(route).get("ai-estate/endpoint")
        if endpoint in checked:
            evidence.append(ctx.evidence(checked[endpoint], "spec.actions", f"{endpoint}: JWT"))
        else:
            open_.append(str(endpoint))
    status, missing = _coverage(
        len(evidence), len(routes), f"routes without authentication: {', '.join(open_)}"
    )
    return Verdict(status, evidence, missing)


def _slo_alarms(ctx: Context) -> Verdict:
    groups = ctx.own(TARGET_GROUP)
    if not groups:
        return Verdict("missing", missing="no endpoint whose service level could be alarmed")
    evidence, bare = [], []
    alarms = ctx.own(METRIC_ALARM)
    for tg in groups:
        name = str(tg.inputs.get("name") or "")
        mine = [
            a
            for a in alarms
            if a.inputs.get("namespace") == "AWS/ApplicationELB"
            and f"/{name}/" in str((a.inputs.get("dimensions") or {}).get("TargetGroup") or "")
            and a.inputs.get("alarmActions")
        ]
        kinds = {str(a.inputs.get("metricName")) for a in mine}
        if "TargetResponseTime" in kinds and any("5XX" in k for k in kinds):
            evidence += [
                ctx.evidence(a, "metricName", str(a.inputs.get("metricName"))) for a in mine
            ]
        else:
            bare.append(name)
    status, missing = _coverage(
        len(groups) - len(bare),
        len(groups),
        f"endpoints without latency and 5xx alarms that notify: {', '.join(bare)}",
    )
    return Verdict(status, evidence, missing)


# -- governance -----------------------------------------------------------------------------


def _policies(ctx: Context) -> Verdict:
    if ctx.result is None:
        return Verdict("unknown", missing="the stack was rendered, not policy-checked")
    ran = len(ctx.result.policies)
    blocking, advisory = ctx.result.blocking, ctx.result.advisories
    detail = f"{ran} policies: {len(blocking)} blocking, {len(advisory)} advisory"
    evidence = [Evidence(ctx.stack, "", "policy", "pack", detail)]
    for f in [*blocking, *advisory][:10]:
        evidence.append(Evidence(ctx.stack, f.urn, f.resource_type, f.policy, f.message))
    if blocking:
        return Verdict("missing", evidence, f"{_plural(len(blocking), 'blocking finding')}")
    if advisory:
        return Verdict("partial", evidence, f"{_plural(len(advisory), 'advisory finding')}")
    return Verdict("met", evidence)


def _waiver_dates(ctx: Context) -> list[tuple[Mapping[str, Any], dt.date | None]]:
    waivers = _json(ctx.config("waivers")) or []
    out = []
    for w in waivers if isinstance(waivers, list) else []:
        if not isinstance(w, Mapping):
            continue
        try:
            expires: dt.date | None = dt.date.fromisoformat(str(w.get("expires")))
        except ValueError:
            expires = None
        out.append((w, expires))
    return out


def _waivers(ctx: Context) -> Verdict:
    if ctx.result is None:
        return Verdict("unknown", missing="the stack was rendered, not policy-checked")
    evidence = []
    soon, expired = [], []
    waived: dict[str, list[Finding]] = {}
    for f in ctx.result.waived:
        waived.setdefault(str((f.waived_by or {}).get("policy") or f.policy), []).append(f)
    for w, expires in _waiver_dates(ctx):
        policy = str(w.get("policy"))
        days = (expires - ctx.today).days if expires else None
        label = f"{policy} ({w.get('ticket')}, expires {w.get('expires')})"
        hits = waived.get(policy, [])
        detail = f"{label}: waives {_plural(len(hits), 'finding')}"
        evidence.append(Evidence(ctx.stack, "", "waiver", f"waivers[{policy}]", detail))
        if days is None or days < 0:
            expired.append(label)
        elif days <= WAIVER_WARNING_DAYS:
            soon.append(f"{label} in {days} days")
    expired_findings = [f for f in ctx.result.findings if f.policy == "waiver-expired"]
    expired += [f.message for f in expired_findings]
    if expired:
        return Verdict("missing", evidence, f"expired waivers: {'; '.join(expired)}")
    if soon:
        return Verdict("partial", evidence, f"waivers expiring soon: {'; '.join(soon)}")
    if not evidence:
        evidence = [Evidence(ctx.stack, "", "waiver", "waivers", "no waivers")]
    return Verdict("met", evidence)


def _audit_trail(ctx: Context) -> Verdict:
    evidence, management_only = [], []
    for inv, r in ctx.cluster_side(TRAIL):
        selectors = json.dumps(r.inputs.get("advancedEventSelectors") or []) + json.dumps(
            r.inputs.get("eventSelectors") or []
        )
        if "Data" in selectors or "dataResources" in selectors:
            evidence.append(ctx.evidence(r, "advancedEventSelectors", "data events", inv))
        else:
            management_only.append(r.name)
    if evidence:
        return Verdict("met", evidence)
    if management_only:
        return Verdict("partial", missing="trails record management events only, not data reads")
    return Verdict("missing", missing="no CloudTrail trail records who read the BU's data")


def _isolation(ctx: Context) -> Verdict:
    evidence: list[Evidence] = []
    problems: list[str] = []
    bounded = [r for r in ctx.own(ROLE) if r.inputs.get("permissionsBoundary")]
    evidence += [ctx.evidence(r, "permissionsBoundary") for r in bounded[:3]]
    if not bounded:
        problems.append("no BU role carries a permission boundary")
    deny = [
        r
        for r in ctx.own(NETWORK_POLICY)
        if _get(r.inputs, "spec.podSelector.matchLabels") in ({}, None)
        and set(_get(r.inputs, "spec.policyTypes") or []) == {"Ingress", "Egress"}
        and not _get(r.inputs, "spec.ingress")
        and not _get(r.inputs, "spec.egress")
    ]
    evidence += [ctx.evidence(r, "spec.policyTypes", "default deny") for r in deny]
    if not deny:
        problems.append("no default-deny NetworkPolicy in the BU namespace")
    guards = [r for _inv, r in ctx.cluster_side(ADMISSION_BINDING)]
    if not guards:
        problems.append("no admission policy keeps the BU's pods on its own nodes")
    if ctx.result is not None:
        identity = {p.name for p in ctx.result.policies if "identity" in p.tags}
        weakened = [f for f in ctx.result.findings if f.policy in identity]
        waived_ids = sorted({str(w.get("policy")) for w, _ in _waiver_dates(ctx)} & identity)
        if weakened:
            problems.append(f"isolation rules report {_plural(len(weakened), 'finding')}")
        if waived_ids:
            problems.append(f"isolation rules waived: {', '.join(waived_ids)}")
        if not weakened and not waived_ids:
            evidence.append(
                Evidence(
                    ctx.stack, "", "policy", "identity", f"{len(identity)} isolation rules passed"
                )
            )
    if problems:
        return Verdict("partial" if evidence else "missing", evidence, "; ".join(problems))
    return Verdict("met", evidence)


# -- ownership ------------------------------------------------------------------------------


def _default_tags(ctx: Context) -> tuple[Resource | None, Mapping[str, Any]]:
    for r in ctx.own(AWS_PROVIDER):
        tags = _get(_json(r.inputs.get("defaultTags")) or {}, "tags")
        if isinstance(tags, Mapping):
            return r, tags
    return None, {}


def _stack_owner(ctx: Context) -> Verdict:
    provider, tags = _default_tags(ctx)
    evidence = []
    if provider is not None and all(tags.get(k) for k in OWNERSHIP_TAGS):
        detail = ", ".join(f"{k}={tags[k]}" for k in OWNERSHIP_TAGS)
        evidence.append(ctx.evidence(provider, "defaultTags.tags", detail))
    problems = [] if evidence else ["the provider's default tags name no Owner and CostCenter"]
    if ctx.result is not None:
        waived = {str(w.get("policy")) for w, _ in _waiver_dates(ctx)}
        untagged = [f for f in ctx.result.findings if f.policy == "required-ownership-tags"]
        if untagged:
            problems.append(f"{_plural(len(untagged), 'resource')} without the ownership tags")
        elif "required-ownership-tags" in waived:
            problems.append("the ownership-tag rule is waived")
        else:
            evidence.append(Evidence(ctx.stack, "", "policy", "required-ownership-tags", "passed"))
    if problems:
        return Verdict("partial" if evidence else "missing", evidence, "; ".join(problems))
    return Verdict("met", evidence)


FAMILY_OWNER_SUFFIX = "Owner"
"""Tags such as `BusinessOwner`, `TechnicalOwner`, `RiskOwner` on a family's resources."""


def _family_owners(ctx: Context) -> Verdict:
    groups = ctx.own(MODEL_PACKAGE_GROUP)
    if not groups:
        return Verdict("missing", missing="no model family whose owners could be named")
    cards = ctx.own(MODEL_CARD)
    evidence, unowned = [], []
    for g in groups:
        owners = {
            k: v for k, v in _tags(g).items() if k.endswith(FAMILY_OWNER_SUFFIX) and k != "Owner"
        }
        family = str(g.inputs.get("modelPackageGroupName") or g.name).removeprefix(f"{ctx.stack}-")
        card = [c for c in cards if family in str(c.inputs.get("name") or c.name)]
        if owners:
            detail = ", ".join(f"{k}={v}" for k, v in sorted(owners.items()))
            evidence.append(ctx.evidence(g, "tags", detail))
            evidence += [ctx.evidence(c, "content", "model card") for c in card]
        else:
            unowned.append(family)
    status, missing = _coverage(
        len(groups) - len(unowned),
        len(groups),
        f"model families without named business/technical/risk owners: {', '.join(unowned)}",
    )
    return Verdict(status, evidence, missing)


def _alarm_topics(ctx: Context) -> set[str]:
    topics: set[str] = set()
    for a in ctx.own(METRIC_ALARM):
        topics.update(str(t) for t in a.inputs.get("alarmActions") or [])
    return topics


def _on_call(ctx: Context) -> Verdict:
    topics = _alarm_topics(ctx)
    subs = [s for s in ctx.own(SNS_SUBSCRIPTION) if str(s.inputs.get("topic")) in topics]
    paging = [s for s in subs if s.inputs.get("protocol") in ("https", "lambda", "sqs")]
    evidence = [
        ctx.evidence(s, "protocol", f"{s.inputs.get('protocol')}: {s.inputs.get('endpoint')}")
        for s in subs
    ]
    if paging:
        return Verdict("met", evidence)
    if subs:
        return Verdict(
            "partial", evidence, "alarms reach email only: no pager or incident webhook on call"
        )
    return Verdict("missing", evidence, "no one is subscribed to the BU's alarms")


def _approvers(ctx: Context) -> Verdict:
    topics: set[str] = set()
    for rule in _package_rules(ctx):
        topics.update(
            str(t.inputs.get("arn"))
            for t in _targets_of(ctx, rule)
            if ":sns:" in str(t.inputs.get("arn"))
        )
    subs = [s for s in ctx.own(SNS_SUBSCRIPTION) if str(s.inputs.get("topic")) in topics]
    evidence = [ctx.evidence(s, "endpoint", str(s.inputs.get("endpoint"))) for s in subs]
    if subs:
        return Verdict("met", evidence)
    return Verdict("missing", missing="no named approver hears of new model versions")


# -- business outcomes ----------------------------------------------------------------------


def _budget(ctx: Context) -> Verdict:
    from estate.analysis.cost import CostError, gpu_peak_monthly

    budgets = [b for b in ctx.own(BUDGET) if b.inputs.get("notifications")]
    if not budgets:
        return Verdict(
            "missing", missing="no monthly budget alerts anyone before the BU overspends"
        )
    evidence, over = [], []
    try:
        peak = gpu_peak_monthly(ctx.inventory)
    except CostError:
        peak = None
    for b in budgets:
        limit = float(b.inputs.get("limitAmount") or 0)
        detail = f"{limit:,.0f} USD/month, {len(b.inputs['notifications'])} alerts"
        if peak is not None:
            detail += f"; GPU pools at their caps {peak:,.0f} USD"
            if peak > limit:
                over.append(f"GPU pools at their caps ({peak:,.0f} USD) exceed the budget")
        evidence.append(ctx.evidence(b, "limitAmount", detail))
    if over:
        return Verdict("partial", evidence, "; ".join(over))
    return Verdict("met", evidence)


def _per_family_alarms(
    ctx: Context, namespace: str, dimension: str
) -> tuple[list[Evidence], list[str]]:
    families = ctx.model_families()
    alarms = [a for a in ctx.own(METRIC_ALARM) if a.inputs.get("namespace") == namespace]
    evidence, bare = [], []
    for family in families:
        mine = [a for a in alarms if (a.inputs.get("dimensions") or {}).get(dimension) == family]
        if mine:
            evidence += [
                ctx.evidence(
                    a,
                    "dimensions",
                    f"{family}: {(a.inputs.get('dimensions') or {}).get('Metric', a.inputs.get('metricName'))}",
                )
                for a in mine
            ]
        else:
            bare.append(family)
    return evidence, bare


def _model_quality(ctx: Context) -> Verdict:
    families = ctx.model_families()
    if not families:
        return Verdict("missing", missing="no model family whose quality could be watched")
    evidence, bare = _per_family_alarms(ctx, MODEL_QUALITY_NAMESPACE, "Model")
    status, missing = _coverage(
        len(families) - len(bare),
        len(families),
        f"model families without quality or drift alarms: {', '.join(bare)}",
    )
    return Verdict(status, evidence, missing)


def _kpis(ctx: Context) -> Verdict:
    families = ctx.model_families()
    if not families:
        return Verdict("missing", missing="no model family whose business KPIs could be tracked")
    evidence, bare = _per_family_alarms(ctx, KPI_NAMESPACE, "ModelFamily")
    status, missing = _coverage(
        len(families) - len(bare),
        len(families),
        f"model families without a business KPI alarm: {', '.join(bare)}",
    )
    return Verdict(status, evidence, missing)


def _dashboard_widgets(r: Resource) -> Iterator[Mapping[str, Any]]:
    body = _json(r.inputs.get("dashboardBody")) or {}
    for widget in body.get("widgets") or []:
        if isinstance(widget, Mapping):
            yield widget


def _cost_per_inference(ctx: Context) -> Verdict:
    evidence = []
    for r in ctx.own(DASHBOARD):
        for w in _dashboard_widgets(r):
            metrics = json.dumps(_get(w, "properties.metrics") or [])
            if "RequestCount" in metrics and '"expression"' in metrics and "1000" in metrics:
                title = str(_get(w, "properties.title") or "")
                evidence.append(ctx.evidence(r, "dashboardBody.widgets", title))
    if evidence:
        return Verdict("met", evidence)
    return Verdict(
        "missing",
        missing="no cost per 1,000 inferences from endpoint request counts and pool cost",
    )


# --- telemetry: cost governance evidence ---


def _tag_values(expression: Any, key: str) -> set[str]:
    """Values a Cost Explorer expression (API or pulumi-aws shape) matches on tag `key`."""
    found: set[str] = set()
    if isinstance(expression, Mapping):
        tag = expression.get("Tags") or expression.get("tags")
        if isinstance(tag, Mapping) and (tag.get("Key") or tag.get("key")) == key:
            found.update(str(v) for v in (tag.get("Values") or tag.get("values") or []))
        for value in expression.values():
            if isinstance(value, (Mapping, list)):
                found |= _tag_values(value, key)
    elif isinstance(expression, list):
        for value in expression:
            found |= _tag_values(value, key)
    return found


def _cost_anomaly(ctx: Context) -> Verdict:
    monitors = [
        m
        for m in ctx.own(ANOMALY_MONITOR)
        if ctx.bu in _tag_values(_json(m.inputs.get("monitorSpecification")), "BusinessUnit")
    ]
    if not monitors:
        return Verdict("missing", missing="no cost anomaly monitor watches the BU's tagged spend")
    evidence = [ctx.evidence(m, "monitorSpecification", f"BusinessUnit={ctx.bu}") for m in monitors]
    topics = _alarm_topics(ctx)
    alerting = [
        s
        for s in ctx.own(ANOMALY_SUBSCRIPTION)
        if any(
            isinstance(sub, Mapping) and sub.get("type") == "SNS" and sub.get("address") in topics
            for sub in s.inputs.get("subscribers") or []
        )
    ]
    if not alerting:
        return Verdict("partial", evidence, "the cost anomaly monitor alerts no BU alarm topic")
    evidence += [
        ctx.evidence(s, "subscribers", f"{s.inputs.get('frequency')} to the alarm topic")
        for s in alerting
    ]
    return Verdict("met", evidence)


def _cost_allocation(ctx: Context) -> Verdict:
    evidence, missing = [], []
    categories = [
        (inv, r)
        for inv, r in ctx.cluster_side(COST_CATEGORY)
        if ctx.bu in _tag_values(r.inputs.get("rules"), "BusinessUnit")
    ]
    evidence += [
        ctx.evidence(r, "rules", f"{r.inputs.get('name')}: {ctx.bu}", inv) for inv, r in categories
    ]
    if not categories:
        missing.append(f"no cost category has a value for BU {ctx.bu}")
    exports = [
        (inv, r)
        for inv, r in ctx.cluster_side(DATA_EXPORT)
        if '"INCLUDE_SPLIT_COST_ALLOCATION_DATA": "TRUE"' in json.dumps(r.inputs.get("export"))
    ]
    evidence += [
        ctx.evidence(r, "export", "CUR 2.0 with split cost allocation data", inv)
        for inv, r in exports
    ]
    if not exports:
        missing.append("no CUR 2.0 export splits EKS costs to the BU's pods")
    if not missing:
        return Verdict("met", evidence)
    return Verdict("partial" if evidence else "missing", evidence, "; ".join(missing))


# --- end telemetry ---


# -- the catalogue --------------------------------------------------------------------------

CHECKS: tuple[Check, ...] = (
    Check("data-feature-store", "data", "Feature store encrypted with the BU key",
          "ai-estate:featureStore.featureGroups", _feature_store),
    Check("data-quality", "data", "Data quality rulesets check every feature group",
          "ai-estate:dataQuality (a DQ ruleset per offline feature group)", _data_quality),
    Check("data-lake-formation", "data", "Lake Formation governs access to the BU's catalog",
          "ai-estate:lakeFormation (and dataGovernance on the platform stack)", _lake_formation),
    Check("data-backup", "data", "Tables and buckets are backed up (AWS Backup)",
          "ai-estate:backup", _backup),
    Check("infra-gpu-pools", "infrastructure", "GPU pools under a namespace GPU quota",
          "ai-estate:gpuPools, tenant.gpuQuota", _gpu_pools),
    Check("infra-autoscaling", "infrastructure", "Pools and endpoints scale with demand",
          "ai-estate:gpuPools[].maxSize, serving.endpoints[].maxReplicas", _autoscaling),
    Check("infra-fair-share", "infrastructure", "Fair-share GPU admission (Kueue queues)",
          "ai-estate:tenant.gpuQuota (the BU's Kueue ClusterQueue quota in the cohort)", _fair_share),
    Check("infra-node-health", "infrastructure", "GPU node health is measured and alarmed",
          "ai-estate:gpuPools, monitoring.thresholds", _node_health),
    Check("mlops-registry", "mlops", "Versioned model registry and immutable images",
          "ai-estate:modelRegistry.modelFamilies", _registry),
    Check("mlops-retraining", "mlops", "A retraining loop per model family",
          "ai-estate:mlops.families.<family>.retraining", _retraining),
    Check("mlops-validation-gate", "mlops", "Candidates pass an automatic validation gate",
          "ai-estate:mlops.families.<family>.validation.thresholds", _validation_gate),
    Check("mlops-approval", "mlops", "A human approves each model version",
          "ai-estate:access.personas.model-approver", _approval),
    Check("integration-endpoints", "integration", "Serving endpoints on the internal Gateway",
          "ai-estate:serving.endpoints", _endpoints),
    Check("integration-auth", "integration", "Every endpoint authenticates its callers",
          "ai-estate:serving.endpoints[].auth", _auth),
    Check("integration-slo-alarms", "integration", "Latency and error alarms on every endpoint",
          "ai-estate:serving.endpoints[].latencyP99Ms", _slo_alarms),
    Check("governance-policies", "governance", "The policy gate passes",
          "the findings' fix text (docs/policies.md)", _policies),
    Check("governance-waivers", "governance", "Waivers are current",
          "ai-estate:waivers[].expires", _waivers),
    Check("governance-audit-trail", "governance", "An audit trail records data access",
          "ai-estate:audit", _audit_trail),
    Check("governance-isolation", "governance", "Isolation from other BUs holds and is proven",
          "ai-estate:waivers (remove waivers of identity rules)", _isolation),
    Check("governance-cost-allocation", "governance", "Spend is attributed to the BU (cost category, split CUR 2.0)",
          "ai-estate:payerAccount, businessUnits and costGovernance.export (platform stack)", _cost_allocation),
    Check("ownership-stack", "ownership", "The stack names its owner and cost center",
          "ai-estate:owner, costCenter", _stack_owner),
    Check("ownership-model-families", "ownership", "Every model family names its owners",
          "ai-estate:mlops.families.<family>.owners", _family_owners),
    Check("ownership-on-call", "ownership", "Alarms page someone on call",
          "ai-estate:monitoring.alarmSubscriptions", _on_call),
    Check("ownership-approvers", "ownership", "Named approvers hear of new model versions",
          "ai-estate:modelRegistry.approvalEmails", _approvers),
    Check("outcomes-budget", "outcomes", "A budget that covers the GPU pools at their caps",
          "ai-estate:budget.monthlyLimitUsd", _budget),
    Check("outcomes-model-quality", "outcomes", "Quality and drift alarms per model family",
          "ai-estate:monitoring.modelMetrics", _model_quality),
    Check("outcomes-kpis", "outcomes", "Business KPIs per model family",
          "ai-estate:monitoring.kpis", _kpis),
    Check("outcomes-cost-per-inference", "outcomes", "Cost per 1,000 inferences is measured",
          "ai-estate:serving.endpoints (with monitoring.kpis)", _cost_per_inference),
    Check("outcomes-cost-anomaly", "outcomes", "Anomalous spend alerts the BU",
          "ai-estate:monitoring.costAnomaly.thresholdUsd", _cost_anomaly),
)  # fmt: skip


def scorecard(
    inventory: Inventory,
    *,
    platform: Inventory | None = None,
    result: StackResult | None = None,
    today: dt.date | None = None,
    checks: Sequence[Check] = CHECKS,
) -> Scorecard:
    """Judge one BU stack's readiness from its inventory, its platform's and its policy run."""
    ctx = Context(inventory, platform, result, today or dt.date.today())
    items = []
    for check in checks:
        verdict = check.judge(ctx)
        items.append(
            Item(
                id=check.id,
                capability=check.capability,
                title=check.title,
                status=verdict.status,
                evidence=verdict.evidence,
                missing=verdict.missing,
                fix=check.fix,
            )
        )
    return Scorecard(inventory.stack, items)


def is_bu(inventory: Inventory) -> bool:
    return inventory.config.get("ai-estate:kind") == "bu"


def platform_of(inventory: Inventory) -> str | None:
    ref = inventory.config.get("ai-estate:platformStack")
    return str(ref).rsplit("/", 1)[-1] if ref else None


def scorecards(
    results: Iterable[StackResult], *, policy_checked: bool = True, today: dt.date | None = None
) -> dict[str, Scorecard]:
    """A scorecard per rendered BU stack of `results` (platform stacks are their context)."""
    results = list(results)
    inventories = {r.stack: r.inventory for r in results if r.inventory is not None}
    cards: dict[str, Scorecard] = {}
    for r in results:
        if r.inventory is None or not is_bu(r.inventory):
            continue
        platform = inventories.get(platform_of(r.inventory) or "")
        cards[r.stack] = scorecard(
            r.inventory,
            platform=platform,
            result=r if policy_checked else None,
            today=today,
        )
    return cards


def comparable_score(card: Scorecard, base: Scorecard) -> tuple[int, int]:
    """(head, base) scores over the items known on both sides (a base render has no policy
    results, so policy-derived items are left out of both)."""
    known = {i.id for i in base.items if i.status != "unknown"}
    head = Scorecard(card.stack, [i for i in card.items if i.id in known])
    return head.score, Scorecard(base.stack, [i for i in base.items if i.id in known]).score


def attach_readiness(results: list[StackResult], base: Sequence[StackResult] | None = None) -> None:
    """Give every BU result its readiness (and, with `--base`, the base's comparable score)."""
    cards = scorecards(results)
    base_cards = scorecards(base, policy_checked=False) if base is not None else {}
    for r in results:
        card = cards.get(r.stack)
        if card is None:
            continue
        data = card.to_json()
        if base is not None:
            prior = base_cards.get(r.stack)
            if prior is None:
                data["base"] = None
            else:
                head_score, base_score = comparable_score(card, prior)
                data["base"] = {"score": base_score, "comparableScore": head_score}
        r.readiness = data
