"""The four policies that make waivers auditable; see waivers.py for the mechanism.

They run after every other rule (pack.py puts them last), so `waiver-applied` sees what the
rules before it suppressed for the same resource in the same request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .catalog import BLOCK_EVERYWHERE, Enforcement, Rule, Settings
from .waivers import active

ADVISORY_EVERYWHERE: Mapping[str, Enforcement] = {
    "dev": "advisory",
    "staging": "advisory",
    "prod": "advisory",
}


def _applied(args: Any, report: Any, _settings: Settings) -> None:
    waivers = active()
    if waivers is None:
        return
    for _urn, text in waivers.ledger.drain(args.urn):
        report(text)


def _applied_stack(_args: Any, report: Any, _settings: Settings) -> None:
    waivers = active()
    if waivers is None:
        return
    for urn, text in waivers.ledger.drain():
        report(text, urn)


def _expired(_args: Any, report: Any, _settings: Settings) -> None:
    waivers = active()
    if waivers is None:
        return
    for w in waivers.expired():
        report(
            f"The waiver of {w.policy} for '{w.resource}' ({w.ticket}) expired on "
            f"{w.expires.isoformat()}: fix the finding, or review the exception and extend it."
        )


def _invalid(_args: Any, report: Any, _settings: Settings) -> None:
    waivers = active()
    if waivers is None:
        return
    for problem in waivers.problems:
        report(problem)


BASE_POLICIES: tuple[str, ...] = ("feature-schema-incompatible",)
"""Policies that `estate check --base` reports from the comparison with the base ref, outside
this pack (which sees one render, never two): a stack file may waive them like any rule, and
`estate check` applies the waiver (`estate.offline.gate.waive_base_findings`)."""

RULES: tuple[Rule, ...] = (
    Rule(
        id="waiver-applied",
        title="Waived violations (resource)",
        description="A live waiver in the stack file suppressed a violation on this resource.",
        severity="low",
        enforcement=ADVISORY_EVERYWHERE,
        remediation="Nothing to do before the waiver expires; fix the finding to drop the waiver.",
        kind="resource",
        validate=_applied,
        domain="waivers",
    ),
    Rule(
        id="waiver-applied-stack",
        title="Waived violations (stack policies)",
        description="A live waiver in the stack file suppressed a stack policy's violation.",
        severity="low",
        enforcement=ADVISORY_EVERYWHERE,
        remediation="Nothing to do before the waiver expires; fix the finding to drop the waiver.",
        kind="stack",
        validate=_applied_stack,
        domain="waivers",
    ),
    Rule(
        id="waiver-expired",
        title="No expired waivers",
        description="Every waiver in the stack file is within its expiry date.",
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation="Fix the waived finding and delete the waiver, or re-review and extend it.",
        kind="stack",
        validate=_expired,
        domain="waivers",
    ),
    Rule(
        id="waiver-invalid",
        title="Waivers are well formed",
        description="Every waiver names a policy of this pack, a resource, a reason, a ticket and an expiry date.",
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation="Correct the waiver entry in ai-estate:waivers (see docs/policies.md#waivers).",
        kind="stack",
        validate=_invalid,
        domain="waivers",
    ),
)
