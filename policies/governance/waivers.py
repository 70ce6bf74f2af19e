"""Waivers: time-boxed, ticketed exceptions that live in the stack file.

A stack lists them under `ai-estate:waivers`:

    ai-estate:waivers:
      - policy: s3-bucket-access-logging
        resource: "scratch-*"            # a resource name glob, or a full URN
        reason: Throwaway bucket for a load test, no customer data
        ticket: SEC-1234
        expires: 2026-12-31

Because the pack itself reads them (from `PULUMI_CONFIG`, as the CLI hands it the stack config),
they work identically under `pulumi up --policy-pack`, in `estate check`, and on any backend.

How a waived violation stays auditable: the rule's violation is not reported under the rule
(so it no longer blocks) but stashed in the ledger; the `waiver-applied` policy, which runs after
every rule for the same resource, reports it as an advisory that names the waiver, ticket and
expiry. An expired waiver suppresses nothing and is itself a mandatory violation
(`waiver-expired`); a malformed waiver or one naming an unknown policy is `waiver-invalid`.

`estate check --base` reports a few findings from the comparison with the base ref, which no
pack sees (`waiver_rules.BASE_POLICIES`, e.g. `feature-schema-incompatible`: a feature group's
schema change that breaks its Glue compatibility mode). A stack waives them the same way, and
the same matching and expiry apply; the waived finding is shown with its waiver, not blocking.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

WAIVERS_KEY = "ai-estate:waivers"
APPLIED_PREFIX = "Waived by "
_APPLIED = re.compile(
    r"^Waived by (?P<ticket>.+?) until (?P<expires>\d{4}-\d{2}-\d{2}) "
    r"\((?P<reason>.*?)\): \[(?P<policy>[a-z0-9-]+)\] (?P<message>.*)$",
    re.DOTALL,
)


@dataclass(frozen=True)
class Waiver:
    """One exception: which policy, on which resources, why, under which ticket, until when."""

    policy: str
    resource: str
    reason: str
    ticket: str
    expires: dt.date

    def matches(self, policy: str, urn: str) -> bool:
        """Whether this waiver covers `policy` on the resource with this URN."""
        if policy != self.policy or not urn:
            return False
        name = urn.rsplit("::", 1)[-1]
        return (
            urn == self.resource
            or fnmatch.fnmatchcase(name, self.resource)
            or (self.resource.startswith("urn:") and fnmatch.fnmatchcase(urn, self.resource))
        )

    def live(self, today: dt.date) -> bool:
        """A waiver is live through the whole of its expiry day."""
        return today <= self.expires

    def to_json(self) -> dict[str, str]:
        return {
            "policy": self.policy,
            "resource": self.resource,
            "reason": self.reason,
            "ticket": self.ticket,
            "expires": self.expires.isoformat(),
        }


def parse_waivers(
    config: Mapping[str, Any], known_policies: Iterable[str]
) -> tuple[list[Waiver], list[str]]:
    """The stack's waivers, and one problem sentence per entry that is not a valid waiver."""
    raw = config.get(WAIVERS_KEY)
    if raw in (None, "", "[]"):
        return [], []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return [], [f"{WAIVERS_KEY}: must be a list of waivers"]
    if not isinstance(raw, list):
        return [], [f"{WAIVERS_KEY}: must be a list of waivers"]
    known = set(known_policies)
    waivers, problems = [], []
    for i, entry in enumerate(raw):
        where = f"{WAIVERS_KEY}[{i}]"
        if not isinstance(entry, dict):
            problems.append(
                f"{where}: must be a mapping with policy, resource, reason, ticket, expires"
            )
            continue
        missing = [
            k
            for k in ("policy", "resource", "reason", "ticket", "expires")
            if not str(entry.get(k) or "").strip()
        ]
        if missing:
            problems.append(f"{where}: {', '.join(missing)} required")
            continue
        if entry["policy"] not in known:
            problems.append(f"{where}.policy: no policy {entry['policy']!r} in this pack")
            continue
        try:
            expires = dt.date.fromisoformat(str(entry["expires"]))
        except ValueError:
            problems.append(
                f"{where}.expires: must be a date YYYY-MM-DD (got {entry['expires']!r})"
            )
            continue
        waivers.append(
            Waiver(
                policy=str(entry["policy"]),
                resource=str(entry["resource"]),
                reason=" ".join(str(entry["reason"]).split()),
                ticket=str(entry["ticket"]).strip(),
                expires=expires,
            )
        )
    return waivers, problems


def applied_message(waiver: Waiver, policy: str, message: str) -> str:
    """How a suppressed violation is reported by `waiver-applied` (parsed by `parse_applied`)."""
    return (
        f"{APPLIED_PREFIX}{waiver.ticket} until {waiver.expires.isoformat()} "
        f"({waiver.reason}): [{policy}] {message}"
    )


def parse_applied(message: str) -> dict[str, str] | None:
    """The parts of a `waiver-applied` message, or None if it is not one."""
    match = _APPLIED.match(message.strip())
    return match.groupdict() if match else None


class Ledger:
    """Suppressed violations waiting to be reported by the `waiver-applied` policies.

    The Analyzer server handles requests on a thread pool, so the ledger is locked; entries are
    keyed by URN so each `Analyze` call drains only its own resource's suppressions.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, list[str]] = {}

    def add(self, urn: str, text: str) -> None:
        with self._lock:
            self._pending.setdefault(urn, []).append(text)

    def drain(self, urn: str | None = None) -> list[tuple[str, str]]:
        with self._lock:
            keys = [urn] if urn is not None else list(self._pending)
            out = [(k, t) for k in keys for t in self._pending.pop(k, [])]
        return out


@dataclass
class WaiverSet:
    """The stack's waivers, bound to a date and a ledger."""

    waivers: list[Waiver]
    problems: list[str]
    today: dt.date
    ledger: Ledger

    def live_waiver(self, policy: str, urn: str) -> Waiver | None:
        for waiver in self.waivers:
            if waiver.live(self.today) and waiver.matches(policy, urn):
                return waiver
        return None

    def guard(
        self, policy: str, report: Callable[..., None], default_urn: str | None
    ) -> Callable[..., None]:
        """Wrap a rule's `report_violation` so waived violations go to the ledger instead."""

        def guarded(message: str, urn: str | None = None) -> None:
            target = urn or default_urn or ""
            waiver = self.live_waiver(policy, target)
            if waiver is None:
                report(message, urn) if urn is not None else report(message)
                return
            self.ledger.add(target, applied_message(waiver, policy, message))

        return guarded

    def expired(self) -> list[Waiver]:
        return [w for w in self.waivers if not w.live(self.today)]


_ACTIVE: WaiverSet | None = None


def activate(
    config: Mapping[str, Any], known_policies: Iterable[str], today: dt.date | None = None
) -> WaiverSet:
    """Load the stack's waivers for this pack process (called once when the pack starts)."""
    global _ACTIVE
    waivers, problems = parse_waivers(config, known_policies)
    _ACTIVE = WaiverSet(waivers, problems, today or dt.date.today(), Ledger())
    return _ACTIVE


def active() -> WaiverSet | None:
    """The waivers of the stack this pack process serves (None before `activate`)."""
    return _ACTIVE
