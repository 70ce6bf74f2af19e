"""The rule catalog: what a governance rule is, and how it becomes a CrossGuard validation.

A `Rule` is plain data plus one validate function. It says how bad a violation is (`severity`),
what to do about it (`remediation`), which public controls it implements (`frameworks`), and how
hard it is enforced in each environment. The pack (`pack.py`) turns every rule into a
`pulumi_policy` policy with the enforcement and settings of the stack's profile (`profiles.py`);
the tests call the very same bound validate function through `bind`.

Validate functions take a third argument, the rule's settings (profile defaults overlaid with
whatever `--policy-pack-config` supplied), so no rule reads the environment or global state.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

ENVIRONMENTS: tuple[str, ...] = ("dev", "staging", "prod")
"""The environments a stack can declare in `ai-estate:environment`, least strict first."""

SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
ENFORCEMENTS: tuple[str, ...] = ("advisory", "mandatory", "disabled")

Severity = Literal["low", "medium", "high", "critical"]
Enforcement = Literal["advisory", "mandatory", "disabled"]
Kind = Literal["resource", "stack"]

Settings = Mapping[str, Any]
RuleValidate = Callable[[Any, ReportViolation, Settings], None]
"""`validate(args, report_violation, settings)`; args is Resource- or StackValidationArgs."""

_RULE_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)+$")
_SETTING_NAME = re.compile(r"^[a-z][a-zA-Z0-9]*$")


@dataclass(frozen=True)
class FrameworkRef:
    """One control of a public benchmark that a rule implements."""

    framework: str
    """`CIS AWS Foundations`, `CIS Amazon EKS`, `AWS Security Hub` or `Checkov`."""
    control: str
    """The control's id in that framework: `3.8`, `CKV_AWS_7`."""
    version: str = ""
    """The benchmark version the control number belongs to (CIS renumbers between versions)."""

    @property
    def label(self) -> str:
        """`CKV_AWS_7`, or `CIS-1.4.0-3.8`: short enough for a policy tag."""
        if self.framework in ("Checkov", "AWS Security Hub"):
            return self.control
        prefix = "CIS-EKS" if self.framework == "CIS Amazon EKS" else "CIS"
        return (
            f"{prefix}-{self.version}-{self.control}"
            if self.version
            else f"{prefix}-{self.control}"
        )


def cis(control: str, version: str = "1.4.0") -> FrameworkRef:
    """A CIS Amazon Web Services Foundations Benchmark control."""
    return FrameworkRef("CIS AWS Foundations", control, version)


def cis_eks(control: str, version: str = "1.5.0") -> FrameworkRef:
    """A CIS Amazon Elastic Kubernetes Service (EKS) Benchmark control: `4.1.1`."""
    return FrameworkRef("CIS Amazon EKS", control, version)


def securityhub(control: str) -> FrameworkRef:
    """An AWS Security Hub CSPM control id: `SageMaker.1`, `EKS.2` (stable across releases)."""
    return FrameworkRef("AWS Security Hub", control)


def checkov(check_id: str) -> FrameworkRef:
    """A Checkov check id (they are stable across Checkov releases)."""
    return FrameworkRef("Checkov", check_id)


@dataclass(frozen=True)
class Setting:
    """A tunable of a rule: a policy-config property with a default per environment."""

    name: str
    """The policy-config key (camelCase, as `--policy-pack-config` JSON spells it)."""
    description: str
    schema: Mapping[str, Any]
    """JSON schema of the value, without `default` (the profile supplies that)."""
    defaults: Mapping[str, Any]
    """The value in each environment: `{"dev": 30, "staging": 90, "prod": 365}`."""

    def __post_init__(self) -> None:
        if not _SETTING_NAME.match(self.name):
            raise ValueError(f"setting {self.name!r} must be camelCase")
        if set(self.defaults) != set(ENVIRONMENTS):
            raise ValueError(f"setting {self.name!r} needs a default for each of {ENVIRONMENTS}")


