"""The canary step of a rollout, on the shipped fraud-prod stack file as the deploy workflow
edits it (`python -m estate.rollout stage`), rendered through the program: a second Deployment
no stable selector selects, its own target group and binding, a weighted route, alarms the
rollout watches; every object valid against its schema (kubernetes-validate, vendored CRDs).
Then `promote` and `abort` bring the file back to one version."""

from __future__ import annotations

import shutil
import subprocess
import sys

import kubernetes_validate
import pytest
import yaml

from components import serving
from estate import rollout
from estate.analysis.netpol import selector_matches
from tests.conftest import ROOT, render_config
from tests.test_serving import KUBERNETES_VERSION, one, stack_values, validate_custom

STACK = "fraud-prod"
FAMILY = "card-fraud"
ENDPOINT = "card-scoring"
PREFIX = "fraud-prod-serving-card-scoring"
CORE_KINDS = (
    "apps/v1:Deployment",
    "core/v1:Service",
    "policy/v1:PodDisruptionBudget",
    "networking.k8s.io/v1:NetworkPolicy",
)


@pytest.fixture(scope="module")
def staged_dir(tmp_path_factory):
    """A copy of the shipped stacks with a canary of card-fraud version 4 staged at 20%."""
    stacks = tmp_path_factory.mktemp("stacks")
    shutil.copy(ROOT / "stacks" / f"Pulumi.{STACK}.yaml", stacks)
    status = rollout.main(
        ["stage", "--stack", STACK, "--family", FAMILY, "--version", "4", "--weight", "20",
         "--stacks-dir", str(stacks)]
    )  # fmt: skip
    assert status == 0
    return stacks


@pytest.fixture(scope="module")
def staged(staged_dir):
    config = yaml.safe_load((staged_dir / f"Pulumi.{STACK}.yaml").read_text())["config"]
    return render_config(STACK, config)


def test_the_shipped_stack_serves_one_version_and_stages_a_canary(rendered, staged):
    shipped = rendered(STACK)
    assert not [r for r in shipped.resources if "canary" in r.name]
    names = {r.name for r in staged.resources if "canary" in r.name}
    assert names == {
        f"{PREFIX}-canary-{suffix}"
        for suffix in (
            "deployment",
            "service",
            "pdb",
            "target-group",
            "target-group-binding",
            "netpol",
            "latency-p99",
            "target-5xx",
        )
    }


def test_the_stable_objects_do_not_change_and_never_select_the_canary(rendered, staged):
    stable = one(staged, "apps/v1:Deployment", f"{PREFIX}-deployment")
    shipped = one(rendered(STACK), "apps/v1:Deployment", f"{PREFIX}-deployment")
    # the stable Deployment is untouched (its selector is immutable; any change would roll it)
    assert stable.inputs == shipped.inputs
    canary = one(staged, "apps/v1:Deployment", f"{PREFIX}-canary-deployment")
    canary_pods = canary.inputs["spec"]["template"]["metadata"]["labels"]
    stable_pods = stable.inputs["spec"]["template"]["metadata"]["labels"]
    assert canary_pods[serving.TRACK_LABEL] == serving.CANARY
    selectors = {
        "stable Deployment": stable.inputs["spec"]["selector"],
        "stable Service": {"matchLabels": one(staged, "core/v1:Service", f"{PREFIX}-service").inputs["spec"]["selector"]},
        "stable PDB": one(staged, "policy/v1:PodDisruptionBudget", f"{PREFIX}-pdb").inputs["spec"]["selector"],
        "stable NetworkPolicy": one(staged, "NetworkPolicy", f"{PREFIX}-netpol").inputs["spec"]["podSelector"],
    }  # fmt: skip
    for what, selector in selectors.items():
        assert selector_matches(selector, stable_pods), what
        assert not selector_matches(selector, canary_pods), what
    canary_selectors = {
        "canary Deployment": canary.inputs["spec"]["selector"],
        "canary Service": {"matchLabels": one(staged, "core/v1:Service", f"{PREFIX}-canary-service").inputs["spec"]["selector"]},
        "canary PDB": one(staged, "policy/v1:PodDisruptionBudget", f"{PREFIX}-canary-pdb").inputs["spec"]["selector"],
        "canary NetworkPolicy": one(staged, "NetworkPolicy", f"{PREFIX}-canary-netpol").inputs["spec"]["podSelector"],
    }  # fmt: skip
    for what, selector in canary_selectors.items():
        assert selector_matches(selector, canary_pods), what
        assert not selector_matches(selector, stable_pods), what
    # the stable ScaledObject scales the stable Deployment only
    scaler = one(staged, ":ScaledObject", PREFIX)
    assert scaler.inputs["spec"]["scaleTargetRef"]["name"] == ENDPOINT


