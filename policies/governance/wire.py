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

import functools
from collections import OrderedDict
from types import ModuleType
from typing import Any

_MEMO_SIZE = 8192
"""Messages remembered: more than the resources of one AnalyzeStack request of a large stack."""


class _Memo:
    def __init__(self, size: int = _MEMO_SIZE) -> None:
        self.size = size
        self.entries: OrderedDict[int, tuple[Any, Any]] = OrderedDict()
        self.last: Any = None
        """The value most recently put or found (what `pulumi_policy` converted just now)."""
        self.last_key: Any = None
        self.previous: tuple[Any, Any] = (None, None)
        """The key and value before the last: a request's resource and provider properties
        alternate for every policy, so both are answered without a lookup."""

    def _touch(self, key_object: Any, value: Any) -> None:
        if key_object is not self.last_key:
            self.previous = (self.last_key, self.last)
            self.last, self.last_key = value, key_object

    def get(self, key_object: Any) -> tuple[bool, Any]:
        if key_object is self.last_key:  # the same message, asked again by the next policy
            return True, self.last
        if key_object is self.previous[0] and key_object is not None:
            value = self.previous[1]
            self._touch(key_object, value)
            return True, value
        entry = self.entries.get(id(key_object))
        if entry is not None and entry[0] is key_object:
            self.entries.move_to_end(id(key_object))
            self._touch(key_object, entry[1])
            return True, entry[1]
        return False, None

    def put(self, key_object: Any, value: Any) -> None:
        self.entries[id(key_object)] = (key_object, value)
        self._touch(key_object, value)
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
        if proxy_secrets or dicts.last is not props:
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


@functools.cache
def _proxy_classes() -> tuple[type, type] | None:
    from pulumi_policy import proxy

    lists, dicts = getattr(proxy, "_ListProxy", None), getattr(proxy, "_DictProxy", None)
    return (lists, dicts) if isinstance(lists, type) and isinstance(dicts, type) else None


def unknown_checking_proxy(props: Any) -> Any:
    """`pulumi_policy.proxy.unknown_checking_proxy`, building the same objects (the same proxy
    classes over the same copies, each with the same property path), with two savings:

    - no path is made for every scalar (the original builds one and throws it away);
    - a resource's top-level proxy is built on first use. `pulumi_policy` builds a proxy for
      every policy and every resource before it calls the policy, and most policies look at
      the resource type and return without reading `props`. Until then the object is a
      `_DictProxy` subclass holding the converted dict; the first read, write, `len` or
      iteration builds the original's proxy in place (the object becomes a plain `_DictProxy`,
      with the same copies and paths), so every validator that reads it sees what it saw.

    Pinned against the original by tests/policies/test_governance_wire.py."""
    classes = _proxy_classes()
    assert classes is not None
    if isinstance(props, dict):
        return _lazy_dict_proxy(classes[1])(props)
    return _build_proxy(props, classes)


def _build_proxy(props: Any, classes: tuple[type, type]) -> Any:
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


_LAZY: dict[type, type] = {}


def _lazy_dict_proxy(dict_proxy: type) -> type:
    """The lazy subclass of `dict_proxy` (made once per class)."""
    lazy = _LAZY.get(dict_proxy)
    if lazy is not None:
        return lazy

    def build(self: Any) -> None:
        source = self.__dict__.pop("_estate_source")
        built = _build_proxy(source, _proxy_classes())  # type: ignore[arg-type]
        self.__dict__.update(built.__dict__)
        self.__class__ = dict_proxy

    def init(self: Any, source: dict[str, Any]) -> None:
        self.__dict__["_estate_source"] = source

    def forward(name: str) -> Any:
        def method(self: Any, *args: Any) -> Any:
            build(self)
            return getattr(self, name)(*args)

        method.__name__ = name
        return method

    def missing(self: Any, name: str) -> Any:
        # Only for attributes the lazy object lacks (e.g. `_DictProxy__target`).
        if name.startswith("__") or "_estate_source" not in self.__dict__:
            raise AttributeError(name)
        build(self)
        return getattr(self, name)

    namespace: dict[str, Any] = {"__init__": init, "__getattr__": missing, "__module__": __name__}
    for name in ("__getitem__", "__setitem__", "__len__", "__iter__", "__contains__", "__repr__"):
        namespace[name] = forward(name)
    lazy = _LAZY[dict_proxy] = type("_LazyDictProxy", (dict_proxy,), namespace)
    return lazy
