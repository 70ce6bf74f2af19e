"""The data that flows between the engine, the policy runner and the reports.

These are plain dataclasses on purpose: every report format is a pure function of them, and
tests build them directly without running Pulumi.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


def _custom_by_type(type_token: str) -> bool:
    """Whether a type is a custom resource, for inventories that do not say: the estate's
    components (`ai-estate:*`) and the engine's own types are not."""
    return not type_token.startswith(("ai-estate:", "pulumi:"))


@dataclass
class Resource:
    """One registered resource, as the engine saw it (and as the Pulumi CLI would send it)."""

    urn: str
    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]
    """Input properties with their engine (camelCase) names, as the analyzer receives them."""
    remote: bool = False
    """A multi-language component (`remote=True`, e.g. awsx): its provider builds its children,
    so an offline render sees the component but nothing inside it."""
    secret_inputs: list[str] = field(default_factory=list)
    """The inputs whose value is (or holds) a secret, e.g. from a secret config key: the policy
    pack sees their values, as with the CLI; reports must not print them."""
    parent: str | None = None
    protect: bool = False
    retain_on_delete: bool = False
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    provider: str | None = None
    """Provider reference `urn::id`, or None for the default provider."""
    aliases: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    ignore_changes: list[str] = field(default_factory=list)
    """`ignore_changes` property paths, as the engine receives them (`scalingConfig.desiredSize`)."""
    replace_on_changes: list[str] = field(default_factory=list)
    delete_before_replace: bool | None = None
    """None when the program left it to the provider's default."""
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    """`create` / `update` / `delete` durations (`30m`) the program set; empty when none."""
    depends_on: list[str] = field(default_factory=list)
    """Dependencies no input implies: the `depends_on` the program gave (the wire carries only
    their union with input dependencies, so one also implied by an input is not listed; a
    component in `depends_on` arrives as the resources under it)."""
    deleted_with: str | None = None

    def options(self) -> dict[str, Any]:
        """The resource options the engine received, each only when the program set it."""
        options: dict[str, Any] = {}
        if self.ignore_changes:
            options["ignoreChanges"] = self.ignore_changes
        if self.replace_on_changes:
            options["replaceOnChanges"] = self.replace_on_changes
        if self.delete_before_replace is not None:
            options["deleteBeforeReplace"] = self.delete_before_replace
        if self.custom_timeouts:
            options["customTimeouts"] = self.custom_timeouts
        if self.depends_on:
            options["dependsOn"] = self.depends_on
        if self.deleted_with:
            options["deletedWith"] = self.deleted_with
        return options

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Resource:
        """The inverse of `to_json` (what `estate preview --format json` printed)."""
        options = data.get("options") or {}
        return cls(
            urn=data["urn"],
            type=data["type"],
            name=data["name"],
            # Components (ai-estate:*) and the stack are the only non-custom resources we render.
            custom=data.get("custom", _custom_by_type(data["type"])),
            inputs=dict(data.get("inputs") or {}),
            remote=bool(data.get("remote", False)),
            secret_inputs=list(data.get("secretInputs") or []),
            parent=data.get("parent"),
            protect=bool(data.get("protect", False)),
            retain_on_delete=bool(data.get("retainOnDelete", False)),
            dependencies=list(data.get("dependencies") or []),
            property_dependencies=dict(data.get("propertyDependencies") or {}),
            provider=data.get("provider"),
            aliases=list(data.get("aliases") or []),
            ignore_changes=list(options.get("ignoreChanges") or []),
            replace_on_changes=list(options.get("replaceOnChanges") or []),
            delete_before_replace=options.get("deleteBeforeReplace"),
            custom_timeouts=dict(options.get("customTimeouts") or {}),
            depends_on=list(options.get("dependsOn") or []),
            deleted_with=options.get("deletedWith"),
        )

    def to_json(self) -> dict[str, Any]:
        """The documented inventory shape of `estate preview --format json`: inputs, and every
        resource option the engine received (`protect`, `retainOnDelete`, `aliases`, `parent`,
        `provider` always; `ignoreChanges`, `replaceOnChanges`, `deleteBeforeReplace`,
        `customTimeouts`, `dependsOn`, `deletedWith` under `options` when set)."""
        data: dict[str, Any] = {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "inputs": self.inputs,
        }
        if self.custom != _custom_by_type(self.type):
            data["custom"] = self.custom  # another program's component (`acme:storage:Site`)
        if self.remote:
            data["remote"] = True
        if self.secret_inputs:
            # Only when there are any: inventories without secrets keep their exact shape.
            data["secretInputs"] = self.secret_inputs
        return data | {
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "dependencies": self.dependencies,
            "propertyDependencies": self.property_dependencies,
            "provider": self.provider,
            "aliases": self.aliases,
            "options": self.options(),
        }


