"""The data-loss guard: deletes, replacements and lost protection of data stores are findings."""

from __future__ import annotations

import datetime as dt
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


def _schema(definition: dict, **inputs) -> Resource:
    return res(
        "bu-data-quality-g-schema",
        "aws:glue/schema:Schema",
        inputs={
            "schemaName": "bu-g",
            "dataFormat": "AVRO",
            "compatibility": "BACKWARD",
            "schemaDefinition": json.dumps(definition),
            **inputs,
        },
    )


def _avro(*fields: dict) -> dict:
    return {
        "type": "record",
        "name": "bu_g",
        "namespace": "estate.features",
        "fields": list(fields),
    }


def test_an_incompatible_schema_change_is_a_finding_and_a_compatible_one_is_not():
    from estate.analysis.diff import SCHEMA_POLICY

    key = {"name": "id", "type": "string"}
    old = _avro(key, {"name": "n", "type": ["null", "long"], "default": None})
    retyped = _avro(key, {"name": "n", "type": ["null", "string"], "default": None})
    [finding] = diff_inventories("s", inv(_schema(old)), inv(_schema(retyped))).findings
    assert finding.policy == SCHEMA_POLICY and finding.blocking
    assert "'bu-g'" in finding.message and "field 'n' changed type" in finding.message
    added = _avro(*old["fields"], {"name": "m", "type": ["null", "double"], "default": None})
    diff = diff_inventories("s", inv(_schema(old)), inv(_schema(added)))
    assert diff.findings == [] and [c.change for c in diff.changes] == ["changed"]
    assert diff_inventories("s", inv(_schema(old)), inv(_schema(_avro(key)))).findings == []
    # a schema whose compatibility is NONE: Glue checks nothing, and neither does the guard
    relaxed = _schema(retyped, compatibility="NONE")
    assert diff_inventories("s", inv(_schema(old)), inv(relaxed)).findings == []


def test_a_live_waiver_in_the_stack_file_waives_a_schema_finding_only():
    import datetime as dt

    from estate.offline.gate import waive_base_findings

    key = {"name": "id", "type": "string"}
    old = _avro(key, {"name": "n", "type": ["null", "long"], "default": None})
    new = _avro(key, {"name": "n", "type": ["null", "string"], "default": None})
    findings = diff_inventories("s", inv(_schema(old)), inv(_schema(new))).findings
    findings += diff_inventories("s", inv(res("t")), inv()).findings  # a data-loss delete
    waiver = {
        "resource": "*",
        "reason": "reviewed and readers migrated",
        "ticket": "DATA-1",
        "expires": (dt.date.today() + dt.timedelta(days=5)).isoformat(),
    }
    config = {
        "ai-estate:waivers": json.dumps(
            [{**waiver, "policy": f.policy} for f in findings]  # both policies waived
        )
    }
    out = waive_base_findings(findings, config)
    assert [(f.policy, f.blocking) for f in out] == [
        ("feature-schema-incompatible", False),
        (DELETE_POLICY, True),  # a data-loss delete is not waivable
    ]
    assert out[0].waived_by and out[0].waived_by["ticket"] == "DATA-1"
    expired = {**waiver, "policy": "feature-schema-incompatible", "expires": "2020-01-01"}
    config = {"ai-estate:waivers": [expired]}
    assert [f.blocking for f in waive_base_findings(findings, config)] == [True, True]


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


def test_base_jobs_use_the_base_trees_own_code(tmp_path, monkeypatch):
    import contextlib

    from estate.cli import _base_jobs
    from estate.offline import selection
    from estate.offline.project import ROOT, load_project

    # The rendering code differs at the base (as in any PR that changes estate/ or components/).
    monkeypatch.setattr(selection, "render_code_changed", lambda *_: True)
    proj = load_project(ROOT)
    with contextlib.ExitStack() as scratch:
        jobs, failed = _base_jobs(proj, "HEAD", ["platform-dev"], False, scratch)
        [job] = jobs
        assert failed == []
        assert job.code_root is not None and (job.code_root / "estate" / "__init__.py").is_file()


