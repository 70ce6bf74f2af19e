"""The monthly cost model: what a stack costs when idle, in a typical month, and at its caps.

An itemised estimate in USD per month, computed from the inventory alone (no Pulumi runtime, no
AWS account), so `estate preview` and PR reviews can show what a change costs before anyone
deploys it. Three scenarios:

- `idle`: every node pool at its minimum (GPU pools usually at zero), NAT gateways and interface
  endpoints billed by the hour with no traffic, storage and telemetry at their idle baselines.
- `typical`: managed node groups at their `desiredSize`; a Karpenter NodePool (which has no
  minimum or desired size) at `karpenterTypicalFraction` of its peak (assumption in the prices
  file, default 0.25: the pool runs at its GPU cap a quarter of the month); typical traffic and
  storage baselines.
- `peak`: every pool at its cap: managed node groups at `maxSize` of their most expensive
  instance type, Karpenter NodePools holding their `nvidia.com/gpu` limit in the most expensive
  way their instance types allow; peak traffic and storage baselines.

Spot capacity costs the On-Demand price times a per-family factor (`spotFactor` in the prices
file; its `source` says where the factors come from and how to refresh them).

What is left out, on purpose: data transfer other than NAT and endpoint processing, request
charges (S3, DynamoDB, SageMaker), Container Insights observations, free tiers and discounts.
Cost governance costs nothing itself (Data Exports, cost categories and Cost Anomaly Detection
are free; the export's objects are priced as the bucket's storage); AMP rule evaluation and
alert manager notifications are request charges (query samples processed, SNS publishes), left
out like the others. ECR repository creation templates and VPC endpoint policies cost nothing;
S3 and ECR replication are priced as transfer (and, for ECR, the replicas' storage) of an assumed
volume.
Data governance (issue 14): CloudTrail data events, GuardDuty (foundational analysis and each
enabled feature), Inspector's ECR scans, Glue Data Quality runs (priced on the schedule that
starts them: runs a month x workers x an assumed run time), AWS Backup restore tests, the
retraining queues' requests, the model-package event archive and the MLflow tracking server.
Every other type the stacks render is listed under `zeroCost` in the prices file with the
reason it costs nothing here (`uncosted_types` finds any that is neither).
The baselines for storage, logs and metric series are small documented constants
(`assumptions` in the prices file), there to keep those lines visible, not to predict a bill.

Prices live in `estate/data/prices.json` (a `source` and `date` per region); a user file given
to `cost_for(..., prices_path=...)` is merged over it key by key.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from estate.offline.model import Inventory, Resource

DEFAULT_PRICES = Path(__file__).resolve().parents[1] / "data" / "prices.json"
DEFAULT_REGION = "us-east-1"
SCENARIOS = ("idle", "typical", "peak")
GPU_RESOURCE = "nvidia.com/gpu"

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"


class CostError(Exception):
    """The estimate cannot be made: a missing price or an unusable prices file (one sentence)."""


# -- prices --------------------------------------------------------------------------------


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CostError(f"{path}: cannot read the prices file ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise CostError(f"{path}: not valid JSON at line {exc.lineno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise CostError(f"{path}: must be a JSON object (see estate/data/prices.json)")
    return data


def load_prices(prices_path: Path | str | None = None) -> dict[str, Any]:
    """The shipped price table, with a user file (if any) merged over it key by key."""
    data = _read_json(DEFAULT_PRICES)
    if prices_path is not None:
        _merge(data, _read_json(Path(prices_path)))
    return data


@dataclass
class PriceBook:
    """One region's prices plus the shared assumptions, with errors that name the file key."""

    region: str
    prices: Mapping[str, Any]
    assumptions: Mapping[str, Any]
    hours: float
    where: str = "estate/data/prices.json"

    @classmethod
    def of(cls, data: Mapping[str, Any], region: str, where: str) -> PriceBook:
        regions = data.get("regions") or {}
        if region not in regions:
            known = ", ".join(sorted(regions)) or "none"
            raise CostError(
                f"{where}: regions.{region}: no prices for this region (known: {known})"
            )
        return cls(
            region=region,
            prices=regions[region],
            assumptions=data.get("assumptions") or {},
            hours=float(data.get("hoursPerMonth", 730)),
            where=where,
        )

    def price(self, *path: str) -> float:
        value: Any = self.prices
        for step in path:
            if not isinstance(value, Mapping) or step not in value:
                raise CostError(
                    f"{self.where}: regions.{self.region}.{'.'.join(path)}: no price given"
                )
            value = value[step]
        return float(value)

    def assume(self, name: str, scenario: str | None = None) -> float:
        value = self.assumptions.get(name)
        if isinstance(value, Mapping) and scenario is not None:
            value = value.get(scenario)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            where = f"assumptions.{name}" + (f".{scenario}" if scenario else "")
            raise CostError(f"{self.where}: {where}: must be a number")
        return float(value)

    def instance(self, instance_type: str) -> Mapping[str, Any]:
        table = self.prices.get("ec2") or {}
        if instance_type not in table:
            raise CostError(
                f"{self.where}: regions.{self.region}.ec2.{instance_type}: no price for this "
                "instance type; add it (On-Demand USD per hour, vCPUs, GPUs) or pass a prices file"
            )
        return table[instance_type]

    def hourly(self, instance_type: str, capacity: str) -> float:
        """USD per hour of one instance: On-Demand, or On-Demand x the family's spot factor."""
        on_demand = float(self.instance(instance_type)["usdPerHour"])
        if capacity != "spot":
            return on_demand
        return on_demand * self.spot_factor(instance_type)

    def spot_factor(self, instance_type: str) -> float:
        spot = self.prices.get("spotFactor") or {}
        family = instance_type.split(".", 1)[0]
        factor = (spot.get("families") or {}).get(family, spot.get("default"))
        if not isinstance(factor, (int, float)):
            raise CostError(
                f"{self.where}: regions.{self.region}.spotFactor.families.{family}: no spot factor"
            )
        return float(factor)

    def gpus(self, instance_type: str) -> int:
        return int(self.instance(instance_type).get("gpus", 0))


