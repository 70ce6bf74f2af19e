"""The one conversion from the validated config models to component args.

The stack file's schema lives once, in `estate.stack.config` (pydantic, snake_case fields with
camelCase aliases). Components take `TypedDict` args with the same snake_case keys. `to_args`
turns a frozen config model into such a TypedDict, recursing into nested models, tuples and
maps, and refuses every mismatch instead of guessing:

- a config field with no key of the same name in the TypedDict raises (a field can never be
  dropped on the way to the resources), unless the caller lists it in `consumed` with the reason
  (the program reads it itself, e.g. `cluster.mode` chooses shared or dedicated);
- a required TypedDict key with neither a config field nor a wiring value raises;
- a wiring value (a key the program supplies, e.g. `tags`, a key ARN) must be a key of the
  TypedDict and must not shadow a config field.

Sections that can be turned off (`enabled: false`) map to `None` where the TypedDict admits it:
the `enabled` flag of a nested model becomes the optionality of its TypedDict. Defaults derived
from other settings (log retention in prod, NAT mode) are resolved in the schema, never here.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, Union

import pulumi.output
from pydantic import BaseModel

T = TypeVar("T")

ENABLED = "enabled"
"""The switch of an optional section: `enabled: false` converts to `None`."""


class ConversionError(TypeError):
    """The config model and the component args disagree: a bug in the program, not user input."""


_OMIT = object()


def _hints(args_type: type) -> dict[str, Any]:
    """Key -> type of a TypedDict, `NotRequired`/`Required` stripped."""
    return {k: _strip_required(v) for k, v in _raw_hints(args_type).items()}


def _raw_hints(args_type: type) -> dict[str, Any]:
    # `pulumi.Input[T]` holds the forward reference 'Output[T]': resolve it in pulumi's namespace.
    return typing.get_type_hints(args_type, localns=vars(pulumi.output), include_extras=True)


def _strip_required(hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.NotRequired, typing.Required):
        return _strip_required(typing.get_args(hint)[0])
    return hint


def _required(args_type: type) -> set[str]:
    """Required keys of a TypedDict, read from the hints: with postponed annotations, Python
    3.11's `__required_keys__` cannot see `NotRequired` and counts every key as required."""
    total = getattr(args_type, "__total__", True)
    required = set()
    for key, hint in _raw_hints(args_type).items():
        origin = typing.get_origin(hint)
        if origin is typing.Required or (total and origin is not typing.NotRequired):
            required.add(key)
    return required


def model_keys(model_type: type[BaseModel]) -> list[str]:
    """The snake_case keys a model contributes: its fields, then its computed fields."""
    return [*model_type.model_fields, *model_type.model_computed_fields]


def args_keys(args_type: type) -> tuple[set[str], set[str]]:
    """(all keys, required keys) of a TypedDict, inherited keys included."""
    if not typing.is_typeddict(args_type):
        raise ConversionError(f"{args_type!r} is not a TypedDict")
    return set(_hints(args_type)), _required(args_type)


def key_mismatches(
    model_type: type[BaseModel], args_type: type, consumed: Mapping[str, str] | None = None
) -> list[str]:
    """Why `model_type` cannot convert to `args_type` on its own (empty when the keys agree).

    Lists config fields the args lack (and that are not `consumed`), and `consumed` entries that
    name no field. Required args keys are checked by `to_args`, which knows the wiring values.
    """
    fields = set(model_keys(model_type))
    keys, _ = args_keys(args_type)
    consumed_paths = {k for k in (consumed or {}) if "." in k}
    consumed = {k: v for k, v in (consumed or {}).items() if "." not in k}
    problems = [
        f"{model_type.__name__}.{f} has no key in {args_type.__name__}"
        for f in sorted(fields - keys - set(consumed))
    ]
    heads = {k.split(".", 1)[0] for k in consumed_paths}
    problems.extend(
        f"consumed field {model_type.__name__}.{f} is not a field of the model"
        for f in sorted((set(consumed) | heads) - fields)
    )
    return problems


