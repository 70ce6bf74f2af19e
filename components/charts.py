"""The Helm chart pins, read from `charts.yaml` next to this module.

The YAML is data so that tools other than the program (the deploy workflow's
`scripts/check_chart_pins.py`, the vendored-values tests) read the same pins the components
install, and so every pin carries where and when it was seen published.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

CHARTS_FILE = Path(__file__).with_name("charts.yaml")


@dataclass(frozen=True)
class ChartPin:
    """One Helm chart pinned to one version."""

    name: str
    """The key in charts.yaml (also the Helm release name)."""
    repo: str
    """A classic Helm repository URL, or an OCI registry path (`oci://...`)."""
    chart: str
    """The chart's name in that repository."""
    version: str
    """The exact chart version (never a range)."""
    source: str
    """Where the version was seen published (index, tag, commit)."""
    verified_on: dt.date
    """When it was read there."""

    @property
    def is_oci(self) -> bool:
        return self.repo.startswith("oci://")

    @property
    def reference(self) -> str:
        """What Helm's `chart` argument takes: `oci://registry/path/chart` for OCI, else the
        bare chart name (with `repo` given separately)."""
        return f"{self.repo.rstrip('/')}/{self.chart}" if self.is_oci else self.chart


def _pin(name: str, entry: object) -> ChartPin:
    where = f"{CHARTS_FILE.name}: charts.{name}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: must be a mapping")
    missing = [k for k in ("repo", "chart", "version", "source", "verified_on") if k not in entry]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    verified = entry["verified_on"]
    if not isinstance(verified, dt.date):
        raise ValueError(f"{where}.verified_on: must be a date (YYYY-MM-DD)")
    return ChartPin(
        name=name,
        repo=str(entry["repo"]),
        chart=str(entry["chart"]),
        version=str(entry["version"]),
        source=" ".join(str(entry["source"]).split()),
        verified_on=verified,
    )


@cache
def all_charts() -> dict[str, ChartPin]:
    """Every pin in charts.yaml, by name."""
    doc = yaml.safe_load(CHARTS_FILE.read_text())
    return {name: _pin(name, entry) for name, entry in (doc or {}).get("charts", {}).items()}


def chart(name: str) -> ChartPin:
    """The pin called `name`; KeyError names the file when it is not there."""
    pins = all_charts()
    if name not in pins:
        raise KeyError(f"{CHARTS_FILE.name}: no chart '{name}' (have {', '.join(sorted(pins))})")
    return pins[name]