# -- line items ----------------------------------------------------------------------------


@dataclass
class Item:
    """One line of the estimate."""

    resource: str
    type: str
    description: str
    idle: float
    typical: float
    peak: float

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "type": self.type,
            "description": self.description,
            "idle": round(self.idle, 2),
            "typical": round(self.typical, 2),
            "peak": round(self.peak, 2),
        }


def eks_support_tier(cluster: Resource, on: dt.date) -> str:
    """Which EKS rate a cluster pays on day `on`: `extended` when its version is past the end
    of standard support (estate/data/eks_versions.yaml) and its upgrade policy keeps it there
    (`EXTENDED`, the API's default when unset); else `standard` (a `STANDARD` cluster is
    upgraded by EKS instead, and an unknown version is priced at the standard rate)."""
    from estate.stack.eks_versions import calendar

    entry = calendar().get(str(cluster.inputs.get("version") or ""))
    policy = cluster.inputs.get("upgradePolicy") or {}
    support_type = policy.get("supportType") if isinstance(policy, Mapping) else None
    if entry is None or entry.status(on) == "standard":
        return "standard"
    return "extended" if (support_type or "EXTENDED") == "EXTENDED" else "standard"


@dataclass
class _Context:
    inventory: Inventory
    book: PriceBook
    on: dt.date = field(default_factory=dt.date.today)
    """The day priced (EKS extended support depends on it)."""
    by_urn: dict[str, Resource] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)

    def add(self, r: Resource, description: str, idle: float, typical: float, peak: float) -> None:
        if max(idle, typical, peak) <= 0:
            return
        self.items.append(Item(r.urn, r.type, description, idle, typical, peak))

    def same(self, r: Resource, description: str, monthly: float) -> None:
        self.add(r, description, monthly, monthly, monthly)

    def per_scenario(self, r: Resource, description: str, fn: Any) -> None:
        self.add(r, description, *(fn(s) for s in SCENARIOS))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip().removesuffix("Gi")
        try:
            return float(text)
        except ValueError:
            return None
    return None


def _volume_gib(mappings: Any) -> float:
    total = 0.0
    for mapping in mappings or []:
        if isinstance(mapping, Mapping):
            size = _number((mapping.get("ebs") or {}).get("volumeSize"))
            total += size or 0.0
    return total


@dataclass(frozen=True)
class Pool:
    """A node pool as the cost model sees it: node counts per scenario and what a node costs."""

    label: str
    instance_types: tuple[str, ...]
    capacity: str
    nodes: Mapping[str, float]
    """Node count per scenario (fractional for Karpenter's typical month)."""
    node_hourly: Mapping[str, float]
    """USD per node-hour per scenario (the first type for idle/typical, the dearest for peak)."""
    disk_gib: float


def node_group_pool(r: Resource, ctx: _Context) -> Pool:
    """An EKS managed node group: min / desired / max nodes.

    Idle and typical price the first listed instance type (On-Demand node groups launch in the
    order listed); peak prices the dearest listed type, so the cap is never underestimated.
    """
    inputs = r.inputs
    types = tuple(str(t) for t in inputs.get("instanceTypes") or ("m5.large",))
    spot = str(inputs.get("capacityType", "ON_DEMAND")).upper() == "SPOT"
    capacity = "spot" if spot else "on-demand"
    scaling = inputs.get("scalingConfig") or {}
    low = _number(scaling.get("minSize")) or 0.0
    desired = _number(scaling.get("desiredSize"))
    high = _number(scaling.get("maxSize")) or low
    desired = low if desired is None else desired
    first = ctx.book.hourly(types[0], capacity)
    dearest = max(ctx.book.hourly(t, capacity) for t in types)
    disk = _node_group_disk(r, ctx)
    return Pool(
        label=r.name,
        instance_types=types,
        capacity=capacity,
        nodes={"idle": low, "typical": desired, "peak": high},
        node_hourly={"idle": first, "typical": first, "peak": dearest},
        disk_gib=disk,
    )