def to_args(
    model: BaseModel,
    args_type: type[T],
    *,
    consumed: Mapping[str, str] | None = None,
    **wiring: Any,
) -> T:
    """Convert `model` into `args_type` (a TypedDict), adding the program's `wiring` values.

    `consumed` names the model's fields the caller reads itself, each with the reason; any other
    field without a key in `args_type` raises `ConversionError`.
    """
    where = f"{type(model).__name__} -> {getattr(args_type, '__name__', args_type)}"
    problems = key_mismatches(type(model), args_type, consumed)
    if problems:
        raise ConversionError(f"{where}: {'; '.join(problems)}")
    hints = _hints(args_type)
    keys, required = set(hints), _required(args_type)
    fields = model_keys(type(model))
    for key in wiring:
        if key not in keys:
            raise ConversionError(f"{where}: wiring key {key!r} is not a key of the args")
        if key in fields and key not in (consumed or {}):
            raise ConversionError(f"{where}: wiring key {key!r} would shadow the config field")
    out: dict[str, Any] = {}
    for field in fields:
        if field in (consumed or {}):
            continue
        value = _convert(
            getattr(model, field),
            hints[field],
            f"{where}.{field}",
            field in required,
            _nested(consumed, field),
        )
        if value is not _OMIT:
            out[field] = value
    out.update(wiring)
    absent = sorted(required - set(out))
    if absent:
        raise ConversionError(
            f"{where}: required key(s) {', '.join(absent)} have no config field and no wiring value"
        )
    return typing.cast(T, out)


# -- type plumbing --------------------------------------------------------------------------


def _members(hint: Any) -> list[Any]:
    """The alternatives of a hint (`X | None` -> [X, None]); `Annotated` stripped."""
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return _members(typing.get_args(hint)[0])
    if origin is Union or isinstance(hint, types.UnionType):
        return [m for arg in typing.get_args(hint) for m in _members(arg)]
    return [hint]


def _admits_none(hint: Any) -> bool:
    return any(m is type(None) or m is None or m is Any for m in _members(hint))


def _find(hint: Any, *origins: Any) -> Any | None:
    """The first alternative of `hint` whose origin is one of `origins` (or a TypedDict)."""
    for member in _members(hint):
        if typing.is_typeddict(member) and "typeddict" in origins:
            return member
        if typing.get_origin(member) in origins or member in origins:
            return member
    return None


def _nested(consumed: Mapping[str, str] | None, field: str) -> dict[str, str]:
    """The `consumed` entries under `field.` (dotted paths reach into nested models)."""
    head = f"{field}."
    return {k[len(head) :]: v for k, v in (consumed or {}).items() if k.startswith(head)}


def _convert(
    value: Any,
    hint: Any,
    where: str,
    required: bool = True,
    consumed: Mapping[str, str] | None = None,
) -> Any:
    if value is None:
        if _admits_none(hint):
            return None
        if not required:
            return _OMIT
        raise ConversionError(f"{where}: None for a required key that does not admit None")
    if isinstance(value, BaseModel):
        target = _find(hint, "typeddict")
        if target is not None:
            keys, _ = args_keys(target)
            if ENABLED in type(value).model_fields and ENABLED not in keys:
                if not value.enabled:  # type: ignore[attr-defined]
                    if _admits_none(hint):
                        return None
                    raise ConversionError(f"{where}: a disabled section needs `| None` args")
                return to_args(
                    value, target, consumed={**(consumed or {}), ENABLED: "off converts to None"}
                )
            return to_args(value, target, consumed=consumed)
        if _find(hint, dict, Mapping) is not None:
            # A map of settings (e.g. alarm thresholds): every field by name.
            return value.model_dump()
        raise ConversionError(f"{where}: a config model needs a TypedDict or dict key")
    if isinstance(value, (tuple, list)):
        target = _find(hint, list, tuple, typing.Sequence)
        if target is None:
            raise ConversionError(f"{where}: a list needs a list key")
        args = typing.get_args(target)
        item = args[0] if args else Any
        return [_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        target = _find(hint, dict, Mapping)
        if target is None:
            raise ConversionError(f"{where}: a map needs a dict key")
        args = typing.get_args(target)
        item = args[1] if len(args) == 2 else Any
        return {k: _convert(v, item, f"{where}[{k!r}]") for k, v in value.items()}
    return value