def test_the_canary_serves_the_new_version_on_the_same_pool_with_fixed_replicas(staged):
    canary = one(staged, "apps/v1:Deployment", f"{PREFIX}-canary-deployment").inputs["spec"]
    stable = one(staged, "apps/v1:Deployment", f"{PREFIX}-deployment").inputs["spec"]
    [fetch] = canary["template"]["spec"]["initContainers"]
    assert fetch["args"][4].endswith("/models/card-fraud/4/")
    assert stable["template"]["spec"]["initContainers"][0]["args"][4].endswith(
        "/models/card-fraud/3/"
    )
    assert canary["replicas"] == 2  # the default; prod keeps at least 2 model servers
    assert "replicas" not in stable  # its ScaledObject owns it
    for key in ("nodeSelector", "tolerations", "serviceAccountName", "securityContext"):
        assert canary["template"]["spec"][key] == stable["template"]["spec"][key], key


def test_the_route_weighs_the_two_target_groups(staged):
    route = one(staged, ":HTTPRoute", PREFIX)
    [rule] = route.inputs["spec"]["rules"]
    refs = {ref["name"]: ref["weight"] for ref in rule["backendRefs"]}
    stable_tg = one(staged, "lb/targetGroup:TargetGroup", f"{PREFIX}-target-group")
    canary_tg = one(staged, "lb/targetGroup:TargetGroup", f"{PREFIX}-canary-target-group")
    assert refs == {stable_tg.inputs["name"]: 80, canary_tg.inputs["name"]: 20}
    assert all(ref["kind"] == "TargetGroupName" for ref in rule["backendRefs"])
    binding = one(staged, ":TargetGroupBinding", f"{PREFIX}-canary-target-group-binding")
    assert binding.inputs["spec"]["serviceRef"] == {"name": f"{ENDPOINT}-canary", "port": 8080}
    assert f"targetgroup/{canary_tg.inputs['name']}/" in binding.inputs["spec"]["targetGroupARN"]


def test_the_canary_alarms_are_the_ones_the_rollout_watches(staged, staged_dir):
    document = rollout._yaml().load((staged_dir / f"Pulumi.{STACK}.yaml").read_text())
    watched = rollout.watched_alarms(document, STACK, FAMILY)
    alarms = {
        r.inputs["name"]: r
        for r in staged.resources
        if r.type == "aws:cloudwatch/metricAlarm:MetricAlarm"
    }
    assert set(watched) <= set(alarms), set(watched) - set(alarms)
    assert len(watched) == 4
    canary_tg = one(staged, "lb/targetGroup:TargetGroup", f"{PREFIX}-canary-target-group")
    for name in watched:
        alarm = alarms[name]
        tg = alarm.inputs["dimensions"]["TargetGroup"]
        if "-canary-" in name:
            assert tg.startswith(f"targetgroup/{canary_tg.inputs['name']}/"), name
            assert alarm.inputs["tags"][serving.TRACK_LABEL] == serving.CANARY
        else:
            assert "-canary" not in tg, name
        assert alarm.inputs["tags"][serving.ENDPOINT_LABEL] == ENDPOINT
    assert staged.outputs["serving"]["endpoints"][ENDPOINT]["rolloutAlarmNames"] == watched


def test_every_canary_object_validates_against_its_schema(staged):
    checked = 0
    for r in staged.resources:
        if not r.type.startswith("kubernetes:") or not (
            "canary" in r.name or r.type.endswith(":HTTPRoute")
        ):
            continue
        if r.type.split(":", 1)[1] not in CORE_KINDS:
            validate_custom(r)
        else:
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
    assert checked == 6  # Deployment, Service, PDB, NetworkPolicy, binding; the route