def _node_group_disk(r: Resource, ctx: _Context) -> float:
    """Root volume GiB of a node group's nodes: its launch template's, else `diskSize`."""
    template_urns = r.property_dependencies.get("launchTemplate") or []
    for urn in template_urns:
        template = ctx.by_urn.get(urn)
        if template is not None and template.type == LAUNCH_TEMPLATE:
            size = _volume_gib(template.inputs.get("blockDeviceMappings"))
            if size:
                return size
    disk_size = _number(r.inputs.get("diskSize"))
    return disk_size if disk_size else ctx.book.assume("eksDefaultDiskGib")


def _requirement(spec: Mapping[str, Any], key: str) -> list[str]:
    for req in spec.get("requirements") or []:
        if isinstance(req, Mapping) and req.get("key") == key and req.get("operator") == "In":
            return [str(v) for v in req.get("values") or []]
    return []


def node_pool_pool(r: Resource, ctx: _Context) -> Pool:
    """A Karpenter NodePool: zero nodes idle, its GPU limit at peak, a fraction of peak typically.

    Peak is the dearest way to hold the `nvidia.com/gpu` limit with the allowed instance types:
    for each type, `ceil(limit / GPUs per node)` nodes, and the most expensive of those totals.
    Spot applies only when on-demand is not also allowed (Karpenter may fall back to it).
    """
    spec = (r.inputs.get("spec") or {}).get("template", {}).get("spec", {})
    types = tuple(_requirement(spec, "node.kubernetes.io/instance-type"))
    if not types:
        raise CostError(
            f"{r.urn}: the NodePool lists no node.kubernetes.io/instance-type requirement, so "
            "its cost cannot be estimated"
        )
    capacities = _requirement(spec, "karpenter.sh/capacity-type") or ["on-demand"]
    capacity = "spot" if capacities == ["spot"] else "on-demand"
    limits = (r.inputs.get("spec") or {}).get("limits") or {}
    gpu_limit = _physical_gpu_limit(r)
    cpu_limit = _number(limits.get("cpu"))
    if gpu_limit is None and cpu_limit is None:
        raise CostError(
            f"{r.urn}: the NodePool has no nvidia.com/gpu or cpu limit, so its peak cost is "
            "unbounded; set spec.limits"
        )

    def holding(t: str) -> float:
        info = ctx.book.instance(t)
        per_node = (
            float(info.get("gpus", 0)) if gpu_limit is not None else float(info.get("vcpus", 0))
        )
        limit = gpu_limit if gpu_limit is not None else cpu_limit
        if per_node <= 0 or limit is None:
            return 0.0
        return float(math.ceil(limit / per_node))

    costs = {t: holding(t) * ctx.book.hourly(t, capacity) for t in types}
    dearest = max(costs, key=lambda t: costs[t])
    peak_nodes = holding(dearest)
    fraction = ctx.book.assume("karpenterTypicalFraction")
    hourly = ctx.book.hourly(dearest, capacity)
    return Pool(
        label=r.name,
        instance_types=types,
        capacity=capacity,
        nodes={"idle": 0.0, "typical": peak_nodes * fraction, "peak": peak_nodes},
        node_hourly={"idle": hourly, "typical": hourly, "peak": hourly},
        disk_gib=_node_class_disk(r, ctx),
    )


def _node_class_disk(r: Resource, ctx: _Context) -> float:
    ref = ((r.inputs.get("spec") or {}).get("template", {}).get("spec", {})).get("nodeClassRef")
    name = ref.get("name") if isinstance(ref, Mapping) else None
    for other in ctx.inventory.resources:
        if other.type == NODE_CLASS and (other.inputs.get("metadata") or {}).get("name") == name:
            size = _volume_gib((other.inputs.get("spec") or {}).get("blockDeviceMappings"))
            if size:
                return size
    return ctx.book.assume("eksDefaultDiskGib")


def _pool_items(r: Resource, pool: Pool, ctx: _Context) -> None:
    hours = ctx.book.hours
    types = "/".join(pool.instance_types)
    nodes = pool.nodes
    ctx.add(
        r,
        f"{types} {pool.capacity} nodes ({nodes['idle']:g}/{nodes['typical']:g}/"
        f"{nodes['peak']:g} idle/typical/peak)",
        *(nodes[s] * pool.node_hourly[s] * hours for s in SCENARIOS),
    )
    gp3 = ctx.book.price("ebs", "gp3GbMonth")
    ctx.add(
        r,
        f"EBS gp3 root volumes, {pool.disk_gib:g} GiB per node",
        *(nodes[s] * pool.disk_gib * gp3 for s in SCENARIOS),
    )


def pools(inventory: Inventory, prices_path: Path | str | None = None) -> list[Pool]:
    """Every node pool of the stack as the cost model prices it (for reports and policies)."""
    ctx = _context(inventory, prices_path)
    found = []
    for r in inventory.resources:
        if r.type == NODE_GROUP:
            found.append(node_group_pool(r, ctx))
        elif r.type == NODE_POOL:
            found.append(node_pool_pool(r, ctx))
    return found


# -- everything else -----------------------------------------------------------------------


