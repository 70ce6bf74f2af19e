"""Kubernetes workload rules (pod security, namespaces, GPU isolation, images, credentials): a
bad and a good program per rule from real `pulumi_kubernetes` resources, the pod-spec extractor
over every workload kind (KEDA ScaledJob included), the platform/BU distinction (the stack kind
and BU come from `PULUMI_CONFIG`, as the CLI passes them), unknowns and the shipped stacks.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from governance import k8s_workloads
from governance.k8s_workloads import credential_kind, image_reference
from policy_harness import check, names
from policy_programs import unknown
from pulumi_policy.proxy import UnknownValueError

from estate.offline.engine import config_to_wire

Program = Callable[[], None]
core, apps, batch, meta = k8s.core.v1, k8s.apps.v1, k8s.batch.v1, k8s.meta.v1

ECR = "222222222222.dkr.ecr.us-east-1.amazonaws.com/fraud-prod"
IMAGE = f"{ECR}/card-fraud:1.4.2"
DIGEST = "sha256:" + "ab" * 32
NON_ROOT = {"run_as_non_root": True, "run_as_user": 65532}
RUNTIME_DEFAULT = core.SeccompProfileArgs(type="RuntimeDefault")
OWN_TOLERATION = core.TolerationArgs(
    key="ai-estate/bu", operator="Equal", value="fraud", effect="NoSchedule"
)
GPU_TOLERATION = core.TolerationArgs(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")


@dataclass(frozen=True)
class Case:
    bad: Program
    flagged: set[str]
    good: Program


# -- building blocks --------------------------------------------------------------------------


def container(name: str = "app", image: str = IMAGE, env=None, **security: Any):
    return core.ContainerArgs(
        name=name,
        image=image,
        env=env,
        security_context=core.SecurityContextArgs(**security) if security else None,
    )


def pod_spec(*containers: core.ContainerArgs, pod_security: dict | None = None, **extra: Any):
    """A restricted pod spec unless `pod_security` says otherwise."""
    security = (
        {**NON_ROOT, "seccomp_profile": RUNTIME_DEFAULT} if pod_security is None else pod_security
    )
    return core.PodSpecArgs(
        containers=list(containers) or [container()],
        security_context=core.PodSecurityContextArgs(**security) if security else None,
        **extra,
    )


def template(spec: core.PodSpecArgs) -> core.PodTemplateSpecArgs:
    return core.PodTemplateSpecArgs(metadata=meta.ObjectMetaArgs(labels={"app": "app"}), spec=spec)


def deployment(name: str, spec: core.PodSpecArgs, namespace: str | None = "fraud", **kw):
    return apps.Deployment(
        name,
        metadata=meta.ObjectMetaArgs(namespace=namespace),
        spec=apps.DeploymentSpecArgs(
            selector=meta.LabelSelectorArgs(match_labels={"app": "app"}), template=template(spec)
        ),
        **kw,
    )


def job(name: str, spec: core.PodSpecArgs, namespace: str | None = "fraud"):
    spec.restart_policy = "Never"  # type: ignore[attr-defined]
    return batch.Job(
        name,
        metadata=meta.ObjectMetaArgs(namespace=namespace),
        spec=batch.JobSpecArgs(template=template(spec)),
    )


def scaled_job(name: str, spec: dict[str, Any], namespace: str = "fraud"):
    """A KEDA ScaledJob (a custom resource: its spec is a plain dict in wire names)."""
    return k8s.apiextensions.CustomResource(
        name,
        api_version="keda.sh/v1alpha1",
        kind="ScaledJob",
        metadata=meta.ObjectMetaArgs(namespace=namespace),
        spec={
            "jobTargetRef": {"template": {"spec": {"restartPolicy": "Never", **spec}}},
            "triggers": [{"type": "aws-sqs-queue", "metadata": {"queueURL": "q"}}],
        },
    )


def deployment_patch(name: str, **container_patch: Any):
    return apps.DeploymentPatch(
        name,
        metadata=meta.ObjectMetaPatchArgs(name="serve", namespace="fraud"),
        spec=apps.DeploymentSpecPatchArgs(
            template=core.PodTemplateSpecPatchArgs(
                spec=core.PodSpecPatchArgs(
                    containers=[core.ContainerPatchArgs(name="app", **container_patch)]
                )
            )
        ),
    )


def namespace(name: str, labels: dict[str, str] | None) -> None:
    core.Namespace(name, metadata=meta.ObjectMetaArgs(name=name, labels=labels))


RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}


# -- pod security -----------------------------------------------------------------------------


def bad_root() -> None:
    deployment("uid-zero", pod_spec(pod_security={"run_as_user": 0}))
    deployment("container-root", pod_spec(container(run_as_user=0)))
    job("says-root", pod_spec(container(run_as_non_root=False)))
    deployment("unsaid", pod_spec(pod_security={"seccomp_profile": RUNTIME_DEFAULT}))
    core.Pod(
        "init-root",
        metadata=meta.ObjectMetaArgs(namespace="fraud"),
        spec=pod_spec(container(), init_containers=[container("setup", run_as_user=0)]),
    )
    scaled_job("keda-unsaid", {"containers": [{"name": "worker", "image": IMAGE}]})
    deployment_patch("patched-root", security_context=core.SecurityContextPatchArgs(run_as_user=0))


def good_root() -> None:
    deployment("restricted", pod_spec())
    deployment("container-level", pod_spec(container(**NON_ROOT), pod_security={}))
    job("uid-only", pod_spec(pod_security={"run_as_user": 1000}))
    scaled_job(
        "keda-worker",
        {
            "securityContext": {"runAsNonRoot": True},
            "containers": [{"name": "worker", "image": IMAGE}],
        },
    )
    # A patch is a fragment: what it leaves out is kept from the live object.
    deployment_patch("patched-image", image=f"{ECR}/card-fraud:1.4.3")
    core.Pod(
        "windows",
        metadata=meta.ObjectMetaArgs(namespace="fraud"),
        spec=pod_spec(pod_security={}, os=core.PodOSArgs(name="windows")),
    )


def bad_seccomp() -> None:
    deployment(
        "pod-unconfined",
        pod_spec(pod_security={**NON_ROOT, "seccomp_profile": {"type": "Unconfined"}}),
    )
    deployment(
        "container-unconfined",
        pod_spec(container(seccomp_profile=core.SeccompProfileArgs(type="Unconfined"))),
    )
    job("unset", pod_spec(pod_security=NON_ROOT))
    deployment_patch(
        "patched-unconfined",
        security_context=core.SecurityContextPatchArgs(
            seccomp_profile=core.SeccompProfilePatchArgs(type="Unconfined")
        ),
    )


def good_seccomp() -> None:
    deployment("runtime-default", pod_spec())
    deployment(
        "localhost",
        pod_spec(
            container(
                seccomp_profile=core.SeccompProfileArgs(
                    type="Localhost", localhost_profile="profiles/serve.json"
                )
            ),
            pod_security=NON_ROOT,
        ),
    )


def bad_namespaces() -> None:
    namespace("privileged", {"pod-security.kubernetes.io/enforce": "privileged"})
    namespace("unlabelled", {"ai-estate/bu": "fraud"})
    core.NamespacePatch(
        "patched",
        metadata=meta.ObjectMetaPatchArgs(
            name="fraud", labels={"pod-security.kubernetes.io/enforce": "privileged"}
        ),
    )


def good_namespaces() -> None:
    namespace("fraud", {**RESTRICTED, "pod-security.kubernetes.io/warn": "restricted"})
    namespace("research", {"pod-security.kubernetes.io/enforce": "baseline"})
    core.NamespacePatch(
        "relabel", metadata=meta.ObjectMetaPatchArgs(name="fraud", labels={"team": "risk"})
    )


# -- namespaces -------------------------------------------------------------------------------


def bad_system_namespace() -> None:
    deployment("in-kube-system", pod_spec(), namespace="kube-system")
    core.ConfigMap(
        "aws-auth-edit",
        metadata=meta.ObjectMetaArgs(namespace="kube-system", name="aws-auth"),
        data={"mapRoles": "[]"},
    )
    k8s.rbac.v1.RoleBinding(
        "gpu-operator-binding",
        metadata=meta.ObjectMetaArgs(namespace="gpu-operator"),
        role_ref=k8s.rbac.v1.RoleRefArgs(
            kind="ClusterRole", name="view", api_group="rbac.authorization.k8s.io"
        ),
        subjects=[k8s.rbac.v1.SubjectArgs(kind="Group", name="ai-estate:fraud:ml-engineer")],
    )
    k8s.helm.v3.Release("chart-in-keda", chart="oci://example/chart", namespace="keda")
    provider = k8s.Provider("system-provider", kubeconfig="{}", namespace="kube-system")
    deployment(
        "provider-namespace",
        pod_spec(),
        namespace=None,
        opts=pulumi.ResourceOptions(provider=provider),
    )


def good_system_namespace() -> None:
    deployment("own-namespace", pod_spec())
    core.ConfigMap(
        "settings", metadata=meta.ObjectMetaArgs(namespace="fraud"), data={"MODE": "batch"}
    )
    # Cluster-scoped objects have no namespace to place.
    namespace("fraud", RESTRICTED)
    k8s.helm.v3.Release("chart", chart="oci://example/chart", namespace="fraud")


def bad_default_namespace() -> None:
    deployment("explicit-default", pod_spec(), namespace="default")
    job("no-namespace", pod_spec(), namespace=None)
    scaled_job(
        "keda-default",
        {"containers": [{"name": "worker", "image": IMAGE}]},
        namespace="default",
    )


def good_default_namespace() -> None:
    deployment("serve", pod_spec())
    provider = k8s.Provider("fraud-provider", kubeconfig="{}", namespace="fraud")
    deployment(
        "provider-namespace",
        pod_spec(),
        namespace=None,
        opts=pulumi.ResourceOptions(provider=provider),
    )
    # A ConfigMap in default is not a workload.
    core.ConfigMap("note", metadata=meta.ObjectMetaArgs(namespace="default"), data={"a": "b"})


# -- GPU isolation ----------------------------------------------------------------------------


def bad_tolerations() -> None:
    deployment("tolerates-all", pod_spec(tolerations=[core.TolerationArgs(operator="Exists")]))
    deployment(
        "other-bu",
        pod_spec(
            tolerations=[
                GPU_TOLERATION,
                core.TolerationArgs(key="ai-estate/bu", operator="Equal", value="marketing"),
            ]
        ),
    )
    job(
        "every-bu",
        pod_spec(tolerations=[core.TolerationArgs(key="ai-estate/bu", operator="Exists")]),
    )
    deployment(
        "system-pool",
        pod_spec(tolerations=[core.TolerationArgs(key="CriticalAddonsOnly", operator="Exists")]),
    )
    scaled_job(
        "keda-all",
        {"containers": [{"name": "w", "image": IMAGE}], "tolerations": [{"operator": "Exists"}]},
    )


def good_tolerations() -> None:
    deployment("own-gpu-pool", pod_spec(tolerations=[GPU_TOLERATION, OWN_TOLERATION]))
    job("no-tolerations", pod_spec())
    deployment(
        "spot",
        pod_spec(
            tolerations=[
                core.TolerationArgs(
                    key="karpenter.sh/disruption", operator="Exists", effect="NoSchedule"
                )
            ]
        ),
    )


# -- images -----------------------------------------------------------------------------------


def bad_images() -> None:
    deployment("latest", pod_spec(container(image=f"{ECR}/card-fraud:latest")))
    deployment("untagged", pod_spec(container(image="python")))
    job(
        "init-latest",
        pod_spec(container(), init_containers=[container("i", image="busybox:latest")]),
    )
    deployment("port-no-tag", pod_spec(container(image="registry.example.com:5000/team/app")))
    deployment_patch("patched-latest", image="nginx:latest")


def good_images() -> None:
    deployment("ecr-tag", pod_spec())
    deployment("digest", pod_spec(container(image=f"python@{DIGEST}")))
    deployment("tag-and-digest", pod_spec(container(image=f"python:3.12@{DIGEST}")))
    deployment("port-and-tag", pod_spec(container(image="registry.example.com:5000/app:2.1")))


def bad_registry() -> None:
    deployment("docker-hub", pod_spec(container(image="docker.io/library/python:3.12")))
    deployment(
        "other-account",
        pod_spec(container(image="333333333333.dkr.ecr.us-east-1.amazonaws.com/x/y:1")),
    )
    job("public-tag", pod_spec(container(image="public.ecr.aws/docker/library/busybox:1.36")))


def good_registry() -> None:
    deployment("own-ecr", pod_spec())
    deployment("public-by-digest", pod_spec(container(image=f"public.ecr.aws/x/y@{DIGEST}")))
    deployment(
        "tool-init",
        pod_spec(
            container(),
            init_containers=[container("fetch", image="public.ecr.aws/aws-cli/aws-cli:2.17.0")],
        ),
    )


# -- credentials ------------------------------------------------------------------------------


def env(name: str, value: str | None = None, **kw: Any) -> core.EnvVarArgs:
    return core.EnvVarArgs(name=name, value=value, **kw)


def bad_credentials() -> None:
    deployment(
        "aws-key", pod_spec(container(env=[env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")]))
    )
    deployment("db-password", pod_spec(container(env=[env("DB_PASSWORD", "hunter22")])))
    job("url", pod_spec(container(env=[env("DATABASE_URL", "postgres://app:s3cr3t@db:5432/x")])))
    deployment("api-token", pod_spec(container(env=[env("HF_TOKEN", "hf_abcdefghijklmnop")])))
    core.ConfigMap(
        "pem",
        metadata=meta.ObjectMetaArgs(namespace="fraud"),
        data={"tls.key": "-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----"},
    )
    core.ConfigMap(
        "ini",
        metadata=meta.ObjectMetaArgs(namespace="fraud"),
        data={"app.ini": "[db]\nuser = app\npassword = Tr0ub4dor&3\n"},
    )
    scaled_job(
        "keda-secret",
        {
            "containers": [
                {"name": "w", "image": IMAGE, "env": [{"name": "CLIENT_SECRET", "value": "x9y8z7"}]}
            ]
        },
    )


def good_credentials() -> None:
    deployment(
        "from-secret",
        pod_spec(
            container(
                env=[
                    env(
                        "DB_PASSWORD",
                        value_from=core.EnvVarSourceArgs(
                            secret_key_ref=core.SecretKeySelectorArgs(name="db", key="password")
                        ),
                    ),
                    env("AWS_REGION", "us-east-1"),
                    env("TOKEN_FILE", "/var/run/secrets/token"),
                    env("API_KEY", "${API_KEY}"),
                    env("DB_SECRET", "arn:aws:secretsmanager:us-east-1:222222222222:secret:db"),
                    env("OAUTH_TOKEN", ""),
                    env("PASSWORD_POLICY_URL", "https://example.com/policy"),
                ]
            )
        ),
    )
    core.ConfigMap(
        "settings",
        metadata=meta.ObjectMetaArgs(namespace="fraud"),
        data={
            "prometheus.yaml": "bearer_token_file: /var/run/secrets/kubernetes.io/token\n",
            "db.ini": "password_file = /run/secrets/db\n",
            "endpoint": "https://api.example.com/v1",
        },
    )


WORKLOAD_CASES: dict[str, Case] = {
    "k8s-run-as-non-root": Case(
        bad_root,
        {
            "uid-zero",
            "container-root",
            "says-root",
            "unsaid",
            "init-root",
            "keda-unsaid",
            "patched-root",
        },
        good_root,
    ),
    "k8s-seccomp-confined": Case(
        bad_seccomp,
        {"pod-unconfined", "container-unconfined", "unset", "patched-unconfined"},
        good_seccomp,
    ),
    "k8s-namespace-not-privileged": Case(
        bad_namespaces, {"privileged", "unlabelled", "patched"}, good_namespaces
    ),
    "k8s-bu-no-system-namespace": Case(
        bad_system_namespace,
        {
            "in-kube-system",
            "aws-auth-edit",
            "gpu-operator-binding",
            "chart-in-keda",
            "provider-namespace",
        },
        good_system_namespace,
    ),
    "k8s-no-default-namespace": Case(
        bad_default_namespace,
        {"explicit-default", "no-namespace", "keda-default"},
        good_default_namespace,
    ),
    "k8s-tolerations-isolated": Case(
        bad_tolerations,
        {"tolerates-all", "other-bu", "every-bu", "system-pool", "keda-all"},
        good_tolerations,
    ),
    "k8s-image-pinned": Case(
        bad_images,
        {"latest", "untagged", "init-latest", "port-no-tag", "patched-latest"},
        good_images,
    ),
    "k8s-image-from-estate-registry": Case(
        bad_registry, {"docker-hub", "other-account", "public-tag"}, good_registry
    ),
    "k8s-no-literal-credentials": Case(
        bad_credentials,
        {"aws-key", "db-password", "url", "api-token", "pem", "ini", "keda-secret"},
        good_credentials,
    ),
}
"""Bad/good cases of the workload rules (collected by `test_governance_rules`)."""


def set_stack(monkeypatch, kind: str, bu: str, env: str = "prod", **extra: str) -> None:
    config = {"ai-estate:kind": kind, "ai-estate:businessUnit": bu, "ai-estate:environment": env}
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({**config, **extra}))


@pytest.fixture(autouse=True)
def fraud_prod(monkeypatch):
    set_stack(monkeypatch, "bu", "fraud", **{"ai-estate:accountId": "222222222222"})


def test_every_workload_rule_has_a_bad_and_a_good_case():
    assert set(WORKLOAD_CASES) == {r.id for r in k8s_workloads.RULES}


@pytest.mark.parametrize("rule_id", sorted(WORKLOAD_CASES))
def test_bad_program_is_caught(rule_id: str):
    case = WORKLOAD_CASES[rule_id]
    violations = check(rule_id, case.bad, environment="prod")
    assert set(names(violations)) == case.flagged, [v.message for v in violations]
    assert all(v.message.endswith(".") for v in violations)


@pytest.mark.parametrize("rule_id", sorted(WORKLOAD_CASES))
def test_good_program_passes(rule_id: str):
    violations = check(rule_id, WORKLOAD_CASES[rule_id].good, environment="prod")
    assert violations == [], [v.message for v in violations]


def test_every_rule_blocks_in_prod():
    assert all(r.enforcement["prod"] == "mandatory" for r in k8s_workloads.RULES)


# -- platform stacks --------------------------------------------------------------------------


def platform_agents() -> None:
    """What a platform stack legitimately runs: node agents in kube-system, add-ons that leave
    the user to their vendor image, a privileged GPU Operator namespace."""
    deployment(
        "agent",
        pod_spec(
            container(image="public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300062.0b1304"),
            pod_security={},
            tolerations=[core.TolerationArgs(key="CriticalAddonsOnly", operator="Exists")],
        ),
        namespace="amazon-cloudwatch",
    )
    apps.DaemonSet(
        "node-agent",
        metadata=meta.ObjectMetaArgs(namespace="kube-system"),
        spec=apps.DaemonSetSpecArgs(
            selector=meta.LabelSelectorArgs(match_labels={"app": "app"}),
            template=template(
                pod_spec(
                    container(image=f"public.ecr.aws/eks/agent@{DIGEST}", run_as_user=0),
                    pod_security={"seccomp_profile": {"type": "Unconfined"}},
                    tolerations=[
                        core.TolerationArgs(operator="Exists"),
                        core.TolerationArgs(key="ai-estate/bu", operator="Exists"),
                    ],
                )
            ),
        ),
    )
    namespace("gpu-operator", {"pod-security.kubernetes.io/enforce": "privileged"})


@pytest.mark.parametrize("rule_id", sorted(WORKLOAD_CASES))
def test_platform_stacks_keep_their_system_exemptions(monkeypatch, rule_id):
    set_stack(monkeypatch, "platform", "platform")
    assert check(rule_id, platform_agents) == []


def test_the_same_agents_in_a_bu_stack_are_refused():
    flagged = {
        rule_id: set(names(check(rule_id, platform_agents)))
        for rule_id in (
            "k8s-run-as-non-root",
            "k8s-seccomp-confined",
            "k8s-namespace-not-privileged",
            "k8s-bu-no-system-namespace",
            "k8s-tolerations-isolated",
            "k8s-image-from-estate-registry",
        )
    }
    assert flagged == {
        "k8s-run-as-non-root": {"agent", "node-agent"},
        "k8s-seccomp-confined": {"agent", "node-agent"},
        "k8s-namespace-not-privileged": {"gpu-operator"},
        "k8s-bu-no-system-namespace": {"agent", "node-agent"},
        "k8s-tolerations-isolated": {"agent", "node-agent"},
        "k8s-image-from-estate-registry": {"agent"},
    }


def test_a_platform_root_pod_outside_the_exempt_namespaces_is_refused(monkeypatch):
    set_stack(monkeypatch, "platform", "platform")

    def program():
        deployment("tool", pod_spec(pod_security={"run_as_user": 0}), namespace="amazon-cloudwatch")
        deployment(
            "wild", pod_spec(tolerations=[core.TolerationArgs(operator="Exists")]), namespace="keda"
        )

    assert names(check("k8s-run-as-non-root", program)) == ["tool"]
    assert names(check("k8s-tolerations-isolated", program)) == ["wild"]


def test_a_program_without_a_stack_kind_is_judged_as_a_bu_stack(monkeypatch):
    monkeypatch.delenv("PULUMI_CONFIG", raising=False)
    assert set(names(check("k8s-bu-no-system-namespace", platform_agents))) == {
        "agent",
        "node-agent",
    }


# -- details ----------------------------------------------------------------------------------


def test_without_a_configured_bu_the_namespace_names_it(monkeypatch):
    set_stack(monkeypatch, "bu", "")

    def program():
        deployment("own", pod_spec(tolerations=[OWN_TOLERATION]), namespace="fraud")
        deployment("foreign", pod_spec(tolerations=[OWN_TOLERATION]), namespace="marketing")

    violations = check("k8s-tolerations-isolated", program)
    assert names(violations) == ["foreign"]
    assert "not its own BU's (marketing)" in violations[0].message


def test_without_an_account_any_ecr_account_is_the_estates(monkeypatch):
    set_stack(monkeypatch, "bu", "fraud")
    assert set(names(check("k8s-image-from-estate-registry", bad_registry))) == {
        "docker-hub",
        "public-tag",
    }


def test_allowed_images_come_from_policy_config():
    def program():
        job("tool", pod_spec(container(image="public.ecr.aws/docker/library/busybox:1.36")))

    assert names(check("k8s-image-from-estate-registry", program)) == ["tool"]
    config = {"allowedImages": ["public.ecr.aws/docker/library/busybox:1.36"]}
    assert check("k8s-image-from-estate-registry", program, policy_config=config) == []


def test_credential_messages_never_repeat_the_value():
    messages = " ".join(v.message for v in check("k8s-no-literal-credentials", bad_credentials))
    for secret in ("AKIAIOSFODNN7EXAMPLE", "hunter22", "s3cr3t", "Tr0ub4dor", "x9y8z7"):
        assert secret not in messages
    assert "env AWS_ACCESS_KEY_ID holds an AWS access key id" in messages


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", "an AWS access key id"),
        ("NOTE", "key AKIAIOSFODNN7EXAMPLE here", "an AWS access key id"),
        ("KEY", "-----BEGIN OPENSSH PRIVATE KEY-----", "a private key"),
        ("KEY", "-----BEGIN PRIVATE KEY-----", "a private key"),
        ("URL", "redis://default:pa55word@cache:6379", "a password in a URL"),
        ("URL", "https://user:${PASSWORD}@host/", ""),
        ("URL", "https://example.com/a:b@c", ""),
        ("ARGS", "--password=hunter22", "a password assignment"),
        ("ARGS", "--password=$(DB_PASSWORD)", ""),
        ("ARGS", "password: '<set me>'", ""),
        ("DB_PASSWORD", "x", "a literal secret"),
        ("db.password", "x", "a literal secret"),
        ("GITHUB_TOKEN", "ghp_x", "a literal secret"),
        ("AWS_SECRET_ACCESS_KEY", "abc", "a literal secret"),
        ("DB_PASSWORD", "", ""),
        ("DB_PASSWORD", "/run/secrets/db", ""),
        ("TOKEN_AUDIENCE", "sts.amazonaws.com", ""),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token", ""),
        ("SECRET_NAME", "db-credentials", ""),
        # a Secrets Manager ARN names a secret, it does not hold one (was a false positive)
        ("DB_PASSWORD_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:1:secret:fraud/db-Ab", ""),
        ("CFG", "db: arn:aws:secretsmanager:us-east-1:1:secret:fraud/db-Ab", ""),
        (
            "CFG",
            "arn:aws:secretsmanager:us-east-1:1:secret:x password=hunter22",
            "a password assignment",
        ),
    ],
)
def test_credential_kinds(name, value, expected):
    assert credential_kind(name, value) == expected


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("python", ("python", "", "")),
        ("python:3.12", ("python", "3.12", "")),
        ("host:5000/team/app", ("host:5000/team/app", "", "")),
        ("host:5000/team/app:1.0", ("host:5000/team/app", "1.0", "")),
        (f"app@{DIGEST}", ("app", "", DIGEST)),
        (f"app:1@{DIGEST}", ("app", "1", DIGEST)),
    ],
)
def test_image_references_are_split_as_the_runtime_does(image, expected):
    assert image_reference(image) == expected


def test_a_malformed_digest_is_not_a_pin():
    [violation] = check(
        "k8s-image-pinned", lambda: deployment("d", pod_spec(container(image="app@sha256:abc")))
    )
    assert "malformed digest" in violation.message


def test_an_unknown_image_is_not_judged_in_preview():
    with pytest.raises(UnknownValueError):
        check("k8s-image-pinned", lambda: deployment("d", pod_spec(container(image=unknown()))))


def test_a_compliant_pod_with_an_unknown_namespace_is_judged_in_preview():
    def program():
        deployment("serve", pod_spec(tolerations=[GPU_TOLERATION]), namespace=unknown())

    for rule_id in ("k8s-run-as-non-root", "k8s-seccomp-confined", "k8s-tolerations-isolated"):
        assert check(rule_id, program) == []


@pytest.mark.parametrize(
    "token",
    sorted(t for t in k8s_workloads.NAMESPACED_TYPES if ":keda.sh/" not in t),
)
def test_every_namespaced_type_token_is_a_pulumi_kubernetes_resource(token):
    _, group_version, kind = token.split(":")
    group, version = group_version.split("/")
    module = importlib.import_module(f"pulumi_kubernetes.{group.split('.')[0]}.{version}")
    assert isinstance(getattr(module, kind), type)


# -- shipped stacks ---------------------------------------------------------------------------


def use_stack_config(monkeypatch, inventory) -> None:
    """Hand the pack the stack's own config, as the CLI does."""
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(config_to_wire(inventory.config)))