@dataclass(frozen=True)
class Rule:
    """One governance rule; see the module docstring."""

    id: str
    """Kebab-case policy name, stable once shipped (waivers and reports refer to it)."""
    title: str
    """A short human name (the policy's display name)."""
    description: str
    """One sentence saying what compliant looks like; violations start with it."""
    severity: Severity
    enforcement: Mapping[str, Enforcement]
    """Enforcement per environment: `{"dev": ..., "staging": ..., "prod": ...}`."""
    remediation: str
    """What to change in the program to comply."""
    kind: Kind
    """`resource` rules see one resource's inputs; `stack` rules see every resource at once."""
    validate: RuleValidate
    resource_types: frozenset[str] = frozenset()
    """Resource rules only run on these type tokens (empty: every type)."""
    frameworks: tuple[FrameworkRef, ...] = ()
    settings: tuple[Setting, ...] = ()
    domain: str = ""
    """The governance module the rule lives in (storage, data, network, ...)."""
    rationale: str = field(default="", compare=False)
    """Why the rule exists and why its exemptions are safe (documentation only)."""

    def __post_init__(self) -> None:
        if not _RULE_ID.match(self.id):
            raise ValueError(f"rule id {self.id!r} must be kebab-case")
        if self.severity not in SEVERITIES:
            raise ValueError(f"rule {self.id}: severity {self.severity!r} not in {SEVERITIES}")
        if set(self.enforcement) != set(ENVIRONMENTS):
            raise ValueError(f"rule {self.id}: enforcement needs exactly {ENVIRONMENTS}")
        for env, level in self.enforcement.items():
            if level not in ENFORCEMENTS:
                raise ValueError(f"rule {self.id}: {env} enforcement {level!r} not allowed")
        if self.kind not in ("resource", "stack"):
            raise ValueError(f"rule {self.id}: kind {self.kind!r} must be resource or stack")
        if self.kind == "stack" and self.resource_types:
            raise ValueError(f"rule {self.id}: stack rules see every resource, not a type list")

    @property
    def tags(self) -> list[str]:
        """Policy tags: the domain, then every framework control the rule implements."""
        return [t for t in (self.domain, *(f.label for f in self.frameworks)) if t]


def bind(
    rule: Rule, defaults: Settings, waivers: Any = None
) -> Callable[[Any, ReportViolation], None]:
    """The `pulumi_policy` validate callback for `rule` with these default settings.

    Policy config from the CLI (`--policy-pack-config`, or an org's policy group) overrides the
    profile's defaults key by key. With `waivers` (a `waivers.WaiverSet`), violations a live
    waiver covers go to its ledger instead of blocking. Unknown values are not caught here: `pulumi_policy` turns an
    `UnknownValueError` into its own "can't run policy during preview" advisory.
    """

    def validate(args: ResourceValidationArgs | StackValidationArgs, report: ReportViolation):
        if (
            rule.kind == "resource"
            and rule.resource_types
            and args.resource_type not in rule.resource_types  # type: ignore[union-attr]
        ):
            return
        settings = {**defaults, **dict(args.get_config() or {})}
        if waivers is not None and rule.domain != "waivers":
            report = waivers.guard(rule.id, report, getattr(args, "urn", None))
        rule.validate(args, report, settings)

    validate.__name__ = f"validate_{rule.id.replace('-', '_')}"
    return validate


# Enforcement presets, named for where a violation starts to block a deployment.
BLOCK_EVERYWHERE: Mapping[str, Enforcement] = {
    "dev": "mandatory",
    "staging": "mandatory",
    "prod": "mandatory",
}
"""Exposure or cost that is as real in dev as in prod (public buckets, open ports, no owner)."""

BLOCK_FROM_STAGING: Mapping[str, Enforcement] = {
    "dev": "advisory",
    "staging": "mandatory",
    "prod": "mandatory",
}
"""Controls that must be right before anything is promoted (encryption choices, flow logs)."""

BLOCK_IN_PROD: Mapping[str, Enforcement] = {
    "dev": "advisory",
    "staging": "advisory",
    "prod": "mandatory",
}
"""Durability and audit controls whose cost is only worth paying for production data."""

PROD_ONLY: Mapping[str, Enforcement] = {
    "dev": "disabled",
    "staging": "advisory",
    "prod": "mandatory",
}
"""Controls that get in the way of tearing dev stacks down (protect, deletion protection)."""