def _alarm_metrics(r: Resource) -> int:
    queries = r.inputs.get("metricQueries") or []
    with_metric = [q for q in queries if isinstance(q, Mapping) and "metric" in q]
    return max(1, len(with_metric))


GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
"""A Gateway API Gateway: the AWS Load Balancer Controller provisions one ALB for it."""


def _price_resource(r: Resource, ctx: _Context) -> None:
    book, hours, t = ctx.book, ctx.book.hours, r.type
    if t == "aws:eks/cluster:Cluster":
        if eks_support_tier(r, ctx.on) == "extended":
            ctx.same(
                r,
                "EKS control plane (extended support)",
                book.price("eks", "extendedSupportClusterHour") * hours,
            )
        else:
            ctx.same(
                r, "EKS control plane (standard support)", book.price("eks", "clusterHour") * hours
            )
    elif t == "aws:ec2/natGateway:NatGateway":
        hourly = book.price("natGateway", "hour") * hours
        per_gb = book.price("natGateway", "perGbProcessed")
        ctx.per_scenario(
            r,
            "NAT gateway hours + data processed (none when idle)",
            lambda s: hourly + per_gb * book.assume("natGbProcessedPerGateway", s),
        )
    elif t == "aws:ec2/eip:Eip":
        ctx.same(r, "public IPv4 address", book.price("publicIpv4Hour") * hours)
    elif t == "aws:ec2/vpcEndpoint:VpcEndpoint":
        if str(r.inputs.get("vpcEndpointType", "Gateway")) != "Interface":
            return  # gateway endpoints (S3, DynamoDB) are free
        subnets = r.inputs.get("subnetIds")
        azs = len(subnets) if isinstance(subnets, list) and subnets else 1
        hourly = book.price("vpcInterfaceEndpoint", "azHour") * azs * hours
        per_gb = book.price("vpcInterfaceEndpoint", "perGbProcessed")
        service_name = str(r.inputs.get("serviceName", ""))
        service = service_name.split(f".{book.region}.", 1)[-1] or r.name
        ctx.per_scenario(
            r,
            f"interface endpoint {service}, {azs} AZ(s)",
            lambda s: hourly + per_gb * book.assume("interfaceEndpointGbProcessed", s),
        )
    elif t == NODE_GROUP:
        _pool_items(r, node_group_pool(r, ctx), ctx)
    elif t == NODE_POOL:
        _pool_items(r, node_pool_pool(r, ctx), ctx)
    elif t == "aws:amp/workspace:Workspace":
        interval = book.assume("ampScrapeIntervalSeconds")

        def amp(s: str) -> float:
            samples = book.assume("ampActiveSeries", s) * (hours * 3600 / interval)
            return samples / 1e7 * book.price("amp", "ingestPer10MSamples") + book.assume(
                "ampRetainedGb", s
            ) * book.price("amp", "storageGbMonth")

        ctx.per_scenario(r, "Managed Prometheus ingestion + storage (assumed series)", amp)
    elif t == "aws:amp/scraper:Scraper":
        interval = book.assume("ampScrapeIntervalSeconds")

        def collector(s: str) -> float:
            samples = book.assume("ampActiveSeries", s) * (hours * 3600 / interval)
            return book.price("amp", "collectorHour") * hours + samples / 1e7 * book.price(
                "amp", "collectedPer10MSamples"
            )

        ctx.per_scenario(r, "AMP managed collector hours + samples", collector)
    elif t == "aws:cloudwatch/logGroup:LogGroup":
        ingest = book.price("cloudwatch", "logsIngestGb")
        store = book.price("cloudwatch", "logsStorageGbMonth")
        ctx.per_scenario(
            r,
            "log ingestion + storage (assumed volume)",
            lambda s: (
                ingest * book.assume("logGbIngestedPerGroup", s)
                + store * book.assume("logGbStoredPerGroup", s)
            ),
        )
    elif t == "aws:cloudwatch/metricAlarm:MetricAlarm":
        n = _alarm_metrics(r)
        ctx.same(r, f"alarm on {n} metric(s)", n * book.price("cloudwatch", "alarmMetricMonth"))
    elif t == "aws:cloudwatch/dashboard:Dashboard":
        ctx.same(r, "dashboard", book.price("cloudwatch", "dashboardMonth"))
    elif t == "aws:s3/bucketMetric:BucketMetric":
        per_filter = book.price("s3", "requestMetricsPerFilter")
        ctx.same(
            r,
            f"S3 request metrics ({per_filter:g} CloudWatch metrics per filter)",
            per_filter * book.price("cloudwatch", "customMetricMonth"),
        )
    elif t == "aws:s3/bucketReplicationConfig:BucketReplicationConfig":
        per_gb = book.price("s3", "crossRegionReplicationPerGb")
        ctx.per_scenario(
            r,
            "S3 cross-region replication transfer (assumed new data; the replica's storage is "
            "its bucket's line)",
            lambda s: per_gb * book.assume("replicatedGbPerMonth", s),
        )
    elif t == "aws:ecr/replicationConfiguration:ReplicationConfiguration":
        storage = book.price("ecr", "storageGbMonth")
        transfer = book.price("ecr", "crossRegionTransferPerGb")
        ctx.per_scenario(
            r,
            "ECR replicas: storage in the DR region + cross-region transfer (assumed volume)",
            lambda s: (storage + transfer) * book.assume("replicatedImageGb", s),
        )
    elif t == "aws:s3/bucket:Bucket":
        per_gb = book.price("s3", "standardGbMonth")
        ctx.per_scenario(
            r,
            "S3 Standard storage (assumed volume)",
            lambda s: per_gb * book.assume("s3GbStoredPerBucket", s),
        )
    elif t == "aws:dynamodb/table:Table":
        per_gb = book.price("dynamodb", "storageGbMonth")
        pitr = (r.inputs.get("pointInTimeRecovery") or {}).get("enabled") is True
        if pitr:
            per_gb += book.price("dynamodb", "pitrGbMonth")
        ctx.per_scenario(
            r,
            "DynamoDB storage" + (" + PITR" if pitr else "") + " (assumed volume)",
            lambda s: per_gb * book.assume("dynamodbGbStoredPerTable", s),
        )
    elif t == "aws:sagemaker/featureGroup:FeatureGroup":
        online = (r.inputs.get("onlineStoreConfig") or {}).get("enableOnlineStore") is True
        if online:
            per_gb = book.price("sagemakerFeatureStore", "onlineStorageGbMonth")
            ctx.per_scenario(
                r,
                "Feature Store online storage (assumed volume)",
                lambda s: per_gb * book.assume("featureGroupOnlineGb", s),
            )
    elif t == "aws:kms/key:Key":
        ctx.same(r, "customer-managed KMS key", book.price("kms", "keyMonth"))
    elif t == "aws:backup/vault:Vault":
        # Recovery points are billed where they are stored: the BU vault and its DR copy.
        per_gb = book.price("backup", "warmStorageGbMonth")
        ctx.per_scenario(
            r,
            "AWS Backup warm storage (assumed volume)",
            lambda s: per_gb * book.assume("backupGbStoredPerVault", s),
        )
    # Lake Formation settings, LF-tags, registrations, grants, opt-ins and data cells filters
    # cost nothing (Lake Formation bills no permissions), nor do the catalog's encryption
    # settings (KMS requests are the platform key's, priced with the key).
    # Kueue's objects (ClusterQueue, LocalQueue, ResourceFlavor, Cohort) cost nothing: its
    # controller runs on the system pool, and the GPUs it admits are the pools' (priced above).
    # -- serving (issue 12): the Gateway's ALB (the controller provisions one per Gateway) and
    # its WAF web ACL; target groups, routes and the controller's custom resources are free.
    elif t == GATEWAY:
        hourly = book.price("alb", "hour") * hours
        per_lcu = book.price("alb", "lcuHour") * hours
        ctx.per_scenario(
            r,
            "Application Load Balancer of the Gateway + LCUs (assumed load)",
            lambda s: hourly + per_lcu * book.assume("albLcu", s),
        )
    elif t == "aws:wafv2/webAcl:WebAcl":
        rules = len(r.inputs.get("rules") or [])
        fixed = book.price("wafv2", "webAclMonth") + rules * book.price("wafv2", "ruleMonth")
        per_million = book.price("wafv2", "perMillionRequests")
        ctx.per_scenario(
            r,
            f"WAF web ACL with {rules} rule(s) + requests (assumed volume)",
            lambda s: fixed + per_million * book.assume("wafMillionRequests", s),
        )
    else:
        _price_data_resource(r, ctx)


