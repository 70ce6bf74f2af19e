"""Monitoring components: the pure builders first, then both components rendered under mocks."""

from __future__ import annotations

import json
from functools import cache

import kubernetes_validate
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
import yaml

from components import gpu_pools
from components.monitoring import (
    ALARM_PUBLISHERS,
    BUCKET_METRICS_FILTER,
    DEFAULT_THRESHOLDS,
    GPU_METRIC_INTERVAL_SECONDS,
    GPU_METRIC_NAMESPACE,
    GPU_UTIL_METRIC,
    MODEL_QUALITY_METRIC,
    MODEL_QUALITY_NAMESPACE,
    BuMonitoring,
    BuMonitoringArgs,
    PlatformMonitoring,
    agent_configuration,
    agent_scrape_configuration,
    alarm_topic_policy,
    budget_cost_filter,
    dashboard_body,
    gpu_alarm_specs,
    log_group_prefixes,
    model_alarm_specs,
    observability_addon_configuration,
    scrape_configuration,
    table_alarm_specs,
    thresholds_with_defaults,
)
from estate.offline.engine import ProgramError, render

KEY = "arn:aws:kms:us-east-1:222222222222:key/0b5e-monitoring"
TAGS = {"BusinessUnit": "fraud", "Environment": "prod", "ManagedBy": "ai-estate"}
CLUSTER = "platform-prod-ai"
TOPIC = "arn:aws:sns:us-east-1:222222222222:fraud-prod-alarms"
K8S_VERSION = "1.31"
MANIFEST_KEYS = ("apiVersion", "kind", "metadata", "spec", "rules", "subjects", "roleRef", "data")

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def of_type(inventory, type_):
    return [r for r in inventory.resources if r.type == type_]


def one(inventory, type_, suffix=""):
    found = [r for r in of_type(inventory, type_) if r.name.endswith(suffix)]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


# -- pure builders --------------------------------------------------------------------------


def test_scrape_configuration_covers_gpus_nodes_and_cluster_state():
    config = yaml.safe_load(scrape_configuration("arn:aws:eks:us-east-1:1:cluster/c", 30))
    assert config["global"]["scrape_interval"] == "30s"
    assert config["global"]["external_labels"] == {
        "clusterArn": "arn:aws:eks:us-east-1:1:cluster/c"
    }
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert {"kubelet", "cadvisor", "kube-state-metrics", "dcgm-exporter", "karpenter"} <= set(jobs)
    cadvisor_path = jobs["cadvisor"]["relabel_configs"][-1]["replacement"]
    assert cadvisor_path == "/api/v1/nodes/$1/proxy/metrics/cadvisor"
    dcgm_keep = jobs["dcgm-exporter"]["relabel_configs"][0]
    assert dcgm_keep["action"] == "keep" and "dcgm-exporter" in dcgm_keep["regex"]
    # both the dcgm-exporter chart's Service and the GPU Operator's are kept
    import re

    pattern = re.compile(f"^(?:{dcgm_keep['regex']})$")
    assert pattern.match("dcgm-exporter") and pattern.match("nvidia-dcgm-exporter")


def test_the_gpu_agent_labels_series_with_the_pools_node_labels():
    config = yaml.safe_load(agent_scrape_configuration(CLUSTER, 60))
    [job] = config["scrape_configs"]
    assert job["kubernetes_sd_configs"] == [
        {"role": "endpoints", "attach_metadata": {"node": True}}
    ]
    targets = {r.get("target_label"): r for r in job["relabel_configs"]}
    # Prometheus sanitises node label names: every non [a-zA-Z0-9_] becomes '_'
    for label, target in ((gpu_pools.LABEL_BU, "BusinessUnit"), (gpu_pools.LABEL_POOL, "Pool")):
        meta = "__meta_kubernetes_node_label_" + "".join(c if c.isalnum() else "_" for c in label)
        assert targets[target]["source_labels"] == [meta]
    assert targets["ClusterName"]["replacement"] == CLUSTER
    assert job["metric_relabel_configs"][0]["regex"] == GPU_UTIL_METRIC


