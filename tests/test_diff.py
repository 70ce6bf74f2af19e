"""The data-loss guard: deletes, replacements and lost protection of data stores are findings."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from estate.analysis.diff import (
    DELETE_POLICY,
    REPLACE_POLICY,
    UNPROTECT_POLICY,
    diff_inventories,
)
from estate.offline.model import Inventory, Resource

ROOT = Path(__file__).resolve().parent.parent
TABLE = "aws:dynamodb/table:Table"


def res(name: str, typ: str = TABLE, **kw) -> Resource:
    urn = kw.pop("urn", f"urn:pulumi:s::p::{typ}::{name}")
    return Resource(urn=urn, type=typ, name=name, custom=True, inputs=kw.pop("inputs", {}), **kw)


def inv(*resources: Resource) -> Inventory:
    return Inventory(stack="s", project="p", resources=list(resources))


def test_removed_data_store_is_a_delete_finding():
    diff = diff_inventories("s", inv(res("orders")), inv())
    assert [f.policy for f in diff.findings] == [DELETE_POLICY]
    assert "would delete aws:dynamodb/table:Table 'orders'" in diff.findings[0].message
    assert diff.count("removed") == 1


def test_rename_with_alias_is_a_move_not_a_delete():
    old = res("orders")
    new = res("orders-v2", aliases=[old.urn])
    diff = diff_inventories("s", inv(old), inv(new))
    assert diff.findings == [] and diff.count("moved") == 1 and diff.count("added") == 0


def test_retained_or_stateless_removals_are_reported_but_not_blocking():
    diff = diff_inventories(
        "s",
        inv(res("orders", retain_on_delete=True), res("sg", "aws:ec2/securityGroup:SecurityGroup")),
        inv(),
    )
    assert diff.findings == [] and diff.count("removed") == 2


def test_create_only_change_on_a_data_store_is_a_replace_finding():
    before = inv(res("orders", inputs={"hashKey": "id", "billingMode": "PAY_PER_REQUEST"}))
    after = inv(res("orders", inputs={"hashKey": "order_id", "billingMode": "PAY_PER_REQUEST"}))
    diff = diff_inventories("s", before, after)
    assert [f.policy for f in diff.findings] == [REPLACE_POLICY]
    assert "hashKey" in diff.findings[0].message and diff.count("replaced") == 1
    in_place = diff_inventories(
        "s", before, inv(res("orders", inputs={"hashKey": "id", "billingMode": "PROVISIONED"}))
    )
    assert in_place.findings == [] and in_place.count("changed") == 1


def test_losing_protect_is_a_finding():
    diff = diff_inventories("s", inv(res("orders", protect=True)), inv(res("orders")))
    assert [f.policy for f in diff.findings] == [UNPROTECT_POLICY]


def test_whole_stack_removed():
    diff = diff_inventories("s", inv(res("orders"), res("k", "aws:kms/key:Key")), None)
    assert {f.resource_name for f in diff.findings} == {"orders", "k"}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
    )


def test_check_base_blocks_a_stack_file_change_that_drops_a_feature_group(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, repo / name)
    for name in ("components", "estate"):
        (repo / name).symlink_to(ROOT / name)
    (repo / "stacks").mkdir()
    for stack in ("platform-prod", "fraud-prod"):
        shutil.copy(ROOT / "stacks" / f"Pulumi.{stack}.yaml", repo / "stacks")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")

    stack_file = repo / "stacks" / "Pulumi.fraud-prod.yaml"
    doc = yaml.safe_load(stack_file.read_text())
    groups = doc["config"]["ai-estate:featureStore"]["featureGroups"]
    doc["config"]["ai-estate:featureStore"]["featureGroups"] = [
        g for g in groups if g["name"] != "merchants"
    ]
    stack_file.write_text(yaml.safe_dump(doc))

    report = tmp_path / "r.json"
    md = tmp_path / "r.md"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "estate",
            "check",
            "--project",
            str(repo),
            "--stack",
            "fraud-prod",
            "--base",
            "HEAD",
            "--json",
            str(report),
            "--markdown",
            str(md),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    [stack] = json.loads(report.read_text())["stacks"]
    deletes = [f for f in stack["findings"] if f["policy"] == DELETE_POLICY]
    assert {f["resource_name"] for f in deletes} == {"fraud-prod-features-merchants"}
    assert stack["diff"]["summary"]["removed"] >= 1
    assert (
        "Resource changes" in md.read_text() and "fraud-prod-features-merchants" in md.read_text()
    )

    bad_ref = subprocess.run(
        [
            sys.executable,
            "-m",
            "estate",
            "check",
            "--project",
            str(repo),
            "--stack",
            "fraud-prod",
            "--base",
            "no-such-ref",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad_ref.returncode == 2 and "--base no-such-ref" in bad_ref.stderr


def _result(stack: str, environment: str, inventory: Inventory | None, error: str | None = None):
    from estate.offline.model import StackResult

    if inventory is not None:
        inventory.config = {"ai-estate:environment": environment}
    result = StackResult(stack=stack, source=f"stacks/Pulumi.{stack}.yaml")
    result.inventory, result.error = inventory, error
    return result


def test_a_base_that_cannot_be_rendered_is_reported_per_stack_never_skipped():
    from estate.offline.gate import BASE_UNRENDERED, attach_diffs

    now = [
        _result("fraud-prod", "prod", Inventory(stack="fraud-prod", project="p", resources=[])),
        _result("mkt-dev", "dev", Inventory(stack="mkt-dev", project="p", resources=[])),
    ]
    base = [
        _result("fraud-prod", "prod", None, "stacks/Pulumi.fraud-prod.yaml: boom"),
        _result("mkt-dev", "dev", None, "stacks/Pulumi.mkt-dev.yaml: boom"),
    ]
    fraud, mkt = attach_diffs(now, base)
    [f] = [x for x in fraud.findings if x.policy == BASE_UNRENDERED]
    [m] = [x for x in mkt.findings if x.policy == BASE_UNRENDERED]
    assert f.blocking and not m.blocking  # blocking in prod, advisory elsewhere
    assert "boom" in f.message and "were not checked" in f.message


def test_inventories_read_back_from_preview_json_are_the_same():
    r = Resource(
        urn="urn:pulumi:s::p::aws:s3/bucket:Bucket::b",
        type="aws:s3/bucket:Bucket",
        name="b",
        custom=True,
        inputs={"bucket": "b"},
        protect=True,
        ignore_changes=["tags"],
        delete_before_replace=True,
    )
    inv = Inventory(stack="s", project="p", resources=[r], outputs={"x": 1})
    back = Inventory.from_json(json.loads(json.dumps(inv.to_json())))
    assert back.to_json() == inv.to_json()


def test_base_jobs_use_the_base_trees_own_code(tmp_path):
    import contextlib

    from estate.cli import _base_jobs
    from estate.offline.project import ROOT, load_project

    proj = load_project(ROOT)
    with contextlib.ExitStack() as scratch:
        jobs = _base_jobs(proj, "HEAD", ["platform-dev"], False, scratch)
        [job] = jobs
        assert job.code_root is not None and (job.code_root / "estate" / "__init__.py").is_file()
