"""Prometheus rules and alert routing in Amazon Managed Service for Prometheus (AMP).

Two components:

- `BuPrometheusRules` (BU stacks): one AMP rule groups namespace per BU, in the workspace of the
  cluster the BU runs on, with three groups, every alert labelled `business_unit=<bu>`:
  - `<bu>-serving-slo`: multiwindow, multi-burn-rate alerts on each endpoint's availability SLO
    (the Google SRE workbook's 14.4x over 1h/5m and 6x over 6h/30m page; 3x over 1d/2h and 1x
    over 3d/6h open a ticket).
  - `<bu>-gpu-waste`: GPUs held by the BU's pods that idle below the BU's low-utilisation
    threshold for the BU's idle window.
  - `<bu>-kueue-wait`: the 90th percentile of the time the BU's workloads wait for admission.
- `AlertRouting` (the stack that owns the workspace): the workspace's alert manager definition,
  which routes each alert by its `business_unit` label to that BU's alarm topic (SNS, signed
  with SigV4 in the workspace's region). The BU topic's policy admits `aps.amazonaws.com` for
  this account's workspaces and the BU key lets it encrypt (components/monitoring.py).

Where the series come from (what the platform's AMP collector scrapes, components/monitoring.py):

    availability  kubelet `prober_probe_total{probe_type="Readiness", result, namespace, pod,
                  container}` from `/metrics/probes` (through the API server's node proxy): the
                  model server's readiness probe on its health path every 10 s. Request-level
                  metrics do not reach AMP: the ALB's are CloudWatch-only, and each endpoint's
                  NetworkPolicy admits the load balancer's subnets only, so nothing in the VPC
                  can scrape a model server. The SLI is therefore "the fraction of readiness
                  probes that fail", the availability a caller behind the Gateway sees (an
                  unready pod receives no traffic; all unready means 5xx).
    GPU waste     the DCGM exporter's `DCGM_FI_DEV_GPU_UTIL` (percent, per GPU), whose
                  `exported_namespace` label is the namespace of the pod holding the GPU (the
                  exporter's own `namespace` label is renamed on scrape; honor_labels is off).
    queue wait    Kueue's `kueue_admission_wait_time_seconds` histogram (label `cluster_queue`;
                  each BU's ClusterQueue is named after the BU).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import pulumi
import pulumi_aws as aws
import yaml

from .options import child

BU_LABEL = "business_unit"
"""The label every estate alert carries, and the alert manager routes on."""

PROBE_METRIC = "prober_probe_total"
GPU_METRIC = "DCGM_FI_DEV_GPU_UTIL"
GPU_POD_NAMESPACE_LABEL = "exported_namespace"
KUEUE_WAIT_METRIC = "kueue_admission_wait_time_seconds"
MODEL_SERVER_CONTAINER = "model-server"

BURN_RATE_ALERTS: tuple[tuple[str, float, str, str, str], ...] = (
    # (severity, burn rate, long window, short window, `for`)
    ("page", 14.4, "1h", "5m", "2m"),
    ("page", 6.0, "6h", "30m", "15m"),
    ("ticket", 3.0, "1d", "2h", "1h"),
    ("ticket", 1.0, "3d", "6h", "3h"),
)
"""The SRE workbook's multiwindow, multi-burn-rate table for a 30-day SLO: 2% of the error
budget in an hour, 5% in six hours, 10% in a day, 10% in three days."""

_SECONDS = {"m": 60, "h": 3600, "d": 86400}


def window_seconds(window: str) -> int:
    """`5m` -> 300 (the windows used here: minutes, hours, days)."""
    return int(window[:-1]) * _SECONDS[window[-1]]


WINDOWS = tuple(
    sorted(
        {w for _, _, long, short, _ in BURN_RATE_ALERTS for w in (long, short)},
        key=window_seconds,
    )
)
"""Every window a burn-rate alert reads, shortest first: one recording rule each."""


class _NoAliases(yaml.SafeDumper):
    """A rule file spelled out in full: no `&id001` anchors for labels shared between rules."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(document: Any) -> str:
    return yaml.dump(document, Dumper=_NoAliases, sort_keys=False, width=100)


class PrometheusRulesSpec(TypedDict):
    """The BU's Prometheus rules (`ai-estate:monitoring.prometheusRules`)."""

    availability_objective: float
    """The endpoints' availability SLO over 30 days (0.995: a 0.5% error budget)."""
    queue_wait_p90_minutes: int
    """Alert when the 90th percentile admission wait of the BU's queue exceeds this."""


class BuPrometheusRulesArgs(PrometheusRulesSpec):
    """Inputs of `BuPrometheusRules`."""

    business_unit: str
    """The BU slug: its namespace, ClusterQueue and `business_unit` label."""
    environment: str
    """Names the rule groups namespace `<bu>-<env>`."""
    workspace_arn: pulumi.Input[str]
    """The AMP workspace of the cluster the BU runs on (the platform's `prometheusWorkspaceArn`)."""
    endpoints: list[str]
    """The BU's serving endpoints (Deployment names)."""
    gpu_idle_percent: float
    """Average utilisation under which a held GPU counts as idle (`monitoring.thresholds`)."""
    gpu_idle_minutes: float
    """How long it must stay idle before the alert fires."""
    tags: dict[str, str]
    """Ownership tags for every taggable resource."""


