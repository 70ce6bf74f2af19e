"""What a BU stack takes from its platform, and what the platform no longer does itself.

- A BU's GPU pools must use a provisioner the platform installs (`gpuProvisioners`): a `managed`
  pool on a Karpenter-only platform deploys and never scales (issue 11, item 18). Checked by
  the schema when the platform's stack file is beside the BU's, and by the program from the
  platform's outputs otherwise.
- Karpenter pools boot a pinned AMI release outside dev (item 9): the schema and the pack.
- The AMP collector's access entry is AMP's own; the platform binds RBAC to its username only
  (item 2). Cost-allocation tags are not activated by any platform stack (item 3).
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from estate.offline.engine import ProgramError, render
from estate.offline.runner import run_pack
from estate.stack.config import ConfigError, load_stack, validate_config

ROOT = Path(__file__).resolve().parent.parent
STACKS = ROOT / "stacks"
PACK = ROOT / "policies"
MANAGED_T4 = {
    "name": "serve-t4",
    "provisioner": "managed",
    "instanceTypes": ["g4dn.xlarge", "g4dn.2xlarge"],
    "capacityType": "on-demand",
    "maxSize": 2,
}


def stack_doc(name: str) -> dict:
    return yaml.safe_load((STACKS / f"Pulumi.{name}.yaml").read_text())


def write_stack(directory: Path, name: str, doc: dict) -> Path:
    path = directory / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


# -- item 18: pools against the platform's provisioners ------------------------------------------


def test_a_managed_pool_on_a_karpenter_only_platform_is_a_config_error(tmp_path):
    shutil.copy(STACKS / "Pulumi.platform-dev.yaml", tmp_path)
    doc = stack_doc("marketing-dev")
    doc["config"]["ai-estate:gpuPools"].append(MANAGED_T4)
    path = write_stack(tmp_path, "marketing-dev", doc)
    with pytest.raises(ConfigError) as caught:
        load_stack(path, "stacks/Pulumi.marketing-dev.yaml")
    [line] = caught.value.lines
    assert line.startswith("stacks/Pulumi.marketing-dev.yaml: ai-estate:gpuPools[1].provisioner: ")
    assert "'managed' is not installed on the platform" in line
    assert "Pulumi.platform-dev.yaml" in line and "\n" not in line


def test_the_same_pool_passes_where_the_platform_runs_the_autoscaler(tmp_path):
    doc = stack_doc("platform-dev")
    doc["config"]["ai-estate:cluster"]["gpuProvisioners"] = ["managed", "karpenter"]
    write_stack(tmp_path, "platform-dev", doc)
    bu = stack_doc("marketing-dev")
    bu["config"]["ai-estate:gpuPools"].append(MANAGED_T4)
    assert load_stack(write_stack(tmp_path, "marketing-dev", bu)).config.gpu_pools[1].name == (
        "serve-t4"
    )


def test_the_shipped_bu_stacks_match_their_platforms():
    for name in ("fraud-prod", "marketing-dev"):
        load_stack(STACKS / f"Pulumi.{name}.yaml")


def test_the_program_refuses_the_pool_from_the_platform_outputs(rendered):
    """A platform stack kept elsewhere: the program checks the `gpuProvisioners` output."""
    config = stack_doc("marketing-dev")["config"]
    config["ai-estate:gpuPools"] = [*config["ai-estate:gpuPools"], MANAGED_T4]
    config["ai-estate:tenant"] = {**config["ai-estate:tenant"], "gpuQuota": 6}
    outputs = rendered("platform-dev").outputs
    with pytest.raises(ProgramError, match="'managed' is not installed on the platform"):
        render(
            ROOT,
            stack="marketing-dev",
            project="ai-estate",
            config=config,
            stack_outputs=lambda _ref: outputs,
        )
    fine = render(
        ROOT,
        stack="marketing-dev",
        project="ai-estate",
        config=config,
        stack_outputs=lambda _ref: {**outputs, "gpuProvisioners": ["managed", "karpenter"]},
    )
    assert any(r.type == "aws:eks/nodeGroup:NodeGroup" for r in fine.resources)


def test_platforms_export_what_bu_stacks_read(rendered):
    for name in ("platform-dev", "platform-prod"):
        outputs = rendered(name).outputs
        config = stack_doc(name)["config"]
        assert outputs["vpcCidr"] == config["ai-estate:network"]["cidr"]
        assert outputs["gpuProvisioners"] == config["ai-estate:cluster"]["gpuProvisioners"]
        assert outputs["timeSlicingReplicas"] == config["ai-estate:cluster"].get(
            "timeSlicingReplicas"
        )


# -- item 9: pinned Karpenter AMIs ---------------------------------------------------------------


def bu_values(name: str) -> dict:
    prefix = "ai-estate:"
    return {
        k[len(prefix) :]: v for k, v in stack_doc(name)["config"].items() if k.startswith(prefix)
    }


def test_the_schema_refuses_latest_in_prod_and_allows_it_in_dev():
    values = bu_values("fraud-prod")
    pools = copy.deepcopy(values["gpuPools"])
    pools[1].pop("amiVersion")
    with pytest.raises(ConfigError) as caught:
        validate_config({**values, "gpuPools": pools}, "stacks/Pulumi.fraud-prod.yaml")
    assert "ai-estate:gpuPools[1]: amiVersion 'latest' is allowed in dev only" in str(caught.value)
    pools[1]["amiVersion"] = "20251120"  # no leading v
    with pytest.raises(ConfigError, match="amiVersion"):
        validate_config({**values, "gpuPools": pools}, "f")
    # dev tracks latest on purpose
    assert validate_config(bu_values("marketing-dev"), "f").gpu_pools[0].ami_version == "latest"


def test_the_shipped_prod_pool_boots_the_pinned_release(rendered):
    [node_class] = [r for r in rendered("fraud-prod").resources if r.type.endswith(":EC2NodeClass")]
    pinned = stack_doc("fraud-prod")["config"]["ai-estate:gpuPools"][1]["amiVersion"]
    assert node_class.inputs["spec"]["amiSelectorTerms"] == [{"alias": f"al2023@{pinned}"}]


def findings(inventory, policy: str):
    return [f for f in run_pack(PACK, inventory).findings if f.policy == policy]


def test_the_pack_blocks_an_unpinned_node_class_in_prod_only(rendered):
    prod = rendered("fraud-prod")
    assert findings(prod, "karpenter-ami-pinned") == []
    broken = copy.deepcopy(prod)
    for r in broken.resources:
        if r.type.endswith(":EC2NodeClass"):
            r.inputs["spec"]["amiSelectorTerms"] = [{"alias": "al2023@latest"}]
    [finding] = findings(broken, "karpenter-ami-pinned")
    assert finding.blocking and "al2023@latest" in finding.message
    # marketing-dev tracks latest: the rule is off in dev
    assert findings(rendered("marketing-dev"), "karpenter-ami-pinned") == []


# -- items 2 and 3: what the platform stack no longer creates ------------------------------------


@pytest.mark.parametrize("name", ["platform-dev", "platform-prod"])
def test_the_amp_collector_is_bound_to_amps_own_access_entry_user(rendered, name):
    inventory = rendered(name)
    [scraper] = [r for r in inventory.resources if r.type == "aws:amp/scraper:Scraper"]
    entries = [r for r in inventory.resources if r.type == "aws:eks/accessEntry:AccessEntry"]
    # AMP creates the scraper role's entry itself (API authentication mode); a second entry
    # for the same principal would fail, so none of ours is the scraper's
    assert all(scraper.urn not in r.dependencies for r in entries)
    assert all(r.inputs.get("userName") != "aps-collector-user" for r in entries)
    by_kind = {
        r.inputs["kind"]: r
        for r in inventory.resources
        if r.type.startswith("kubernetes:rbac") and r.inputs["metadata"]["name"].startswith("aps-")
    }
    binding, role = by_kind["ClusterRoleBinding"], by_kind["ClusterRole"]
    assert binding.inputs["subjects"] == [
        {"kind": "User", "name": "aps-collector-user", "apiGroup": "rbac.authorization.k8s.io"}
    ]
    assert binding.inputs["roleRef"]["name"] == role.inputs["metadata"]["name"]
    reads = {res for rule in role.inputs["rules"] for res in rule.get("resources", [])}
    assert {"nodes", "nodes/metrics", "endpoints", "pods", "services"} <= reads


@pytest.mark.parametrize("name", ["platform-dev", "platform-prod", "fraud-prod", "marketing-dev"])
def test_no_stack_activates_cost_allocation_tags(rendered, name):
    # Cost categories and anomaly monitors (telemetry) are Cost Explorer resources a member
    # account may own; activating a cost-allocation tag is the management account's alone.
    import pulumi_aws as aws

    assert hasattr(aws.costexplorer, "CostAllocationTag")
    token = "aws:costexplorer/costAllocationTag:CostAllocationTag"
    assert not [r for r in rendered(name).resources if r.type == token]


def test_the_old_opt_in_is_a_one_line_error_pointing_at_the_management_account():
    values = bu_values("platform-prod")
    with pytest.raises(ConfigError) as caught:
        validate_config({**values, "activateCostAllocationTags": True}, "stacks/x.yaml")
    [line] = caught.value.lines
    assert "management account" in line and "update-cost-allocation-tags-status" in line
    # ...and the docs say what to run and what budgets do until then
    readme = (ROOT / "README.md").read_text()
    assert "update-cost-allocation-tags-status" in readme
    assert "TagKey=BusinessUnit,Status=Active" in readme
    assert "every BU budget" in readme and "never notifies" in readme
