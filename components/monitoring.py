"""Monitoring: what the platform measures, what each BU is alerted about, and what it may spend.

Two components:

- `PlatformMonitoring` (platform stacks): an Amazon Managed Service for Prometheus (AMP)
  workspace encrypted with the platform key and logging to an encrypted, retained log group; an
  AMP managed collector (`aws.amp.Scraper`, agentless) that scrapes the cluster (kubelet,
  cAdvisor, kube-state-metrics, the NVIDIA DCGM exporter, Karpenter, the API server) into it;
  the `amazon-cloudwatch-observability` EKS add-on (Container Insights and container logs) with
  its Pod Identity role; and a small CloudWatch agent Deployment (`cwagent-prometheus`) that
  turns the DCGM exporter's GPU utilisation into the CloudWatch metric BU alarms are built on.
- `BuMonitoring` (BU stacks): an SNS alarm topic encrypted with the BU key; CloudWatch alarms on
  GPU idle waste and saturation, GPU pools at their cap, DynamoDB throttling and errors, S3
  errors, model quality and drift, and SageMaker endpoints, every one notifying the topic; the
  FAILED results of the BU's Glue Data Quality rulesets, routed to the topic by an EventBridge
  rule (with an alarm on that rule's failed deliveries); a dashboard; and an AWS Budget on the
  BU's tagged cost.

Where the GPU metrics come from (the contract between the two components):

    namespace  AIEstate/GPU
    metric     DCGM_FI_DEV_GPU_UTIL   (percent, 0-100, one value per GPU per scrape)
    dimensions {ClusterName, BusinessUnit} and {ClusterName, BusinessUnit, Pool}

The platform's DCGM exporter (components/addons.py) serves `DCGM_FI_DEV_GPU_UTIL` per GPU.
`cwagent-prometheus` scrapes it every `GPU_METRIC_INTERVAL_SECONDS` with Prometheus's
`attach_metadata: {node: true}`, copies the node labels `ai-estate/bu` and `ai-estate/pool`
(set by every GPU pool, components/gpu_pools.py) onto each series as `BusinessUnit` and `Pool`,
and publishes it through CloudWatch embedded metric format (EMF) with the two dimension sets
above. CloudWatch alarms cannot query AMP, which is why the alarm metric takes this path; AMP
keeps the full-fidelity series (per GPU, per pod) for Grafana and PromQL.

The same metric counts a pool's GPUs: each GPU contributes one sample per scrape, so
`SampleCount / (period / interval)` over `{ClusterName, BusinessUnit, Pool}` is the number of
GPUs reporting in the pool. A pool is "at max" when that reaches its GPU cap (`maxSize` x GPUs
per node for a managed node group, the NodePool's `nvidia.com/gpu` limit for Karpenter). One
mechanism serves both provisioners; the obvious alternative for managed node groups,
`AWS/AutoScaling GroupInServiceInstances`, only exists once group metrics collection is enabled
on the EKS-owned Auto Scaling group, which no pulumi-aws resource can switch on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import yaml

from . import labels
from .addons import (
    SYSTEM_POOL_TOLERATION,
    _depends_on_of,
    bind_service_account,
    pod_identity_role,
)
from .cost_governance import COST_ALERTS_SERVICE, BuCostAnomaly, CostAnomalySpec
from .data_quality import (
    DQ_FAILURE_INPUT_PATHS,
    DQ_FAILURE_INPUT_TEMPLATE,
    DQ_METRIC_NAMESPACE,
    DQ_RULES_FAILED_METRIC,
    DQ_RULES_PASSED_METRIC,
    dq_failure_pattern,
)
from .gpu_pools import gpu_units, slices_factor
from .iam import account_region_partition, managed_policy_arn_output
from .model_cards import OwnersSpec, family_tags
from .options import child, stateful
from .prometheus_rules import AlertRouting

# -- the metric contract and defaults -------------------------------------------------------

GPU_METRIC_NAMESPACE = "AIEstate/GPU"
GPU_UTIL_METRIC = "DCGM_FI_DEV_GPU_UTIL"
MODEL_QUALITY_NAMESPACE = "AIEstate/ModelQuality"
MODEL_QUALITY_METRIC = "Value"
"""What BU evaluation jobs publish model quality and drift as: metric `Value` in namespace
`AIEstate/ModelQuality` with dimensions `BusinessUnit`, `Model` and `Metric` (`auc`,
`psi_amount`, ...), e.g. `aws cloudwatch put-metric-data --namespace AIEstate/ModelQuality
--metric-name Value --dimensions BusinessUnit=fraud,Model=card-fraud,Metric=auc --value 0.93`."""

KPI_NAMESPACE = "AIEstate/BusinessKPI"
"""What BU jobs publish business KPIs as: metric `<kpi name>` in namespace
`AIEstate/BusinessKPI` with dimensions `BusinessUnit` and `ModelFamily`, e.g. `aws cloudwatch
put-metric-data --namespace AIEstate/BusinessKPI --metric-name fraud_loss_prevented_usd
--dimensions BusinessUnit=fraud,ModelFamily=card-fraud --value 182000`."""

GPU_METRIC_INTERVAL_SECONDS = 60
"""How often `cwagent-prometheus` scrapes the DCGM exporter. BU alarms divide sample counts by
`period / interval` to count GPUs, so both components must use the same value."""
AMP_SCRAPE_INTERVAL_SECONDS = 30

NODE_LABEL_BU = labels.BU
NODE_LABEL_POOL = labels.POOL

CLOUDWATCH_NAMESPACE = "amazon-cloudwatch"
"""Created by the amazon-cloudwatch-observability add-on; `cwagent-prometheus` lives there too."""
OBSERVABILITY_ADDON = "amazon-cloudwatch-observability"
OBSERVABILITY_SERVICE_ACCOUNT = "cloudwatch-agent"
KUBE_STATE_METRICS_ADDON = "kube-state-metrics"
"""EKS community add-on; the collector's kube-state-metrics job scrapes it."""
PROMETHEUS_AGENT = "cwagent-prometheus"
CLOUDWATCH_AGENT_IMAGE = "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300062.0b1304"
AGENT_POLICY = "CloudWatchAgentServerPolicy"

SCRAPER_K8S_USER = "aps-collector-user"
"""The Kubernetes username of the access entry AMP creates for the collector's role (AMP user
guide, "Configuring your Amazon EKS cluster"): what the collector's ClusterRoleBinding names."""

AMP_SERVICE = "aps.amazonaws.com"
"""Amazon Managed Service for Prometheus: its alert manager publishes to BU alarm topics."""

ALARM_PUBLISHERS = (
    "cloudwatch.amazonaws.com",
    "budgets.amazonaws.com",
    COST_ALERTS_SERVICE,
    AMP_SERVICE,
)
"""Services that publish to a BU's alarm topic. Its KMS key must let each use the key
(`kms:GenerateDataKey*`, `kms:Decrypt`): add them to the BU key's `service_principals`."""

DEFAULT_THRESHOLDS: dict[str, float] = {
    "gpu_utilization_low_percent": 10.0,
    "gpu_utilization_low_minutes": 60.0,
    "gpu_utilization_high_percent": 90.0,
    "gpu_utilization_high_minutes": 15.0,
    "dynamodb_throttle_events": 10.0,
    "dynamodb_system_errors": 1.0,
    "s3_5xx_errors": 5.0,
    "s3_4xx_errors": 100.0,
}
"""Alarm thresholds a BU may override (per 5-minute period where counts are concerned)."""

DYNAMODB_OPERATIONS = (
    "GetItem",
    "BatchGetItem",
    "Query",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
)
"""Operations whose `SystemErrors` a feature table's error alarm sums (CloudWatch reports the
metric per operation only; a metric-math alarm holds at most 10 metrics)."""

BUDGET_THRESHOLDS = (80.0, 100.0)
BUDGET_NOTIFICATION_TYPES = ("ACTUAL", "FORECASTED")

# -- arguments ------------------------------------------------------------------------------


class PlatformMonitoringArgs(TypedDict):
    """Inputs of `PlatformMonitoring`."""

    name_prefix: str
    """`platform-prod`: prefix of physical names; log groups live under `/ai-estate/<prefix>/`."""
    cluster_name: pulumi.Input[str]
    """The EKS cluster (pass the cluster's output so everything here waits for it)."""
    cluster_arn: NotRequired[pulumi.Input[str]]
    """The cluster's ARN; derived from the name, region and account when absent."""
    kubernetes_version: str
    """Control-plane version, to pick add-on versions."""
    private_subnet_ids: pulumi.Input[list[str]]
    """Subnets (two AZs or more) the AMP collector puts its network interfaces in."""
    cluster_security_group_id: pulumi.Input[str]
    """The EKS cluster security group: lets the collector reach nodes and pods."""
    kms_key_arn: pulumi.Input[str]
    """The platform key: encrypts the AMP workspace and every log group here."""
    log_retention_days: int
    k8s_provider: k8s.Provider
    """Provider of the cluster's Kubernetes API (collector RBAC, the GPU metric agent)."""
    node_selector: NotRequired[dict[str, str]]
    """Where `cwagent-prometheus` runs (the system pool's labels)."""
    permissions_boundary: NotRequired[pulumi.Input[str] | None]
    """Permission boundary of the agents' Pod Identity roles (a BU's dedicated cluster)."""
    cluster_ready: NotRequired[list[pulumi.Resource]]
    """What must exist before anything is installed *in* the cluster (the `EksCluster`
    component: nodes, CoreDNS, the deployer's access). Only the add-ons and Kubernetes objects
    wait for it: the workspace and the collector need just the control plane, so they start as
    soon as it is up instead of after the whole cluster (the collector alone takes ~17 minutes).
    Prefer this to `depends_on` on the component, which would hold back every child."""
    scrape_interval_seconds: NotRequired[int]
    """The AMP collector's scrape interval (default 30)."""
    install_kube_state_metrics: NotRequired[bool]
    """Install the `kube-state-metrics` EKS community add-on (default True)."""
    agent_image: NotRequired[str]
    """Image of `cwagent-prometheus` (default `CLOUDWATCH_AGENT_IMAGE`, pinned)."""
    protect: bool
    """Protect and retain the workspace and log groups (prod)."""
    tags: dict[str, str]
    alert_topics: NotRequired[dict[str, str]]
    """BU slug -> name of its alarm topic in this account: the workspace's alert manager routes
    alerts labelled `business_unit=<bu>` there. Empty: no alert manager definition."""


