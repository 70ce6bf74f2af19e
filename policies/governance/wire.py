"""Read each resource's properties off the wire once per request, not once per policy.

`pulumi_policy`'s analyzer turns the same `Struct` into a dict again for every policy it runs:
`Analyze` calls `deserialize_properties(json_format.MessageToDict(request.properties))` for each
of the pack's resource policies, and `AnalyzeStack` does it for every resource once per stack
policy. With ~40 policies that conversion is most of the pack's time. `install()` memoises the
two steps on the identity of the protobuf message (the request the server is answering), so a
resource is converted once; each policy still gets its own `unknown_checking_proxy` over the
result, built as before, so validators see exactly what they saw (a fresh proxy per policy, the
same unknown-value errors), and nothing else in the pack changes.

A memo entry keeps a strong reference to its message, so an identity match is never a reused
`id()`; the deserialised dict is never mutated (`unknown_checking_proxy` copies every dict and
list it wraps). Only the `Struct`-to-dict path of `pulumi_policy.policy` is routed through here:
`Configure` and `Remediate` (which deserialise with secrets kept) go to the originals.
"""

from __future__ import annotations

from collections import OrderedDict
from types import ModuleType
from typing import Any

_MEMO_SIZE = 8192
"""Messages remembered: more than the resources of one AnalyzeStack request of a large stack."""


class _Memo:
    def __init__(self, size: int = _MEMO_SIZE) -> None:
        self.size = size
        self.entries: OrderedDict[int, tuple[Any, Any]] = OrderedDict()

    def get(self, key_object: Any) -> tuple[bool, Any]:
        entry = self.entries.get(id(key_object))
        if entry is not None and entry[0] is key_object:
            self.entries.move_to_end(id(key_object))
            return True, entry[1]
        return False, None

    def put(self, key_object: Any, value: Any) -> None:
        self.entries[id(key_object)] = (key_object, value)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


class _JsonFormat(ModuleType):
    """`google.protobuf.json_format` as `pulumi_policy.policy` sees it, with `MessageToDict`
    memoised for `Struct` messages (resource and provider properties)."""

    def __init__(self, real: ModuleType, memo: _Memo) -> None:
        super().__init__(real.__name__)
        self._real = real
        self._memo = memo

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def MessageToDict(self, message: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802
        if args or kwargs or message.DESCRIPTOR.full_name != "google.protobuf.Struct":
            return self._real.MessageToDict(message, *args, **kwargs)
        hit, value = self._memo.get(message)
        if not hit:
            value = self._real.MessageToDict(message)
            self._memo.put(message, value)
        return value


def install() -> bool:
    """Route `pulumi_policy.policy`'s property conversion through the memo (idempotent).
    False when the installed `pulumi_policy` is not shaped as expected (nothing is changed)."""
    from pulumi_policy import policy

    current = getattr(policy, "json_format", None)
    if isinstance(current, _JsonFormat):
        return True
    real_deserialize = getattr(policy, "deserialize_properties", None)
    if not isinstance(current, ModuleType) or real_deserialize is None:
        return False
    dicts, deserialised = _Memo(), _Memo()

    def deserialize_properties(props: Any, proxy_secrets: bool = False) -> Any:
        # Only dicts MessageToDict handed out (memoised, so the same object for the same
        # message) are memoised here; anything else is converted as before.
        if proxy_secrets or not any(entry[1] is props for entry in _recent(dicts, props)):
            return real_deserialize(props, proxy_secrets)
        hit, value = deserialised.get(props)
        if not hit:
            value = real_deserialize(props)
            deserialised.put(props, value)
        return value

    policy.json_format = _JsonFormat(current, dicts)
    policy.deserialize_properties = deserialize_properties
    if _proxy_classes() is not None:
        policy.unknown_checking_proxy = unknown_checking_proxy
    return True


def _proxy_classes() -> tuple[type, type] | None:
    from pulumi_policy import proxy

    lists, dicts = getattr(proxy, "_ListProxy", None), getattr(proxy, "_DictProxy", None)
    return (lists, dicts) if isinstance(lists, type) and isinstance(dicts, type) else None


def unknown_checking_proxy(props: Any) -> Any:
    """`pulumi_policy.proxy.unknown_checking_proxy`, building the same objects (the same proxy
    classes over the same copies, each with the same property path) without making a path for
    every scalar, which the original builds and throws away. Pinned against the original by
    tests/policies/test_governance_wire.py."""
    classes = _proxy_classes()
    assert classes is not None
    list_proxy, dict_proxy = classes

    def helper(value: Any, path: list[str]) -> Any:
        if isinstance(value, list):
            return list_proxy(
                [
                    helper(e, [*path, str(i)]) if isinstance(e, (list, dict)) else e
                    for i, e in enumerate(value)
                ],
                path,
            )
        if isinstance(value, dict):
            return dict_proxy(
                {
                    k: helper(v, [*path, str(k)]) if isinstance(v, (list, dict)) else v
                    for k, v in value.items()
                },
                path,
            )
        return value

    return helper(props, [])


def _recent(memo: _Memo, props: Any) -> list[tuple[Any, Any]]:
    """The memo's entry whose value is `props`, if it is the most recent one (the conversion
    `pulumi_policy` just made or just reused); an O(1) check, since it deserialises right after
    converting."""
    if not memo.entries:
        return []
    last = next(reversed(memo.entries.values()))
    return [last] if last[1] is props else []