#: GuardDuty feature -> (price key, usage assumption, what is analysed).
GUARDDUTY_FEATURES: dict[str, tuple[str, str, str]] = {
    "S3_DATA_EVENTS": (
        "s3DataEventsPerMillion",
        "guarddutyS3DataEventsMillions",
        "S3 data events (assumed millions)",
    ),
    "EKS_RUNTIME_MONITORING": (
        "runtimeVcpuMonth",
        "guarddutyRuntimeVcpus",
        "EKS runtime monitoring (assumed node vCPUs)",
    ),
    "RUNTIME_MONITORING": (
        "runtimeVcpuMonth",
        "guarddutyRuntimeVcpus",
        "runtime monitoring (assumed node vCPUs)",
    ),
}

DQ_RUN_TARGET = "arn:aws:scheduler:::aws-sdk:glue:startDataQualityRulesetEvaluationRun"


_WEEKDAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}


def _cron_count(field: str, span: int) -> float:
    """How many values one cron field takes: `*`/`?`, `*/n` or `a/n` steps, lists and
    ranges (`MON-FRI`, `1-5`)."""
    if field in ("*", "?"):
        return float(span)
    total = 0.0
    for part in field.split(","):
        base, _, step = part.partition("/")
        if base in ("*", ""):
            low, high = 0.0, float(span - 1)
        elif "-" in base:
            a, b = base.split("-", 1)
            low = float(_WEEKDAYS.get(a.upper(), a) if not a.isdigit() else a)
            high = float(_WEEKDAYS.get(b.upper(), b) if not b.isdigit() else b)
        elif step:  # `5/15`: from 5 to the end of the span, every 15
            low, high = float(base), float(span - 1)
        else:
            low = high = 0.0
        total += (high - low) // float(step or 1) + 1
    return total