class AlarmSubscription(TypedDict):
    """Who hears a BU's alarms: one SNS subscription."""

    protocol: str
    """`email`, `https`, `sqs` or `lambda` (an SQS queue or a function must let SNS deliver)."""
    endpoint: str
    """Address, URL or ARN."""


class GpuPoolAlarmSpec(TypedDict):
    """A GPU pool to watch for hitting its cap."""

    name: str
    """Pool name: the `ai-estate/pool` node label, and the `Pool` metric dimension."""
    max_gpus: int
    """The pool's GPU cap (`effective_max_gpus` of its spec)."""


class ModelMetricSpec(TypedDict):
    """A model quality or drift metric the BU publishes to `AIEstate/ModelQuality`."""

    model: str
    metric: str
    """Metric dimension value, e.g. `auc`, `precision_at_1pct`, `psi_amount_usd`."""
    threshold: float
    direction: str
    """`below` alarms when the value drops under the threshold (quality), `above` when it rises
    over it (drift, error rates)."""
    period_seconds: NotRequired[int]
    """Aggregation period (default 3600: evaluation jobs publish hourly or daily)."""
    evaluation_periods: NotRequired[int]
    """Consecutive breaching periods before alarming (default 1)."""
    treat_missing_data: NotRequired[str]
    """Default `missing`: no data leaves the alarm INSUFFICIENT_DATA, which also notifies, so a
    stopped evaluation pipeline is noticed without being reported as a quality drop."""


class KpiSpec(TypedDict):
    """A business KPI of one model family, published to `AIEstate/BusinessKPI`."""

    model_family: str
    name: str
    """The metric name."""
    unit: str
    """What the value counts (`USD`, `percent`); shown in the alarm description."""
    target: float
    direction: str
    """`atLeast` alarms when the KPI falls below the target, `atMost` when it rises above."""
    period_seconds: NotRequired[int]
    """Aggregation period (default 86400)."""
    evaluation_periods: NotRequired[int]
    """Consecutive breaching periods before alarming (default 1)."""


class SageMakerEndpointSpec(TypedDict):
    """A SageMaker real-time endpoint of the BU."""

    name: str
    variant: NotRequired[str]
    """Production variant (default `AllTraffic`)."""
    latency_p99_ms: float
    """Alarm when p99 `ModelLatency` exceeds this, in milliseconds."""
    max_5xx_per_period: NotRequired[float]
    """Alarm when `Invocation5XXErrors` in 5 minutes exceed this (default 0: any)."""


class BudgetSpec(TypedDict):
    """The BU's monthly cost budget."""

    monthly_limit_usd: float
    notify_emails: NotRequired[list[str]]
    """Addresses notified directly by AWS Budgets, besides the alarm topic."""


class BuMonitoringSettings(TypedDict):
    """The alarm settings a stack file chooses (`ai-estate:monitoring`); `BuMonitoringArgs` adds
    the wiring the BU estate supplies."""

    subscriptions: list[AlarmSubscription]
    thresholds: NotRequired[dict[str, float]]
    """Overrides of `DEFAULT_THRESHOLDS`."""
    model_metrics: list[ModelMetricSpec]
    sagemaker_endpoints: list[SageMakerEndpointSpec]
    kpis: NotRequired[list[KpiSpec]]
    """Business KPIs per model family: alarmed, and graphed beside the model-quality metrics."""
    cost_anomaly: NotRequired[CostAnomalySpec | None]
    """A cost anomaly monitor on the BU's tagged spend, alerting the topic (None: none)."""


class BuMonitoringArgs(BuMonitoringSettings):
    """Inputs of `BuMonitoring`."""

    family_owners: NotRequired[dict[str, OwnersSpec] | None]
    """Model family -> its owners (`mlops.families.<family>.owners`): the family's model-quality,
    drift and KPI alarms also notify its owners' topic `<prefix>-<family>-owners`."""

    business_unit: str
    environment: str
    account_id: pulumi.Input[str]
    """The BU's account: the topic policy admits publishers acting for this account only."""
    cluster_name: pulumi.Input[str]
    """The cluster the BU's GPU pools run in (`ClusterName` dimension of the GPU metric)."""
    kms_key_arn: pulumi.Input[str]
    """The BU key: encrypts the alarm topic."""
    gpu_pools: list[GpuPoolAlarmSpec]
    online_tables: dict[str, pulumi.Input[str]]
    """Label -> DynamoDB table name of each online feature table."""
    buckets: dict[str, pulumi.Input[str]]
    """Label -> bucket name of the buckets to watch (the feature and artifact buckets)."""
    budget: NotRequired[BudgetSpec | None]
    gpu_metric_interval_seconds: NotRequired[int]
    """Must equal the platform agent's scrape interval (default 60)."""
    gpu_slices_per_gpu: NotRequired[pulumi.Input[int | None]]
    """The platform's time-slicing replicas: at-max alarms count GPUs in `nvidia.com/gpu`
    (slices), the unit of the NodePool limits and the namespace quota."""
    data_quality_rulesets: NotRequired[list[str]]
    """The BU's scheduled Glue Data Quality rulesets: their FAILED results notify the topic
    (none or empty: no data quality rule). The BU key must admit `events.amazonaws.com`."""
    tags: dict[str, str]


# -- pure functions: scrape and agent configuration -----------------------------------------


def log_group_prefixes(name_prefix: str, cluster_name: str) -> list[str]:
    """Log group name prefixes the platform key must admit CloudWatch Logs for: ours, and the
    Container Insights groups the add-on writes to (pre-created here, encrypted)."""
    return [f"/ai-estate/{name_prefix}/", f"/aws/containerinsights/{cluster_name}/"]


CONTAINER_INSIGHTS_LOG_GROUPS = ("application", "dataplane", "host", "performance")
"""`/aws/containerinsights/<cluster>/<name>`: the groups the add-on's agent and Fluent Bit use."""


def container_insights_log_group(cluster_name: str, kind: str) -> str:
    return f"/aws/containerinsights/{cluster_name}/{kind}"


def _node_proxy_job(name: str, path: str) -> dict[str, Any]:
    """A kubelet endpoint scraped through the API server's node proxy (no node ports needed)."""
    return {
        "job_name": name,
        "scheme": "https",
        "authorization": {
            "credentials_file": "/var/run/secrets/kubernetes.io/serviceaccount/token"
        },
        "kubernetes_sd_configs": [{"role": "node"}],
        "relabel_configs": [
            {"action": "labelmap", "regex": "__meta_kubernetes_node_label_(.+)"},
            {"replacement": "kubernetes.default.svc:443", "target_label": "__address__"},
            {
                "source_labels": ["__meta_kubernetes_node_name"],
                "regex": "(.+)",
                "target_label": "__metrics_path__",
                "replacement": f"/api/v1/nodes/$1/proxy{path}",
            },
        ],
    }


def _endpoints_job(name: str, service_regex: str, port_regex: str) -> dict[str, Any]:
    """A Service's endpoints, kept by service name and port name, labelled with pod and node."""
    return {
        "job_name": name,
        "kubernetes_sd_configs": [{"role": "endpoints"}],
        "relabel_configs": [
            {
                "source_labels": ["__meta_kubernetes_service_name"],
                "regex": service_regex,
                "action": "keep",
            },
            {
                "source_labels": ["__meta_kubernetes_endpoint_port_name"],
                "regex": port_regex,
                "action": "keep",
            },
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "node"},
        ],
    }


DCGM_SERVICE_REGEX = "(nvidia-)?dcgm-exporter"
"""The dcgm-exporter chart's Service, or the GPU Operator's `nvidia-dcgm-exporter`."""
DCGM_PORT_REGEX = "(metrics|gpu-metrics)"