def test_the_gpu_agent_publishes_the_documented_metric_contract():
    config = json.loads(agent_configuration(CLUSTER, "us-east-1", "/ai-estate/platform-prod/x"))
    assert config["agent"]["region"] == "us-east-1"
    prometheus = config["logs"]["metrics_collected"]["prometheus"]
    emf = prometheus["emf_processor"]
    assert emf["metric_namespace"] == GPU_METRIC_NAMESPACE
    [declaration] = emf["metric_declaration"]
    assert ["ClusterName", "BusinessUnit"] in declaration["dimensions"]
    assert ["ClusterName", "BusinessUnit", "Pool"] in declaration["dimensions"]
    assert declaration["metric_selectors"] == [f"^{GPU_UTIL_METRIC}$"]
    assert prometheus["log_group_name"].startswith("/ai-estate/platform-prod/")


def test_observability_addon_turns_on_enhanced_insights_and_logs():
    config = json.loads(observability_addon_configuration())
    kubernetes = config["agent"]["config"]["logs"]["metrics_collected"]["kubernetes"]
    assert kubernetes == {"enhanced_container_insights": True, "accelerated_compute_metrics": False}
    assert config["dcgmExporter"] == {"enabled": False}  # one DCGM exporter per node (issue 11)
    assert config["containerLogs"] == {"enabled": True}


def test_topic_policy_admits_cloudwatch_and_budgets_for_this_account_only():
    policy = json.loads(alarm_topic_policy(TOPIC, "222222222222", "aws"))
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    services = {
        s["Principal"]["Service"]
        for s in policy["Statement"]
        if s["Effect"] == "Allow" and isinstance(s["Principal"], dict)
    }
    assert services == set(ALARM_PUBLISHERS)
    for sid in ("CloudWatchAlarmsPublish", "BudgetsPublish"):
        assert by_sid[sid]["Condition"]["StringEquals"]["aws:SourceAccount"] == "222222222222"
        assert by_sid[sid]["Resource"] == TOPIC
    assert by_sid["DenyInsecureTransport"]["Effect"] == "Deny"


def test_thresholds_merge_and_reject_unknown_keys():
    merged = thresholds_with_defaults({"gpu_utilization_low_percent": 5})
    assert merged["gpu_utilization_low_percent"] == 5.0
    assert merged["s3_5xx_errors"] == DEFAULT_THRESHOLDS["s3_5xx_errors"]
    with pytest.raises(ValueError, match="unknown monitoring threshold 'gpu_low'"):
        thresholds_with_defaults({"gpu_low": 1})


def test_gpu_alarms_count_gpus_from_samples_and_skip_bus_without_pools():
    thresholds = thresholds_with_defaults(None)
    assert gpu_alarm_specs("fraud", CLUSTER, [], thresholds) == []
    specs = {
        s.key: s
        for s in gpu_alarm_specs("fraud", CLUSTER, [{"name": "a", "max_gpus": 8}], thresholds)
    }
    assert set(specs) == {"gpu-util-low", "gpu-util-high", "gpu-pool-a-at-max"}
    low = specs["gpu-util-low"]
    assert low.comparison == "LessThanThreshold" and low.threshold == 10.0
    assert low.evaluation_periods == 12  # 60 minutes of 5-minute periods
    assert all(s.treat_missing_data == "notBreaching" for s in specs.values())
    at_max = specs["gpu-pool-a-at-max"]
    assert at_max.metrics[0].stat == "SampleCount"
    assert at_max.expression == f"m1 / {300 // GPU_METRIC_INTERVAL_SECONDS}"
    assert at_max.threshold == 8.0 and at_max.pool == "a"
    assert dict(at_max.metrics[0].dimensions) == {
        "ClusterName": CLUSTER,
        "BusinessUnit": "fraud",
        "Pool": "a",
    }


def test_table_error_alarm_stays_within_the_metric_math_limit():
    throttles, errors = table_alarm_specs("t", "fraud-prod-t", thresholds_with_defaults(None))
    assert {m.metric_name for m in throttles.metrics} == {
        "ReadThrottleEvents",
        "WriteThrottleEvents",
    }
    assert len(errors.metrics) <= 10
    assert {m.dimensions["Operation"] for m in errors.metrics} >= {"GetItem", "PutItem", "Query"}


def test_model_metric_direction_is_checked():
    with pytest.raises(ValueError, match="direction must be 'below' or 'above'"):
        model_alarm_specs(
            "fraud", [{"model": "m", "metric": "auc", "threshold": 0.9, "direction": "under"}]
        )