def runs_per_month(expression: str, hours: float = 730) -> float:
    """How often an EventBridge Scheduler / AWS Backup expression fires in a month:
    `rate(n unit)`, `cron(min hour dom month dow year)` (lists, ranges, steps and `*`
    counted; a day-of-week field counts days of the week), `at(...)` once."""
    text = expression.strip()
    try:
        if text.startswith("at("):
            return 1.0
        if text.startswith("rate(") and text.endswith(")"):
            value, _, unit = text[5:-1].strip().partition(" ")
            per_hour = {"minute": 60.0, "hour": 1.0, "day": 1 / 24}[unit.rstrip("s")]
            return hours * per_hour / max(float(value), 1.0)
        if text.startswith("cron(") and text.endswith(")"):
            fields = text[5:-1].split()
            minute, hour, dom, _month, dow = (fields + ["*"] * 5)[:5]
            days = hours / 24
            if dow not in ("*", "?"):
                days = days / 7 * _cron_count(dow, 7)
            elif dom not in ("*", "?"):
                days = _cron_count(dom, 31) * days / 30.4
            return _cron_count(minute, 60) * _cron_count(hour, 24) * days
    except (KeyError, ValueError):
        pass
    raise CostError(f"cannot tell how often {expression!r} runs (rate(...), cron(...) or at(...))")


def _price_data_resource(r: Resource, ctx: _Context) -> None:
    """Data governance, detection, quality, backup testing and the retraining loop (issue 14)."""
    book, hours, t = ctx.book, ctx.book.hours, r.type
    if t == "aws:cloudtrail/trail:Trail":
        selectors = r.inputs.get("advancedEventSelectors") or []
        data = [
            s
            for s in selectors
            if isinstance(s, Mapping)
            and any(
                f.get("field") == "eventCategory" and "Data" in (f.get("equals") or [])
                for f in s.get("fieldSelectors") or []
                if isinstance(f, Mapping)
            )
        ]
        if data:  # the first copy of management events is free
            per_million = book.price("cloudtrail", "dataEventsPerMillion")
            ctx.per_scenario(
                r,
                f"CloudTrail data events, {len(data)} selector(s) (assumed millions delivered)",
                lambda s: per_million * book.assume("cloudtrailDataEventsMillions", s),
            )
    elif t == "aws:guardduty/detector:Detector":
        if r.inputs.get("enable") is False:
            return
        events = book.price("guardduty", "managementEventsPerMillion")
        logs = book.price("guardduty", "flowAndDnsLogsPerGb")
        ctx.per_scenario(
            r,
            "GuardDuty foundational analysis: CloudTrail management events + VPC flow/DNS logs "
            "(assumed volume)",
            lambda s: (
                events * book.assume("guarddutyManagementEventsMillions", s)
                + logs * book.assume("guarddutyFlowAndDnsGb", s)
            ),
        )
    elif t == "aws:guardduty/detectorFeature:DetectorFeature":
        name = str(r.inputs.get("name") or "")
        if str(r.inputs.get("status") or "ENABLED") != "ENABLED":
            return
        if name not in GUARDDUTY_FEATURES:
            raise CostError(
                f"{book.where}: regions.{book.region}.guardduty: no price for the GuardDuty "
                f"feature {name} ({r.urn}); add it to estate.analysis.cost.GUARDDUTY_FEATURES"
            )
        key, usage, what = GUARDDUTY_FEATURES[name]
        unit = book.price("guardduty", key)
        ctx.per_scenario(r, f"GuardDuty {what}", lambda s: unit * book.assume(usage, s))
    elif t == "aws:inspector2/enabler:Enabler":
        if "ECR" in (r.inputs.get("resourceTypes") or []):
            first = book.price("inspector", "ecrInitialScanPerImage")
            again = book.price("inspector", "ecrRescanPerImage")
            ctx.per_scenario(
                r,
                "Inspector ECR scans: images pushed + continuous rescans (assumed counts)",
                lambda s: (
                    first * book.assume("inspectorImagesPushed", s)
                    + again * book.assume("inspectorImagesRescanned", s)
                ),
            )
    elif t == "aws:scheduler/schedule:Schedule":
        # Scheduler itself: 14 million invocations a month free; what the target does is billed.
        target = r.inputs.get("target") or {}
        if not isinstance(target, Mapping) or target.get("arn") != DQ_RUN_TARGET:
            return
        try:
            run = json.loads(str(target.get("input") or "{}"))
        except ValueError:
            run = {}
        workers = float(run.get("NumberOfWorkers") or 5)  # the API's default
        runs = runs_per_month(str(r.inputs.get("scheduleExpression") or "rate(1 day)"), hours)
        run_hours = book.assume("dataQualityRunHours")
        ctx.same(
            r,
            f"Glue Data Quality runs: {runs:.0f} a month x {workers:g} DPU x {run_hours:g} h "
            "(assumed run time)",
            runs * workers * run_hours * book.price("glueDataQuality", "dpuHour"),
        )
    elif t == "aws:backup/restoreTestingPlan:RestoreTestingPlan":
        selections = sum(
            1
            for other in ctx.inventory.resources
            if other.type == "aws:backup/restoreTestingSelection:RestoreTestingSelection"
            and other.inputs.get("restoreTestingPlanName") == r.inputs.get("name")
        )
        runs = runs_per_month(str(r.inputs.get("scheduleExpression") or "rate(7 days)"), hours)
        per_job = book.price("backupRestoreTesting", "perRestoreJob")
        ctx.same(
            r,
            f"AWS Backup restore tests: {runs:.1f} runs a month x {max(selections, 1)} "
            "selection(s)",
            runs * max(selections, 1) * per_job,
        )
    elif t == "aws:sqs/queue:Queue":
        per_million = book.price("sqs", "perMillionRequests")
        ctx.per_scenario(
            r,
            "SQS requests: sends, receives (KEDA and controller polling), deletes (assumed)",
            lambda s: per_million * book.assume("sqsRequestsMillionsPerQueue", s),
        )
    elif t == "aws:cloudwatch/eventArchive:EventArchive":
        processed = book.price("eventbridge", "archiveProcessedPerGb")
        stored = book.price("eventbridge", "archiveStorageGbMonth")
        ctx.per_scenario(
            r,
            "EventBridge archive: events archived + storage (assumed GB)",
            lambda s: (processed + stored) * book.assume("eventArchiveGb", s),
        )
    elif t == "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer":
        size = str(r.inputs.get("trackingServerSize") or "Small")
        ctx.same(
            r,
            f"SageMaker MLflow tracking server ({size})",
            book.price("sagemakerMlflow", size) * hours,
        )
    elif t == "aws:ecr/repository:Repository":
        per_gb = book.price("ecr", "storageGbMonth")
        ctx.per_scenario(
            r,
            "ECR image storage (assumed volume)",
            lambda s: per_gb * book.assume("ecrGbStoredPerRepository", s),
        )