def scrape_configuration(cluster_arn: str, scrape_interval_seconds: int) -> str:
    """The AMP collector's Prometheus configuration (YAML).

    Jobs: the API server, kubelet, cAdvisor and kubelet probe results (through the API
    server's node proxy),
    kube-state-metrics, the NVIDIA DCGM exporter (every `DCGM_FI_*` series, per GPU, with the pod
    using it) and Karpenter's controller metrics (NodePool usage against limits).
    """
    config = {
        "global": {
            "scrape_interval": f"{scrape_interval_seconds}s",
            "external_labels": {"clusterArn": cluster_arn},
        },
        "scrape_configs": [
            {
                "job_name": "kubernetes-apiservers",
                "bearer_token_file": "/var/run/secrets/kubernetes.io/serviceaccount/token",
                "kubernetes_sd_configs": [{"role": "endpoints"}],
                "relabel_configs": [
                    {
                        "action": "keep",
                        "regex": "default;kubernetes;https",
                        "source_labels": [
                            "__meta_kubernetes_namespace",
                            "__meta_kubernetes_service_name",
                            "__meta_kubernetes_endpoint_port_name",
                        ],
                    }
                ],
                "scheme": "https",
            },
            _node_proxy_job("kubelet", "/metrics"),
            _node_proxy_job("cadvisor", "/metrics/cadvisor"),
            # prober_probe_total: the endpoints' availability SLI (components/prometheus_rules.py)
            _node_proxy_job("kubelet-probes", "/metrics/probes"),
            _endpoints_job("kube-state-metrics", "kube-state-metrics", "http(-metrics)?"),
            _endpoints_job("dcgm-exporter", DCGM_SERVICE_REGEX, DCGM_PORT_REGEX),
            _endpoints_job("karpenter", "karpenter", "http-metrics"),
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def collector_cluster_role_rules() -> list[dict[str, Any]]:
    """What the AMP collector may read (the AMP user guide's `aps-collector-role`, plus the
    kubelet paths the node-proxy jobs use)."""
    return [
        {
            "apiGroups": [""],
            "resources": [
                "nodes",
                "nodes/proxy",
                "nodes/metrics",
                "services",
                "endpoints",
                "pods",
                "ingresses",
                "configmaps",
            ],
            "verbs": ["get", "list", "watch"],
        },
        {
            "apiGroups": ["extensions", "networking.k8s.io"],
            "resources": ["ingresses/status", "ingresses"],
            "verbs": ["get", "list", "watch"],
        },
        {"nonResourceURLs": ["/metrics", "/metrics/cadvisor"], "verbs": ["get"]},
    ]


def agent_scrape_configuration(cluster_name: str, interval_seconds: int) -> str:
    """`cwagent-prometheus`'s Prometheus configuration: the DCGM exporter only, GPU utilisation
    only, labelled with the node's BU and pool (see the module docstring)."""
    config = {
        "global": {"scrape_interval": f"{interval_seconds}s", "scrape_timeout": "10s"},
        "scrape_configs": [
            {
                "job_name": "dcgm",
                "kubernetes_sd_configs": [{"role": "endpoints", "attach_metadata": {"node": True}}],
                "relabel_configs": [
                    {
                        "source_labels": ["__meta_kubernetes_service_name"],
                        "regex": DCGM_SERVICE_REGEX,
                        "action": "keep",
                    },
                    {
                        "source_labels": ["__meta_kubernetes_endpoint_port_name"],
                        "regex": DCGM_PORT_REGEX,
                        "action": "keep",
                    },
                    {
                        "source_labels": ["__meta_kubernetes_node_label_ai_estate_bu"],
                        "target_label": "BusinessUnit",
                    },
                    {
                        "source_labels": ["__meta_kubernetes_node_label_ai_estate_pool"],
                        "target_label": "Pool",
                    },
                    {
                        "source_labels": ["__meta_kubernetes_pod_node_name"],
                        "target_label": "NodeName",
                    },
                    {"target_label": "ClusterName", "replacement": cluster_name},
                ],
                "metric_relabel_configs": [
                    {"source_labels": ["__name__"], "regex": GPU_UTIL_METRIC, "action": "keep"}
                ],
            }
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def agent_configuration(cluster_name: str, region: str, log_group_name: str) -> str:
    """`cwagent-prometheus`'s agent configuration: EMF into `AIEstate/GPU` with our dimensions.

    The region is explicit: nodes allow IMDS one hop only, so a pod cannot ask the node.
    """
    config = {
        "agent": {"region": region},
        "logs": {
            "metrics_collected": {
                "prometheus": {
                    "cluster_name": cluster_name,
                    "log_group_name": log_group_name,
                    "prometheus_config_path": "/etc/prometheusconfig/prometheus.yaml",
                    "emf_processor": {
                        "metric_namespace": GPU_METRIC_NAMESPACE,
                        "metric_unit": {GPU_UTIL_METRIC: "Percent"},
                        "metric_declaration": [
                            {
                                "source_labels": ["job"],
                                "label_matcher": "^dcgm$",
                                "dimensions": [
                                    ["ClusterName", "BusinessUnit"],
                                    ["ClusterName", "BusinessUnit", "Pool"],
                                ],
                                "metric_selectors": [f"^{GPU_UTIL_METRIC}$"],
                            }
                        ],
                    },
                }
            },
            "force_flush_interval": 5,
        },
    }
    return json.dumps(config, sort_keys=True)


def agent_cluster_role_rules() -> list[dict[str, Any]]:
    """Prometheus service discovery for `cwagent-prometheus` (nodes for `attach_metadata`)."""
    return [
        {
            "apiGroups": [""],
            "resources": ["nodes", "nodes/proxy", "services", "endpoints", "pods"],
            "verbs": ["get", "list", "watch"],
        },
        {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
    ]


def observability_addon_configuration() -> str:
    """`configuration_values` of amazon-cloudwatch-observability: Container Insights with
    enhanced observability and container logs, without the add-on's own DCGM exporter.

    One DCGM exporter per GPU node: the platform's (the dcgm-exporter chart, or the GPU
    Operator's) is the one AMP and `cwagent-prometheus` read, at the version we pin; a second
    one (the add-on's `dcgmExporter` DaemonSet, on by default in the add-on's chart,
    aws-observability/helm-charts) would run a second DCGM host engine on the same GPUs, where
    only one client can collect the profiling fields at a time."""
    return json.dumps(
        {
            "agent": {
                "config": {
                    "logs": {
                        "metrics_collected": {
                            "kubernetes": {
                                "enhanced_container_insights": True,
                                "accelerated_compute_metrics": False,
                            }
                        }
                    }
                }
            },
            "containerLogs": {"enabled": True},
            "dcgmExporter": {"enabled": False},
        },
        sort_keys=True,
    )


def eks_cluster_arn(partition: str, region: str, account_id: str, cluster_name: str) -> str:
    return f"arn:{partition}:eks:{region}:{account_id}:cluster/{cluster_name}"


# -- pure functions: alarms -------------------------------------------------------------------


@dataclass(frozen=True)
class MetricRef:
    """One CloudWatch metric an alarm reads."""

    id: str
    namespace: str
    metric_name: str
    dimensions: Mapping[str, pulumi.Input[str]]
    stat: str
    """`Average`, `Sum`, `SampleCount`, `Maximum` or a percentile such as `p99`."""
    period: int = 300


@dataclass(frozen=True)
class AlarmSpec:
    """An alarm before it is a resource: plain data, so the set of alarms is unit-testable."""

    key: str
    """Stable suffix of the logical and physical name (`gpu-util-low`); frozen once shipped."""
    description: str
    comparison: str
    threshold: pulumi.Input[float]
    """Plain, or an Output when it derives from a platform stack output (GPU slices)."""
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: str
    metrics: tuple[MetricRef, ...]
    expression: pulumi.Input[str] | None = None
    """Metric math over `metrics` (ids m1, m2, ...); None alarms on the single metric."""
    label: str = ""
    pool: str | None = None
    """The GPU pool this alarm watches (also set as the alarm's `ai-estate/pool` tag)."""
    extra_tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def period(self) -> int:
        return self.metrics[0].period


def thresholds_with_defaults(overrides: Mapping[str, float] | None) -> dict[str, float]:
    """`DEFAULT_THRESHOLDS` with a BU's overrides; an unknown key is a mistake, not a no-op."""
    merged = dict(DEFAULT_THRESHOLDS)
    for key, value in (overrides or {}).items():
        if key not in DEFAULT_THRESHOLDS:
            raise ValueError(
                f"unknown monitoring threshold {key!r} (known: {', '.join(DEFAULT_THRESHOLDS)})"
            )
        merged[key] = float(value)
    return merged


def _periods(minutes: float, period: int = 300) -> int:
    return max(1, round(minutes * 60 / period))


def gpu_alarm_specs(
    business_unit: str,
    cluster_name: pulumi.Input[str],
    pools: Sequence[GpuPoolAlarmSpec],
    thresholds: Mapping[str, float],
    interval_seconds: int = GPU_METRIC_INTERVAL_SECONDS,
    slices_per_gpu: pulumi.Input[int | None] | None = None,
) -> list[AlarmSpec]:
    """GPU idle waste and saturation for the BU, and one "at its cap" alarm per pool.

    Missing data is not breaching for all three: no GPU series means no GPU nodes are up, so
    nothing idles, saturates or sits at its cap.

    At-max alarms count in `nvidia.com/gpu` as nodes register it (`gpu_units`): the DCGM exporter
    reports physical GPUs, so on a time-sliced platform the GPU count is multiplied by the
    replicas, and the threshold is the pool's cap in slices, the same number as its NodePool
    limit and the namespace quota.
    """
    if not pools:
        return []
    bu_dims = {"ClusterName": cluster_name, "BusinessUnit": business_unit}
    util = MetricRef("m1", GPU_METRIC_NAMESPACE, GPU_UTIL_METRIC, bu_dims, "Average")
    low_periods = _periods(thresholds["gpu_utilization_low_minutes"])
    high_periods = _periods(thresholds["gpu_utilization_high_minutes"])
    specs = [
        AlarmSpec(
            key="gpu-util-low",
            description=(
                f"GPUs of BU {business_unit} averaged under "
                f"{thresholds['gpu_utilization_low_percent']:g}% utilisation for "
                f"{thresholds['gpu_utilization_low_minutes']:g} minutes: paid-for GPUs idle "
                f"({GPU_METRIC_NAMESPACE} {GPU_UTIL_METRIC}, from the DCGM exporter)."
            ),
            comparison="LessThanThreshold",
            threshold=thresholds["gpu_utilization_low_percent"],
            evaluation_periods=low_periods,
            datapoints_to_alarm=low_periods,
            treat_missing_data="notBreaching",
            metrics=(util,),
        ),
        AlarmSpec(
            key="gpu-util-high",
            description=(
                f"GPUs of BU {business_unit} averaged over "
                f"{thresholds['gpu_utilization_high_percent']:g}% utilisation for "
                f"{thresholds['gpu_utilization_high_minutes']:g} minutes: saturated, queues grow."
            ),
            comparison="GreaterThanThreshold",
            threshold=thresholds["gpu_utilization_high_percent"],
            evaluation_periods=high_periods,
            datapoints_to_alarm=high_periods,
            treat_missing_data="notBreaching",
            metrics=(util,),
        ),
    ]
    samples_per_period = 300 / interval_seconds

    def in_slices(factor: int | float | None) -> str:
        scale = slices_factor(factor)
        return f"m1 / {samples_per_period:g}" + (f" * {scale}" if scale != 1 else "")

    expression: pulumi.Input[str] = (
        slices_per_gpu.apply(in_slices)
        if isinstance(slices_per_gpu, pulumi.Output)
        else in_slices(slices_per_gpu)  # type: ignore[arg-type]  # plain here: Outputs above
    )
    for pool in pools:
        dims = {**bu_dims, "Pool": pool["name"]}
        cap = gpu_units(pool["max_gpus"], slices_per_gpu)
        specs.append(
            AlarmSpec(
                key=f"gpu-pool-{pool['name']}-at-max",
                description=(
                    f"GPU pool {pool['name']} of BU {business_unit} holds its cap of "
                    f"{pool['max_gpus']} GPUs: pending pods will not get a GPU (GPUs counted from "
                    f"DCGM samples, one per GPU every {interval_seconds}s, in nvidia.com/gpu "
                    "units: slices when the platform time-slices)."
                ),
                comparison="GreaterThanOrEqualToThreshold",
                threshold=cap.apply(float) if isinstance(cap, pulumi.Output) else float(cap),  # type: ignore[arg-type]  # gpu_units: plain in, plain out
                evaluation_periods=2,
                datapoints_to_alarm=2,
                treat_missing_data="notBreaching",
                metrics=(
                    MetricRef("m1", GPU_METRIC_NAMESPACE, GPU_UTIL_METRIC, dims, "SampleCount"),
                ),
                expression=expression,
                label=f"GPUs reporting in {pool['name']}",
                pool=pool["name"],
            )
        )
    return specs


def table_alarm_specs(
    label: str, table_name: pulumi.Input[str], thresholds: Mapping[str, float]
) -> list[AlarmSpec]:
    """Throttling and system errors of one online feature table.

    Throttling sums `ReadThrottleEvents` and `WriteThrottleEvents` (table-level, every
    operation; `ThrottledRequests` counts the same requests per operation). Missing data is not
    breaching: DynamoDB publishes these only when something happens.
    """
    dims = {"TableName": table_name}
    throttles = AlarmSpec(
        key=f"ddb-{label}-throttles",
        description=(
            f"Online feature table {label} throttled at least "
            f"{thresholds['dynamodb_throttle_events']:g} read/write events in 5 minutes, twice "
            "in 15: feature lookups are failing or slowing down."
        ),
        comparison="GreaterThanOrEqualToThreshold",
        threshold=thresholds["dynamodb_throttle_events"],
        evaluation_periods=3,
        datapoints_to_alarm=2,
        treat_missing_data="notBreaching",
        metrics=(
            MetricRef("m1", "AWS/DynamoDB", "ReadThrottleEvents", dims, "Sum"),
            MetricRef("m2", "AWS/DynamoDB", "WriteThrottleEvents", dims, "Sum"),
        ),
        expression="FILL(m1, 0) + FILL(m2, 0)",
        label="throttle events",
    )
    errors = AlarmSpec(
        key=f"ddb-{label}-system-errors",
        description=(
            f"Online feature table {label} returned at least "
            f"{thresholds['dynamodb_system_errors']:g} DynamoDB system errors (HTTP 500) in 5 "
            "minutes."
        ),
        comparison="GreaterThanOrEqualToThreshold",
        threshold=thresholds["dynamodb_system_errors"],
        evaluation_periods=1,
        datapoints_to_alarm=1,
        treat_missing_data="notBreaching",
        metrics=tuple(
            MetricRef(f"m{i}", "AWS/DynamoDB", "SystemErrors", {**dims, "Operation": op}, "Sum")
            for i, op in enumerate(DYNAMODB_OPERATIONS, start=1)
        ),
        expression="SUM(METRICS())",
        label="system errors",
    )
    return [throttles, errors]


BUCKET_METRICS_FILTER = "EntireBucket"
"""Name (and `FilterId` dimension) of the request-metrics configuration on watched buckets."""


def bucket_alarm_specs(
    label: str, bucket_name: pulumi.Input[str], thresholds: Mapping[str, float]
) -> list[AlarmSpec]:
    """Server and client errors of one bucket, from its request metrics (`BUCKET_METRICS_FILTER`).
    Missing data is not breaching: request metrics appear only when requests do."""
    dims = {"BucketName": bucket_name, "FilterId": BUCKET_METRICS_FILTER}
    specs = []
    for metric, key, what in (
        ("5xxErrors", "s3_5xx_errors", "server errors (5xx)"),
        ("4xxErrors", "s3_4xx_errors", "client errors (4xx: denied or missing objects)"),
    ):
        specs.append(
            AlarmSpec(
                key=f"s3-{label}-{metric.lower()}",
                description=(
                    f"Bucket {label} answered at least {thresholds[key]:g} {what} in 5 minutes."
                ),
                comparison="GreaterThanOrEqualToThreshold",
                threshold=thresholds[key],
                evaluation_periods=1,
                datapoints_to_alarm=1,
                treat_missing_data="notBreaching",
                metrics=(MetricRef("m1", "AWS/S3", metric, dims, "Sum"),),
            )
        )
    return specs


def model_alarm_specs(business_unit: str, metrics: Sequence[ModelMetricSpec]) -> list[AlarmSpec]:
    """One alarm per declared model quality or drift metric (`AIEstate/ModelQuality`)."""
    specs = []
    for m in metrics:
        if m["direction"] not in ("below", "above"):
            raise ValueError(
                f"model metric {m['model']}/{m['metric']}: direction must be 'below' or 'above' "
                f"(got {m['direction']!r})"
            )
        below = m["direction"] == "below"
        period = int(m.get("period_seconds", 3600))
        periods = int(m.get("evaluation_periods", 1))
        dims = {"BusinessUnit": business_unit, "Model": m["model"], "Metric": m["metric"]}
        specs.append(
            AlarmSpec(
                key=f"model-{m['model']}-{m['metric']}".replace("_", "-").lower(),
                description=(
                    f"Model {m['model']} of BU {business_unit}: {m['metric']} "
                    f"{'fell below' if below else 'rose above'} {m['threshold']:g} "
                    f"({MODEL_QUALITY_NAMESPACE})."
                ),
                comparison="LessThanThreshold" if below else "GreaterThanThreshold",
                threshold=float(m["threshold"]),
                evaluation_periods=periods,
                datapoints_to_alarm=periods,
                treat_missing_data=m.get("treat_missing_data", "missing"),
                metrics=(
                    MetricRef(
                        "m1",
                        MODEL_QUALITY_NAMESPACE,
                        MODEL_QUALITY_METRIC,
                        dims,
                        "Average",
                        period=period,
                    ),
                ),
            )
        )
    return specs


def kpi_alarm_specs(business_unit: str, kpis: Sequence[KpiSpec]) -> list[AlarmSpec]:
    """One alarm per business KPI (`AIEstate/BusinessKPI`), breaching when the KPI misses its
    target; missing data notifies too (the job that publishes it stopped)."""
    specs = []
    for k in kpis:
        if k["direction"] not in ("atLeast", "atMost"):
            raise ValueError(
                f"KPI {k['model_family']}/{k['name']}: direction must be 'atLeast' or 'atMost' "
                f"(got {k['direction']!r})"
            )
        floor = k["direction"] == "atLeast"
        period = int(k.get("period_seconds", 86400))
        periods = int(k.get("evaluation_periods", 1))
        dims = {"BusinessUnit": business_unit, "ModelFamily": k["model_family"]}
        specs.append(
            AlarmSpec(
                key=f"kpi-{k['model_family']}-{k['name']}".replace("_", "-")
                .replace(".", "-")
                .lower(),
                description=(
                    f"Business KPI {k['name']} ({k['unit']}) of model family "
                    f"{k['model_family']}, BU {business_unit}: must stay at "
                    f"{'least' if floor else 'most'} {k['target']:g} {k['unit']} "
                    f"({KPI_NAMESPACE})."
                ),
                comparison="LessThanThreshold" if floor else "GreaterThanThreshold",
                threshold=float(k["target"]),
                evaluation_periods=periods,
                datapoints_to_alarm=periods,
                treat_missing_data="missing",
                metrics=(MetricRef("m1", KPI_NAMESPACE, k["name"], dims, "Average", period),),
                extra_tags={"ai-estate/model-family": k["model_family"]},
            )
        )
    return specs


def endpoint_alarm_specs(endpoints: Sequence[SageMakerEndpointSpec]) -> list[AlarmSpec]:
    """p99 model latency and server errors of each SageMaker endpoint (AWS/SageMaker).

    `ModelLatency` is reported in microseconds. Missing data is not breaching: an endpoint with
    no traffic has neither latency nor errors.
    """
    specs = []
    for e in endpoints:
        dims = {"EndpointName": e["name"], "VariantName": e.get("variant", "AllTraffic")}
        specs.append(
            AlarmSpec(
                key=f"sm-{e['name']}-latency-p99",
                description=(
                    f"SageMaker endpoint {e['name']}: p99 model latency over "
                    f"{e['latency_p99_ms']:g} ms for 15 minutes."
                ),
                comparison="GreaterThanThreshold",
                threshold=float(e["latency_p99_ms"]) * 1000.0,
                evaluation_periods=3,
                datapoints_to_alarm=3,
                treat_missing_data="notBreaching",
                metrics=(MetricRef("m1", "AWS/SageMaker", "ModelLatency", dims, "p99"),),
            )
        )
        specs.append(
            AlarmSpec(
                key=f"sm-{e['name']}-5xx",
                description=(
                    f"SageMaker endpoint {e['name']}: more than "
                    f"{e.get('max_5xx_per_period', 0):g} invocation 5xx errors in 5 minutes."
                ),
                comparison="GreaterThanThreshold",
                threshold=float(e.get("max_5xx_per_period", 0)),
                evaluation_periods=1,
                datapoints_to_alarm=1,
                treat_missing_data="notBreaching",
                metrics=(MetricRef("m1", "AWS/SageMaker", "Invocation5XXErrors", dims, "Sum"),),
            )
        )
    return specs


def _is_percentile(stat: str) -> bool:
    return stat[:1] in ("p", "P") and stat[1:].replace(".", "", 1).isdigit()


def family_owners_topic_name(business_unit: str, environment: str, family: str) -> str:
    """`fraud-prod-card-fraud-owners`: where a model family's own alarms reach its owners."""
    return f"{business_unit}-{environment}-{family}-owners"


def _subscription_key(email: str) -> str:
    """A logical-name-safe, stable key of an email address (`fraud-ml-oncall-at-example-com`)."""
    return "".join(c if c.isalnum() else "-" for c in email.replace("@", "-at-")).lower()


DQ_FAILURE_RULE_SUFFIX = "dq-failed"
"""`<bu>-<env>-dq-failed`: the EventBridge rule of a BU's FAILED data quality results."""


def data_quality_alarm_specs(rule_name: str) -> list[AlarmSpec]:
    """An alarm on the data quality rule's permanently failed deliveries to the topic (a topic
    policy or key policy that stopped admitting EventBridge would otherwise silence every DQ
    notification). CloudWatch, not EventBridge, publishes this alarm, so it still arrives.
    `FailedInvocations` is only sent when non-zero: missing data is not breaching."""
    return [
        AlarmSpec(
            key="dq-notify-failed",
            description=(
                f"EventBridge could not deliver data quality results of rule {rule_name} to the "
                "alarm topic"
            ),
            comparison="GreaterThanOrEqualToThreshold",
            threshold=1,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            treat_missing_data="notBreaching",
            metrics=(
                MetricRef(
                    id="m1",
                    namespace="AWS/Events",
                    metric_name="FailedInvocations",
                    dimensions={"RuleName": rule_name},
                    stat="Sum",
                ),
            ),
        )
    ]


def data_quality_widget(
    *, x: int, y: int, region: str, rule_name: str, rulesets: Sequence[str]
) -> dict[str, Any]:
    """The dashboard's data quality graph: FAILED evaluations of the BU's rulesets (the DQ
    rule's `MatchedEvents`, `AWS/Events`) and the rules passed/failed per run that Glue publishes
    in `Glue Data Quality`. That namespace's dimension names are not documented for Data Catalog
    runs, so those two are `SEARCH` expressions on the ruleset names as free-text terms (which
    match any dimension value) instead of fixed dimensions."""
    terms = " OR ".join(f'"{r}"' for r in sorted(rulesets))

    def search(metric: str, label: str, id_: str) -> list[Any]:
        query = f'{{"{DQ_METRIC_NAMESPACE}"}} MetricName="{metric}" ({terms})'
        return [{"expression": f"SEARCH('{query}', 'Sum', 3600)", "label": label, "id": id_}]

    return metric_widget(
        x=x,
        y=y,
        title="data quality",
        region=region,
        metrics=[
            ["AWS/Events", "MatchedEvents", "RuleName", rule_name, {"stat": "Sum", "id": "m1"}],
            search(DQ_RULES_FAILED_METRIC, "rules failed", "e1"),
            search(DQ_RULES_PASSED_METRIC, "rules passed", "e2"),
        ],
        view="timeSeries",
        period=3600,
    )


def alarm_topic_policy(
    topic_arn: str, account_id: str, partition: str, event_rule_arns: Sequence[str] = ()
) -> str:
    """Who may publish to a BU's alarm topic: CloudWatch alarms, AWS Budgets, Cost Anomaly
    Detection and the AMP alert manager of this account's workspaces, each acting for this
    account (the confused-deputy guard AWS recommends), EventBridge for `event_rule_arns` only
    (the data quality rule), and nobody over plain HTTP."""
    events: list[dict[str, Any]] = []
    if event_rule_arns:
        events.append(
            {
                "Sid": "DataQualityResultsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": sorted(event_rule_arns)}},
            }
        )
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                *events,
                {
                    "Sid": "CloudWatchAlarmsPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                },
                {
                    "Sid": "BudgetsPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "budgets.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account_id},
                        "ArnLike": {"aws:SourceArn": f"arn:{partition}:budgets::{account_id}:*"},
                    },
                },
                {
                    "Sid": "CostAnomalyDetectionPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": COST_ALERTS_SERVICE},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                },
                {
                    "Sid": "PrometheusAlertManagerPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": AMP_SERVICE},
                    "Action": ["sns:Publish", "sns:GetTopicAttributes"],
                    "Resource": topic_arn,
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account_id},
                        "ArnLike": {
                            "aws:SourceArn": f"arn:{partition}:aps:*:{account_id}:workspace/*"
                        },
                    },
                },
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        },
        sort_keys=True,
    )