# -- pure functions: the rule file -------------------------------------------------------------


def _record_name(window: str) -> str:
    return f"ai_estate:endpoint_probe_errors:ratio_rate{window}"


def _probe_selector(business_unit: str, endpoint: str, result: str | None = None) -> str:
    matchers = [
        'probe_type="Readiness"',
        f'namespace="{business_unit}"',
        f'container="{MODEL_SERVER_CONTAINER}"',
        # Deployment pods: <deployment>-<replica set hash>-<pod suffix>
        f'pod=~"{endpoint}-[a-z0-9]+-[a-z0-9]+"',
    ]
    if result is not None:
        matchers.insert(1, f'result!="{result}"')
    return f"{PROBE_METRIC}{{{', '.join(matchers)}}}"


def slo_rules(business_unit: str, endpoint: str, objective: float) -> list[dict[str, Any]]:
    """Recording rules of an endpoint's probe error ratio per window, then its burn-rate alerts."""
    if not 0 < objective < 1:
        raise ValueError(f"availability objective {objective} must be between 0 and 1")
    labels = {BU_LABEL: business_unit, "endpoint": endpoint}
    rules: list[dict[str, Any]] = [
        {
            "record": _record_name(w),
            "expr": (
                f"sum(rate({_probe_selector(business_unit, endpoint, 'successful')}[{w}])) / "
                f"sum(rate({_probe_selector(business_unit, endpoint)}[{w}]))"
            ),
            "labels": labels,
        }
        for w in WINDOWS
    ]
    budget = round(1 - objective, 10)
    for severity in ("page", "ticket"):
        conditions = [
            f'({_record_name(long)}{{endpoint="{endpoint}"}} > {rate:g} * {budget:g} and '
            f'{_record_name(short)}{{endpoint="{endpoint}"}} > {rate:g} * {budget:g})'
            for sev, rate, long, short, _ in BURN_RATE_ALERTS
            if sev == severity
        ]
        waits = [f for sev, _, _, _, f in BURN_RATE_ALERTS if sev == severity]
        rules.append(
            {
                "alert": "EndpointErrorBudgetBurn" + ("Fast" if severity == "page" else "Slow"),
                "expr": " or ".join(conditions),
                "for": waits[0],
                "labels": {**labels, "severity": severity},
                "annotations": {
                    "summary": (
                        f"Endpoint {endpoint} of BU {business_unit} is burning its "
                        f"{objective:.4g} availability error budget "
                        + ("fast" if severity == "page" else "steadily")
                    ),
                    "description": (
                        "Failed readiness probes of the model server over the SLO's "
                        "multiwindow burn-rate thresholds (kubelet prober_probe_total)."
                    ),
                },
            }
        )
    return rules


def gpu_waste_rules(
    business_unit: str, idle_percent: float, idle_minutes: float
) -> list[dict[str, Any]]:
    """Average utilisation of the GPUs the BU's pods hold, and an alert when they idle."""
    if not 0 < idle_percent < 100 or idle_minutes <= 0:
        raise ValueError("GPU idle threshold must be a percentage in (0, 100) over a positive time")
    record = "ai_estate:gpu_utilization:avg5m"
    held = f'{GPU_METRIC}{{{GPU_POD_NAMESPACE_LABEL}="{business_unit}"}}'
    return [
        {
            "record": record,
            "expr": f"avg(avg_over_time({held}[5m]))",
            "labels": {BU_LABEL: business_unit},
        },
        {
            "record": "ai_estate:gpus_held:count",
            "expr": f"count({held})",
            "labels": {BU_LABEL: business_unit},
        },
        {
            "alert": "GpuIdleWaste",
            "expr": f'{record}{{{BU_LABEL}="{business_unit}"}} < {idle_percent:g}',
            "for": f"{round(idle_minutes)}m",
            "labels": {BU_LABEL: business_unit, "severity": "ticket"},
            "annotations": {
                "summary": (
                    f"GPUs held by BU {business_unit}'s pods averaged under {idle_percent:g}% "
                    f"for {idle_minutes:g} minutes: paid-for GPUs idle"
                ),
                "description": "DCGM_FI_DEV_GPU_UTIL of the GPUs allocated to the BU's pods.",
            },
        },
    ]


def queue_wait_rules(business_unit: str, p90_minutes: int) -> list[dict[str, Any]]:
    """The 90th percentile admission wait of the BU's ClusterQueue, and an alert over it."""
    if p90_minutes <= 0:
        raise ValueError("queue wait threshold must be positive")
    record = "ai_estate:kueue_admission_wait_seconds:p90_30m"
    return [
        {
            "record": record,
            "expr": (
                "histogram_quantile(0.9, sum by (le) (rate("
                f'{KUEUE_WAIT_METRIC}_bucket{{cluster_queue="{business_unit}"}}[30m])))'
            ),
            "labels": {BU_LABEL: business_unit},
        },
        {
            "alert": "KueueAdmissionWaitHigh",
            "expr": f'{record}{{{BU_LABEL}="{business_unit}"}} > {p90_minutes * 60}',
            "for": "15m",
            "labels": {BU_LABEL: business_unit, "severity": "ticket"},
            "annotations": {
                "summary": (
                    f"BU {business_unit}'s workloads wait over {p90_minutes} minutes for "
                    "admission (p90): the queue's quota is too small for its demand"
                ),
                "description": f"{KUEUE_WAIT_METRIC} of ClusterQueue {business_unit}.",
            },
        },
    ]