def test_dashboard_body_places_every_widget_and_names_the_region():
    specs = gpu_alarm_specs(
        "fraud", CLUSTER, [{"name": "a", "max_gpus": 4}], thresholds_with_defaults(None)
    )
    body = dashboard_body("t", "eu-west-1", specs, ["arn:alarm:1"])
    widgets = body["widgets"]
    assert widgets[1]["properties"]["alarms"] == ["arn:alarm:1"]
    metric_widgets = [w for w in widgets if w["type"] == "metric"]
    assert len(metric_widgets) == len(specs)
    for w in widgets:
        assert {"x", "y", "width", "height"} <= set(w)
    for w in metric_widgets:
        assert w["properties"]["region"] == "eu-west-1"
        rows = w["properties"]["metrics"]
        assert rows[0][:2] == [GPU_METRIC_NAMESPACE, GPU_UTIL_METRIC]


def test_log_group_prefixes_cover_container_insights():
    assert log_group_prefixes("platform-prod", CLUSTER) == [
        "/ai-estate/platform-prod/",
        f"/aws/containerinsights/{CLUSTER}/",
    ]


# -- PlatformMonitoring under mocks ------------------------------------------------------------


@cache
def platform_inventory():
    def program():
        provider = k8s.Provider("cluster-k8s", kubeconfig="{}")
        nodes = aws.s3.Bucket("stand-in-for-the-cluster-component")
        PlatformMonitoring(
            "platform-prod-monitoring",
            {
                "name_prefix": "platform-prod",
                "cluster_name": CLUSTER,
                "kubernetes_version": "1.31",
                "private_subnet_ids": ["subnet-0aaa1111", "subnet-0bbb2222"],
                "cluster_security_group_id": "sg-0cluster1234",
                "kms_key_arn": KEY,
                "log_retention_days": 365,
                "k8s_provider": provider,
                "node_selector": {"ai-estate/pool": "system"},
                "cluster_ready": [nodes],
                "protect": True,
                "tags": {**TAGS, "BusinessUnit": "platform"},
            },
        )

    return render(
        program, stack="platform-prod", project="ai-estate", config={"aws:region": "us-east-1"}
    )


def test_workspace_is_encrypted_and_logs_to_an_encrypted_retained_group():
    inv = platform_inventory()
    workspace = one(inv, "aws:amp/workspace:Workspace")
    assert workspace.inputs["kmsKeyArn"] == KEY
    amp_logs = one(inv, LOG_GROUP, "-amp-logs")
    assert workspace.inputs["loggingConfiguration"]["logGroupArn"].endswith(":*")
    assert amp_logs.urn in workspace.property_dependencies["loggingConfiguration"]
    assert workspace.protect and workspace.inputs["tags"]["AMPAgentlessScraper"] == ""
    groups = of_type(inv, LOG_GROUP)
    assert len(groups) == 6
    for group in groups:
        assert group.inputs["kmsKeyId"] == KEY and group.inputs["retentionInDays"] == 365
        assert any(
            group.inputs["name"].startswith(p) for p in log_group_prefixes("platform-prod", CLUSTER)
        )


def test_scraper_reads_the_cluster_into_the_workspace():
    inv = platform_inventory()
    scraper = one(inv, "aws:amp/scraper:Scraper")
    eks = scraper.inputs["source"]["eks"]
    assert eks["clusterArn"] == f"arn:aws:eks:us-east-1:123456789012:cluster/{CLUSTER}"
    assert eks["subnetIds"] == ["subnet-0aaa1111", "subnet-0bbb2222"]
    assert eks["securityGroupIds"] == ["sg-0cluster1234"]
    workspace = one(inv, "aws:amp/workspace:Workspace")
    assert workspace.urn in scraper.property_dependencies["destination"]
    jobs = {
        j["job_name"]
        for j in yaml.safe_load(scraper.inputs["scrapeConfiguration"])["scrape_configs"]
    }
    assert {"dcgm-exporter", "kube-state-metrics", "kubelet", "cadvisor"} <= jobs
    # AMP creates the collector's access entry itself (one per principal): none here
    assert of_type(inv, "aws:eks/accessEntry:AccessEntry") == []
    binding = one(
        inv, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "collector-binding"
    )
    assert binding.inputs["subjects"][0]["name"] == "aps-collector-user"