def alarm_topic_name(business_unit: str, environment: str) -> str:
    """The BU's alarm topic: named here once, since the platform's alert routing names it too."""
    return f"{business_unit}-{environment}-alarms"


def budget_cost_filter(business_unit: str) -> str:
    """The AWS Budgets `TagKeyValue` filter for a BU's cost (`user:<tag key>$<value>`)."""
    return f"user:BusinessUnit${business_unit}"


def metric_widget(
    *, x: int, y: int, title: str, region: str, metrics: list[Any], **properties: Any
) -> dict[str, Any]:
    """One CloudWatch dashboard metric widget, half a row wide (12 of 24 columns), 6 high: the
    envelope every graph of the BU and serving dashboards shares. `properties` adds widget
    properties (`view`, `period`, `annotations`, ...)."""
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {"title": title, "region": region, **properties, "metrics": metrics},
    }


def dashboard_body(
    title: str,
    region: str,
    specs: Sequence[AlarmSpec],
    alarm_arns: Sequence[str],
    data_quality: tuple[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The BU dashboard: an alarm-status panel, then one graph per alarm (its metric or metric
    math), laid out two to a row, then (given `data_quality` = (rule name, rulesets)) the data
    quality graph. Dimension values must already be resolved strings."""
    widgets: list[dict[str, Any]] = [
        {
            "type": "text",
            "x": 0,
            "y": 0,
            "width": 24,
            "height": 2,
            "properties": {"markdown": f"# {title}\nAlarms notify the BU's alarm topic."},
        },
        {
            "type": "alarm",
            "x": 0,
            "y": 2,
            "width": 24,
            "height": 4,
            "properties": {"title": "Alarm status", "alarms": list(alarm_arns)},
        },
    ]
    for i, spec in enumerate(specs):
        metrics: list[list[Any]] = []
        for m in spec.metrics:
            row: list[Any] = [m.namespace, m.metric_name]
            for key, value in m.dimensions.items():
                row.extend([key, value])
            options: dict[str, Any] = {"stat": m.stat, "id": m.id}
            if spec.expression:
                options["visible"] = False
            row.append(options)
            metrics.append(row)
        if spec.expression:
            metrics.append([{"expression": spec.expression, "label": spec.label, "id": "e1"}])
        widgets.append(
            metric_widget(
                x=12 * (i % 2),
                y=6 + 6 * (i // 2),
                title=spec.key,
                region=region,
                metrics=metrics,
                view="timeSeries",
                period=spec.period,
                annotations={"horizontal": [{"label": "alarm threshold", "value": spec.threshold}]},
            )
        )
    if data_quality is not None:
        i = len(specs)
        widgets.append(
            data_quality_widget(
                x=12 * (i % 2),
                y=6 + 6 * (i // 2),
                region=region,
                rule_name=data_quality[0],
                rulesets=data_quality[1],
            )
        )
    return {"widgets": widgets}


# -- PlatformMonitoring ------------------------------------------------------------------------


class PlatformMonitoring(pulumi.ComponentResource):
    """The platform's metrics and logs; see the module docstring."""

    workspace_arn: pulumi.Output[str]
    prometheus_endpoint: pulumi.Output[str]
    scraper_arn: pulumi.Output[str]
    agent_log_group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: PlatformMonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:monitoring:PlatformMonitoring", name, None, opts)
        self._name, self._args = name, args
        self._after = [*_depends_on_of(opts), *args.get("cluster_ready", [])]
        self._account, self._region, self._partition = account_region_partition(self)
        self._cluster_name = pulumi.Output.from_input(args["cluster_name"])
        self._invoke = pulumi.InvokeOutputOptions(parent=self)

        workspace, scraper = self._prometheus()
        self._alert_routing(workspace)
        self._collector_rbac()
        if args.get("install_kube_state_metrics", True):
            self._kube_state_metrics()
        observability = self._container_insights()
        agent_logs = self._log_group(
            "prometheus-agent-logs", f"/ai-estate/{args['name_prefix']}/prometheus-agent"
        )
        self._gpu_metric_agent(
            name,
            args,
            self._cluster_name,
            self._region,
            self._partition,
            agent_logs.name,
            [*self._after, observability],
        )
        # Cost-allocation tag activation is not here: it only works from an Organizations
        # management (or standalone) account, so it is a one-time step of that account's
        # (README "Deploying for real"; docs/migrations.md).

        self.workspace_arn = workspace.arn
        self.prometheus_endpoint = workspace.prometheus_endpoint
        self.scraper_arn = scraper.arn
        self.agent_log_group_name = agent_logs.name
        self.register_outputs(
            {
                "workspaceArn": self.workspace_arn,
                "prometheusEndpoint": self.prometheus_endpoint,
                "scraperArn": self.scraper_arn,
                "gpuMetricNamespace": GPU_METRIC_NAMESPACE,
                "agentLogGroupName": self.agent_log_group_name,
            }
        )

    # -- builders, in the order the constructor calls them ----------------------------------

    def _log_group(self, suffix: str, log_name: pulumi.Input[str]) -> aws.cloudwatch.LogGroup:
        args = self._args
        return aws.cloudwatch.LogGroup(
            f"{self._name}-{suffix}",
            name=log_name,
            retention_in_days=args["log_retention_days"],
            kms_key_id=args["kms_key_arn"],
            tags=args["tags"],
            opts=stateful(self, args["protect"]),
        )

    def _prometheus(self) -> tuple[aws.amp.Workspace, aws.amp.Scraper]:
        """The AMP workspace and the managed collector that scrapes the cluster into it."""
        name, args = self._name, self._args
        prefix, tags = args["name_prefix"], args["tags"]
        cluster_arn = pulumi.Output.from_input(
            args.get("cluster_arn")
            or pulumi.Output.all(
                self._partition, self._region, self._account, self._cluster_name
            ).apply(lambda p: eks_cluster_arn(p[0], p[1], p[2], p[3]))
        )
        amp_logs = self._log_group("amp-logs", f"/ai-estate/{prefix}/amp")
        workspace = aws.amp.Workspace(
            f"{name}-workspace",
            alias=f"{prefix}-metrics",
            kms_key_arn=args["kms_key_arn"],
            logging_configuration=aws.amp.WorkspaceLoggingConfigurationArgs(
                # AMP vends logs to the group's streams: the ARN with `:*`.
                log_group_arn=amp_logs.arn.apply(lambda arn: f"{arn}:*"),
            ),
            # The collector tags its destination with this key; declaring it keeps every
            # preview from proposing to remove it (pulumi-aws amp.Scraper docs).
            tags={**tags, "AMPAgentlessScraper": ""},
            opts=stateful(self, args["protect"]),
        )
        interval = args.get("scrape_interval_seconds", AMP_SCRAPE_INTERVAL_SECONDS)
        # A scraper cannot be updated: any change here replaces it (the collector is stateless).
        scraper = aws.amp.Scraper(
            f"{name}-scraper",
            alias=f"{prefix}-cluster",
            source=aws.amp.ScraperSourceArgs(
                eks=aws.amp.ScraperSourceEksArgs(
                    cluster_arn=cluster_arn,
                    subnet_ids=args["private_subnet_ids"],
                    security_group_ids=pulumi.Output.from_input(
                        args["cluster_security_group_id"]
                    ).apply(lambda sg: [sg]),
                )
            ),
            destination=aws.amp.ScraperDestinationArgs(
                amp=aws.amp.ScraperDestinationAmpArgs(workspace_arn=workspace.arn)
            ),
            scrape_configuration=cluster_arn.apply(lambda arn: scrape_configuration(arn, interval)),
            tags=tags,
            # Only the control plane (through the cluster ARN): the collector discovers targets
            # as they appear, so it need not wait for nodes.
            opts=child(self),
        )
        return workspace, scraper

    def _alert_routing(self, workspace: aws.amp.Workspace) -> None:
        """Route the workspace's alerts to the BU alarm topics (`alert_topics`)."""
        topics = dict(self._args.get("alert_topics") or {})
        if not topics:
            return
        arns = pulumi.Output.all(self._partition, self._region, self._account).apply(
            lambda p: {bu: f"arn:{p[0]}:sns:{p[1]}:{p[2]}:{t}" for bu, t in topics.items()}
        )
        AlertRouting(
            f"{self._name}-alert-routing",
            {"workspace_id": workspace.id, "topic_arns": arns, "region": self._region},
            child(self),
        )

    def _collector_rbac(self) -> None:
        """What the collector may read, bound to the Kubernetes user AMP maps it to.

        No access entry here: on a cluster in API (or API_AND_CONFIG_MAP) authentication mode,
        creating the scraper makes AMP create the access entry for its role itself, with the
        username `aps-collector-user`, and EKS allows one access entry per principal. What the
        AMP guide leaves to the cluster owner is this ClusterRole and its binding to that user.
        """
        name, provider = self._name, self._args["k8s_provider"]
        collector_role = k8s.rbac.v1.ClusterRole(
            f"{name}-collector-role",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="aps-collector-role"),
            rules=collector_cluster_role_rules(),
            opts=child(self, provider=provider, depends_on=self._after),
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-collector-binding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="aps-collector-user-role-binding"),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io",
                kind="ClusterRole",
                name=collector_role.metadata.name,
            ),
            subjects=[
                k8s.rbac.v1.SubjectArgs(
                    kind="User", name=SCRAPER_K8S_USER, api_group="rbac.authorization.k8s.io"
                )
            ],
            opts=child(self, provider=provider, depends_on=self._after),
        )

    def _kube_state_metrics(self) -> None:
        """The EKS community add-on the collector's kube-state-metrics job scrapes."""
        args = self._args
        aws.eks.Addon(
            f"{self._name}-kube-state-metrics",
            cluster_name=self._cluster_name,
            addon_name=KUBE_STATE_METRICS_ADDON,
            addon_version=aws.eks.get_addon_version_output(
                addon_name=KUBE_STATE_METRICS_ADDON,
                kubernetes_version=args["kubernetes_version"],
                most_recent=False,  # EKS's default, never the newest (issue 11)
                opts=self._invoke,
            ).version,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=args["tags"],
            opts=child(self, depends_on=self._after),
        )

    def _container_insights(self) -> aws.eks.Addon:
        """CloudWatch Container Insights: the observability add-on, its role and log groups."""
        name, args, tags = self._name, self._args, self._args["tags"]
        insight_groups = [
            self._log_group(
                f"containerinsights-{kind}",
                self._cluster_name.apply(partial(container_insights_log_group, kind=kind)),
            )
            for kind in CONTAINER_INSIGHTS_LOG_GROUPS
        ]
        agent_role = pod_identity_role(
            self,
            f"{name}-cloudwatch-agent-role",
            "CloudWatch observability add-on agent",
            tags,
            args.get("permissions_boundary"),
        )
        agent_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cloudwatch-agent-policy",
            role=agent_role.name,
            policy_arn=managed_policy_arn_output(self._partition, AGENT_POLICY),
            opts=child(self),
        )
        return aws.eks.Addon(
            f"{name}-cloudwatch-observability",
            cluster_name=self._cluster_name,
            addon_name=OBSERVABILITY_ADDON,
            addon_version=aws.eks.get_addon_version_output(
                addon_name=OBSERVABILITY_ADDON,
                kubernetes_version=args["kubernetes_version"],
                most_recent=False,  # EKS's default, never the newest (issue 11)
                opts=self._invoke,
            ).version,
            configuration_values=observability_addon_configuration(),
            pod_identity_associations=[
                aws.eks.AddonPodIdentityAssociationArgs(
                    role_arn=agent_role.arn, service_account=OBSERVABILITY_SERVICE_ACCOUNT
                )
            ],
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=tags,
            # The log groups first, or the agent creates them unencrypted and kept forever.
            opts=child(self, depends_on=[*self._after, *insight_groups, agent_policy]),
        )

    def _gpu_metric_agent(
        self,
        name: str,
        args: PlatformMonitoringArgs,
        cluster_name: pulumi.Output[str],
        region: pulumi.Output[str],
        partition: pulumi.Output[str],
        log_group_name: pulumi.Output[str],
        after: list[pulumi.Resource],
    ) -> None:
        provider, tags = args["k8s_provider"], args["tags"]
        role = pod_identity_role(
            self,
            f"{name}-gpu-agent-role",
            "cwagent-prometheus (GPU)",
            tags,
            args.get("permissions_boundary"),
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-gpu-agent-policy",
            role=role.name,
            policy_arn=managed_policy_arn_output(partition, AGENT_POLICY),
            opts=child(self),
        )
        identity = bind_service_account(
            self,
            f"{name}-gpu-agent-identity",
            cluster_name=cluster_name,
            namespace=CLOUDWATCH_NAMESPACE,
            service_account=PROMETHEUS_AGENT,
            role=role,
            tags=tags,
        )
        k8s_opts = child(self, provider=provider, depends_on=after)
        agent_labels = {labels.APP_NAME: PROMETHEUS_AGENT, labels.PART_OF: "ai-estate"}

        def meta(object_name: str, namespaced: bool = True) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(
                name=object_name,
                namespace=CLOUDWATCH_NAMESPACE if namespaced else None,
                labels=agent_labels,
            )

        account = k8s.core.v1.ServiceAccount(
            f"{name}-gpu-agent-sa", metadata=meta(PROMETHEUS_AGENT), opts=k8s_opts
        )
        role_k8s = k8s.rbac.v1.ClusterRole(
            f"{name}-gpu-agent-discovery",
            metadata=meta(PROMETHEUS_AGENT, namespaced=False),
            rules=agent_cluster_role_rules(),
            opts=k8s_opts,
        )
        binding = k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-gpu-agent-discovery-binding",
            metadata=meta(PROMETHEUS_AGENT, namespaced=False),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io",
                kind="ClusterRole",
                name=role_k8s.metadata.name,
            ),
            subjects=[
                k8s.rbac.v1.SubjectArgs(
                    kind="ServiceAccount", name=PROMETHEUS_AGENT, namespace=CLOUDWATCH_NAMESPACE
                )
            ],
            opts=k8s_opts,
        )
        interval = GPU_METRIC_INTERVAL_SECONDS
        scrape = k8s.core.v1.ConfigMap(
            f"{name}-gpu-agent-scrape-config",
            metadata=meta(f"{PROMETHEUS_AGENT}-scrape"),
            data=cluster_name.apply(
                lambda c: {"prometheus.yaml": agent_scrape_configuration(c, interval)}
            ),
            opts=k8s_opts,
        )
        agent_config = k8s.core.v1.ConfigMap(
            f"{name}-gpu-agent-config",
            metadata=meta(f"{PROMETHEUS_AGENT}-config"),
            data=pulumi.Output.all(cluster_name, region, log_group_name).apply(
                lambda p: {"cwagentconfig.json": agent_configuration(p[0], p[1], p[2])}
            ),
            opts=k8s_opts,
        )
        k8s.apps.v1.Deployment(
            f"{name}-gpu-agent",
            metadata=meta(PROMETHEUS_AGENT),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=agent_labels),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=agent_labels,
                        # A config change rolls the pod (ConfigMap updates are not watched).
                        annotations={
                            labels.CONFIG_HASH: pulumi.Output.all(
                                scrape.data, agent_config.data
                            ).apply(_config_hash)
                        },
                    ),
                    spec=k8s.core.v1.PodSpecArgs(
                        service_account_name=PROMETHEUS_AGENT,
                        node_selector=args.get("node_selector") or None,
                        # The system pool is tainted for add-ons only (addons.SYSTEM_POOL_TAINT).
                        tolerations=[k8s.core.v1.TolerationArgs(**SYSTEM_POOL_TOLERATION)],
                        termination_grace_period_seconds=60,
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name="cloudwatch-agent",
                                image=args.get("agent_image", CLOUDWATCH_AGENT_IMAGE),
                                env=[k8s.core.v1.EnvVarArgs(name="CI_VERSION", value="k8s/1.3.x")],
                                resources=k8s.core.v1.ResourceRequirementsArgs(
                                    requests={"cpu": "200m", "memory": "256Mi"},
                                    limits={"cpu": "1", "memory": "1Gi"},
                                ),
                                security_context=k8s.core.v1.SecurityContextArgs(
                                    allow_privilege_escalation=False,
                                    capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                                ),
                                volume_mounts=[
                                    k8s.core.v1.VolumeMountArgs(
                                        name="agent-config", mount_path="/etc/cwagentconfig"
                                    ),
                                    k8s.core.v1.VolumeMountArgs(
                                        name="scrape-config", mount_path="/etc/prometheusconfig"
                                    ),
                                ],
                            )
                        ],
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="agent-config",
                                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                                    name=agent_config.metadata.name
                                ),
                            ),
                            k8s.core.v1.VolumeArgs(
                                name="scrape-config",
                                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                                    name=scrape.metadata.name
                                ),
                            ),
                        ],
                    ),
                ),
            ),
            opts=child(
                self,
                provider=provider,
                depends_on=[*after, account, binding, identity],
            ),
        )