def rule_file(
    business_unit: str,
    endpoints: Sequence[str],
    spec: PrometheusRulesSpec,
    gpu_idle_percent: float,
    gpu_idle_minutes: float,
) -> dict[str, Any]:
    """The BU's Prometheus rule file (the `groups:` document AMP takes)."""
    groups: list[dict[str, Any]] = []
    slo = [
        r for e in endpoints for r in slo_rules(business_unit, e, spec["availability_objective"])
    ]
    if slo:
        groups.append({"name": f"{business_unit}-serving-slo", "interval": "1m", "rules": slo})
    groups.append(
        {
            "name": f"{business_unit}-gpu-waste",
            "interval": "1m",
            "rules": gpu_waste_rules(business_unit, gpu_idle_percent, gpu_idle_minutes),
        }
    )
    groups.append(
        {
            "name": f"{business_unit}-kueue-wait",
            "interval": "1m",
            "rules": queue_wait_rules(business_unit, spec["queue_wait_p90_minutes"]),
        }
    )
    return {"groups": groups}


def workspace_id(workspace_arn: str) -> str:
    """`ws-...` from `arn:aws:aps:<region>:<account>:workspace/ws-...`."""
    return workspace_arn.rsplit("/", 1)[-1]


# -- pure functions: alert routing -------------------------------------------------------------


def alertmanager_configuration(routes: Mapping[str, str], region: str) -> dict[str, Any]:
    """Route each alert by `business_unit` to its BU's SNS topic; alerts of no listed BU go to
    the `unrouted` receiver, which notifies nobody (the platform has no alarm topic)."""
    receivers: list[dict[str, Any]] = [{"name": "unrouted"}]
    children = []
    for bu, topic_arn in sorted(routes.items()):
        receivers.append(
            {
                "name": bu,
                "sns_configs": [
                    {
                        "topic_arn": topic_arn,
                        "sigv4": {"region": region},
                        "attributes": {BU_LABEL: bu},
                        "subject": f"[{{{{ .Status | toUpper }}}}] {{{{ .CommonLabels.alertname }}}} ({bu})",
                    }
                ],
            }
        )
        children.append({"matchers": [f'{BU_LABEL}="{bu}"'], "receiver": bu})
    return {
        "route": {
            "receiver": "unrouted",
            "group_by": [BU_LABEL, "alertname"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": children,
        },
        "receivers": receivers,
    }


def alert_manager_definition(routes: Mapping[str, str], region: str) -> str:
    """The AMP alert manager definition: the Alertmanager configuration under
    `alertmanager_config` as a YAML string (AMP user guide, "Creating an alert manager
    configuration")."""
    config = dump_yaml(alertmanager_configuration(routes, region))
    return dump_yaml({"alertmanager_config": config})


# -- components -------------------------------------------------------------------------------


class BuPrometheusRules(pulumi.ComponentResource):
    """The BU's rule groups namespace in the AMP workspace; see the module docstring."""

    def __init__(
        self, name: str, args: BuPrometheusRulesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:monitoring:BuPrometheusRules", name, None, opts)
        bu = args["business_unit"]
        document = rule_file(
            bu,
            args["endpoints"],
            args,
            float(args["gpu_idle_percent"]),
            float(args["gpu_idle_minutes"]),
        )
        aws.amp.RuleGroupNamespace(
            f"{name}-rules",
            name=f"{bu}-{args['environment']}",
            workspace_id=pulumi.Output.from_input(args["workspace_arn"]).apply(workspace_id),
            data=dump_yaml(document),
            tags=args["tags"],
            opts=child(self),
        )
        self.register_outputs({})


class AlertRoutingArgs(TypedDict):
    """Inputs of `AlertRouting`."""

    workspace_id: pulumi.Input[str]
    """The AMP workspace whose alerts are routed (`ws-...`)."""
    topic_arns: pulumi.Input[Mapping[str, str]]
    """BU slug -> the BU's alarm topic ARN."""
    region: pulumi.Input[str]
    """The workspace's region (SigV4 signing of SNS publishes)."""


class AlertRouting(pulumi.ComponentResource):
    """The workspace's alert manager definition, routing alerts to BU topics."""

    def __init__(
        self, name: str, args: AlertRoutingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:monitoring:AlertRouting", name, None, opts)
        aws.amp.AlertManagerDefinition(
            f"{name}-definition",
            workspace_id=args["workspace_id"],
            definition=pulumi.Output.all(args["topic_arns"], args["region"]).apply(
                lambda p: alert_manager_definition(p[0], p[1])
            ),
            opts=child(self),
        )
        self.register_outputs({})
