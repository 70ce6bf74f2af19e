"""The terminal view of `estate preview`: one stack's resources as a tree, by parent."""

from __future__ import annotations

from collections import Counter, defaultdict

from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from estate.offline.model import Inventory, Resource
from estate.reports.common import _one_line, _plural


def _children_by_parent(inventory: Inventory) -> tuple[list[Resource], dict[str, list[Resource]]]:
    """Roots (no parent, or a parent the inventory does not hold) and each URN's children."""
    known = {r.urn for r in inventory.resources}
    roots: list[Resource] = []
    children: dict[str, list[Resource]] = defaultdict(list)
    for resource in inventory.resources:
        if resource.parent and resource.parent in known and resource.parent != resource.urn:
            children[resource.parent].append(resource)
        else:
            roots.append(resource)
    return roots, children


def _descendants(urn: str, children: dict[str, list[Resource]]) -> list[Resource]:
    found: list[Resource] = []
    pending, seen = [urn], {urn}
    while pending:
        for child in children.get(pending.pop(), []):
            if child.urn not in seen:
                seen.add(child.urn)
                found.append(child)
                pending.append(child.urn)
    return found


_TIMES = " \N{MULTIPLICATION SIGN} "
STACK_TYPE = "pulumi:pulumi:Stack"


def _type_summary(counts: Counter[str], limit: int = 4) -> str:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    parts = [f"{n}{_TIMES}{t}" for t, n in ranked[:limit]]
    if len(ranked) > limit:
        parts.append(f"+{_plural(len(ranked) - limit, 'more type')}")
    return ", ".join(parts)


def inventory_tree(inventory: Inventory, *, collapse_over: int = 8) -> Tree:
    """The resources of one stack as a rich Tree, by parent.

    Components are branches labelled with how many resources of each type they hold; more than
    `collapse_over` siblings of one type are shown as one line: the count, a times sign, the type.
    """
    roots, children = _children_by_parent(inventory)
    descendants: dict[str, Counter[str]] = {}

    def counts_for(urn: str) -> Counter[str]:
        if urn not in descendants:
            descendants[urn] = Counter(r.type for r in _descendants(urn, children))
        return descendants[urn]

    def label(resource: Resource) -> Text:
        text = Text.assemble(
            (_one_line(resource.name), "bold" if children.get(resource.urn) else ""),
            "  ",
            (_one_line(resource.type), "cyan" if resource.custom else "magenta"),
        )
        if resource.protect:
            text.append("  protected", style="yellow")
        counts = counts_for(resource.urn)
        if counts:
            total = sum(counts.values())
            text.append(
                f"  ({_plural(total, 'resource')}: {_one_line(_type_summary(counts))})",
                style="dim",
            )
        return text

    def add(node: Tree, siblings: list[Resource], seen: set[str]) -> None:
        by_type: dict[str, list[Resource]] = defaultdict(list)
        for resource in siblings:
            by_type[resource.type].append(resource)
        # Branches (components) first, then leaves; each by type and name, for a stable view.
        ordered = sorted(
            by_type.items(),
            key=lambda item: (not any(children.get(r.urn) for r in item[1]), item[0]),
        )
        for resource_type, group in ordered:
            if len(group) > collapse_over:
                inner = sum(sum(counts_for(r.urn).values()) for r in group)
                text = Text.assemble(
                    (f"{len(group)}{_TIMES}", "bold"), (_one_line(resource_type), "cyan")
                )
                if inner:
                    text.append(f"  (+{_plural(inner, 'resource')} inside)", style="dim")
                node.add(text)
                continue
            for resource in sorted(group, key=lambda r: (r.name, r.urn)):
                if resource.urn in seen:
                    continue
                seen.add(resource.urn)
                branch = node.add(label(resource))
                add(branch, children.get(resource.urn, []), seen)

    title = Text.assemble(
        ("stack ", "dim"),
        (_one_line(inventory.stack), "bold"),
        (f"  ({_one_line(inventory.project)})", "dim") if inventory.project else "",
    )
    tree = Tree(title, guide_style="dim")
    # The stack resource is the title already: its children are the top level.
    top: list[Resource] = []
    for resource in roots:
        if resource.type == STACK_TYPE:
            top += children.get(resource.urn, [])
        else:
            top.append(resource)
    # Resources whose parents form a cycle hang from no root; show them rather than drop them.
    reachable = {r.urn for r in roots}
    for root in roots:
        reachable.update(r.urn for r in _descendants(root.urn, children))
    top += [r for r in inventory.resources if r.urn not in reachable]
    add(tree, top, set())
    return tree


def render_inventory_tree(
    inventory: Inventory, console: Console, *, collapse_over: int = 8
) -> None:
    """The view of `estate preview --format table`: the resource tree, then a total line."""
    # soft_wrap off: a console made with soft_wrap=True would cut long labels at its width.
    console.print(inventory_tree(inventory, collapse_over=collapse_over), soft_wrap=False)
    custom = sum(1 for r in inventory.resources if r.custom)
    by_type = Counter(r.type for r in inventory.resources)
    console.print(
        Text.assemble(
            ("Total: ", "bold"),
            f"{_plural(len(inventory.resources), 'resource')} "
            f"({custom} custom, {len(inventory.resources) - custom} components) "
            f"of {_plural(len(by_type), 'type')} in stack {_one_line(inventory.stack)}",
        )
    )