# -- BuMonitoring ----------------------------------------------------------------------------


class BuMonitoring(pulumi.ComponentResource):
    """One BU's alarms, dashboard and budget; see the module docstring."""

    topic_arn: pulumi.Output[str]
    alarm_arns: dict[str, pulumi.Output[str]]
    family_topic_arns: dict[str, pulumi.Output[str]]
    """Model family -> its owners' alarm topic."""
    dashboard_name: pulumi.Output[str]
    budget_name: pulumi.Output[str] | None
    cost_anomaly_monitor_arn: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: BuMonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:monitoring:BuMonitoring", name, None, opts)
        bu, env, tags = args["business_unit"], args["environment"], args["tags"]
        prefix = f"{bu}-{env}"
        thresholds = thresholds_with_defaults(args.get("thresholds"))
        invoke = pulumi.InvokeOutputOptions(parent=self)
        partition = aws.get_partition_output(opts=invoke).partition
        region = aws.get_region_output(opts=invoke).region
        account = pulumi.Output.from_input(args["account_id"])

        # -- the alarm topic --------------------------------------------------------------
        topic = aws.sns.Topic(
            f"{name}-alarms",
            name=alarm_topic_name(bu, env),
            display_name=f"AI Estate alarms of {prefix}",
            kms_master_key_id=args["kms_key_arn"],
            tags=tags,
            opts=child(self),
        )
        # -- data quality results: FAILED evaluations of the BU's rulesets to the topic -------
        rulesets = sorted(args.get("data_quality_rulesets") or [])
        dq_rule_name = f"{prefix}-{DQ_FAILURE_RULE_SUFFIX}"
        dq_rule = None
        if rulesets:
            dq_rule = aws.cloudwatch.EventRule(
                f"{name}-{DQ_FAILURE_RULE_SUFFIX}",
                name=dq_rule_name,
                description=f"FAILED Glue Data Quality results of {prefix} to the alarm topic",
                event_pattern=json.dumps(dq_failure_pattern(rulesets), sort_keys=True),
                tags=tags,
                opts=child(self),
            )
        rule_arns = [dq_rule.arn] if dq_rule is not None else []
        topic_policy = aws.sns.TopicPolicy(
            f"{name}-alarms-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, account, partition, *rule_arns).apply(
                lambda p: alarm_topic_policy(p[0], p[1], p[2], p[3:])
            ),
            opts=child(self),
        )
        if dq_rule is not None:
            aws.cloudwatch.EventTarget(
                f"{name}-{DQ_FAILURE_RULE_SUFFIX}-target",
                rule=dq_rule.name,
                arn=topic.arn,
                input_transformer=aws.cloudwatch.EventTargetInputTransformerArgs(
                    input_paths=DQ_FAILURE_INPUT_PATHS,
                    input_template=DQ_FAILURE_INPUT_TEMPLATE,
                ),
                # EventBridge delivers only once the topic admits this rule.
                opts=child(self, depends_on=[topic_policy]),
            )
        for i, sub in enumerate(args["subscriptions"]):
            if sub["protocol"] not in ("email", "https", "sqs", "lambda"):
                raise ValueError(
                    f"BuMonitoring {name}: subscription {i} protocol must be email, https, sqs or "
                    f"lambda (got {sub['protocol']!r})"
                )
            aws.sns.TopicSubscription(
                f"{name}-alarms-sub-{i}",
                topic=topic.arn,
                protocol=sub["protocol"],
                endpoint=sub["endpoint"],
                opts=child(self),
            )

        # -- the model families' owners ---------------------------------------------------
        # A family's own alarms reach the people who answer for it (the technical owner fixes
        # the model, the business owner decides on its use), besides the BU's on-call topic.
        family_topics: dict[str, pulumi.Output[str]] = {}
        owner_policies: list[pulumi.Resource] = []
        for family, owners in sorted((args.get("family_owners") or {}).items()):
            family_topic = aws.sns.Topic(
                f"{name}-{family}-owners",
                name=family_owners_topic_name(bu, env, family),
                display_name=f"AI Estate alarms of {family} in {prefix}",
                kms_master_key_id=args["kms_key_arn"],
                tags={**tags, **family_tags(family, owners)},
                opts=child(self),
            )
            owner_policies.append(
                aws.sns.TopicPolicy(
                    f"{name}-{family}-owners-policy",
                    arn=family_topic.arn,
                    policy=pulumi.Output.all(family_topic.arn, account, partition).apply(
                        lambda p: alarm_topic_policy(p[0], p[1], p[2])
                    ),
                    opts=child(self),
                )
            )
            for role in dict.fromkeys((owners["technical"], owners["business"])):
                aws.sns.TopicSubscription(
                    f"{name}-{family}-owners-{_subscription_key(role)}",
                    topic=family_topic.arn,
                    protocol="email",
                    endpoint=role,
                    opts=child(self),
                )
            family_topics[family] = family_topic.arn
        self.family_topic_arns = family_topics

        # -- request metrics on the watched buckets ----------------------------------------
        for label, bucket in args["buckets"].items():
            aws.s3.BucketMetric(
                f"{name}-s3-{label}-metrics",
                bucket=bucket,
                # No filter: the whole bucket. The name becomes the FilterId dimension.
                name=BUCKET_METRICS_FILTER,
                opts=child(self),
            )

        # -- alarms ------------------------------------------------------------------------
        interval = args.get("gpu_metric_interval_seconds", GPU_METRIC_INTERVAL_SECONDS)
        specs: list[AlarmSpec] = [
            *gpu_alarm_specs(
                bu,
                args["cluster_name"],
                args["gpu_pools"],
                thresholds,
                interval,
                args.get("gpu_slices_per_gpu"),
            ),
            *(
                s
                for label, table in args["online_tables"].items()
                for s in table_alarm_specs(label, table, thresholds)
            ),
            *(
                s
                for label, bucket in args["buckets"].items()
                for s in bucket_alarm_specs(label, bucket, thresholds)
            ),
            *model_alarm_specs(bu, args["model_metrics"]),
            # KPIs right after model quality, so the dashboard graphs them side by side
            *kpi_alarm_specs(bu, args.get("kpis") or []),
            *endpoint_alarm_specs(args["sagemaker_endpoints"]),
            *(data_quality_alarm_specs(dq_rule_name) if rulesets else []),
        ]
        keys = [s.key for s in specs]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"BuMonitoring {name}: two alarms would be named {duplicates[0]!r}")
        family_of = {
            **{
                s.key: m["model"] for m in args["model_metrics"] for s in model_alarm_specs(bu, [m])
            },
            **{
                s.key: k["model_family"]
                for k in args.get("kpis") or []
                for s in kpi_alarm_specs(bu, [k])
            },
        }
        self.alarm_arns = {}
        for spec in specs:
            of = family_of.get(spec.key)
            topics = [topic.arn] + ([family_topics[of]] if of in family_topics else [])
            alarm = self._alarm(name, prefix, spec, topics, tags, [topic_policy, *owner_policies])
            self.alarm_arns[spec.key] = alarm.arn

        # -- dashboard ---------------------------------------------------------------------
        dimension_values = [v for s in specs for m in s.metrics for v in m.dimensions.values()]
        arns = list(self.alarm_arns.values())
        # Thresholds and expressions too: GPU caps may come from the platform stack's outputs.
        scalars = [s.threshold for s in specs] + [s.expression for s in specs]
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=f"ai-estate-{prefix}",
            dashboard_body=pulumi.Output.all(region, *arns, *scalars, *dimension_values).apply(
                lambda resolved: json.dumps(
                    dashboard_body(
                        f"AI Estate: {prefix}",
                        resolved[0],
                        _resolve_specs(
                            specs,
                            resolved[1 + len(arns) + len(scalars) :],
                            resolved[1 + len(arns) : 1 + len(arns) + len(scalars)],
                        ),
                        resolved[1 : 1 + len(arns)],
                        (dq_rule_name, rulesets) if rulesets else None,
                    ),
                    sort_keys=True,
                )
            ),
            opts=child(self),
        )

        # -- budget ------------------------------------------------------------------------
        self.budget_name = None
        budget = args.get("budget")
        if budget is not None:
            limit = float(budget["monthly_limit_usd"])
            if limit <= 0:
                raise ValueError(f"BuMonitoring {name}: the monthly budget must be above 0")
            emails = list(budget.get("notify_emails") or [])
            created = aws.budgets.Budget(
                f"{name}-budget",
                name=f"ai-estate-{prefix}-monthly",
                budget_type="COST",
                limit_amount=f"{limit:.2f}",
                limit_unit="USD",
                time_unit="MONTHLY",
                cost_filters=[
                    aws.budgets.BudgetCostFilterArgs(
                        name="TagKeyValue", values=[budget_cost_filter(bu)]
                    )
                ],
                notifications=[
                    aws.budgets.BudgetNotificationArgs(
                        comparison_operator="GREATER_THAN",
                        notification_type=kind,
                        threshold=threshold,
                        threshold_type="PERCENTAGE",
                        subscriber_sns_topic_arns=[topic.arn],
                        subscriber_email_addresses=emails or None,
                    )
                    for kind in BUDGET_NOTIFICATION_TYPES
                    for threshold in BUDGET_THRESHOLDS
                ],
                tags=tags,
                # AWS Budgets checks it may publish to the topic when the budget is saved.
                opts=child(self, depends_on=[topic_policy]),
            )
            self.budget_name = created.name

        # -- cost anomaly alert ---------------------------------------------------------------
        self.cost_anomaly_monitor_arn = None
        anomaly = args.get("cost_anomaly")
        if anomaly is not None:
            self.cost_anomaly_monitor_arn = BuCostAnomaly(
                f"{name}-cost-anomaly",
                {
                    **anomaly,
                    "business_unit": bu,
                    "environment": env,
                    "topic_arn": topic.arn,
                    "tags": tags,
                },
                # Cost Anomaly Detection publishes only once the topic admits it.
                child(self, depends_on=[topic_policy]),
            ).monitor_arn

        self.topic_arn = topic.arn
        self.dashboard_name = dashboard.dashboard_name
        self.register_outputs(
            {
                "topicArn": self.topic_arn,
                "alarmArns": self.alarm_arns,
                "dashboardName": self.dashboard_name,
                "budgetName": self.budget_name,
            }
        )

    def _alarm(
        self,
        name: str,
        prefix: str,
        spec: AlarmSpec,
        topic_arns: list[pulumi.Output[str]],
        tags: dict[str, str],
        topic_policies: list[pulumi.Resource],
    ) -> aws.cloudwatch.MetricAlarm:
        alarm_tags = {**tags, **spec.extra_tags}
        if spec.pool:
            alarm_tags[NODE_LABEL_POOL] = spec.pool
        common: dict[str, Any] = {
            "name": f"{prefix}-{spec.key}",
            "alarm_description": spec.description,
            "comparison_operator": spec.comparison,
            "threshold": spec.threshold,
            "evaluation_periods": spec.evaluation_periods,
            "datapoints_to_alarm": spec.datapoints_to_alarm,
            "treat_missing_data": spec.treat_missing_data,
            "alarm_actions": list(topic_arns),
            "ok_actions": list(topic_arns),
            "tags": alarm_tags,
        }
        if spec.treat_missing_data == "missing":
            # The evaluation stopped reporting: say so, instead of staying silent.
            common["insufficient_data_actions"] = list(topic_arns)
        if spec.expression is None and len(spec.metrics) == 1:
            m = spec.metrics[0]
            common.update(
                namespace=m.namespace,
                metric_name=m.metric_name,
                dimensions=dict(m.dimensions),
                period=m.period,
            )
            if _is_percentile(m.stat):
                common["extended_statistic"] = m.stat
            else:
                common["statistic"] = m.stat
        else:
            common["metric_queries"] = [
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id=m.id,
                    metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                        namespace=m.namespace,
                        metric_name=m.metric_name,
                        dimensions=dict(m.dimensions),
                        period=m.period,
                        stat=m.stat,
                    ),
                    return_data=False,
                )
                for m in spec.metrics
            ] + [
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="e1", expression=spec.expression, label=spec.label, return_data=True
                )
            ]
        return aws.cloudwatch.MetricAlarm(
            f"{name}-{spec.key}",
            **common,
            # Alarms notify only once the topics admit CloudWatch.
            opts=child(self, depends_on=topic_policies),
        )


def _config_hash(data: Any) -> str:
    """A stable digest of rendered configuration (Python's `hash` differs per process)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _resolve_specs(
    specs: Sequence[AlarmSpec], values: Sequence[Any], scalars: Sequence[Any] = ()
) -> list[AlarmSpec]:
    """The specs with their dimension values replaced, in order, by resolved strings, and (when
    given) their thresholds then expressions by `scalars`."""
    it = iter(values)
    count = len(specs)
    return [
        replace(
            spec,
            metrics=tuple(
                replace(m, dimensions={k: next(it) for k in m.dimensions}) for m in spec.metrics
            ),
            **({"threshold": scalars[i], "expression": scalars[count + i]} if scalars else {}),
        )
        for i, spec in enumerate(specs)
    ]