def test_cloudwatch_addon_gets_its_role_through_pod_identity():
    inv = platform_inventory()
    addon = one(inv, "aws:eks/addon:Addon", "cloudwatch-observability")
    assert addon.inputs["addonName"] == "amazon-cloudwatch-observability"
    [association] = addon.inputs["podIdentityAssociations"]
    assert association["serviceAccount"] == "cloudwatch-agent"
    roles = {r.urn: r for r in of_type(inv, "aws:iam/role:Role")}
    role_urn = next(u for u in addon.property_dependencies["podIdentityAssociations"] if u in roles)
    trust = json.loads(roles[role_urn].inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    attachments = [
        a
        for a in of_type(inv, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if role_urn in a.property_dependencies.get("role", [])
    ]
    assert [a.inputs["policyArn"] for a in attachments] == [
        "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
    ]
    # the Container Insights log groups exist (encrypted) before the agent could create them
    insight_groups = [g.urn for g in of_type(inv, LOG_GROUP) if "containerinsights" in g.name]
    assert len(insight_groups) == 4 and set(insight_groups) <= set(addon.dependencies)
    assert json.loads(addon.inputs["configurationValues"])["containerLogs"]["enabled"] is True


def test_gpu_agent_runs_on_system_nodes_with_its_own_pod_identity():
    inv = platform_inventory()
    deployment = one(inv, "kubernetes:apps/v1:Deployment")
    pod = deployment.inputs["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "cwagent-prometheus"
    assert pod["nodeSelector"] == {"ai-estate/pool": "system"}
    [container] = pod["containers"]
    assert container["image"].startswith("public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.")
    assert (
        container["resources"]["limits"]
        and container["securityContext"]["allowPrivilegeEscalation"] is False
    )
    identity = one(inv, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert identity.inputs["namespace"] == "amazon-cloudwatch"
    assert identity.inputs["serviceAccount"] == "cwagent-prometheus"
    assert identity.urn in deployment.dependencies
    config = one(inv, "kubernetes:core/v1:ConfigMap", "gpu-agent-config")
    agent = json.loads(config.inputs["data"]["cwagentconfig.json"])
    assert agent["logs"]["metrics_collected"]["prometheus"]["log_group_name"] == (
        "/ai-estate/platform-prod/prometheus-agent"
    )


def test_only_in_cluster_work_waits_for_the_cluster_to_be_ready():
    inv = platform_inventory()
    ready = one(inv, "aws:s3/bucket:Bucket").urn
    for r in inv.resources:
        if r.type.startswith("kubernetes:") or r.type == "aws:eks/addon:Addon":
            assert ready in r.dependencies, r.name
    # the collector takes ~17 minutes to create: it starts as soon as the control plane exists
    for type_ in ("aws:amp/scraper:Scraper", "aws:amp/workspace:Workspace"):
        assert ready not in one(inv, type_).dependencies


def test_no_cost_allocation_tag_is_activated_from_a_platform_stack():
    # only the Organizations management account may activate it (README, "Deploying for real")
    assert (
        of_type(platform_inventory(), "aws:costexplorer/costAllocationTag:CostAllocationTag") == []
    )


def test_platform_kubernetes_objects_validate_against_the_schema():
    objects = [r for r in platform_inventory().resources if r.type.startswith("kubernetes:")]
    assert len(objects) >= 7
    for r in objects:
        manifest = {k: r.inputs[k] for k in MANIFEST_KEYS if k in r.inputs}
        try:
            kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{r.name}: {exc.message} at {list(exc.path)}")


# -- BuMonitoring under mocks ------------------------------------------------------------------


def bu_args(**over) -> BuMonitoringArgs:
    args: BuMonitoringArgs = {
        "business_unit": "fraud",
        "environment": "prod",
        "account_id": "222222222222",
        "cluster_name": CLUSTER,
        "kms_key_arn": KEY,
        "subscriptions": [
            {"protocol": "email", "endpoint": "fraud-oncall@example.com"},
            {"protocol": "https", "endpoint": "https://events.pagerduty.com/integration/x/enqueue"},
        ],
        "gpu_pools": [{"name": "serve-a10g", "max_gpus": 4}, {"name": "train-a10g", "max_gpus": 8}],
        "online_tables": {"card-velocity": "fraud-prod-card-velocity"},
        "buckets": {"features": "fraud-prod-features-abc", "artifacts": "fraud-prod-models-abc"},
        "model_metrics": [
            {"model": "card-fraud", "metric": "auc", "threshold": 0.9, "direction": "below"},
            {"model": "card-fraud", "metric": "psi_amount", "threshold": 0.2, "direction": "above"},
        ],
        "sagemaker_endpoints": [{"name": "card-fraud-rt", "latency_p99_ms": 50}],
        "budget": {"monthly_limit_usd": 20000, "notify_emails": ["fraud-finance@example.com"]},
        "tags": TAGS,
    }
    args.update(over)  # type: ignore[typeddict-item]
    return args


def render_bu(args: BuMonitoringArgs):
    return render(
        lambda: BuMonitoring("fraud-prod-monitoring", args),
        stack="fraud-prod",
        project="ai-estate",
        config={"aws:region": "us-east-1", "ai-estate:accountId": "222222222222"},
    )


@cache
def bu_inventory():
    return render_bu(bu_args())


def test_alarm_topic_is_encrypted_with_the_bu_key_and_admits_publishers():
    inv = bu_inventory()
    topic = one(inv, "aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == KEY and topic.inputs["name"] == "fraud-prod-alarms"
    policy = json.loads(one(inv, "aws:sns/topicPolicy:TopicPolicy").inputs["policy"])
    assert {s["Sid"] for s in policy["Statement"]} >= {"CloudWatchAlarmsPublish", "BudgetsPublish"}
    subs = of_type(inv, "aws:sns/topicSubscription:TopicSubscription")
    assert sorted(s.inputs["protocol"] for s in subs) == ["email", "https"]


def test_every_alarm_notifies_the_topic_when_it_fires_and_clears():
    inv = bu_inventory()
    topic = one(inv, "aws:sns/topic:Topic")
    policy = one(inv, "aws:sns/topicPolicy:TopicPolicy")
    alarms = of_type(inv, ALARM)
    # 2 GPU + 2 pools + 2 table + 2x2 bucket + 2 model + 2 endpoint
    assert len(alarms) == 14
    arn = "arn:aws:sns:us-east-1:222222222222:fraud-prod-alarms"
    for alarm in alarms:
        assert alarm.inputs["alarmActions"] == [arn], alarm.name
        assert alarm.inputs["okActions"] == [arn], alarm.name
        assert topic.urn in alarm.property_dependencies["alarmActions"]
        assert policy.urn in alarm.dependencies
        assert alarm.inputs["treatMissingData"] in ("notBreaching", "missing")
        assert alarm.inputs["name"].startswith("fraud-prod-")


def test_gpu_alarms_read_the_documented_metric():
    inv = bu_inventory()
    low = one(inv, ALARM, "gpu-util-low")
    assert low.inputs["namespace"] == GPU_METRIC_NAMESPACE
    assert low.inputs["metricName"] == GPU_UTIL_METRIC
    assert low.inputs["dimensions"] == {"ClusterName": CLUSTER, "BusinessUnit": "fraud"}
    assert low.inputs["statistic"] == "Average"
    at_max = one(inv, ALARM, "gpu-pool-train-a10g-at-max")
    assert at_max.inputs["threshold"] == 8
    assert at_max.inputs["tags"]["ai-estate/pool"] == "train-a10g"
    metric = at_max.inputs["metricQueries"][0]["metric"]
    assert metric["dimensions"]["Pool"] == "train-a10g" and metric["stat"] == "SampleCount"


def test_feature_table_and_bucket_alarms():
    inv = bu_inventory()
    throttles = one(inv, ALARM, "ddb-card-velocity-throttles")
    names = {q["metric"]["metricName"] for q in throttles.inputs["metricQueries"] if "metric" in q}
    assert names == {"ReadThrottleEvents", "WriteThrottleEvents"}
    metrics = {m.inputs["bucket"]: m for m in of_type(inv, "aws:s3/bucketMetric:BucketMetric")}
    assert set(metrics) == {"fraud-prod-features-abc", "fraud-prod-models-abc"}
    assert all(m.inputs["name"] == BUCKET_METRICS_FILTER for m in metrics.values())
    five = one(inv, ALARM, "s3-artifacts-5xxerrors")
    assert five.inputs["dimensions"] == {
        "BucketName": "fraud-prod-models-abc",
        "FilterId": BUCKET_METRICS_FILTER,
    }


def test_model_and_endpoint_alarms():
    inv = bu_inventory()
    auc = one(inv, ALARM, "model-card-fraud-auc")
    assert auc.inputs["namespace"] == MODEL_QUALITY_NAMESPACE
    assert auc.inputs["metricName"] == MODEL_QUALITY_METRIC
    assert auc.inputs["dimensions"] == {
        "BusinessUnit": "fraud",
        "Model": "card-fraud",
        "Metric": "auc",
    }
    assert auc.inputs["comparisonOperator"] == "LessThanThreshold"
    assert auc.inputs["treatMissingData"] == "missing"
    assert auc.inputs["insufficientDataActions"] == auc.inputs["alarmActions"]
    psi = one(inv, ALARM, "model-card-fraud-psi-amount")
    assert psi.inputs["comparisonOperator"] == "GreaterThanThreshold"
    latency = one(inv, ALARM, "sm-card-fraud-rt-latency-p99")
    assert latency.inputs["extendedStatistic"] == "p99" and "statistic" not in latency.inputs
    assert latency.inputs["threshold"] == 50_000  # ModelLatency is in microseconds
    assert latency.inputs["dimensions"] == {
        "EndpointName": "card-fraud-rt",
        "VariantName": "AllTraffic",
    }


def test_dashboard_shows_every_alarm():
    inv = bu_inventory()
    dashboard = one(inv, "aws:cloudwatch/dashboard:Dashboard")
    body = json.loads(dashboard.inputs["dashboardBody"])
    listed = body["widgets"][1]["properties"]["alarms"]
    assert len(listed) == len(of_type(inv, ALARM))
    assert dashboard.inputs["dashboardName"] == "ai-estate-fraud-prod"


def test_budget_tracks_the_bus_tagged_cost_and_warns_at_80_and_100_percent():
    inv = bu_inventory()
    budget = one(inv, "aws:budgets/budget:Budget")
    assert budget.inputs["budgetType"] == "COST" and budget.inputs["timeUnit"] == "MONTHLY"
    assert budget.inputs["limitAmount"] == "20000.00" and budget.inputs["limitUnit"] == "USD"
    assert budget.inputs["costFilters"] == [
        {"name": "TagKeyValue", "values": [budget_cost_filter("fraud")]}
    ]
    assert budget_cost_filter("fraud") == "user:BusinessUnit$fraud"
    notes = budget.inputs["notifications"]
    assert {(n["notificationType"], n["threshold"]) for n in notes} == {
        ("ACTUAL", 80),
        ("ACTUAL", 100),
        ("FORECASTED", 80),
        ("FORECASTED", 100),
    }
    for n in notes:
        assert n["subscriberSnsTopicArns"] == [
            "arn:aws:sns:us-east-1:222222222222:fraud-prod-alarms"
        ]
        assert n["subscriberEmailAddresses"] == ["fraud-finance@example.com"]
    assert one(inv, "aws:sns/topicPolicy:TopicPolicy").urn in budget.dependencies


def test_a_bu_without_pools_tables_or_budget_still_gets_a_topic_and_dashboard():
    inv = render_bu(
        bu_args(
            gpu_pools=[],
            online_tables={},
            buckets={},
            model_metrics=[],
            sagemaker_endpoints=[],
            budget=None,
        )
    )
    assert of_type(inv, ALARM) == []
    assert of_type(inv, "aws:budgets/budget:Budget") == []
    one(inv, "aws:sns/topic:Topic")
    one(inv, "aws:cloudwatch/dashboard:Dashboard")


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"subscriptions": [{"protocol": "sms", "endpoint": "+1"}]}, "protocol must be email"),
        ({"budget": {"monthly_limit_usd": 0}}, "monthly budget must be above 0"),
        ({"thresholds": {"nope": 1}}, "unknown monitoring threshold"),
        (
            {"model_metrics": [{"model": "m", "metric": "a", "threshold": 1, "direction": "below"}]}
            | {"sagemaker_endpoints": []},
            None,
        ),
    ],
)
def test_bad_arguments_are_one_clear_error(over, message):
    if message is None:
        render_bu(bu_args(**over))  # the control: a valid variation renders
        return
    with pytest.raises(ProgramError, match=message):
        render_bu(bu_args(**over))
