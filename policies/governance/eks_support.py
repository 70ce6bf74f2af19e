"""EKS clusters run a Kubernetes version in standard support, from the dated calendar.

A version past standard support is billed at the extended-support rate (six times the control
plane price) and gets no new EKS features; past extended support EKS upgrades the cluster itself,
at a time nobody chose. The calendar is copied from `estate/data/eks_versions.yaml` (the pack
runs as its own process with only `policies/` on `sys.path`; a test asserts the two are equal).

The day the rule judges is today (UTC), or the `supportDate` setting (`YYYY-MM-DD`) when an
organisation wants to judge against a planned date ("will this still be supported at the next
freeze?"). A cluster without `version` gets EKS's current default, which is in standard support.
A version newer than the calendar knows is not judged (the calendar is behind, not the
cluster); one older than the calendar's oldest is past support.
"""

from __future__ import annotations

import datetime as dt

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .catalog import BLOCK_IN_PROD, ENVIRONMENTS, Rule, Setting, Settings, securityhub
from .properties import get, text

EKS_CLUSTER = "aws:eks/cluster:Cluster"

CALENDAR: dict[str, tuple[dt.date, dt.date]] = {
    "1.29": (dt.date(2025, 3, 23), dt.date(2026, 3, 23)),
    "1.30": (dt.date(2025, 7, 23), dt.date(2026, 7, 23)),
    "1.31": (dt.date(2025, 11, 26), dt.date(2026, 11, 26)),
    "1.32": (dt.date(2026, 3, 23), dt.date(2027, 3, 23)),
    "1.33": (dt.date(2026, 7, 29), dt.date(2027, 7, 29)),
    "1.34": (dt.date(2026, 12, 2), dt.date(2027, 12, 2)),
    "1.35": (dt.date(2027, 3, 27), dt.date(2028, 3, 27)),
}
"""Version -> (last day of standard support, last day of extended support), exactly as
estate/data/eks_versions.yaml."""


def _minor(version: str) -> tuple[int, int] | None:
    parts = version.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        return None
    return int(parts[0]), int(parts[1])


def judged_day(settings: Settings) -> dt.date:
    """The day to judge support on: the `supportDate` setting, else today (UTC)."""
    configured = text(settings.get("supportDate"))
    if configured:
        try:
            return dt.date.fromisoformat(configured)
        except ValueError:
            pass
    return dt.datetime.now(dt.UTC).date()


def support_problem(version: str, on: dt.date) -> str:
    """Why `version` is not in standard support on day `on` ('' when it is, or is unknown)."""
    minor = _minor(version)
    if minor is None:
        return ""
    key = f"{minor[0]}.{minor[1]}"
    if key not in CALENDAR:
        oldest = min(CALENDAR, key=lambda v: _minor(v) or (0, 0))
        if minor < (_minor(oldest) or (0, 0)):
            return f"Kubernetes {key} is older than {oldest}, the oldest version EKS supports"
        return ""
    standard, extended = CALENDAR[key]
    if on <= standard:
        return ""
    if on <= extended:
        return (
            f"Kubernetes {key} left EKS standard support on {standard} and is billed at the "
            f"extended-support rate until {extended}"
        )
    return f"Kubernetes {key} is past the end of EKS extended support ({extended})"


def validate_standard_support(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    version = text(args.props.get("version"))
    if not version:
        return
    problem = support_problem(version, judged_day(settings))
    if problem:
        policy = text(get(args.props, "upgradePolicy", "supportType")) or "EXTENDED (default)"
        report(
            f"EKS cluster '{args.name}': {problem} (upgrade policy {policy}); upgrade to a "
            "version in standard support.",
            None,
        )


RULES: tuple[Rule, ...] = (
    Rule(
        id="eks-version-standard-support",
        title="EKS clusters run a version in standard support",
        description=(
            "Every EKS cluster's Kubernetes version is in EKS standard support on the day it "
            "is judged (by the calendar in estate/data/eks_versions.yaml)."
        ),
        severity="medium",
        enforcement=BLOCK_IN_PROD,
        remediation=(
            "Upgrade the cluster (ai-estate:cluster.version) one minor version at a time to one "
            "in standard support, after its add-ons and node groups."
        ),
        kind="resource",
        validate=validate_standard_support,
        resource_types=frozenset({EKS_CLUSTER}),
        frameworks=(securityhub("EKS.2"),),
        settings=(
            Setting(
                name="supportDate",
                description="Judge support on this day (YYYY-MM-DD) instead of today.",
                schema={"type": "string"},
                defaults=dict.fromkeys(ENVIRONMENTS, ""),
            ),
        ),
        domain="eks",
        rationale=(
            "Advisory in dev and staging: an upgrade is planned work, and a dev cluster in "
            "extended support costs money, not safety."
        ),
    ),
)
