"""Generate `docs/configuration.md` from the config schema, so the reference never drifts.

.venv/bin/python -m estate.docgen.config_docs            # rewrite docs/configuration.md
.venv/bin/python -m estate.docgen.config_docs --check    # exit 1 if it is stale (the test suite does this)
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from estate.stack.config import NAMESPACE, StackConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _type_name(annotation: object) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args if a is not type(None)) + " (optional)"
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (tuple, list):
        return f"list of {_type_name(args[0])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: object) -> str:
    default = getattr(field, "default", PydanticUndefined)
    if default is PydanticUndefined:
        return "**required**"
    if isinstance(default, BaseModel):
        return "see below"
    if default is None:
        return "—"
    if isinstance(default, tuple):
        return ", ".join(f"`{d}`" for d in default) if default else "none"
    return f"`{str(default).lower() if isinstance(default, bool) else default}`"


def _models(root: type[BaseModel]) -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.append(model)
        for field in model.model_fields.values():
            for arg in [field.annotation, *typing.get_args(field.annotation)]:
                for inner in [arg, *typing.get_args(arg)]:
                    if isinstance(inner, type) and issubclass(inner, BaseModel):
                        visit(inner)

    visit(root)
    return seen


def render() -> str:
    lines = [
        "# Stack configuration reference",
        "",
        "Generated from `estate/stack/config.py` by `python -m estate.docgen.config_docs`; do not edit by hand.",
        "",
        f"Keys live in the `{NAMESPACE}:` namespace of `stacks/Pulumi.<stack>.yaml`, beside",
        "`aws:region` (required). Validate a stack with `estate validate --stack NAME`; every",
        "error names the file and key.",
        "",
    ]
    for model in _models(StackConfig):
        title = "Top-level keys" if model is StackConfig else model.__name__
        lines += [f"## {title}" if model is StackConfig else f"## {model.__name__}", ""]
        if model.__doc__:
            lines += [model.__doc__.strip().splitlines()[0], ""]
        lines += ["| key | type | default | description |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            key = field.alias or name
            if model is StackConfig:
                key = f"{NAMESPACE}:{key}"
            description = " ".join((field.description or "").split())
            lines.append(
                f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | {description} |"
            )
        lines.append("")
        del title
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = DOC.read_text(encoding="utf-8") if DOC.is_file() else ""
        if current != text:
            print(f"{DOC}: stale; run `python -m estate.docgen.config_docs`", file=sys.stderr)
            return 1
        return 0
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
