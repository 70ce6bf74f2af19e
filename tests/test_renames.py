"""Renaming a table, a feature group or a GPU pool from the stack file, without data loss.

`previousName` on the item: the program aliases the renamed resource (a pool's component, whose
children follow through the engine's parent aliases) and keeps the AWS names that cannot change.
Proved on the shipped `fraud-prod` stack rendered through the program, and with the data-loss
guard that `estate check --base` runs: no deletion with `previousName`, deletions without it.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import pytest

from estate.analysis.diff import diff_inventories
from estate.offline.model import Inventory, Resource
from estate.stack.config import ConfigError, stack_errors
from tests.conftest import ROOT, render_config, shipped_config

STACK = "fraud-prod"
TABLE = "aws:dynamodb/table:Table"
GROUP = "aws:sagemaker/featureGroup:FeatureGroup"
POOL = "ai-estate:compute:GpuNodePool"


def renamed_config(with_previous_name: bool) -> dict[str, Any]:
    """fraud-prod with `card-velocity` -> `card-features`, `transactions` -> `payments` and the
    `serve-a10g` pool -> `serve-gpu`, the endpoint's references edited as a user would."""
    config = shipped_config(STACK)
    store = copy.deepcopy(config["ai-estate:featureStore"])
    (table,) = [t for t in store["onlineTables"] if t["name"] == "card-velocity"]
    table["name"] = "card-features"
    (group,) = [g for g in store["featureGroups"] if g["name"] == "transactions"]
    group["name"] = "payments"
    pools = copy.deepcopy(config["ai-estate:gpuPools"])
    (pool,) = [p for p in pools if p["name"] == "serve-a10g"]
    pool["name"] = "serve-gpu"
    if with_previous_name:
        table["previousName"] = "card-velocity"
        group["previousName"] = "transactions"
        pool["previousName"] = "serve-a10g"
    serving = copy.deepcopy(config["ai-estate:serving"])
    for endpoint in serving["endpoints"]:
        if endpoint.get("gpuPool") == "serve-a10g":
            endpoint["gpuPool"] = "serve-gpu"
        endpoint["onlineTables"] = [
            "card-features" if t == "card-velocity" else t for t in endpoint.get("onlineTables", [])
        ]
    lake = copy.deepcopy(config["ai-estate:lakeFormation"])
    restricted = lake.get("restrictedColumns", {})
    if "transactions" in restricted:
        restricted["payments"] = restricted.pop("transactions")
    config["ai-estate:featureStore"] = store
    config["ai-estate:gpuPools"] = pools
    config["ai-estate:serving"] = serving
    config["ai-estate:lakeFormation"] = lake
    return config


@cache
def render(variant: str) -> Inventory:
    if variant == "shipped":
        return render_config(STACK, shipped_config(STACK))
    return render_config(STACK, renamed_config(variant == "previousName"))


def one(inventory: Inventory, type_: str, name_part: str) -> Resource:
    found = [r for r in inventory.resources if r.type == type_ and r.name.endswith(name_part)]
    assert len(found) == 1, (type_, name_part, [r.name for r in found])
    return found[0]


def test_the_renamed_config_is_valid():
    for with_previous in (True, False):
        _, errors = stack_errors(
            renamed_config(with_previous), STACK, f"stacks/Pulumi.{STACK}.yaml", ROOT / "stacks"
        )
        assert errors == []


def test_a_renamed_table_carries_an_alias_to_its_old_urn_and_keeps_its_aws_name():
    before = one(render("shipped"), TABLE, "-card-velocity")
    after = one(render("previousName"), TABLE, "-card-features")
    assert after.urn != before.urn
    assert before.urn in after.aliases
    assert after.inputs["name"] == before.inputs["name"] == "fraud-prod-card-velocity"


def test_a_renamed_feature_group_keeps_its_aws_names_and_moves_by_alias():
    before = one(render("shipped"), GROUP, "-transactions")
    after = one(render("previousName"), GROUP, "-payments")
    assert before.urn in after.aliases
    assert after.inputs["featureGroupName"] == before.inputs["featureGroupName"]
    assert after.inputs["offlineStoreConfig"] == before.inputs["offlineStoreConfig"]


def test_a_renamed_pools_component_and_every_child_carry_their_old_urns():
    base, renamed = render("shipped"), render("previousName")
    old_pool = one(base, POOL, "-gpu-serve-a10g")
    new_pool = one(renamed, POOL, "-gpu-serve-gpu")
    assert old_pool.urn in new_pool.aliases
    old_urns = {r.urn for r in base.resources}
    children = [r for r in renamed.resources if r.parent == new_pool.urn]
    assert children, "the pool has children"
    for child in children:
        assert any(a in old_urns for a in child.aliases), child.urn


def test_the_data_loss_guard_sees_a_move_with_previous_name():
    diff = diff_inventories(STACK, render("shipped"), render("previousName"))
    assert [f.message for f in diff.findings] == []
    moved = {c.urn for c in diff.changes if c.change == "moved"}
    assert one(render("previousName"), TABLE, "-card-features").urn in moved
    assert one(render("previousName"), GROUP, "-payments").urn in moved


def test_the_data_loss_guard_reports_the_deletions_without_previous_name():
    diff = diff_inventories(STACK, render("shipped"), render("plain"))
    deleted = {f.resource_name for f in diff.findings if f.policy.endswith("delete")}
    assert any(n.endswith("-card-velocity") for n in deleted), deleted
    assert any(n.endswith("-transactions") for n in deleted), deleted


def test_a_rename_that_changes_an_aws_name_is_a_replacement(monkeypatch):
    """The guard compares a moved resource with what it was: an alias does not hide a new AWS
    name (which DynamoDB can only get by replacing the table)."""
    before, after = render("shipped"), render("previousName")
    moved = copy.deepcopy(after)
    table = one(moved, TABLE, "-card-features")
    table.inputs = {**table.inputs, "name": "fraud-prod-card-features"}
    diff = diff_inventories(STACK, before, moved)
    assert any(f.policy.endswith("replace") and f.urn == table.urn for f in diff.findings)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.update(previousName=t["name"]), "previousName must differ from name"),
        (lambda t: t.update(previousName="other"), None),
    ],
)
def test_previous_name_is_validated_with_one_sentence(change, message):
    config = shipped_config(STACK)
    store = copy.deepcopy(config["ai-estate:featureStore"])
    change(store["onlineTables"][0])
    config["ai-estate:featureStore"] = store
    _, errors = stack_errors(config, STACK, f"stacks/Pulumi.{STACK}.yaml", ROOT / "stacks")
    if message is None:
        assert errors == []
    else:
        assert len(errors) == 1 and message in errors[0], errors
        assert "featureStore" in errors[0]


def test_two_items_cannot_claim_one_previous_name():
    config = shipped_config(STACK)
    store = copy.deepcopy(config["ai-estate:featureStore"])
    groups = store["featureGroups"]
    groups[0]["previousName"] = groups[1]["name"]
    config["ai-estate:featureStore"] = store
    _, errors = stack_errors(config, STACK, f"stacks/Pulumi.{STACK}.yaml", ROOT / "stacks")
    assert len(errors) == 1 and "also the name or previous name of another entry" in errors[0]
    with pytest.raises(ConfigError):
        raise ConfigError(errors)
