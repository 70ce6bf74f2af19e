"""The JSON report: the whole result, machine-readable, in the shared order."""

from __future__ import annotations

from typing import Any

from estate.offline.model import StackResult
from estate.reports.common import _findings, _jsonable, _ordered, summarize


def to_json(results: list[StackResult]) -> dict[str, Any]:
    """The machine-readable report of `estate check --format json`."""
    ordered = _ordered(results)
    return {
        "summary": summarize(ordered),
        "stacks": [
            {
                "stack": r.stack,
                "source": r.source,
                "resources": r.resource_count,
                "seconds": round(r.seconds, 3),
                "error": r.error,
                "findings": [_jsonable(f.to_json()) for f in _findings(r)],
                "notApplicable": _jsonable(r.not_applicable),
                **({"diff": _jsonable(r.diff)} if r.diff is not None else {}),
                **({"readiness": _jsonable(r.readiness)} if r.readiness is not None else {}),
            }
            for r in ordered
        ],
    }
