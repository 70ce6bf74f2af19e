"""`estate preview --format json` carries every resource option the engine receives.

Reviews and checks read the JSON inventory; an `ignore_changes` that keeps the cluster-autoscaler
and `pulumi up` from fighting over a node group's size is only reviewable if it is there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pulumi
import pulumi_aws as aws

from estate.offline.engine import render

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_managed_pool_keeps_ignore_changes_in_the_preview_json():
    done = subprocess.run(
        [sys.executable, "-m", "estate", "preview", "--stack", "fraud-prod", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    resources = {r["name"]: r for r in json.loads(done.stdout)["resources"]}
    group = resources["fraud-prod-gpu-serve-a10g-node-group"]
    assert group["options"]["ignoreChanges"] == ["scalingConfig.desiredSize"]
    # explicit depends_on survives too: the pool waits for the tenant and the node role (the
    # SDK sends a component dependency as its resources)
    pool = resources["fraud-prod-gpu-serve-a10g"]
    depends_on = pool["options"]["dependsOn"]
    assert any(u.endswith("::fraud-prod-tenant-quota") for u in depends_on)
    assert any(u.endswith("::fraud-prod-gpu-node-role-access-entry") for u in depends_on)
    # a resource with no such options says so by an empty map, not missing keys
    assert all("options" in r for r in resources.values())


def test_every_option_the_program_sets_is_recorded():
    def program() -> None:
        first = aws.s3.Bucket("first")
        aws.s3.Bucket(
            "second",
            tags={"from": first.bucket},
            opts=pulumi.ResourceOptions(
                depends_on=[first],
                ignore_changes=["tags"],
                replace_on_changes=["bucket"],
                delete_before_replace=True,
                custom_timeouts=pulumi.CustomTimeouts(create="30m", delete="1h"),
                protect=True,
                retain_on_delete=True,
                deleted_with=first,
            ),
        )

    inventory = render(program, stack="dev", project="p", config={"aws:region": "us-east-1"})
    by_name = {r.name: r.to_json() for r in inventory.resources}
    first, second = by_name["first"], by_name["second"]
    assert first["options"] == {}
    assert second["options"] == {
        "ignoreChanges": ["tags"],
        "replaceOnChanges": ["bucket"],
        "deleteBeforeReplace": True,
        "customTimeouts": {"create": "30m", "delete": "1h"},
        # `first` is also an input dependency (tags), so it is not an extra depends_on
        "deletedWith": first["urn"],
    }
    assert second["protect"] is True and second["retainOnDelete"] is True
    assert first["urn"] in second["dependencies"]


def test_depends_on_lists_what_no_input_implies():
    def program() -> None:
        first = aws.s3.Bucket("first")
        aws.s3.Bucket("second", opts=pulumi.ResourceOptions(depends_on=[first]))

    inventory = render(program, stack="dev", project="p", config={"aws:region": "us-east-1"})
    by_name = {r.name: r.to_json() for r in inventory.resources}
    assert by_name["second"]["options"] == {"dependsOn": [by_name["first"]["urn"]]}