@dataclass
class Inventory:
    """Everything one stack registers, plus its exported outputs."""

    stack: str
    project: str
    resources: list[Resource]
    outputs: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    """The stack's configuration as `project:key` -> value (what the CLI puts in PULUMI_CONFIG)."""
    source: str = ""
    """The file a reader should open for this stack (its stack file, or a program's entry point)."""
    warnings: list[str] = field(default_factory=list)
    """What the program logged as warnings (`pulumi.log.warn`), in order."""

    def by_urn(self) -> dict[str, Resource]:
        return {r.urn: r for r in self.resources}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Inventory:
        """The inverse of `to_json`: an inventory read back from `estate preview --format json`."""
        return cls(
            stack=data["stack"],
            project=data["project"],
            resources=[Resource.from_json(r) for r in data.get("resources") or []],
            outputs=dict(data.get("outputs") or {}),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "project": self.project,
            "resources": [r.to_json() for r in self.resources],
            "outputs": self.outputs,
        }


@dataclass
class PolicyInfo:
    """A policy as the pack describes itself in GetAnalyzerInfo (after Configure)."""

    name: str
    description: str
    enforcement: str
    """mandatory | advisory | remediate | disabled"""
    severity: str = ""
    """low | medium | high | critical, or empty when the pack does not say."""
    kind: str = "resource"
    """resource | stack"""
    remediation: str = ""
    url: str = ""
    tags: list[str] = field(default_factory=list)


@dataclass
class Finding:
    """One violation reported by the pack (or by the runner itself, e.g. an expired waiver)."""

    stack: str
    policy: str
    message: str
    enforcement: str
    severity: str = ""
    urn: str = ""
    """Empty for a stack-level violation that names no resource."""
    resource_type: str = ""
    resource_name: str = ""
    description: str = ""
    pack: str = ""
    waived_by: dict[str, Any] | None = None
    """The waiver that suppressed this finding, if any (it no longer blocks)."""

    @property
    def blocking(self) -> bool:
        return self.enforcement in ("mandatory", "remediate") and self.waived_by is None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["blocking"] = self.blocking
        return data


@dataclass
class StackResult:
    """The outcome of checking one stack."""

    stack: str
    source: str
    resource_count: int = 0
    policies: list[PolicyInfo] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    not_applicable: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None
    """A config or program error: the stack could not be checked (exit 2 territory)."""
    seconds: float = 0.0
    inventory: Inventory | None = None
    diff: dict[str, Any] | None = None
    """With `--base`: what the change does to the stack's resources (estate.analysis.diff)."""
    readiness: dict[str, Any] | None = None
    """A BU stack's readiness scorecard (estate.analysis.readiness), with `base` under `--base`."""

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.blocking]

    @property
    def advisories(self) -> list[Finding]:
        return [f for f in self.findings if not f.blocking and f.waived_by is None]

    @property
    def waived(self) -> list[Finding]:
        return [f for f in self.findings if f.waived_by is not None]