def test_the_staged_stack_passes_the_whole_pack(staged):
    """A stack in the middle of a rollout is as compliant as the shipped one (the canary has
    its PDB, 2 replicas, alarms, the BU's image): `pulumi up` with the pack lets it through."""
    from estate.offline.runner import run_pack

    run = run_pack(ROOT / "policies", staged)
    assert [(f.policy, f.message) for f in run.findings] == []


def test_promote_then_abort_leave_one_version_and_the_files_comments(staged_dir, tmp_path):
    shipped = (ROOT / "stacks" / f"Pulumi.{STACK}.yaml").read_text()
    for command, expected in (("abort", shipped), ("promote", None)):
        work = tmp_path / command
        work.mkdir()
        shutil.copy(staged_dir / f"Pulumi.{STACK}.yaml", work)
        args = ["--stack", STACK, "--family", FAMILY, "--stacks-dir", str(work)]
        if command == "promote":
            args += ["--version", "4"]
        assert rollout.main([command, *args]) == 0
        text = (work / f"Pulumi.{STACK}.yaml").read_text()
        if expected is not None:
            assert text == expected  # byte for byte: comments and layout survive the round trip
        else:
            diff = [
                (a, b)
                for a, b in zip(shipped.splitlines(), text.splitlines(), strict=True)
                if a != b
            ]
            assert diff == [("        modelVersion: 3", "        modelVersion: 4")]
        # a second run has nothing to do
        assert rollout.main([command, *args]) == rollout.NOTHING_TO_DO


def test_the_cli_refuses_what_is_not_a_bu_stack_and_reads_the_approved_version(tmp_path):
    run = [sys.executable, "-m", "estate.rollout"]
    for stack in ("../etc/passwd", "platform-prod", "FRAUD-prod"):
        out = subprocess.run(
            [*run, "abort", "--stack", stack, "--family", FAMILY, "--stacks-dir", str(tmp_path)],
            capture_output=True, text=True, cwd=ROOT, check=False,
        )  # fmt: skip
        assert out.returncode == 1 and "not a BU stack name" in out.stderr, stack
    arn = "arn:aws:sagemaker:us-east-1:222222222222:model-package/fraud-prod-card-fraud/12"
    out = subprocess.run(
        [*run, "approved-version", "--stack", STACK, "--family", FAMILY, "--arn", arn],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == "12"
    other = arn.replace("fraud-prod-card-fraud", "fraud-prod-merchant-risk")
    out = subprocess.run(
        [*run, "approved-version", "--stack", STACK, "--family", FAMILY, "--arn", other],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert out.returncode == 1 and "not 'fraud-prod-card-fraud'" in out.stderr


@pytest.mark.parametrize("weight", [0, 51])
def test_a_weight_outside_1_to_50_is_refused_by_the_stage_and_the_schema(weight, tmp_path):
    from estate.stack.config import ConfigError, validate_config

    shutil.copy(ROOT / "stacks" / f"Pulumi.{STACK}.yaml", tmp_path)
    args = ["stage", "--stack", STACK, "--family", FAMILY, "--version", "4"]
    assert rollout.main([*args, "--weight", str(weight), "--stacks-dir", str(tmp_path)]) == 1
    config = stack_values(STACK)
    config["serving"]["endpoints"][0]["canary"] = {"modelVersion": 4, "weight": weight}
    with pytest.raises(ConfigError, match=r"serving\.endpoints\[0\]\.canary\.weight"):
        validate_config(config, f"stacks/Pulumi.{STACK}.yaml")


def test_a_canary_of_the_served_version_is_refused():
    from estate.stack.config import ConfigError, validate_config

    config = stack_values(STACK)
    config["serving"]["endpoints"][0]["canary"] = {"modelVersion": 3}
    with pytest.raises(ConfigError, match="must differ from modelVersion"):
        validate_config(config, f"stacks/Pulumi.{STACK}.yaml")