PRICED_TYPES: frozenset[str] = frozenset(
    {
        "aws:eks/cluster:Cluster",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/eip:Eip",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        NODE_GROUP,
        NODE_POOL,
        "aws:amp/workspace:Workspace",
        "aws:amp/scraper:Scraper",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:cloudwatch/dashboard:Dashboard",
        "aws:s3/bucketMetric:BucketMetric",
        "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
        "aws:ecr/replicationConfiguration:ReplicationConfiguration",
        "aws:s3/bucket:Bucket",
        "aws:dynamodb/table:Table",
        "aws:sagemaker/featureGroup:FeatureGroup",
        "aws:kms/key:Key",
        "aws:backup/vault:Vault",
        GATEWAY,
        "aws:wafv2/webAcl:WebAcl",
        "aws:cloudtrail/trail:Trail",
        "aws:guardduty/detector:Detector",
        "aws:guardduty/detectorFeature:DetectorFeature",
        "aws:inspector2/enabler:Enabler",
        "aws:scheduler/schedule:Schedule",
        "aws:backup/restoreTestingPlan:RestoreTestingPlan",
        "aws:sqs/queue:Queue",
        "aws:cloudwatch/eventArchive:EventArchive",
        "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer",
        "aws:ecr/repository:Repository",
    }
)
"""The types `_price_resource` prices (some only in some configurations: a gateway VPC
endpoint, a trail without data events and an idle schedule are free)."""


def uncosted_types(inventory: Inventory, prices_path: Path | str | None = None) -> list[str]:
    """The custom resource types of the stack that the model neither prices nor lists under
    `zeroCost` in the prices file: each is a line missing from the estimate."""
    import fnmatch

    free = (load_prices(prices_path).get("zeroCost") or {}).get("types") or {}
    return sorted(
        {
            r.type
            for r in inventory.resources
            if r.custom
            and r.type not in PRICED_TYPES
            and not any(fnmatch.fnmatchcase(r.type, pattern) for pattern in free)
        }
    )


def _context(
    inventory: Inventory, prices_path: Path | str | None, on: dt.date | None = None
) -> _Context:
    data = load_prices(prices_path)
    region = str(inventory.config.get("aws:region") or DEFAULT_REGION)
    where = "estate/data/prices.json" + (f" + {prices_path}" if prices_path else "")
    book = PriceBook.of(data, region, where)
    return _Context(
        inventory=inventory, book=book, by_urn=inventory.by_urn(), on=on or dt.date.today()
    )


def cost_for(
    inventory: Inventory, prices_path: Path | str | None = None, on: dt.date | None = None
) -> dict[str, Any]:
    """The itemised monthly estimate of one stack (`on`: the day priced, default today).

    `{"idle", "typical", "peak", "currency": "USD", "region", "items": [{"resource", "type",
    "description", "idle", "typical", "peak"}]}`, items dearest (at peak) first.
    """
    ctx = _context(inventory, prices_path, on)
    for r in inventory.resources:
        _price_resource(r, ctx)
    items = sorted(ctx.items, key=lambda i: (-i.peak, i.resource, i.description))
    totals = {s: round(sum(getattr(i, s) for i in items), 2) for s in SCENARIOS}
    return {
        **totals,
        "currency": "USD",
        "region": ctx.book.region,
        "items": [i.to_json() for i in items],
    }


