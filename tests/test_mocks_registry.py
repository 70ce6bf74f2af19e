"""The mock runtime's handler table: every entry names a real token of the installed provider
SDKs (a typo'd or renamed token would silently never match), and what has no entry falls back
to its provider's generic answer."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws
import pulumi_kubernetes
import pytest

from estate.offline.mocks import ACCOUNT_ID, EstateMocks, registry, stable_hex
from estate.offline.mocks.kubernetes import CLUSTER_SCOPED

AWS_ROOT = Path(pulumi_aws.__file__).parent
K8S_ROOT = Path(pulumi_kubernetes.__file__).parent


@cache
def _module_sources(package_root: Path, module: str) -> str:
    """The source text of one SDK module directory (`index` is the package root)."""
    folder = package_root if module == "index" else package_root / module
    if not folder.is_dir():
        folder = package_root / f"{module}_"  # `lambda` is `lambda_` in Python
    return "\n".join(p.read_text() for p in sorted(folder.glob("*.py")))


def _in_sdk(token: str) -> bool:
    """Whether the installed SDK registers or invokes `token` (its source quotes it)."""
    package, module_path, _ = token.split(":")
    root = {"aws": AWS_ROOT, "kubernetes": K8S_ROOT}[package]
    module = module_path.split("/")[0]
    return f"'{token}'" in _module_sources(root, module) or (
        f'"{token}"' in _module_sources(root, module)
    )


AWS_TOKENS = sorted(
    set(registry.AWS_TYPES)
    | set(registry.RESOURCES)
    | set(registry.ID_RULES)
    | set(registry.NAMERS)
    | {t for t in registry.INVOKES if t.startswith("aws:")}
)


@pytest.mark.parametrize("token", AWS_TOKENS)
def test_every_aws_entry_names_a_token_of_pulumi_aws(token: str) -> None:
    assert _in_sdk(token), f"{token} is not a resource or invoke token of pulumi_aws"


def test_kubernetes_invokes_are_the_provider_s_own() -> None:
    k8s = [t for t in registry.INVOKES if t.startswith("kubernetes:")]
    assert k8s == ["kubernetes:yaml:decode"]
    assert "'kubernetes:yaml:decode'" in (K8S_ROOT / "yaml" / "yaml.py").read_text()


@cache
def _kubernetes_kinds() -> set[str]:
    """Kinds pulumi_kubernetes has a resource class for (`apps/v1/Deployment.py`, ...)."""
    return {p.stem for p in K8S_ROOT.glob("*/v*/*.py") if p.stem[:1].isupper()}


@pytest.mark.parametrize("kind", sorted(set(registry.KUBERNETES_STATUS) | CLUSTER_SCOPED))
def test_every_kubernetes_kind_is_one_pulumi_kubernetes_knows(kind: str) -> None:
    assert kind in _kubernetes_kinds()


def test_family_rules_match_real_types_and_exclude_real_types() -> None:
    for prefix, excluded, _ in registry.ID_FAMILY_RULES:
        module = prefix.split(":")[1].split("/")[0]
        assert f"'{prefix}" in _module_sources(AWS_ROOT, module)
        assert all(_in_sdk(t) for t in excluded)


def test_a_token_cannot_be_registered_twice() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        registry.resource("aws:s3/bucketV2:BucketV2")(lambda m, r: {})


def _new(typ: str, name: str, inputs: dict[str, Any]) -> pulumi.runtime.MockResourceArgs:
    return pulumi.runtime.MockResourceArgs(
        typ=typ, name=name, inputs=inputs, provider=None, resource_id=None, custom=True
    )


def test_an_aws_type_without_entries_gets_the_generic_answer() -> None:
    typ = "aws:sns/topicSubscription:TopicSubscription"
    assert _in_sdk(typ)
    assert typ not in registry.AWS_TYPES and typ not in registry.RESOURCES
    mocks = EstateMocks(region="eu-west-1", salt="p/s")
    rid, state = mocks.new_resource(_new(typ, "alerts", {"protocol": "sqs", "tags": {"a": "b"}}))
    physical = f"alerts-{stable_hex('alerts', typ, 'p/s', length=7)}"
    assert rid == physical
    assert state == {
        "protocol": "sqs",
        "tags": {"a": "b"},
        "name": physical,
        "arn": f"arn:aws:sns:eu-west-1:{ACCOUNT_ID}:topicsubscription/{physical}",
        "region": "eu-west-1",
        "tagsAll": {"a": "b"},
    }


def test_a_registered_aws_type_gets_its_handler_over_the_generic_answer() -> None:
    mocks = EstateMocks(region="eu-west-1", salt="p/s")
    rid, state = mocks.new_resource(_new("aws:sqs/queue:Queue", "jobs", {"name": "jobs"}))
    assert rid == "jobs"
    assert state["arn"] == f"arn:aws:sqs:eu-west-1:{ACCOUNT_ID}:jobs"
    assert state["url"] == f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT_ID}/jobs"


def test_a_kubernetes_kind_without_a_status_handler_gets_metadata_only() -> None:
    kind = "ConfigMap"
    assert kind in _kubernetes_kinds() and kind not in registry.KUBERNETES_STATUS
    mocks = EstateMocks(salt="p/s")
    rid, state = mocks.new_resource(
        _new("kubernetes:core/v1:ConfigMap", "cm", {"metadata": {"name": "cm"}, "data": {}})
    )
    assert rid == "default/cm"
    assert "status" not in state
    assert state["metadata"]["namespace"] == "default" and state["metadata"]["uid"]


def test_another_package_s_type_is_autonamed() -> None:
    typ = "command:local:Command"
    rid, state = EstateMocks(salt="p/s").new_resource(_new(typ, "pet", {"create": "true"}))
    assert rid == f"pet-{stable_hex('pet', typ, 'p/s', length=7)}"
    assert state == {"create": "true", "name": rid}


@pytest.mark.parametrize(
    "token",
    sorted(
        [*registry.PACKAGE_RESOURCES]
        + [t for t in registry.INVOKES if not t.startswith(("aws:", "kubernetes:"))]
    ),
)
def test_package_handlers_answer_tokens_their_sdk_registers(token: str) -> None:
    """A handler for a token no SDK sends would never run: each token is in the installed
    pulumi-random / pulumi-tls SDK's source, as the type its class registers."""
    import importlib

    package = importlib.import_module(f"pulumi_{token.split(':')[0]}")
    sources = "".join(p.read_text() for p in Path(package.__file__).parent.glob("*.py"))
    assert f"'{token}'" in sources or f'"{token}"' in sources


def test_an_unknown_invoke_is_answered_generically_and_recorded() -> None:
    mocks = EstateMocks()
    args = pulumi.runtime.MockCallArgs(token="aws:acme/getWidget:getWidget", args={}, provider="")
    answer = mocks.call(args)
    assert set(answer) == {"id"}
    assert mocks.unanswered_calls == {"aws:acme/getWidget:getWidget"}
