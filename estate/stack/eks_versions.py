"""The EKS Kubernetes version calendar (estate/data/eks_versions.yaml) and what it says about a
version on a given day: in standard support, in extended support (billed at the extended rate),
or past the end of extended support (EKS upgrades such a cluster itself)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import yaml

CALENDAR_FILE = Path(__file__).resolve().parent.parent / "data" / "eks_versions.yaml"
SupportStatus = Literal["standard", "extended", "ended"]


@dataclass(frozen=True)
class EksVersion:
    """One Kubernetes minor version on EKS."""

    version: str
    released: dt.date
    end_of_standard: dt.date
    """Last day of standard support."""
    end_of_extended: dt.date
    """Last day of extended support."""

    def status(self, on: dt.date) -> SupportStatus:
        if on <= self.end_of_standard:
            return "standard"
        if on <= self.end_of_extended:
            return "extended"
        return "ended"


@cache
def calendar() -> dict[str, EksVersion]:
    """Every version in the calendar file, by `"1.35"`."""
    doc = yaml.safe_load(CALENDAR_FILE.read_text())
    return {
        str(v): EksVersion(str(v), e["released"], e["end_of_standard"], e["end_of_extended"])
        for v, e in doc["versions"].items()
    }


def support_status(version: str, on: dt.date) -> SupportStatus:
    """`standard`, `extended` or `ended` for `version` on day `on`; KeyError if the calendar
    does not know the version."""
    return calendar()[version].status(on)


def check_version(version: str, support_type: str, on: dt.date) -> str | None:
    """Why `version` with `support_type` is not deployable on day `on` (None when it is)."""
    known = calendar()
    ordered = sorted(known, key=lambda v: tuple(map(int, v.split("."))))
    if version not in known and tuple(map(int, version.split("."))) < tuple(
        map(int, ordered[0].split("."))
    ):
        return (
            f"Kubernetes {version} is too old: EKS support for it has ended "
            f"(the oldest version in {CALENDAR_FILE.name} is {ordered[0]})"
        )
    if version not in known:
        return (
            f"Kubernetes {version} is not in {CALENDAR_FILE.name} "
            f"(known: {', '.join(sorted(known, key=lambda v: tuple(map(int, v.split('.')))))})"
        )
    entry = known[version]
    status = entry.status(on)
    if status == "ended":
        return (
            f"Kubernetes {version} is past the end of EKS extended support "
            f"({entry.end_of_extended}); choose a version in standard support"
        )
    if status == "extended" and support_type != "EXTENDED":
        return (
            f"Kubernetes {version} left EKS standard support on {entry.end_of_standard}: set "
            "supportType: EXTENDED (billed at the extended-support rate) or upgrade"
        )
    return None
