"""The generic answer for an AWS resource, which every type's registered facts refine.

Physical names as Pulumi autonames them, IDs with the prefixes AWS uses, ARNs with the right
partition/region/account layout, `region` and `tagsAll` as the provider reports them. What a
type adds beyond that (a VPC's default security group, a bucket's domain names) comes from its
`@resource` handler in the service module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi

from estate.offline.mocks.common import GLOBAL_SERVICES, autoname, dig, stable_hex, stable_uuid
from estate.offline.mocks.registry import (
    AWS_TYPES,
    ID_FAMILY_RULES,
    ID_RULES,
    NAMERS,
    RESOURCES,
    AwsType,
    NewAwsResource,
)

if TYPE_CHECKING:
    from estate.offline.mocks.core import EstateMocks

_NO_FACTS = AwsType()


def physical_name(
    m: EstateMocks, typ: str, logical: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The physical name (given, from a `<name>Prefix`, or autonamed) and the initial state."""
    facts = AWS_TYPES.get(typ, _NO_FACTS)
    name_prop = facts.name_property
    physical = inputs.get(name_prop)
    if not physical and inputs.get(f"{name_prop}Prefix"):
        physical = inputs[f"{name_prop}Prefix"] + stable_hex(logical, m.salt, length=26)
    if not physical:
        physical = autoname(logical, typ, m.salt)
        if facts.lowercase_name:
            physical = physical.lower()
    return physical, {**inputs, name_prop: physical}


def resource_id(
    m: EstateMocks, typ: str, logical: str, inputs: dict[str, Any], physical: str
) -> str:
    """A prefixed stable hash, the type's own rule, its family's rule, or the physical name."""
    prefix = AWS_TYPES.get(typ, _NO_FACTS).id_prefix
    if prefix is not None:
        return prefix + stable_hex(typ, logical, m.salt)
    rule = ID_RULES.get(typ)
    if rule is not None:
        return rule(m, typ, logical, inputs, physical)
    for family, excluded, family_rule in ID_FAMILY_RULES:
        if typ.startswith(family) and typ not in excluded:
            return family_rule(m, typ, logical, inputs, physical)
    return physical


def new_resource(
    m: EstateMocks, args: pulumi.runtime.MockResourceArgs, typ: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The ID and state of an AWS resource: the generic answer plus its type's handler."""
    provider = m.provider_settings(args.provider)
    region = str(inputs.get("region") or provider.get("region") or m.region)
    facts = AWS_TYPES.get(typ, _NO_FACTS)
    # `Resource.get(name, id)` (and `import_`): the resource exists, under the ID given; where
    # the ID is the physical name (or an ARN ending in it), that is the name it has.
    existing = str(args.resource_id or "")
    if existing and facts.id_prefix is None and not inputs.get(facts.name_property):
        inputs[facts.name_property] = (
            existing.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
            if existing.startswith("arn:")
            else existing
        )

    namer = NAMERS.get(typ, physical_name)
    physical, state = namer(m, typ, args.name, inputs)
    unknown_name = physical if not isinstance(physical, str) else None
    if unknown_name is not None:
        # The name is another resource's output, unknown at preview (e.g. a DNS validation
        # record named by its certificate): so are the ID and ARN, which the engine must
        # still answer with a string; the state keeps the unknown name.
        physical = autoname(args.name, typ, m.salt)
    rid = existing or resource_id(m, typ, args.name, inputs, physical)

    service = typ.split(":")[1].split("/")[0]
    if facts.arn is not None:
        service = facts.arn.service
        path = inputs.get("path") or "/"
        state["arn"] = m.arn(
            service,
            facts.arn.pattern.format(
                name=physical,
                id=rid.split(":")[-1],
                uuid=stable_uuid(typ, args.name, m.salt),
                region=region,
                path=path if path.endswith("/") else path + "/",
                cluster=inputs.get("clusterName", "cluster"),
                bucket=inputs.get("bucket", ""),
                key=physical,
                lbkind="net" if inputs.get("loadBalancerType") == "network" else "app",
                hex16=stable_hex(typ, args.name, m.salt, length=16),
                hex6=stable_hex(typ, args.name, m.salt, length=6),
            ),
            facts.arn.regional,
            region,
        )
    elif service not in ("s3", "iam"):
        kind = typ.split(":")[-1].lower()
        state["arn"] = m.arn(service, f"{kind}/{physical}", True, region)

    if facts.id_is_arn:
        if existing.startswith("arn:"):
            state["arn"] = existing
        rid = state["arn"]
    if unknown_name is not None and "arn" in state and not existing:
        state["arn"] = unknown_name  # unknown, as the name it is made from
    if service not in GLOBAL_SERVICES:
        state.setdefault("region", region)
    handler = RESOURCES.get(typ)
    if handler is not None:
        state.update(handler(m, NewAwsResource(typ, args.name, inputs, physical, rid, region)))
    default_tags = dig(provider, "defaultTags", "tags") or {}
    if "tags" in inputs or default_tags:
        state["tagsAll"] = {**default_tags, **(inputs.get("tags") or {})}
    m.remember(rid, typ, state)
    return rid, state
