"""Generate `taggable_types.json`: the AWS type tokens whose resources take a `tags` map.

    .venv/bin/python policies/governance/gen_taggable.py          # rewrite the file
    .venv/bin/python policies/governance/gen_taggable.py --check  # exit 1 if it is stale

The pack must stay light to start (it runs once per stack, in every PR pipeline), so it never
imports pulumi_aws; this script does, once, when the provider SDK is upgraded. A resource counts
as taggable when its constructor takes `tags` as a string map *and* it exposes `tags_all`, the
marker of resources that take part in provider `defaultTags`. That excludes the few resources
whose `tags` argument means something else: the autoscaling group's list of tag blocks, the
Inspector resource group's tag selector, DevOps Guru's collection filter.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import re
import sys
from pathlib import Path

OUTPUT = Path(__file__).with_name("taggable_types.json")

_REGISTRY = re.compile(r'_utilities\.register\(\s*resource_modules="""(.*?)"""', re.S)


def resource_classes() -> dict[str, type]:
    """Every resource type token of the installed pulumi_aws, mapped to its Python class."""
    import pulumi_aws

    source = Path(pulumi_aws.__file__).read_text(encoding="utf-8")
    match = _REGISTRY.search(source)
    if match is None:
        raise RuntimeError("pulumi_aws/__init__.py no longer registers its resource modules")
    classes: dict[str, type] = {}
    for module in json.loads(match.group(1)):
        python_module = importlib.import_module(module["fqn"])
        for token, class_name in module["classes"].items():
            classes[token] = getattr(python_module, class_name)
    return classes


def is_taggable(cls: type) -> bool:
    """Whether the resource class takes a `tags` string map that default tags merge into."""
    init = getattr(cls, "_internal_init", None)
    if init is None:
        return False
    parameter = inspect.signature(init).parameters.get("tags")
    if parameter is None:
        return False
    return "Mapping[str" in str(parameter.annotation) and hasattr(cls, "tags_all")


def taggable_types() -> list[str]:
    """The sorted type tokens of every taggable resource in the installed pulumi_aws."""
    return sorted(token for token, cls in resource_classes().items() if is_taggable(cls))


def render(tokens: list[str]) -> str:
    """The file's exact text: one token per line, so upgrades diff readably."""
    return json.dumps(tokens, indent=0) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    options = parser.parse_args(argv)
    text = render(taggable_types())
    if options.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is stale: run {Path(__file__).name} to regenerate it", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {len(json.loads(text))} taggable types to {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
