"""List the estate's stacks as a GitHub Actions job matrix (the preview and deploy workflows).

    python3 stack_matrix.py [--stacks-dir stacks] [--changed FILE] [--kind platform|bu]
                            [--max-parallel dev=4,staging=3,prod=2] [--github-output FILE]

Prints `{"include": [{"stack", "kind", "env", "account", "region"}, ...]}`: platform stacks first,
then by environment (dev, staging, prod) and name. With `--changed` (the paths a pull request
changes, one per line) only the stacks whose own files changed are listed — every stack when
shared code changed (components, policies, the CLI, the program, the project or its
dependencies). With `--github-output` it also writes `matrix`, `count` and `max-parallel` there.

Runs on the runner's own `python3` before any virtualenv exists, so it uses the standard library
only: the handful of top-level `config:` keys it needs are read line by line (the stack files keep
them flat, as `estate validate` requires), and a test checks the reading against PyYAML.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

STACK_FILE = re.compile(r"^Pulumi\.(?P<stack>[A-Za-z0-9_.-]+)\.ya?ml$")
SHARED_PREFIXES = ("components/", "policies/", "estate/")
SHARED_FILES = frozenset({"__main__.py", "Pulumi.yaml", "pyproject.toml"})
ENV_ORDER = ("dev", "staging", "prod")
DEFAULT_MAX_PARALLEL = "dev=4,staging=3,prod=2"

_CONFIG_LINE = re.compile(r"^  (?P<key>[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+):[ \t]*(?P<value>.*)$")


def _scalar(raw: str) -> str:
    """A plain, single- or double-quoted YAML scalar, without a trailing comment."""
    raw = raw.strip()
    if raw[:1] in ("'", '"'):
        quote = raw[0]
        end = raw.find(quote, 1)
        return raw[1:end] if end > 0 else raw[1:]
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()


def read_config(path: Path) -> dict[str, str]:
    """The scalar `namespace:key` entries directly under the stack file's top-level `config:`."""
    config: dict[str, str] = {}
    inside = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            inside = line.split("#", 1)[0].strip() == "config:"
            continue
        match = _CONFIG_LINE.match(line) if inside else None
        if match and match["value"].strip():
            config[match["key"]] = _scalar(match["value"])
    return config


def describe(path: Path) -> dict[str, str]:
    """One matrix entry for a stack file."""
    name = STACK_FILE.match(path.name)["stack"]  # type: ignore[index]
    config = read_config(path)
    kind = config.get("ai-estate:kind") or ("platform" if name.startswith("platform-") else "bu")
    env = config.get("ai-estate:environment") or name.rsplit("-", 1)[-1]
    return {
        "stack": name,
        "kind": kind,
        "env": env,
        "account": config.get("ai-estate:accountId", ""),
        "region": config.get("aws:region", ""),
    }


def stack_files(stacks_dir: Path) -> list[Path]:
    return sorted(p for p in stacks_dir.iterdir() if STACK_FILE.match(p.name))


def is_shared(path: str) -> bool:
    """Whether a change to `path` can change every stack's program."""
    return path in SHARED_FILES or path.startswith(SHARED_PREFIXES)


def affected(stacks_dir: Path, changed: Iterable[str]) -> list[Path]:
    """The stack files to act on for these changed paths (all of them if shared code changed)."""
    paths = [p.strip() for p in changed if p.strip()]
    every = stack_files(stacks_dir)
    if any(is_shared(p) for p in paths):
        return every
    prefix = PurePosixPath(stacks_dir.name)
    touched = {PurePosixPath(p).name for p in paths if PurePosixPath(p).parent == prefix}
    # A deleted stack file has nothing left to preview or deploy.
    return [p for p in every if p.name in touched]


def _sort_key(entry: Mapping[str, str]) -> tuple[int, int, str]:
    env_rank = ENV_ORDER.index(entry["env"]) if entry["env"] in ENV_ORDER else len(ENV_ORDER)
    return (0 if entry["kind"] == "platform" else 1, env_rank, entry["stack"])


def parse_caps(text: str) -> dict[str, int]:
    """`dev=4,staging=3,prod=2` -> {"dev": 4, ...}."""
    caps: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        env, _, value = part.partition("=")
        if not value.strip().isdigit() or int(value) < 1:
            raise ValueError(f"--max-parallel: {part!r} is not ENV=N with N >= 1")
        caps[env.strip()] = int(value)
    return caps


def max_parallel(entries: Iterable[Mapping[str, str]], caps: Mapping[str, int]) -> int:
    """The job's max-parallel: the strictest cap among the environments it deploys to.

    GitHub applies `max-parallel` to a whole matrix, not to a slice of it, so a job spanning
    several environments runs at the lowest of their caps; no environment ever exceeds its own.
    """
    envs = {e["env"] for e in entries}
    limits = [caps[env] for env in envs if env in caps]
    return max(1, min(limits)) if limits else max([1, *caps.values()])


def matrix(
    stacks_dir: Path, changed: Iterable[str] | None = None, kind: str | None = None
) -> list[dict[str, str]]:
    files = stack_files(stacks_dir) if changed is None else affected(stacks_dir, changed)
    entries = [describe(p) for p in files]
    return sorted((e for e in entries if not kind or e["kind"] == kind), key=_sort_key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--stacks-dir", type=Path, default=Path("stacks"))
    parser.add_argument("--changed", type=Path, help="file of changed paths, one per line")
    parser.add_argument("--kind", choices=("platform", "bu"))
    parser.add_argument("--max-parallel", default=DEFAULT_MAX_PARALLEL)
    parser.add_argument("--github-output", type=Path)
    args = parser.parse_args(argv)
    if not args.stacks_dir.is_dir():
        print(f"{args.stacks_dir}: no such directory", file=sys.stderr)
        return 2
    try:
        caps = parse_caps(args.max_parallel)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    changed = None
    if args.changed is not None:
        changed = args.changed.read_text(encoding="utf-8").splitlines()
    entries = matrix(args.stacks_dir, changed, args.kind)
    document = json.dumps({"include": entries}, separators=(",", ":"))
    print(document)
    if args.github_output is not None:
        with args.github_output.open("a", encoding="utf-8") as out:
            out.write(f"matrix={document}\n")
            out.write(f"count={len(entries)}\n")
            out.write(f"max-parallel={max_parallel(entries, caps)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
