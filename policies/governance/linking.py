"""Linking satellite resources to the resource they configure, in stack policies.

Since pulumi-aws v4 an S3 bucket's encryption, versioning, public access block, policy and logging
are separate resources that name the bucket in a `bucket` property, and a flow log names its VPC
in `vpcId`. During a real `pulumi preview` those values are usually unknown (the bucket's ID is
not allocated yet), but the engine still knows which resources they came from: the property's
dependencies. So links are made from `property_dependencies` first (URN identity, robust in
preview), and only when a property has no resource dependency — a literal name typed into the
program, or a name read from another stack — by comparing the value with the target's names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource
from pulumi_policy.proxy import UnknownValueError


def of_types(resources: Iterable[PolicyResource], types: Iterable[str]) -> list[PolicyResource]:
    """The resources whose type token is one of `types`, in stack order."""
    wanted = frozenset(types)
    return [r for r in resources if r.resource_type in wanted]


def known_names(resource: PolicyResource, properties: Iterable[str]) -> set[str]:
    """The known string values of `properties` on a link target (its physical names/ids).

    A target whose name is unknown during preview cannot be what another resource refers to by a
    literal name (the program could not have known it either), so an unknown name is simply not a
    candidate. This is the only place the pack reads around an unknown value, and it never
    decides compliance: it only declines to match a name nobody can know yet.
    """
    names = set()
    for prop in properties:
        try:
            value = resource.props.get(prop)
        except UnknownValueError:
            continue
        if isinstance(value, str) and value:
            names.add(value)
    return names


def linked(
    child: PolicyResource,
    prop: str,
    targets: Mapping[str, PolicyResource],
    names: Callable[[PolicyResource], set[str]],
) -> list[PolicyResource]:
    """The targets (by URN) that `child.props[prop]` refers to.

    `property_dependencies[prop]` decides when it names any target. Otherwise the property's value
    is read (an unknown value raises `UnknownValueError`: the link cannot be known in preview) and
    matched against each target's `names`.
    """
    deps = child.property_dependencies.get(prop) or []
    by_dependency = [targets[d.urn] for d in deps if d.urn in targets]
    if by_dependency:
        return by_dependency
    value: Any = child.props.get(prop)
    if not isinstance(value, str) or not value:
        return []
    return [t for t in targets.values() if value in names(t)]


def group_by_target(
    children: Iterable[PolicyResource],
    prop: str,
    targets: Mapping[str, PolicyResource],
    names: Callable[[PolicyResource], set[str]],
) -> dict[str, list[PolicyResource]]:
    """Target URN -> the children linked to it through `prop` (every target has an entry)."""
    grouped: dict[str, list[PolicyResource]] = {urn: [] for urn in targets}
    for child in children:
        for target in linked(child, prop, targets, names):
            grouped[target.urn].append(child)
    return grouped