def test_base_jobs_with_unchanged_code_share_unchanged_platform_renders(tmp_path):
    """When neither the code nor a platform stack file changed since the base, the base is
    rendered in the workers with today's code and reads today's platform render."""
    import contextlib

    from estate.cli import _base_jobs
    from estate.offline.project import load_project

    repo = _project_repo(tmp_path / "repo", ("platform-dev", "platform-prod", "marketing-dev"))
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    prod = repo / "stacks" / "Pulumi.platform-prod.yaml"
    prod.write_text(prod.read_text() + "# changed\n")
    proj = load_project(repo)
    with contextlib.ExitStack() as scratch:
        jobs, failed = _base_jobs(proj, "HEAD", ["marketing-dev"], False, scratch)
    [job] = jobs
    assert failed == [] and job.code_root is None and job.outputs_from == proj.path
    assert job.shared_outputs == {"platform-dev"}  # platform-prod changed: rendered at the base
    (repo / "components").unlink()  # the code changed (a new components/ tree)
    (repo / "components").mkdir()
    (repo / "components" / "x.py").write_text("")
    with contextlib.ExitStack() as scratch:
        [job], _ = _base_jobs(proj, "HEAD", ["marketing-dev"], False, scratch)
    assert job.code_root is not None and not job.shared_outputs


def _estate_check(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "estate", "check", "--project", str(repo), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _project_repo(path: Path, stacks: tuple[str, ...]) -> Path:
    path.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, path / name)
    for name in ("components", "estate"):
        (path / name).symlink_to(ROOT / name)
    (path / "stacks").mkdir()
    for stack in stacks:
        shutil.copy(ROOT / "stacks" / f"Pulumi.{stack}.yaml", path / "stacks")
    return path


def test_check_base_reports_a_base_stack_file_that_does_not_validate(tmp_path):
    """The shipped BU stacks at a base commit where their files did not validate: the PR that
    fixes them is still told, per stack, that its data-loss comparison did not run."""
    stacks = ("platform-dev", "platform-prod", "fraud-prod", "marketing-dev")
    repo = _project_repo(tmp_path / "repo", stacks)
    for bu in ("fraud-prod", "marketing-dev"):
        path = repo / "stacks" / f"Pulumi.{bu}.yaml"
        path.write_text(path.read_text() + "  ai-estate:noSuchKey: 1\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base with invalid BU stack files")
    for bu in ("fraud-prod", "marketing-dev"):
        shutil.copy(ROOT / "stacks" / f"Pulumi.{bu}.yaml", repo / "stacks")

    report = tmp_path / "r.json"
    done = _estate_check(repo, "--all", "--affected", "--base", "HEAD", "--json", str(report))
    assert done.returncode == 1, done.stdout + done.stderr  # blocking in prod
    by_stack = {s["stack"]: s for s in json.loads(report.read_text())["stacks"]}
    assert set(by_stack) == {"fraud-prod", "marketing-dev"}  # the platforms did not change
    levels = {}
    for name, data in by_stack.items():
        [finding] = [f for f in data["findings"] if f["policy"] == "base-not-rendered"]
        assert "ai-estate:noSuchKey" in finding["message"], finding
        assert "were not checked" in finding["message"]
        levels[name] = finding["enforcement"]
        others = [f for f in data["findings"] if f["policy"] != "base-not-rendered"]
        assert others == [], others  # the fixed stacks pass the pack
    assert levels == {"fraud-prod": "mandatory", "marketing-dev": "advisory"}

    escalated = _estate_check(
        repo, "--stack", "marketing-dev", "--base", "HEAD", "--base-unrenderable", "blocking"
    )
    assert escalated.returncode == 1, escalated.stdout + escalated.stderr
    assert "base-not-rendered" in escalated.stdout

    wrong = _estate_check(
        repo, "--stack", "marketing-dev", "--base", "HEAD", "--base-unrenderable", "off"
    )
    assert wrong.returncode == 2 and "--base-unrenderable must be one of" in wrong.stderr


