"""The deploy critical path: how long a first `pulumi up` of a stack takes at best.

Pulumi creates resources in parallel as soon as what they depend on exists, so the wall-clock
time of a first deployment is the longest chain of create times through the dependency graph,
not their sum. The graph is the inventory's, built the way the engine schedules:

- a resource waits for every resource in its `dependencies` and `propertyDependencies`, and for
  the provider it is created with (a Kubernetes provider waits for the cluster behind its
  kubeconfig);
- a child cannot be registered before its parent is, so it starts no earlier than its parent;
- a component takes no time itself and completes when its last child does, so depending on a
  component means waiting for everything under it.

Create times per resource type come from `estate/data/create_times.json` (sources and dates in
the file); a type not listed there takes the file's `patterns`, then its `default`. Reading
another stack (`StackReference`) and providers cost nothing.

Pure functions of an `Inventory`: no Pulumi runtime, no network.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from estate.offline.model import Inventory, Resource

DEFAULT_TIMES = Path(__file__).resolve().parents[1] / "data" / "create_times.json"

NEW_BU_TARGET_MINUTES = 5.0
"""The goal for onboarding a BU onto an existing platform: its stack deploys in under this."""

ROOT_TYPE = "pulumi:pulumi:Stack"


class CriticalPathError(Exception):
    """A create-times file cannot be used (one sentence naming the file and key)."""


@dataclass(frozen=True)
class CreateTimes:
    """Minutes per resource type, with glob patterns and a default for the rest."""

    minutes: Mapping[str, float]
    patterns: tuple[tuple[str, float], ...]
    default: float

    def of(self, resource_type: str) -> float:
        """Typical create time of one resource of this type, in minutes."""
        if resource_type in self.minutes:
            return float(self.minutes[resource_type])
        for pattern, minutes in self.patterns:
            if fnmatch.fnmatchcase(resource_type, pattern):
                return float(minutes)
        return self.default


def load_create_times(path: Path | str | None = None) -> CreateTimes:
    """The create-times table (the shipped one when `path` is None)."""
    file = Path(path) if path is not None else DEFAULT_TIMES
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CriticalPathError(
            f"{file}: cannot read the create-times file ({exc.strerror})"
        ) from None
    except json.JSONDecodeError as exc:
        raise CriticalPathError(f"{file}: not valid JSON at line {exc.lineno}: {exc.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("minutes"), dict):
        raise CriticalPathError(f"{file}: minutes: must be an object of type token -> minutes")
    for key, value in data["minutes"].items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise CriticalPathError(f"{file}: minutes.{key}: must be a number >= 0 (got {value!r})")
    patterns = []
    for i, entry in enumerate(data.get("patterns") or []):
        if (
            not isinstance(entry, list)
            or len(entry) != 2
            or not isinstance(entry[0], str)
            or not isinstance(entry[1], (int, float))
        ):
            raise CriticalPathError(f"{file}: patterns[{i}]: must be [glob, minutes]")
        patterns.append((entry[0], float(entry[1])))
    default = data.get("default", 0.5)
    if not isinstance(default, (int, float)) or default < 0:
        raise CriticalPathError(f"{file}: default: must be a number >= 0 (got {default!r})")
    return CreateTimes(dict(data["minutes"]), tuple(patterns), float(default))


def _provider_urn(reference: str | None) -> str | None:
    """`urn::id` -> `urn` (a provider reference as the engine records it)."""
    if not reference:
        return None
    return reference.rsplit("::", 1)[0]


class _Graph:
    """The inventory as the engine schedules it; see the module docstring."""

    def __init__(self, inventory: Inventory, times: CreateTimes) -> None:
        self.by_urn: dict[str, Resource] = inventory.by_urn()
        self.times = times
        self.children: dict[str, list[str]] = {}
        for r in inventory.resources:
            if r.parent and r.parent in self.by_urn:
                self.children.setdefault(r.parent, []).append(r.urn)
        self._start: dict[str, tuple[float, tuple[str, str] | None]] = {}
        self._finish: dict[str, tuple[float, tuple[str, str] | None]] = {}

    def is_component(self, urn: str) -> bool:
        return not self.by_urn[urn].custom

    def ancestors(self, urn: str) -> set[str]:
        seen: set[str] = set()
        parent = self.by_urn[urn].parent
        while parent and parent in self.by_urn and parent not in seen:
            seen.add(parent)
            parent = self.by_urn[parent].parent
        return seen

    def waits_for(self, urn: str) -> list[str]:
        """The resources whose completion `urn` waits for (never its own ancestors)."""
        r = self.by_urn[urn]
        wanted = set(r.dependencies)
        for urns in r.property_dependencies.values():
            wanted.update(urns)
        provider = _provider_urn(r.provider)
        if provider:
            wanted.add(provider)
        wanted.discard(urn)
        # A child never waits for its ancestors to *complete*: they complete through it.
        wanted -= self.ancestors(urn)
        return sorted(u for u in wanted if u in self.by_urn)

    def duration(self, urn: str) -> float:
        r = self.by_urn[urn]
        return 0.0 if not r.custom else self.times.of(r.type)

    def start(self, urn: str) -> float:
        return self._eval("S", urn)

    def finish(self, urn: str) -> float:
        return self._eval("F", urn)

    def predecessor(self, kind: str, urn: str) -> tuple[str, str] | None:
        """The (start|finish, urn) node that determined this node's time."""
        self._eval(kind, urn)
        return self._table(kind)[urn][1]

    def _table(self, kind: str) -> dict[str, tuple[float, tuple[str, str] | None]]:
        return self._start if kind == "S" else self._finish

    def _value(self, node: tuple[str, str]) -> float | None:
        kind, urn = node
        entry = self._table(kind).get(urn)
        return None if entry is None else entry[0]

    def _eval(self, kind: str, urn: str) -> float:
        """Depth-first over (start|finish, urn) nodes, iteratively: deep graphs must not hit
        Python's recursion limit. An edge back onto the current path (a cycle, which the engine
        would refuse) is ignored."""
        root = (kind, urn)
        path: list[tuple[str, str]] = [root]
        on_path = {root}
        while path:
            node = path[-1]
            if self._value(node) is not None:
                path.pop()
                on_path.discard(node)
                continue
            inputs = self._inputs(*node)
            pending = next((i for i in inputs if self._value(i) is None and i not in on_path), None)
            if pending is not None:
                path.append(pending)
                on_path.add(pending)
                continue
            self._table(node[0])[node[1]] = self._combine(node[0], node[1], inputs)
            path.pop()
            on_path.discard(node)
        value = self._value(root)
        assert value is not None
        return value

    def _inputs(self, kind: str, urn: str) -> list[tuple[str, str]]:
        if kind == "S":
            r = self.by_urn[urn]
            inputs = [("F", d) for d in self.waits_for(urn)]
            if r.parent and r.parent in self.by_urn:
                inputs.append(("S", r.parent))
            return inputs
        inputs = [("S", urn)]
        if self.is_component(urn):
            inputs.extend(("F", c) for c in self.children.get(urn, []))
        return inputs

    def _combine(
        self, kind: str, urn: str, inputs: list[tuple[str, str]]
    ) -> tuple[float, tuple[str, str] | None]:
        best, via = 0.0, None
        for node in inputs:
            value = self._value(node)
            if value is None:  # a cycle edge: ignored, as the engine would refuse it anyway
                continue
            if via is None or value > best:
                best, via = value, node
        if kind == "F" and not self.is_component(urn):
            return best + self.duration(urn), ("S", urn)
        return best, via