@pytest.mark.parametrize("stack", ["platform-dev", "platform-prod", "fraud-prod", "marketing-dev"])
def test_shipped_stacks_pass_every_workload_rule(rendered, monkeypatch, stack):
    inventory = rendered(stack)
    use_stack_config(monkeypatch, inventory)
    for rule_ in k8s_workloads.RULES:
        violations = check(rule_.id, inventory)
        assert violations == [], [v.message for v in violations]


def test_the_shipped_model_server_is_what_the_bu_rules_read(rendered, monkeypatch):
    """Liveness of the shipped check: the BU's Deployment is read, and breaking it is caught."""
    inventory = rendered("fraud-prod")
    use_stack_config(monkeypatch, inventory)
    [server] = [r for r in inventory.resources if r.type == "kubernetes:apps/v1:Deployment"]
    spec = json.loads(json.dumps(server.inputs))
    pod = spec["spec"]["template"]["spec"]
    pod["securityContext"]["runAsUser"] = 0
    pod["tolerations"].append({"operator": "Exists"})
    pod["containers"][0]["image"] = "docker.io/library/python:latest"
    broken = dataclasses.replace(
        inventory,
        resources=[
            dataclasses.replace(r, inputs=spec) if r is server else r for r in inventory.resources
        ],
    )
    for rule_id in (
        "k8s-run-as-non-root",
        "k8s-tolerations-isolated",
        "k8s-image-pinned",
        "k8s-image-from-estate-registry",
    ):
        assert check(rule_id, inventory) == [], rule_id
        assert names(check(rule_id, broken)) == [server.name], rule_id