def test_base_project_that_does_not_load_fails_every_stack_comparison(tmp_path):
    """A base whose Pulumi.yaml is broken is not "no project at the base" (all stacks new): each
    stack's comparison is reported as not rendered, with the reason."""
    import contextlib

    from estate.cli import _base_jobs
    from estate.offline.gate import BASE_UNRENDERED, attach_diffs

    repo = _project_repo(tmp_path / "repo", ("platform-dev",))
    manifest = repo / "Pulumi.yaml"
    good = manifest.read_text()
    manifest.write_text("runtime: python\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base without a project name")
    manifest.write_text(good)
    from estate.offline.project import load_project

    with contextlib.ExitStack() as scratch:
        jobs, failed = _base_jobs(load_project(repo), "HEAD", ["platform-dev"], False, scratch)
    assert jobs == [] and [f.stack for f in failed] == ["platform-dev"]
    now = _result("platform-dev", "dev", Inventory(stack="platform-dev", project="p", resources=[]))
    [result] = attach_diffs([now], failed)
    [finding] = [f for f in result.findings if f.policy == BASE_UNRENDERED]
    assert "name: is required" in finding.message and not finding.blocking
    assert result.diff is None


def _fraud_features(repo: Path, edit) -> None:
    """Edit the transactions feature group of the repo's fraud-prod stack file."""
    stack_file = repo / "stacks" / "Pulumi.fraud-prod.yaml"
    doc = yaml.safe_load(stack_file.read_text())
    [group] = [
        g
        for g in doc["config"]["ai-estate:featureStore"]["featureGroups"]
        if g["name"] == "transactions"
    ]
    edit(doc, group)
    stack_file.write_text(yaml.safe_dump(doc))


def test_check_base_blocks_a_backward_incompatible_feature_schema_change(tmp_path):
    """Glue BACKWARD on the shipped fraud-prod stack: a feature's type changing from Integral to
    String blocks (naming the group and the feature) until a reviewed waiver covers it; adding
    a feature (nullable, with a default, as the generator makes it) and removing one pass."""
    from estate.analysis.diff import SCHEMA_POLICY

    repo = _project_repo(tmp_path / "repo", ("platform-prod", "fraud-prod"))
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    base_file = (repo / "stacks" / "Pulumi.fraud-prod.yaml").read_text()
    report = tmp_path / "r.json"

    def retype(_doc, group):
        [feature] = [f for f in group["features"] if f["name"] == "card_present"]
        feature.update(type="String")
        feature.pop("min"), feature.pop("max")

    _fraud_features(repo, retype)
    done = _estate_check(repo, "--stack", "fraud-prod", "--base", "HEAD", "--json", str(report))
    assert done.returncode == 1, done.stdout + done.stderr
    [stack] = json.loads(report.read_text())["stacks"]
    [finding] = [f for f in stack["findings"] if f["blocking"]]
    assert finding["policy"] == SCHEMA_POLICY
    assert finding["resource_type"] == "aws:glue/schema:Schema"
    assert "'fraud-prod-transactions'" in finding["message"]
    assert "field 'card_present' changed type" in finding["message"]
    assert "ai-estate:waivers" in finding["message"]

    def waive(doc, _group):
        doc["config"]["ai-estate:waivers"] = [
            {
                "policy": SCHEMA_POLICY,
                "resource": finding["resource_name"],
                "reason": "card_present is re-ingested as text; readers migrated in DATA-77",
                "ticket": "DATA-77",
                "expires": (dt.date.today() + dt.timedelta(days=30)).isoformat(),
            }
        ]

    _fraud_features(repo, waive)
    done = _estate_check(repo, "--stack", "fraud-prod", "--base", "HEAD", "--json", str(report))
    assert done.returncode == 0, done.stdout + done.stderr
    [stack] = json.loads(report.read_text())["stacks"]
    [waived] = [f for f in stack["findings"] if f["policy"] == SCHEMA_POLICY]
    assert waived["waived_by"]["ticket"] == "DATA-77" and not waived["blocking"]

    (repo / "stacks" / "Pulumi.fraud-prod.yaml").write_text(base_file)

    def add_and_remove(_doc, group):
        group["features"] = [f for f in group["features"] if f["name"] != "merchant_category"]
        group["features"].append({"name": "device_risk", "type": "Fractional"})

    _fraud_features(repo, add_and_remove)
    done = _estate_check(repo, "--stack", "fraud-prod", "--base", "HEAD", "--json", str(report))
    assert done.returncode == 0, done.stdout + done.stderr
    [stack] = json.loads(report.read_text())["stacks"]
    assert [f for f in stack["findings"] if f["blocking"]] == []
    changed = [c for c in stack["diff"]["changes"] if c["type"] == "aws:glue/schema:Schema"]
    assert [c["detail"] for c in changed] == ["schemaDefinition"]