def summary_line(estimate: Mapping[str, Any]) -> str:
    """One line for the table view of `estate preview`."""
    return (
        f"monthly cost estimate ({estimate.get('region', DEFAULT_REGION)}, USD): "
        f"idle {estimate['idle']:,.0f} / typical {estimate['typical']:,.0f} / "
        f"peak {estimate['peak']:,.0f} over {len(estimate['items'])} line items"
    )


def by_type(estimate: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Totals per resource type (for a compact report)."""
    totals: dict[str, dict[str, float]] = {}
    for item in estimate["items"]:
        row = totals.setdefault(item["type"], dict.fromkeys(SCENARIOS, 0.0))
        for s in SCENARIOS:
            row[s] = round(row[s] + item[s], 2)
    return totals


def gpu_peak_monthly(inventory: Inventory, prices_path: Path | str | None = None) -> float:
    """Worst-case monthly cost of the stack's GPU node pools: every pool at its cap, On-Demand.

    The same arithmetic as the policy pack's `gpu-peak-cost-within-budget` (which cannot import
    this package): a managed node group at `maxSize` of its dearest type; a Karpenter NodePool
    holding its GPU limit in the dearest way. Spot is priced On-Demand here because a Spot price
    may rise to it: the budget must hold even then.
    """
    ctx = _context(inventory, prices_path)
    book, total = ctx.book, 0.0
    for r in inventory.resources:
        if r.type == NODE_GROUP:
            types = [str(t) for t in r.inputs.get("instanceTypes") or []]
            if not any(book.gpus(t) for t in types):
                continue
            high = _number((r.inputs.get("scalingConfig") or {}).get("maxSize")) or 0.0
            total += high * max(book.hourly(t, "on-demand") for t in types) * book.hours
        elif r.type == NODE_POOL:
            spec = (r.inputs.get("spec") or {}).get("template", {}).get("spec", {})
            types = _requirement(spec, "node.kubernetes.io/instance-type")
            limit = _physical_gpu_limit(r)
            if limit is None or not any(book.gpus(t) for t in types):
                continue
            total += (
                max(
                    math.ceil(limit / book.gpus(t)) * book.hourly(t, "on-demand")
                    for t in types
                    if book.gpus(t)
                )
                * book.hours
            )
    return round(total, 2)


def _physical_gpu_limit(r: Any) -> float | None:
    """A NodePool's `nvidia.com/gpu` limit in physical GPUs: a time-sliced pool's limit counts
    slices, and its `ai-estate/gpu-slices-per-gpu` annotation says how many make one GPU."""
    limit = _number(((r.inputs.get("spec") or {}).get("limits") or {}).get(GPU_RESOURCE))
    annotations = (r.inputs.get("metadata") or {}).get("annotations") or {}
    slices = _number(annotations.get("ai-estate/gpu-slices-per-gpu")) or 1.0
    return None if limit is None else limit / max(slices, 1.0)


def component_of(urn: str) -> str:
    """The innermost estate component a resource belongs to, from its URN's type chain
    (`...$ai-estate:compute:GpuNodePool$aws:eks/nodeGroup:NodeGroup::x` -> `GpuNodePool`);
    `stack` for resources registered outside any component."""
    chain = urn.split("::")[2] if urn.count("::") >= 3 else ""
    components = [t for t in chain.split("$")[:-1] if t.startswith("ai-estate:")]
    return components[-1].rsplit(":", 1)[-1] if components else "stack"


def by_component(estimate: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Totals per estate component (GpuNodePool, EksCluster, Network, ...), dearest at peak
    first: what the report's cost chart stacks."""
    totals: dict[str, dict[str, float]] = {}
    for item in estimate["items"]:
        row = totals.setdefault(component_of(item["resource"]), dict.fromkeys(SCENARIOS, 0.0))
        for s in SCENARIOS:
            row[s] = round(row[s] + item[s], 2)
    return dict(sorted(totals.items(), key=lambda kv: (-kv[1]["peak"], kv[0])))


def replica_usd_per_hour(
    region: str, instance_type: str, gpus_per_replica: int, prices_path: Path | str | None = None
) -> float | None:
    """On-Demand USD per hour of one serving replica's share of a node: the node's price times
    the replica's GPUs over the node's (None when the region or type has no price, or the node
    no GPUs). What the serving dashboard's cost per 1,000 inferences multiplies replicas by."""
    try:
        book = PriceBook.of(load_prices(prices_path), region, "estate/data/prices.json")
        gpus = book.gpus(instance_type)
        price = book.hourly(instance_type, "on-demand")
    except CostError:
        return None
    if gpus <= 0:
        return None
    return round(price * max(gpus_per_replica, 1) / gpus, 6)
