"""The pack reads each resource's properties once per request (`governance.wire`): the
Analyzer answers are byte-for-byte the ones `pulumi_policy` gives without it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from governance import wire
from governance.pack import PACK_NAME, build_policies
from governance.profiles import profile_for
from pulumi_policy import EnforcementLevel, policy

from estate.offline.mocks import UNKNOWN
from estate.offline.runner import AnalyzerClient


class _InProcess:
    """An Analyzer stub that calls the pack's servicer directly (no gRPC hop)."""

    def __init__(self, servicer: Any) -> None:
        self.servicer = servicer

    def Analyze(self, request: Any) -> Any:  # noqa: N802
        return self.servicer.Analyze(request, None)

    def AnalyzeStack(self, request: Any) -> Any:  # noqa: N802
        return self.servicer.AnalyzeStack(request, None)


def _answers(inventory: Any) -> list[bytes]:
    profile = profile_for(inventory.config)
    servicer = policy._PolicyAnalyzerServicer(
        PACK_NAME, "0.0.1", build_policies(profile), EnforcementLevel.ADVISORY
    )
    client = AnalyzerClient(
        pack_dir=wire.__file__, project="ai-estate", stack=inventory.stack, config={}
    )
    client.stub = _InProcess(servicer)  # type: ignore[assignment]
    providers = {r.urn: r for r in inventory.resources if r.type.startswith("pulumi:providers:")}
    out = [
        client.analyze(r, providers, inventory).SerializeToString(deterministic=True)
        for r in inventory.resources
    ]
    out.append(client.analyze_stack(inventory, providers).SerializeToString(deterministic=True))
    return out


@pytest.mark.slow
def test_memoised_properties_give_the_same_answers(rendered, monkeypatch):
    inventory = copy.deepcopy(rendered("fraud-prod"))
    # Give the pack something to say: an unencrypted table and a value unknown at preview.
    tables = [r for r in inventory.resources if r.type == "aws:dynamodb/table:Table"]
    tables[0].inputs.pop("serverSideEncryption", None)
    tables[0].inputs["pointInTimeRecovery"] = {"enabled": UNKNOWN}
    monkeypatch.setattr(policy, "json_format", policy.json_format)
    monkeypatch.setattr(policy, "deserialize_properties", policy.deserialize_properties)
    monkeypatch.setattr(policy, "unknown_checking_proxy", policy.unknown_checking_proxy)
    assert not isinstance(policy.json_format, wire._JsonFormat)
    before = _answers(inventory)
    assert wire.install() and wire.install()  # idempotent
    assert isinstance(policy.json_format, wire._JsonFormat)
    after = _answers(inventory)
    assert after == before
    # The mutated tables are judged (so the comparison covers findings, not only silence).
    from pulumi.runtime.proto import analyzer_pb2

    said = [analyzer_pb2.AnalyzeResponse.FromString(b) for b in after]
    assert sum(len(r.diagnostics) for r in said) >= 2


def test_each_policy_gets_its_own_proxy_over_one_conversion(monkeypatch):
    from google.protobuf import struct_pb2

    monkeypatch.setattr(policy, "json_format", policy.json_format)
    monkeypatch.setattr(policy, "deserialize_properties", policy.deserialize_properties)
    monkeypatch.setattr(policy, "unknown_checking_proxy", policy.unknown_checking_proxy)
    calls: list[Any] = []
    real = policy.deserialize_properties

    def counting(props: Any, proxy_secrets: bool = False) -> Any:
        calls.append(props)
        return real(props, proxy_secrets)

    monkeypatch.setattr(policy, "deserialize_properties", counting)
    wire.install()
    struct = struct_pb2.Struct()
    struct.update({"tags": {"Owner": "a"}, "list": [1, 2]})
    first = policy.deserialize_properties(policy.json_format.MessageToDict(struct))
    second = policy.deserialize_properties(policy.json_format.MessageToDict(struct))
    assert first is second and len(calls) == 1
    other = struct_pb2.Struct()
    other.update({"tags": {"Owner": "a"}, "list": [1, 2]})
    third = policy.deserialize_properties(policy.json_format.MessageToDict(other))
    assert third == first and third is not first and len(calls) == 2  # a new message: converted
    # Anything not handed out by MessageToDict (or deserialised with secrets) is not memoised.
    policy.deserialize_properties({"a": 1})
    policy.deserialize_properties({"a": 1}, True)
    assert len(calls) == 4
    p1, p2 = policy.unknown_checking_proxy(first), policy.unknown_checking_proxy(first)
    p1["tags"]["Owner"] = "changed"  # a validator writing into its proxy
    assert p2["tags"]["Owner"] == "a" and first["tags"]["Owner"] == "a"