def critical_path(inventory: Inventory, times_path: Path | str | None = None) -> dict[str, Any]:
    """The longest chain of create times through the stack's dependency graph.

    Returns `{"criticalPathMinutes": float, "chain": [{"urn", "type", "minutes"}]}`: the chain
    lists the custom resources on the path in creation order; their minutes add up to the total.
    """
    times = load_create_times(times_path)
    graph = _Graph(inventory, times)
    candidates = [r.urn for r in inventory.resources if r.type != ROOT_TYPE]
    if not candidates:
        return {"criticalPathMinutes": 0.0, "chain": []}
    end = max(candidates, key=lambda u: (graph.finish(u), u))
    total = graph.finish(end)

    chain: list[dict[str, Any]] = []
    node: tuple[str, str] | None = ("F", end)
    seen: set[tuple[str, str]] = set()
    while node is not None and node not in seen:
        seen.add(node)
        kind, urn = node
        if kind == "F" and not graph.is_component(urn):
            r = graph.by_urn[urn]
            chain.append({"urn": urn, "type": r.type, "minutes": round(graph.duration(urn), 3)})
        node = graph.predecessor(kind, urn)
    chain.reverse()
    return {"criticalPathMinutes": round(total, 2), "chain": chain}


def dominant(result: Mapping[str, Any]) -> dict[str, Any] | None:
    """The resource on the critical path that takes longest (what to fix first)."""
    chain = list(result.get("chain") or [])
    if not chain:
        return None
    return max(chain, key=lambda step: step["minutes"])


def summary_line(result: Mapping[str, Any]) -> str:
    """One line for the table view: total, and the step that dominates it."""
    top = dominant(result)
    total = float(result.get("criticalPathMinutes") or 0.0)
    if top is None:
        return f"deploy critical path: {total:.1f} min"
    name = top["urn"].rsplit("::", 1)[-1]
    return (
        f"deploy critical path: {total:.1f} min over {len(result['chain'])} steps "
        f"(longest: {name}, {top['type']}, {top['minutes']:.1f} min)"
    )
