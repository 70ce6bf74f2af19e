"""The declared dependency floors are versions the suite actually runs against.

A floor below the tested version promises users an SDK whose resource arguments the components
were never rendered with (pulumi-aws 7.x added and renamed arguments between minor releases).
"""

from __future__ import annotations

import tomllib
from importlib.metadata import version

from packaging.requirements import Requirement
from packaging.version import Version

from tests.conftest import ROOT


def declared(name: str) -> Requirement:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    [requirement] = [Requirement(d) for d in project["dependencies"] if Requirement(d).name == name]
    return requirement


def lower_bound(requirement: Requirement) -> Version:
    [floor] = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    return floor


TESTED_PULUMI_AWS = Version("7.51.1")
"""The pulumi-aws this suite was run against when the floor was last raised (`pip show
pulumi-aws` in .venv); raise both together."""


def test_the_pulumi_aws_floor_is_the_tested_version():
    requirement = declared("pulumi-aws")
    installed = Version(version("pulumi_aws"))
    assert installed in requirement.specifier, (str(requirement), installed)
    # The floor may not sit below what the suite was run against (it did: >=7.0 against 7.51).
    assert lower_bound(requirement) >= TESTED_PULUMI_AWS, (
        f"pyproject.toml declares {requirement}, but the components are only rendered and "
        f"checked with pulumi-aws {TESTED_PULUMI_AWS}: raise the floor to it"
    )
    assert installed >= TESTED_PULUMI_AWS
