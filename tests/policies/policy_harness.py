"""Run one governance rule against a program rendered by the offline engine.

`check(rule_id, program)` renders the program with `estate.offline.engine.render` (the real pulumi_aws
SDK under the mock runtime, so property names are the provider's), converts every recorded
resource into the `pulumi_policy` argument objects the Analyzer servicer would build for
`Analyze` / `AnalyzeStack` — props behind `unknown_checking_proxy`, options, the resource's
provider (the stack's `aws:*` config for the default provider, as the CLI sends it), parents,
dependencies and property dependencies as `PolicyResource` objects — and runs the rule through
the same `catalog.bind` wrapper the pack uses, with the stack's profile settings.

Values unknown at preview (recorded by the engine as `<computed>`) become the SDK's unknown
sentinels, so reading them raises `UnknownValueError` as it does in a real preview.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from governance import rule as find_rule
from governance.catalog import bind
from governance.profiles import profile_for
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from estate.offline.engine import config_to_wire, render
from estate.offline.mocks import UNKNOWN
from estate.offline.model import Inventory, Resource

PROJECT = "ai-estate"
POLICIES_DIR = Path(__file__).resolve().parents[2] / "policies"


@dataclass(frozen=True)
class Violation:
    """One reported violation: the message and the resource it is about."""

    message: str
    urn: str | None
    resource_name: str | None


def render_program(
    program: Callable[[], Any],
    *,
    environment: str | None = "prod",
    config: Mapping[str, Any] | None = None,
) -> Inventory:
    """Render `program` as stack `fraud-<env>`; environment None leaves the key out entirely."""
    full_config: dict[str, Any] = {}
    if environment is not None:
        full_config["ai-estate:environment"] = environment
    full_config.update(config or {})
    stack = f"fraud-{environment or 'unknown'}"
    return render(program, stack=stack, project=PROJECT, config=full_config)


def _engine_value(value: Any) -> Any:
    """An inventory value as the analyzer receives it (unknowns as the SDK's sentinel)."""
    if value == UNKNOWN:
        return UNKNOWN_STRING_VALUE
    if isinstance(value, dict):
        return {k: _engine_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_engine_value(v) for v in value]
    return value


def _props(inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    return unknown_checking_proxy(_engine_value(dict(inputs)))


def _options(resource: Resource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=list(resource.aliases),
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=resource.parent,
    )


def provider_of(inventory: Inventory, resource: Resource) -> PolicyProviderResource | None:
    """The provider the engine would attach to `resource` in the analyzer request."""
    if resource.provider:
        provider_urn = resource.provider.rsplit("::", 1)[0]
        explicit = inventory.by_urn().get(provider_urn)
        if explicit is not None:
            return PolicyProviderResource(
                explicit.type, _props(explicit.inputs), explicit.urn, explicit.name
            )
        return None
    package = resource.type.split(":", 1)[0]
    if not resource.custom or package in ("pulumi", ""):
        return None
    # The default provider's inputs are the stack's `<package>:*` config, as strings.
    wire = config_to_wire(inventory.config)
    inputs = {k.split(":", 1)[1]: v for k, v in wire.items() if k.startswith(f"{package}:")}
    urn = f"urn:pulumi:{inventory.stack}::{inventory.project}::pulumi:providers:{package}::default"
    return PolicyProviderResource(f"pulumi:providers:{package}", _props(inputs), urn, "default")


def resource_args(
    inventory: Inventory, resource: Resource, policy_config: Mapping[str, Any] | None = None
) -> ResourceValidationArgs:
    """What `Analyze` passes a resource policy for this resource."""
    return ResourceValidationArgs(
        resource.type,
        _props(resource.inputs),
        resource.urn,
        resource.name,
        _options(resource),
        provider_of(inventory, resource),
        dict(policy_config) if policy_config else None,
    )


def stack_args(
    inventory: Inventory, policy_config: Mapping[str, Any] | None = None
) -> StackValidationArgs:
    """What `AnalyzeStack` passes a stack policy: every resource, cross-linked as objects."""
    policy_resources = {
        r.urn: PolicyResource(
            r.type,
            _props(r.inputs),
            r.urn,
            r.name,
            _options(r),
            provider_of(inventory, r),
            None,
            [],
            {},
        )
        for r in inventory.resources
    }
    for r in inventory.resources:
        pr = policy_resources[r.urn]
        if r.parent in policy_resources:
            pr.parent = policy_resources[r.parent]
        pr.dependencies = [policy_resources[d] for d in r.dependencies if d in policy_resources]
        pr.property_dependencies = {
            prop: [policy_resources[u] for u in urns if u in policy_resources]
            for prop, urns in r.property_dependencies.items()
        }
    return StackValidationArgs(
        list(policy_resources.values()), dict(policy_config) if policy_config else None
    )


def check(
    rule_id: str,
    program: Callable[[], Any] | Inventory,
    *,
    environment: str | None = "prod",
    config: Mapping[str, Any] | None = None,
    policy_config: Mapping[str, Any] | None = None,
) -> list[Violation]:
    """Run one rule over a program (or an already rendered inventory); return its violations."""
    inventory = (
        program
        if isinstance(program, Inventory)
        else render_program(program, environment=environment, config=config)
    )
    rule = find_rule(rule_id)
    profile = profile_for(config_to_wire(inventory.config))
    validate = bind(rule, profile.settings(rule))
    names = {r.urn: r.name for r in inventory.resources}
    violations: list[Violation] = []

    if rule.kind == "resource":
        for resource in inventory.resources:

            def report(message: str, urn: str | None = None, _r: Resource = resource) -> None:
                violations.append(Violation(message, _r.urn, _r.name))

            validate(resource_args(inventory, resource, policy_config), report)
    else:

        def report_stack(message: str, urn: str | None = None) -> None:
            violations.append(Violation(message, urn, names.get(urn or "")))

        validate(stack_args(inventory, policy_config), report_stack)
    return violations


def names(violations: list[Violation]) -> list[str | None]:
    """The logical names of the resources in violation, in report order."""
    return [v.resource_name for v in violations]
