"""Resource options every component hands its children, in one place.

Stateful roots (buckets, tables, keys, feature groups, registries) carry `protect` in prod so a
mistaken `pulumi destroy` or a replace-triggering change stops instead of deleting data, and
`retain_on_delete` so that even a forced removal from the stack leaves the data in the account.
"""

from __future__ import annotations

import pulumi


def child(parent: pulumi.Resource, **extra: object) -> pulumi.ResourceOptions:
    """Options for an ordinary child: parented (so it inherits the provider) and nothing else."""
    return pulumi.ResourceOptions(parent=parent, **extra)  # type: ignore[arg-type]


def stateful(parent: pulumi.Resource, protect: bool, **extra: object) -> pulumi.ResourceOptions:
    """Options for a resource that holds data: protected and retained when `protect` is set."""
    return pulumi.ResourceOptions(
        parent=parent,
        protect=protect,
        retain_on_delete=protect,
        **extra,  # type: ignore[arg-type]
    )
