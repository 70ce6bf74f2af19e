"""Which stacks a check covers: `--affected` (only what a change can alter) and `--shard K/N`.

Pure functions apart from `changed_paths` (which asks git), so the rules are tested without
rendering anything.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

SHARED_PREFIXES: tuple[str, ...] = ("components/", "policies/", "estate/")
"""Project-relative folders every stack's render or verdict depends on: the components, the
policy pack (rules, profiles, waivers), and the `estate` package (schema, program, engine)."""

SHARED_FILES: frozenset[str] = frozenset(
    {"__main__.py", "Pulumi.yaml", "pyproject.toml", "requirements.txt"}
)
"""Project-relative files every stack depends on: the program, the project and its dependencies.
A change to any shared path makes every stack affected."""


class SelectionError(Exception):
    """A bad `--shard` or `--affected` request (a usage error, exit 2)."""


@dataclass
class Selection:
    """The stacks to check, and the ones left out with the reason for each."""

    selected: list[str]
    skipped: dict[str, str] = field(default_factory=dict)


def is_shared(path: str) -> bool:
    """Whether a change to this project-relative path can change every stack."""
    return path in SHARED_FILES or path.startswith(SHARED_PREFIXES)


def affected_stacks(
    names: list[str],
    changed: Iterable[str],
    stack_file_of: Callable[[str], str],
    platform_of: Callable[[str], str | None],
    base_ref: str,
) -> Selection:
    """The stacks among `names` whose inputs differ from `base_ref`.

    `changed` are project-relative paths changed since the base; `stack_file_of(name)` is a
    stack's project-relative file; `platform_of(name)` the platform stack it references (None
    for none, or when its file does not validate — it is then checked so the error shows).
    A stack is affected when shared code changed, its own file changed, or its platform did.
    """
    paths = {p.strip() for p in changed if p.strip()}
    shared = sorted(p for p in paths if is_shared(p))
    if shared:
        return Selection(selected=list(names))
    own = {n for n in names if stack_file_of(n) in paths}
    selected, skipped = [], {}
    for name in names:
        platform = platform_of(name)
        if name in own or (platform is not None and stack_file_of(platform) in paths):
            selected.append(name)
        else:
            skipped[name] = (
                f"unchanged since {base_ref}: its stack file, its platform stack"
                + (f" ({platform})" if platform else "")
                + " and the shared code are the same"
            )
    return Selection(selected=selected, skipped=skipped)


CODE_PREFIXES: tuple[str, ...] = ("estate/", "components/")
"""Repository-relative folders of the code that renders a stack (`--base` renders with the
base tree's own copy of them when it has one)."""


def render_code_changed(project_path: Path, ref: str) -> bool:
    """Whether the code that renders the project's stacks differs between `ref` and the working
    tree: a shared path of the project, or the repository's `estate/` or `components/`."""
    return any(
        p.startswith(CODE_PREFIXES) or (rel is not None and is_shared(rel))
        for p, rel in _changed(project_path, ref, top_relative=True)
    )


def changed_paths(project_path: Path, ref: str) -> list[str]:
    """Project-relative paths that differ between `ref` and the working tree (untracked too)."""
    return sorted({rel for _, rel in _changed(project_path, ref) if rel is not None})


def _changed(
    project_path: Path, ref: str, top_relative: bool = False
) -> list[tuple[str, str | None]]:
    """(repository-relative, project-relative or None outside the project) changed paths; with
    `top_relative` False, only the paths inside the project."""
    try:
        top = Path(
            subprocess.run(
                ["git", "-C", str(project_path), "rev-parse", "--show-toplevel"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
        diff = subprocess.run(
            ["git", "-C", str(top), "diff", "--name-only", "--no-renames", ref, "--"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        untracked = subprocess.run(
            ["git", "-C", str(top), "ls-files", "--others", "--exclude-standard"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        detail = (getattr(exc, "stderr", "") or "").strip().splitlines()
        raise SelectionError(
            f"--affected --base {ref}: {detail[-1] if detail else 'not a git revision'}"
        ) from None
    prefix = PurePosixPath(project_path.resolve().relative_to(top.resolve()).as_posix())
    out: list[tuple[str, str | None]] = []
    for path in [*diff, *untracked]:
        pure = PurePosixPath(path)
        if prefix == PurePosixPath("."):
            out.append((path, path))
        elif pure.is_relative_to(prefix):
            out.append((path, pure.relative_to(prefix).as_posix()))
        elif top_relative:
            out.append((path, None))
    return out


def parse_shard(text: str) -> tuple[int, int]:
    """`K/N` (1 <= K <= N) -> (K, N); anything else is one clear sentence."""
    left, sep, right = text.partition("/")
    if not sep or not left.strip().isdigit() or not right.strip().isdigit():
        raise SelectionError(f"--shard must be K/N, e.g. 1/4 (got {text!r})")
    k, n = int(left), int(right)
    if n < 1 or not 1 <= k <= n:
        raise SelectionError(f"--shard {text}: K must be between 1 and N, and N at least 1")
    return k, n


def shard_of(stack: str, total: int) -> int:
    """The shard (1..total) that checks `stack`: a stable hash of its name, so a stack stays on
    the same runner whatever other stacks are added or removed."""
    digest = hashlib.sha256(stack.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % total + 1


def select_shard(names: list[str], k: int, n: int) -> Selection:
    """The stacks of shard K of N; the others are skipped, naming the shard that checks them."""
    selected, skipped = [], {}
    for name in names:
        owner = shard_of(name, n)
        if owner == k:
            selected.append(name)
        else:
            skipped[name] = f"checked by shard {owner}/{n}"
    return Selection(selected=selected, skipped=skipped)