def _shape(value: Any) -> Any:
    """A proxy graph as plain data: class name, property path and contents, recursively."""
    from pulumi_policy import proxy

    if isinstance(value, proxy._DictProxy):
        target = value["__target"]
        return ("dict", value._DictProxy__props_acc, {k: _shape(v) for k, v in target.items()})
    if isinstance(value, proxy._ListProxy):
        target = value["__target"]
        return ("list", value._ListProxy__props_acc, [_shape(v) for v in target])
    return ("value", type(value).__name__, value)


def test_fast_proxy_builds_what_pulumi_policy_builds(rendered):
    from pulumi_policy import proxy
    from pulumi_policy.deserialize import deserialize_properties

    from estate.offline.runner import _struct

    samples: list[Any] = [
        {},
        {"a": [], "b": {}, "c": [[1, {"d": [None, True, 1.5, "x"]}]], "e": {"f": {"g": []}}},
        {"unknown": proxy.UNKNOWN_STRING_VALUE, "list": [proxy.UNKNOWN_OBJECT_VALUE]},
    ]
    for r in rendered("fraud-prod").resources:
        struct = _struct(r.inputs)
        samples.append(deserialize_properties(policy.json_format.MessageToDict(struct)))
    for props in samples:
        assert _shape(wire.unknown_checking_proxy(props)) == _shape(
            proxy.unknown_checking_proxy(props)
        )
    fast = wire.unknown_checking_proxy(samples[2])
    with pytest.raises(proxy.UnknownValueError) as caught:
        _ = fast["list"][0]
    assert caught.value.props == ["list", "0"]


def test_a_proxy_is_built_when_a_policy_first_reads_it():
    """Most policies return on the resource type without reading `props`: their proxy is never
    built. The first read builds the original's proxy in place, so the object a validator holds
    is then a plain `_DictProxy`, indistinguishable from what `pulumi_policy` hands out."""
    from pulumi_policy import proxy

    props = {"tags": {"Owner": "a"}, "unknown": proxy.UNKNOWN_STRING_VALUE, "n": 1}
    lazy = wire.unknown_checking_proxy(props)
    assert isinstance(lazy, proxy._DictProxy) and type(lazy) is not proxy._DictProxy
    assert "_DictProxy__target" not in vars(lazy)  # nothing built yet
    assert lazy["tags"]["Owner"] == "a"  # the first read builds it
    assert type(lazy) is proxy._DictProxy
    assert _shape(lazy) == _shape(proxy.unknown_checking_proxy(props))
    for read in (len, list, lambda p: "n" in p, lambda p: p.get("n"), dict.fromkeys):
        fresh = wire.unknown_checking_proxy(props)
        assert read(fresh) == read(proxy.unknown_checking_proxy(props))
        assert type(fresh) is proxy._DictProxy
    shown = wire.unknown_checking_proxy(props)
    assert repr(shown).startswith("<pulumi_policy.proxy._DictProxy object")
    with pytest.raises(proxy.UnknownValueError):
        _ = wire.unknown_checking_proxy(props)["unknown"]
    written = wire.unknown_checking_proxy(props)
    written["tags"] = {}  # a validator writing into its own proxy: the source stays as it was
    assert props["tags"] == {"Owner": "a"}