# -- a well-configured hand-written BU program passes the whole pack --------------------------


def well_configured_bu_program() -> None:
    """What a BU team might write by hand on the shared cluster, done right: every Kubernetes
    rule of the pack (not only this module's) must pass it."""
    labels = {
        "ai-estate/bu": "fraud",
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
    }
    namespace("fraud", labels)
    core.ResourceQuota(
        "compute",
        metadata=meta.ObjectMetaArgs(namespace="fraud"),
        spec=core.ResourceQuotaSpecArgs(hard={"requests.nvidia.com/gpu": "4"}),
    )
    limits = {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"}
    hardened = {
        "allow_privilege_escalation": False,
        "read_only_root_filesystem": True,
        "capabilities": core.CapabilitiesArgs(drop=["ALL"]),
    }
    trainer = core.ContainerArgs(
        name="trainer",
        image=f"{ECR}/trainer:2024.06.1",
        resources=core.ResourceRequirementsArgs(limits=limits, requests=limits),
        security_context=core.SecurityContextArgs(**hardened),
        env=[
            core.EnvVarArgs(name="AWS_REGION", value="us-east-1"),
            core.EnvVarArgs(
                name="DB_PASSWORD",
                value_from=core.EnvVarSourceArgs(
                    secret_key_ref=core.SecretKeySelectorArgs(name="db", key="password")
                ),
            ),
        ],
    )
    spec = pod_spec(
        trainer,
        tolerations=[GPU_TOLERATION, OWN_TOLERATION],
        node_selector={"ai-estate/bu": "fraud", "ai-estate/pool": "train-a10g"},
    )
    job("train", spec)
    scaled_job(
        "retrain-on-event",
        {
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 65532,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "tolerations": [{"key": "ai-estate/bu", "operator": "Equal", "value": "fraud"}],
            "containers": [
                {
                    "name": "worker",
                    "image": f"{ECR}/trainer@{DIGEST}",
                    "resources": {"limits": {"cpu": "1", "memory": "2Gi"}},
                    "securityContext": {"allowPrivilegeEscalation": False},
                }
            ],
        },
    )
    core.ConfigMap(
        "trainer-config",
        metadata=meta.ObjectMetaArgs(namespace="fraud"),
        data={"epochs": "10", "features": "s3://fraud-prod-features/transactions/"},
    )
    rbac_ = k8s.rbac.v1
    rbac_.Role(
        "runner",
        metadata=meta.ObjectMetaArgs(namespace="fraud"),
        rules=[
            rbac_.PolicyRuleArgs(
                api_groups=["batch"], resources=["jobs"], verbs=["get", "list", "create"]
            )
        ],
    )
    rbac_.RoleBinding(
        "runner",
        metadata=meta.ObjectMetaArgs(namespace="fraud"),
        role_ref=rbac_.RoleRefArgs(
            kind="Role", name="runner", api_group="rbac.authorization.k8s.io"
        ),
        subjects=[rbac_.SubjectArgs(kind="ServiceAccount", name="runner", namespace="fraud")],
    )


KUBERNETES_DOMAINS = {"kubernetes", "rbac", "k8s_workloads", "gpu", "serving"}
"""The domains that judge Kubernetes objects (the others want AWS resources this program, a
fragment of a BU stack, does not declare: a budget, alarms)."""


def test_a_well_configured_bu_program_passes_every_kubernetes_rule_of_the_pack():
    from governance import RULES

    judged = [r for r in RULES if r.domain in KUBERNETES_DOMAINS]
    assert {r.id for r in k8s_workloads.RULES} <= {r.id for r in judged}
    blocking = {}
    for rule_ in judged:
        violations = check(rule_.id, well_configured_bu_program, environment="prod")
        if violations and rule_.enforcement["prod"] == "mandatory":
            blocking[rule_.id] = [v.message for v in violations]
    assert blocking == {}
