"""Serving (issue 12) on the shipped stacks rendered through the program: the platform's serving
plane (load-balancer controller with the Gateway API, KEDA, metrics-server) and the BU endpoints
(fraud-prod real-time scoring, marketing-dev scale to zero), checked against the vendored
upstream files of the pinned versions (tests/vendor/SOURCES.md)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from components import serving
from estate.analysis.iam import Principal, Request, evaluate
from estate.stack.config import ConfigError, read_stack_file, split_namespace, validate_config
from tests.conftest import ROOT

VENDOR = ROOT / "tests" / "vendor"
LBC = VENDOR / "aws-load-balancer-controller" / "v3.5.0"
GATEWAY_API = VENDOR / "gateway-api" / "v1.6.0"
KEDA = VENDOR / "keda" / "2.20.2"
KUBERNETES_VERSION = "1.31"


# -- helpers ---------------------------------------------------------------------------------


def of_type(inventory, suffix: str):
    return [r for r in inventory.resources if r.type.endswith(suffix)]


def one(inventory, suffix: str, name_part: str = ""):
    found = [r for r in of_type(inventory, suffix) if name_part in r.name]
    assert len(found) == 1, f"expected one {suffix} {name_part!r}, got {[r.name for r in found]}"
    return found[0]


def crd_documents(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    # The KEDA chart templates its CRDs' labels: the schema is plain YAML without those lines.
    text = "\n".join(line for line in text.splitlines() if "{{" not in line)
    return [
        d for d in yaml.safe_load_all(text) if d and d.get("kind") == "CustomResourceDefinition"
    ]


def crd_schemas(*paths: Path) -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> the openAPIV3Schema of that served version."""
    schemas = {}
    for path in paths:
        for crd in crd_documents(path):
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schemas[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return schemas


SCHEMAS = crd_schemas(
    *(GATEWAY_API / f"{k}.yaml" for k in ("gatewayclasses", "gateways", "httproutes")),
    LBC / "gateway-crds.yaml",
    LBC / "crds.yaml",
    KEDA / "crd-scaledobjects.yaml",
    KEDA / "crd-triggerauthentications.yaml",
)


def custom_object(resource) -> dict:
    body = {k: v for k, v in resource.inputs.items() if k not in ("apiVersion", "kind")}
    return {"apiVersion": resource.inputs["apiVersion"], "kind": resource.inputs["kind"], **body}


def validate_custom(resource) -> None:
    obj = custom_object(resource)
    schema = SCHEMAS[(obj["apiVersion"], obj["kind"])]
    # Structural schemas carry Kubernetes extensions (x-kubernetes-*) jsonschema ignores; the
    # ObjectMeta is the API server's, so check spec against the CRD and metadata by shape.
    jsonschema.validate({"spec": obj["spec"]}, {**schema, "required": []})


def keys_exist(values: dict, defaults: dict, path: str = "") -> list[str]:
    """Keys set in `values` that the chart's values.yaml does not have (maps the chart leaves
    empty, like nodeSelector, take any key)."""
    missing = []
    for key, value in values.items():
        where = f"{path}.{key}" if path else key
        if key not in defaults:
            missing.append(where)
        elif isinstance(value, dict) and isinstance(defaults[key], dict) and defaults[key]:
            missing.extend(keys_exist(value, defaults[key], where))
    return missing


def chart_values(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def stack_values(stack: str) -> dict:
    raw = read_stack_file(ROOT / "stacks" / f"Pulumi.{stack}.yaml")
    return {k: json.loads(json.dumps(v, default=str)) for k, v in split_namespace(raw).items()}


def errors_of(stack: str, mutate) -> list[str]:
    values = copy.deepcopy(stack_values(stack))
    mutate(values)
    with pytest.raises(ConfigError) as info:
        validate_config(values, f"stacks/Pulumi.{stack}.yaml")
    return info.value.lines


# -- the pinned versions and the upstream files -----------------------------------------------


def test_chart_pins_match_the_vendored_upstream_charts():
    from components.charts import chart

    lbc, keda = chart("aws-load-balancer-controller"), chart("keda")
    assert (lbc.chart, lbc.version, lbc.repo) == (
        "aws-load-balancer-controller",
        "3.5.0",
        "https://aws.github.io/eks-charts",
    )
    assert (keda.chart, keda.version, keda.repo) == (
        "keda",
        "2.20.2",
        "https://kedacore.github.io/charts",
    )
    # The one pin file carries its evidence for these too.
    assert lbc.source and keda.source and lbc.verified_on and keda.verified_on


def test_controller_iam_policy_is_upstreams_for_the_pinned_version():
    upstream = json.loads((LBC / "iam_policy.json").read_text())
    assert json.loads(serving.lbc_iam_policy()) == upstream
    assert json.loads(serving.LBC_IAM_POLICY_FILE.read_text()) == upstream


def test_gateway_api_crds_shipped_are_the_v1_6_0_standard_channel():
    shipped = ROOT / serving.GATEWAY_API_CRDS
    docs = [d for d in yaml.safe_load_all(shipped.read_text()) if d]
    names = {d["metadata"]["name"] for d in docs if d["kind"] == "CustomResourceDefinition"}
    assert {
        "gateways.gateway.networking.k8s.io",
        "httproutes.gateway.networking.k8s.io",
        "gatewayclasses.gateway.networking.k8s.io",
    } <= names
    for crd in docs:
        if crd["kind"] == "CustomResourceDefinition":
            assert (
                crd["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"]
                == "v1.6.0"
            )
            assert crd["metadata"]["annotations"]["gateway.networking.k8s.io/channel"] == "standard"
    for kind in ("gatewayclasses", "gateways", "httproutes"):
        [vendored] = crd_documents(GATEWAY_API / f"{kind}.yaml")
        assert vendored in docs


# -- the platform serving plane ---------------------------------------------------------------


@pytest.mark.parametrize("stack", ["platform-dev", "platform-prod"])
def test_platform_installs_the_controller_keda_and_metrics_server(rendered, stack):
    inv = rendered(stack)
    releases = {r.inputs["chart"]: r for r in of_type(inv, "helm.sh/v3:Release")}
    lbc = releases["aws-load-balancer-controller"]
    assert lbc.inputs["version"] == "3.5.0"
    assert lbc.inputs["repositoryOpts"]["repo"] == "https://aws.github.io/eks-charts"
    assert lbc.inputs["namespace"] == "kube-system"
    values = lbc.inputs["values"]
    assert values["clusterName"] == f"{stack}-ai"
    assert values["region"] == "us-east-1" and values["vpcId"].startswith("vpc-")
    assert values["controllerConfig"]["featureGates"]["ALBGatewayAPI"] is True
    assert (
        keys_exist(
            values,
            chart_values(VENDOR / "charts" / "aws-load-balancer-controller-3.5.0" / "values.yaml"),
        )
        == []
    )
    keda = releases["keda"]
    assert keda.inputs["version"] == "2.20.2"
    assert (
        keys_exist(
            keda.inputs["values"], chart_values(VENDOR / "charts" / "keda-2.20.2" / "values.yaml")
        )
        == []
    )
    for release in (lbc, keda):
        assert {"key": "CriticalAddonsOnly", "operator": "Exists"} in release.inputs["values"][
            "tolerations"
        ]
        assert release.inputs["values"]["nodeSelector"] == {"ai-estate/pool": "system"}
    addon = one(inv, "eks/addon:Addon", "metrics-server")
    assert addon.inputs["addonName"] == "metrics-server"
    assert {"key": "CriticalAddonsOnly", "operator": "Exists"} in json.loads(
        addon.inputs["configurationValues"]
    )["tolerations"]
    # Both controllers get AWS credentials from Pod Identity, bound to their service accounts.
    bindings = {
        (r.inputs["namespace"], r.inputs["serviceAccount"])
        for r in of_type(inv, "eks/podIdentityAssociation:PodIdentityAssociation")
    }
    assert {("kube-system", "aws-load-balancer-controller"), ("keda", "keda-operator")} <= bindings
    policy = one(inv, "iam/policy:Policy", "serving-lbc-policy")
    assert json.loads(policy.inputs["policy"]) == json.loads((LBC / "iam_policy.json").read_text())
    crds = one(inv, "yaml/v2:ConfigFile", "gateway-api-crds")
    assert crds.inputs["file"] == serving.GATEWAY_API_CRDS
    # The controller must find the CRDs when it starts (it enables Gateway support only then).
    assert crds.urn in lbc.dependencies


@pytest.mark.parametrize("stack", ["platform-dev", "platform-prod"])
def test_platform_gateway_is_internal_tls_and_admits_bu_namespaces_only(rendered, stack):
    inv = rendered(stack)
    config = one(inv, ":LoadBalancerConfiguration").inputs["spec"]
    assert config["scheme"] == "internal"
    assert "wafV2" not in config
    [listener] = config["listenerConfigurations"]
    assert listener["protocolPort"] == "HTTPS:443"
    assert listener["defaultCertificate"].startswith("arn:aws:acm:us-east-1:")
    gateway_class = one(inv, ":GatewayClass")
    assert gateway_class.inputs["spec"]["controllerName"] == "gateway.k8s.aws/alb"
    gateway = one(inv, ":Gateway").inputs["spec"]
    listeners = {item["name"]: item for item in gateway["listeners"]}
    assert listeners["https"]["protocol"] == "HTTPS" and listeners["https"]["port"] == 443
    assert listeners["https"]["allowedRoutes"]["namespaces"] == {
        "from": "Selector",
        "selector": {"matchExpressions": [{"key": "ai-estate/bu", "operator": "Exists"}]},
    }
    assert listeners["http"]["allowedRoutes"]["namespaces"] == {"from": "Same"}
    redirect = one(inv, ":HTTPRoute", "https-redirect").inputs["spec"]
    assert redirect["parentRefs"][0]["sectionName"] == "http"
    assert redirect["rules"][0]["filters"][0]["requestRedirect"] == {
        "scheme": "https",
        "port": 443,
        "statusCode": 301,
    }
    for r in (one(inv, ":LoadBalancerConfiguration"), gateway_class, one(inv, ":Gateway")):
        validate_custom(r)


def test_internet_facing_gateway_gets_a_waf_acl():
    spec = serving.load_balancer_configuration_spec(
        scheme="internet-facing",
        load_balancer_name="x",
        certificate_arn="arn:aws:acm:us-east-1:111111111111:certificate/x",
        ssl_policy="p",
        waf_acl_arn="arn:aws:wafv2:us-east-1:111111111111:regional/webacl/a/b",
        deletion_protection=True,
        tags={},
    )
    assert spec["wafV2"] == {"webACL": "arn:aws:wafv2:us-east-1:111111111111:regional/webacl/a/b"}
    with pytest.raises(ValueError, match="WAF"):
        serving.load_balancer_configuration_spec(
            scheme="internet-facing",
            load_balancer_name="x",
            certificate_arn="c",
            ssl_policy="p",
            waf_acl_arn=None,
            deletion_protection=True,
            tags={},
        )


def test_platform_exports_what_bu_stacks_need(rendered):
    out = rendered("platform-prod").outputs["serving"]
    assert out["gatewayName"] == "serving" and out["gatewayNamespace"] == "ai-estate-gateway"
    assert out["loadBalancerName"] == "ai-estate-prod-serving"
    # internal ALB: its own load-balancer subnets (no node or pod there), not the private ones
    assert out["loadBalancerSubnetCidrs"] == ["10.20.224.0/21", "10.20.232.0/21", "10.20.240.0/21"]
    assert out["oidc"]["issuer"].startswith("https://cognito-idp.")


# -- the BU endpoints -------------------------------------------------------------------------


def endpoint_objects(inv, endpoint: str) -> dict[str, object]:
    kinds = {}
    for r in inv.resources:
        if f"-serving-{endpoint}-" in r.name or r.name.endswith(f"-serving-{endpoint}"):
            kinds.setdefault(r.type.rsplit(":", 1)[-1], []).append(r)
    return kinds


def test_fraud_prod_card_scoring_endpoint(rendered):
    inv = rendered("fraud-prod")
    objs = endpoint_objects(inv, "card-scoring")
    [deployment] = objs["Deployment"]
    assert deployment.inputs["metadata"]["namespace"] == "fraud"
    pod = deployment.inputs["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"ai-estate/bu": "fraud", "ai-estate/pool": "serve-a10g"}
    assert {
        "key": "ai-estate/bu",
        "operator": "Equal",
        "value": "fraud",
        "effect": "NoSchedule",
    } in pod["tolerations"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    [server] = pod["containers"]
    assert (
        server["image"]
        == "222222222222.dkr.ecr.us-east-1.amazonaws.com/fraud-prod/card-fraud:1.4.2"
    )
    assert server["resources"]["requests"] == server["resources"]["limits"]
    assert server["resources"]["limits"]["nvidia.com/gpu"] == "1"
    for container in (server, *pod["initContainers"]):
        sc = container["securityContext"]
        assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    [fetch] = pod["initContainers"]
    bucket = next(
        r
        for r in of_type(inv, "s3/bucket:Bucket")
        if "-models-" in r.inputs["bucket"] and "-models-dr-" not in r.inputs["bucket"]
    )
    assert f"s3://{bucket.inputs['bucket']}/models/card-fraud/3/" in fetch["args"]
    assert {"name": "model", "mountPath": "/models", "readOnly": True} in server["volumeMounts"]
    # identity: a dedicated service account, bound to the endpoint's role
    [sa] = objs["ServiceAccount"]
    assert pod["serviceAccountName"] == sa.inputs["metadata"]["name"] == "card-scoring-model-server"
    [binding] = objs["PodIdentityAssociation"]
    [role] = objs["Role"]
    assert (binding.inputs["namespace"], binding.inputs["serviceAccount"]) == (
        "fraud",
        "card-scoring-model-server",
    )
    assert role.urn in binding.property_dependencies["roleArn"]
    assert role.inputs["path"] == "/ai-estate/fraud/"
    assert role.inputs["permissionsBoundary"].endswith(
        ":policy/ai-estate/fraud/fraud-prod-boundary"
    )
    # scaling, disruption, routing, auth
    [scaler] = objs["ScaledObject"]
    assert scaler.inputs["spec"]["minReplicaCount"] == 2
    assert scaler.inputs["spec"]["maxReplicaCount"] == 4
    [trigger] = scaler.inputs["spec"]["triggers"]
    assert trigger["metadata"]["metricName"] == "RequestCountPerTarget"
    assert trigger["metadata"]["dimensionValue"].startswith("targetgroup/fraud-prod-card-scoring/")
    [pdb] = objs["PodDisruptionBudget"]
    assert (
        pdb.inputs["spec"]["selector"]["matchLabels"]
        == deployment.inputs["spec"]["selector"]["matchLabels"]
    )
    [route] = objs["HTTPRoute"]
    rule = route.inputs["spec"]["rules"][0]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/fraud/card-scoring"}}]
    assert route.inputs["spec"]["parentRefs"][0] == {
        "group": "gateway.networking.k8s.io",
        "kind": "Gateway",
        "name": "serving",
        "namespace": "ai-estate-gateway",
        "sectionName": "https",
    }
    [auth] = objs["ListenerRuleConfiguration"]
    rewrite, extension = rule["filters"]
    assert rewrite["urlRewrite"]["path"] == {
        "type": "ReplacePrefixMatch",
        "replacePrefixMatch": "/",
    }
    assert extension["extensionRef"]["name"] == auth.inputs["metadata"]["name"]
    [action] = auth.inputs["spec"]["actions"]
    assert action["type"] == "jwt-validation"
    assert action["jwtValidationConfig"]["issuer"].startswith(
        "https://cognito-idp.us-east-1.amazonaws.com/"
    )
    [tg] = objs["TargetGroup"]
    assert rule["backendRefs"][0] == {
        "group": "",
        "kind": "TargetGroupName",
        "name": tg.inputs["name"],
        "weight": 1,
    }
    assert tg.inputs["targetType"] == "ip" and tg.inputs["port"] == 8080
    [tgb] = objs["TargetGroupBinding"]
    assert tgb.inputs["spec"]["serviceRef"] == {"name": "card-scoring", "port": 8080}


def test_fraud_prod_endpoint_alarms_go_to_the_bu_topic(rendered):
    inv = rendered("fraud-prod")
    alarms = {
        r.name.rsplit("card-scoring-", 1)[-1]: r
        for r in endpoint_objects(inv, "card-scoring")["MetricAlarm"]
    }
    assert set(alarms) == {
        "latency-p99",
        "latency-p95",
        "target-5xx",
        "replicas-at-max",
        "gpu-util-high",
    }
    topic = inv.outputs["alarmTopicArn"]
    for alarm in alarms.values():
        assert alarm.inputs["alarmActions"] == [topic]
        assert alarm.inputs["tags"]["ai-estate/endpoint"] == "card-scoring"
    assert alarms["latency-p99"].inputs["extendedStatistic"] == "p99"
    assert alarms["latency-p99"].inputs["threshold"] == pytest.approx(0.15)
    assert alarms["latency-p95"].inputs["extendedStatistic"] == "p95"
    tg_dim = alarms["target-5xx"].inputs["dimensions"]
    assert tg_dim["TargetGroup"].startswith("targetgroup/fraud-prod-card-scoring/")
    assert tg_dim["LoadBalancer"].startswith("app/ai-estate-prod-serving/")
    assert alarms["replicas-at-max"].inputs["threshold"] == 4
    assert alarms["gpu-util-high"].inputs["dimensions"]["Pool"] == "serve-a10g"
    [_dashboard] = of_type(inv, "cloudwatch/dashboard:Dashboard")[-1:]
    body = json.loads(one(inv, "cloudwatch/dashboard:Dashboard", "serving").inputs["dashboardBody"])
    assert [w["properties"]["title"] for w in body["widgets"]] == [
        "card-scoring: response time",
        "card-scoring: requests and target 5xx",
        "card-scoring: cost per 1,000 inferences (USD, On-Demand node share)",
    ]


def test_endpoint_network_policy_admits_only_the_load_balancer_subnets(rendered):
    inv = rendered("fraud-prod")
    [policy] = endpoint_objects(inv, "card-scoring")["NetworkPolicy"]
    spec = policy.inputs["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    lb_cidrs = rendered("platform-prod").outputs["serving"]["loadBalancerSubnetCidrs"]
    [ingress] = spec["ingress"]
    assert ingress["from"] == [{"ipBlock": {"cidr": c}} for c in lb_cidrs]
    assert ingress["ports"] == [{"protocol": "TCP", "port": 8080}]
    [egress] = spec["egress"]
    assert egress["ports"] == [{"protocol": "TCP", "port": 443}]
    cidrs = [p["ipBlock"]["cidr"] for p in egress["to"]]
    assert cidrs[0] == "10.20.0.0/16" and len(cidrs) > 1  # the VPC, then the S3/DynamoDB lists
    assert all("namespaceSelector" not in p and "podSelector" not in p for p in egress["to"])


def test_marketing_dev_scales_to_zero_outside_working_hours(rendered):
    inv = rendered("marketing-dev")
    [scaler] = endpoint_objects(inv, "propensity")["ScaledObject"]
    spec = scaler.inputs["spec"]
    assert spec["minReplicaCount"] == 0
    cron = [t for t in spec["triggers"] if t["type"] == "cron"]
    assert cron == [
        {
            "type": "cron",
            "metadata": {
                "timezone": "Europe/London",
                "start": "0 8 * * 1-5",
                "end": "0 19 * * 1-5",
                "desiredReplicas": "1",
            },
        }
    ]
    [deployment] = endpoint_objects(inv, "propensity")["Deployment"]
    init = deployment.inputs["spec"]["template"]["spec"]["initContainers"][0]
    assert any(a.endswith("/models/propensity/2026-11-30/run-42/") for a in init["args"])


@pytest.mark.parametrize("stack", ["platform-dev", "platform-prod", "fraud-prod", "marketing-dev"])
def test_every_serving_object_validates_against_its_schema(rendered, stack):
    inv = rendered(stack)
    core = (
        "apps/v1:Deployment",
        "core/v1:Service",
        "core/v1:ServiceAccount",
        "core/v1:Namespace",
        "policy/v1:PodDisruptionBudget",
        "networking.k8s.io/v1:NetworkPolicy",
        # the Gateway API's standard install (a yaml/v2 ConfigFile the engine expands)
        "apiextensions.k8s.io/v1:CustomResourceDefinition",
        "admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
        "admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
    )
    checked = 0
    for r in inv.resources:
        if "-serving" not in r.name or not r.type.startswith("kubernetes:"):
            continue
        if r.type.split(":", 1)[1] in core:
            group_version, kind = r.type.split(":")[1], r.type.split(":")[2]
            group, version = group_version.rsplit("/", 1)
            body = {k: v for k, v in r.inputs.items() if k not in ("apiVersion", "kind")}
            manifest = {
                "apiVersion": version if group == "core" else group_version,
                "kind": kind,
                **body,
            }
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
            checked += 1
        elif "apiVersion" in r.inputs:
            validate_custom(r)
            checked += 1
    assert checked >= 5


def test_a_misspelt_field_fails_crd_validation(rendered):
    route = one(rendered("fraud-prod"), ":HTTPRoute", "card-scoring")
    broken = copy.deepcopy(route)
    object.__setattr__(broken, "inputs", copy.deepcopy(route.inputs))
    broken.inputs["spec"]["rules"][0]["matches"][0]["path"]["type"] = "Prefix"
    with pytest.raises(jsonschema.ValidationError):
        validate_custom(broken)


# -- IAM: the model server reads its family, decrypts with its key, and nothing of another BU --


def test_model_server_role_reads_its_artifacts_and_nothing_else(rendered):
    fraud, marketing = rendered("fraud-prod"), rendered("marketing-dev")
    role = one(fraud, "iam/role:Role", "card-scoring-role")
    policy = json.loads(
        one(fraud, "iam/rolePolicy:RolePolicy", "card-scoring-role-policy").inputs["policy"]
    )
    boundary = json.loads(one(fraud, "iam/policy:Policy", "boundary").inputs["policy"])
    arn = f"arn:aws:iam::222222222222:role{role.inputs['path']}{role.inputs['name']}"
    who = Principal(arn=arn, identity_policies=(policy,), permissions_boundary=boundary)
    bucket = next(
        r
        for r in of_type(fraud, "s3/bucket:Bucket")
        if "-models-" in r.inputs["bucket"] and "-models-dr-" not in r.inputs["bucket"]
    ).inputs["bucket"]
    key = fraud.outputs["kmsKeyArn"]
    via_s3 = {"kms:ViaService": "s3.us-east-1.amazonaws.com"}

    def key_policy(inv):
        [key_resource] = [k for k in of_type(inv, "kms/key:Key") if not k.inputs.get("region")]
        return json.loads(key_resource.inputs["policy"])

    def bucket_policy(inv):
        for r in of_type(inv, "s3/bucketPolicy:BucketPolicy"):
            if "registry-artifacts" in r.name:
                return json.loads(r.inputs["policy"])
        raise AssertionError("no artifact bucket policy")

    policies = {
        key: key_policy(fraud),
        bucket: bucket_policy(fraud),
    }

    from tests.test_golden_path import _cluster_s3_endpoint

    # the pod's S3 requests arrive through the cluster VPC's S3 gateway endpoint
    in_vpc = {"aws:SourceVpce": _cluster_s3_endpoint("fraud-prod")}

    def can(action, resource, context=None):
        resource_policy = next((p for prefix, p in policies.items() if prefix in resource), None)
        return evaluate(
            Request(
                principal=who,
                action=action,
                resource=resource,
                context={**in_vpc, **(context or {})},
                resource_policy=resource_policy,
            )
        )

    assert can("s3:GetObject", f"arn:aws:s3:::{bucket}/models/card-fraud/3/model.tar.gz")
    assert can("kms:Decrypt", key, via_s3), "the model server cannot decrypt its artifacts"
    assert can(
        "dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:222222222222:table/fraud-prod-card-velocity"
    )
    # not another family of the BU, never a write, never another BU
    assert not can("s3:GetObject", f"arn:aws:s3:::{bucket}/models/merchant-risk/1/model.tar.gz")
    assert not can("s3:PutObject", f"arn:aws:s3:::{bucket}/models/card-fraud/3/model.tar.gz")
    other_bucket = next(
        r
        for r in of_type(marketing, "s3/bucket:Bucket")
        if "-models-" in r.inputs["bucket"] and "-models-dr-" not in r.inputs["bucket"]
    )
    assert not can(
        "s3:GetObject", f"arn:aws:s3:::{other_bucket.inputs['bucket']}/models/propensity/x"
    )
    policies[marketing.outputs["kmsKeyArn"]] = key_policy(marketing)
    assert not can("kms:Decrypt", marketing.outputs["kmsKeyArn"], via_s3)
    # the trust admits exactly this service account
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert (
        trust["Statement"][0]["Condition"]["StringEquals"][
            "aws:RequestTag/kubernetes-service-account"
        ]
        == "card-scoring-model-server"
    )


# -- the schema ---------------------------------------------------------------------------------


def _endpoint(values: dict) -> dict:
    return values["serving"]["endpoints"][0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda v: _endpoint(v).update(modelFamily="churn"),
            r"serving.endpoints\[0\].modelFamily: is not in modelRegistry.modelFamilies \(got 'churn'\)",
        ),
        (
            lambda v: _endpoint(v).update(image="other:1.0"),
            r"image: repository 'other' is not one of the BU's ECR",
        ),
        (lambda v: _endpoint(v).update(image="card-fraud"), r"image must be '<repository>:<tag>'"),
        (
            lambda v: _endpoint(v).update(gpuPool="serve-h100"),
            r"serving.endpoints\[0\].gpuPool: is not one of the BU's gpuPools .* \(got 'serve-h100'\)",
        ),
        (
            lambda v: _endpoint(v).update(minReplicas=0, schedule={}),
            r"minReplicas: 0 \(scale to zero\) is allowed in dev only",
        ),
        (lambda v: _endpoint(v).update(auth="iam"), r"auth: iam is not available"),
        (
            lambda v: _endpoint(v).update(routePath="/marketing/steal"),
            r"routePath: must start with /fraud/",
        ),
        (
            lambda v: _endpoint(v).update(gpusPerReplica=4),
            r"serving.endpoints\[0\].gpusPerReplica: does not fit one node of pool serve-a10g .*\(got 4\)",
        ),
        (
            lambda v: _endpoint(v).update(targetLatencyMs=100),
            r"exactly one of targetRequestsPerSecond",
        ),
        (
            lambda v: _endpoint(v).update(onlineTables=["nope"]),
            r"serving.endpoints\[0\].onlineTables\[0\]: is not in featureStore.onlineTables \(got 'nope'\)",
        ),
        (
            lambda v: v.update(cluster={"mode": "dedicated"}, network={"cidr": "10.60.0.0/16"}),
            r"a dedicated cluster has no serving plane",
        ),
    ],
)
def test_endpoint_config_errors_are_one_line_and_name_the_key(change, message):
    lines = errors_of("fraud-prod", change)
    assert any(re.search(message, line) for line in lines), lines
    assert all(
        line.startswith("stacks/Pulumi.fraud-prod.yaml: ai-estate") and "\n" not in line
        for line in lines
    )


def test_platform_serving_needs_a_certificate():
    def drop_certificate(values):
        values["serving"].pop("certificateArn")
        values["serving"]["enabled"] = True

    lines = errors_of("platform-prod", drop_certificate)
    assert any("ai-estate:serving.certificateArn: is required" in line for line in lines), lines


def test_a_platform_without_a_certificate_builds_no_serving_plane():
    values = stack_values("platform-prod")
    values.pop("serving")
    config = validate_config(values, "stacks/Pulumi.platform-prod.yaml")
    assert config.serving.plane_enabled is False


def test_scale_to_zero_needs_a_schedule():
    lines = errors_of("marketing-dev", lambda v: _endpoint(v).pop("schedule"))
    assert any("minReplicas 0 needs a schedule" in line for line in lines), lines


# -- cost and critical path know the new resource types ----------------------------------------


def test_the_gateway_alb_and_a_waf_acl_are_priced(rendered):
    from estate.analysis.cost import cost_for
    from estate.offline.model import Inventory, Resource

    estimate = cost_for(rendered("platform-prod"))
    [alb] = [
        i for i in estimate["items"] if i["resource"].endswith("::platform-prod-serving-gateway")
    ]
    assert alb["idle"] == pytest.approx(0.0225 * 730, abs=0.01)
    assert alb["peak"] == pytest.approx((0.0225 + 0.008 * 10) * 730, abs=0.01)
    waf = Resource(
        urn="urn:pulumi:s::ai-estate::aws:wafv2/webAcl:WebAcl::waf",
        type="aws:wafv2/webAcl:WebAcl",
        name="waf",
        custom=True,
        inputs={"rules": [{}, {}, {}]},
    )
    inv = Inventory(
        stack="s", project="ai-estate", resources=[waf], config={"aws:region": "eu-west-1"}
    )
    [item] = cost_for(inv)["items"]
    assert item["idle"] == pytest.approx(5 + 3 * 1.0, abs=0.01)
    assert item["typical"] == pytest.approx(8 + 0.6 * 10, abs=0.01)


@pytest.mark.parametrize("stack", ["platform-prod", "fraud-prod"])
def test_every_serving_resource_type_has_a_create_time(rendered, stack):
    from estate.analysis.critical_path import load_create_times

    times = load_create_times()
    serving_types = {r.type for r in rendered(stack).resources if "-serving" in r.name and r.custom}
    unknown = sorted(
        t
        for t in serving_types
        if t not in times.minutes
        and not any(__import__("fnmatch").fnmatchcase(t, p) for p, _ in times.patterns)
    )
    assert unknown == []


def test_an_internet_facing_platform_gets_a_web_acl_through_the_program():
    """The explicit choice, rendered through the program: a WAF web ACL is created and attached."""
    from estate.offline.engine import render

    raw = read_stack_file(ROOT / "stacks" / "Pulumi.platform-prod.yaml")
    raw = json.loads(json.dumps(raw, default=str))
    raw["ai-estate:serving"] = {**raw["ai-estate:serving"], "scheme": "internet-facing"}
    inv = render(ROOT, stack="platform-prod", project="ai-estate", config=raw)
    [acl] = of_type(inv, "wafv2/webAcl:WebAcl")
    assert acl.inputs["scope"] == "REGIONAL"
    assert [r["name"] for r in acl.inputs["rules"]] == [
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    ]
    config = one(inv, ":LoadBalancerConfiguration").inputs["spec"]
    assert config["scheme"] == "internet-facing"
    assert ":wafv2:" in config["wafV2"]["webACL"]
    assert acl.urn in one(inv, ":LoadBalancerConfiguration").dependencies
    # public load balancers live in the public subnets: the BU's policies admit those instead
    assert inv.outputs["serving"]["loadBalancerSubnetCidrs"] == [
        p.public_cidr
        for p in __import__("components.network", fromlist=["x"]).plan_subnets("10.20.0.0/16", 3)
    ]
