"""Generate the `config:` block of `Pulumi.yaml` from the config schema.

.venv/bin/python -m estate.docgen.pulumi_yaml            # rewrite the config: block of Pulumi.yaml
.venv/bin/python -m estate.docgen.pulumi_yaml --check    # exit 1 if it is stale (the suite does this)

Every top-level `ai-estate:` key of `StackConfig` is declared with its description (the field's
docstring) so `pulumi config` and the Pulumi Cloud console explain it. What Pulumi does with a
declaration (pulumi/pulumi sdk/go/common/workspace/config.go, `mergeConfig`; project.go,
`Validate`) decides the rest:

- a declared key with neither `default` nor `value` must be set in every stack, so only the
  schema's required keys go without a default;
- a `default` is merged into the config the program receives when the stack does not set the
  key, so every default here must mean exactly "unset" to the schema: `{}` for a settings
  object (all its defaults), `[]` for a list, the value itself for a scalar, and `""` / `{}` for
  an optional key, which `StackConfig` reads as absent. A test proves each default validates to
  the same model as leaving the key out, since `estate` (offline) never sees these defaults;
- `type` may only be `string`, `integer`, `boolean` or `array` (with `items`); Pulumi checks
  stack values against it. Objects and lists of objects are declared without a type.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from estate.stack.config import NAMESPACE, StackConfig

PROJECT_FILE = Path(__file__).resolve().parents[2] / "Pulumi.yaml"

_SCALARS = {str: "string", bool: "boolean", int: "integer"}


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    """(the annotation without `| None`, whether it was optional)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(args) < len(typing.get_args(annotation)):
            return args[0], True
    if origin is typing.Annotated:
        return _strip_optional(typing.get_args(annotation)[0])
    return annotation, False


def pulumi_type(annotation: Any) -> dict[str, Any]:
    """Pulumi's `type` (and `items`) for an annotation, or {} where Pulumi has no such type."""
    annotation, _ = _strip_optional(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return pulumi_type(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        kinds = {type(a) for a in typing.get_args(annotation)}
        return {"type": _SCALARS[kinds.pop()]} if len(kinds) == 1 and kinds <= set(_SCALARS) else {}
    if origin in (tuple, list):
        items = pulumi_type(typing.get_args(annotation)[0])
        return {"type": "array", "items": items} if items else {}
    if annotation in _SCALARS:
        return {"type": _SCALARS[annotation]}
    return {}


def unset_default(field: FieldInfo) -> tuple[bool, Any]:
    """(whether the key gets a default, the default that means "unset" to the schema)."""
    if field.is_required():
        return False, None
    default = field.get_default(call_default_factory=True)
    inner, optional = _strip_optional(field.annotation)
    if default is None and optional:
        is_model = isinstance(inner, type) and issubclass(inner, BaseModel)
        return True, {} if is_model else ""
    if isinstance(default, BaseModel):
        return True, {}
    if isinstance(default, tuple | list):
        return True, list(default)
    if isinstance(default, dict):
        return True, dict(default)
    return True, default


def declarations() -> dict[str, dict[str, Any]]:
    """The `config:` block: one declaration per top-level key, in schema order."""
    out: dict[str, dict[str, Any]] = {}
    for name, field in StackConfig.model_fields.items():
        entry: dict[str, Any] = dict(pulumi_type(field.annotation))
        entry["description"] = " ".join((field.description or "").split())
        has_default, default = unset_default(field)
        if has_default:
            entry["default"] = default
        out[f"{NAMESPACE}:{field.alias or name}"] = entry
    return out


def _scalar(value: Any) -> str:
    # JSON scalars and flow collections are YAML too; json.dumps quotes every string.
    return json.dumps(value, ensure_ascii=False)


def render_block() -> str:
    """The `config:` block as YAML text (with a header saying where it comes from)."""
    lines = [
        "# Generated from estate/stack/config.py by `python -m estate.docgen.pulumi_yaml`; do not",
        "# edit by hand. Keys without a default must be set in every stack (Pulumi enforces it).",
        "config:",
    ]
    for key, entry in declarations().items():
        lines.append(f"  {key}:")
        for attr in ("type", "items", "description", "default"):
            if attr in entry:
                value = entry[attr]
                shown = value if attr == "type" else _scalar(value)
                lines.append(f"    {attr}: {shown}")
    return "\n".join(lines) + "\n"


def render(current: str) -> str:
    """`current` (a Pulumi.yaml) with its config block, and the comment above it, replaced."""
    lines = current.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("config:")), len(lines))
    while start > 0 and lines[start - 1].startswith("#"):
        start -= 1
    end = start
    while end < len(lines) and (
        end == start or lines[end].startswith((" ", "#", "config:")) or not lines[end].strip()
    ):
        if lines[end].startswith("config:"):
            end += 1
            while end < len(lines) and (lines[end].startswith(" ") or not lines[end].strip()):
                end += 1
            break
        end += 1
    head = "".join(lines[:start])
    if head and not head.endswith("\n"):
        head += "\n"
    return head + render_block() + "".join(lines[end:])


def main(argv: list[str]) -> int:
    current = PROJECT_FILE.read_text(encoding="utf-8")
    text = render(current)
    if "--check" in argv:
        if current != text:
            print(
                f"{PROJECT_FILE}: config: block is stale; run `python -m estate.docgen.pulumi_yaml`",
                file=sys.stderr,
            )
            return 1
        return 0
    PROJECT_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {PROJECT_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
