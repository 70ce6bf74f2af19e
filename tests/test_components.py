"""Components under the Pulumi mock runtime, and the pure functions beside them."""

from __future__ import annotations

import ipaddress
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components import naming
from components.network import plan_subnets
from components.tags import REQUIRED_TAG_KEYS, merge_tags, missing_tag_keys, ownership_tags

STATEFUL_TYPES = {
    "aws:s3/bucket:Bucket",
    "aws:dynamodb/table:Table",
    "aws:kms/key:Key",
    "aws:sagemaker/featureGroup:FeatureGroup",
    "aws:glue/catalogDatabase:CatalogDatabase",
}


# -- pure functions -----------------------------------------------------------------------


@given(
    base=st.sampled_from(["10.0.0.0/16", "10.20.0.0/16", "172.16.0.0/18", "192.168.0.0/20"]),
    azs=st.integers(min_value=2, max_value=6),
)
def test_subnet_plan_is_disjoint_and_inside_the_vpc(base, azs):
    vpc = ipaddress.IPv4Network(base)
    plan = plan_subnets(base, azs)
    blocks = [ipaddress.IPv4Network(c) for p in plan for c in (p.private_cidr, p.public_cidr)]
    assert len(plan) == azs
    assert all(b.subnet_of(vpc) for b in blocks)
    for i, a in enumerate(blocks):
        for b in blocks[i + 1 :]:
            assert not a.overlaps(b)
    # private subnets are the big ones: EKS gives every pod a VPC address
    assert all(
        ipaddress.IPv4Network(p.private_cidr).num_addresses
        > ipaddress.IPv4Network(p.public_cidr).num_addresses
        for p in plan
    )


def test_subnet_plan_is_stable_and_rejects_bad_input():
    assert plan_subnets("10.0.0.0/16", 3) == plan_subnets("10.0.0.0/16", 3)
    assert plan_subnets("10.0.0.0/16", 3)[0].private_cidr == "10.0.0.0/18"
    with pytest.raises(ValueError):
        plan_subnets("10.0.0.0/16", 7)


def test_ownership_tags_cannot_be_overridden_by_components():
    base = ownership_tags(
        business_unit="fraud",
        owner="o@example.com",
        cost_center="CC-1",
        environment="prod",
        data_classification="restricted",
    )
    merged = merge_tags(base, {"BusinessUnit": "marketing", "Name": "x"})
    assert merged["BusinessUnit"] == "fraud" and merged["Name"] == "x"
    assert missing_tag_keys(merged) == []
    assert missing_tag_keys({"Owner": " "}) == [k for k in REQUIRED_TAG_KEYS]


def test_bucket_names_are_dns_safe_unique_per_account_and_bounded():
    a = naming.bucket_name("fraud", "prod", "features", "111111111111")
    b = naming.bucket_name("fraud", "prod", "features", "222222222222")
    assert a != b and a.startswith("fraud-prod-features-") and len(a) <= 63
    assert "111111111111" not in a
    with pytest.raises(ValueError):
        naming.bucket_name("a" * 30, "staging", "x" * 30, "1")
    assert naming.glue_database_name("fraud", "prod", "features") == "fraud_prod_features"


# -- rendered stacks ----------------------------------------------------------------------


def by_type(inventory, typ):
    return [r for r in inventory.resources if r.type == typ]


def test_every_resource_hangs_under_a_component_with_the_explicit_provider(rendered):
    for stack in ("platform-prod", "fraud-prod"):
        inv = rendered(stack)
        types = {r.urn: r.type for r in inv.resources}
        provider = [r for r in inv.resources if r.type == "pulumi:providers:aws"]
        assert len(provider) == 1
        defaults = json.loads(provider[0].inputs["defaultTags"])["tags"]
        assert missing_tag_keys(defaults) == []
        for r in inv.resources:
            if r.type.startswith("aws:"):
                assert r.provider and r.provider.startswith(provider[0].urn), r.urn
                assert types[r.parent].startswith("ai-estate:"), f"{r.urn} is outside a component"


def test_taggable_resources_carry_ownership_tags_explicitly(rendered):
    inv = rendered("fraud-prod")
    tagged = [r for r in inv.resources if "tags" in r.inputs]
    assert len(tagged) >= 8
    for r in tagged:
        assert missing_tag_keys(r.inputs["tags"]) == [], r.urn
        assert r.inputs["tags"]["BusinessUnit"] == "fraud"


def test_prod_protects_and_retains_stateful_roots_dev_does_not(rendered):
    prod, dev = rendered("fraud-prod"), rendered("marketing-dev")
    for r in prod.resources:
        if r.type in STATEFUL_TYPES:
            assert r.protect and r.retain_on_delete, r.urn
    for r in dev.resources:
        if r.type in STATEFUL_TYPES:
            assert not r.protect, r.urn


def test_platform_network_layout(rendered):
    prod, dev = rendered("platform-prod"), rendered("platform-dev")
    assert len(by_type(prod, "aws:ec2/natGateway:NatGateway")) == 3
    assert len(by_type(dev, "aws:ec2/natGateway:NatGateway")) == 1
    subnets = by_type(prod, "aws:ec2/subnet:Subnet")
    # private, public and internal load-balancer subnets in each of 3 AZs
    assert len(subnets) == 9 and not any(s.inputs.get("mapPublicIpOnLaunch") for s in subnets)
    endpoints = by_type(prod, "aws:ec2/vpcEndpoint:VpcEndpoint")
    kinds = {
        e.inputs["serviceName"].rsplit(".", 1)[-1]: e.inputs["vpcEndpointType"] for e in endpoints
    }
    assert kinds["s3"] == "Gateway" and kinds["dynamodb"] == "Gateway"
    names = {e.inputs["serviceName"] for e in endpoints}
    for svc in ("ecr.api", "ecr.dkr", "sts", "sagemaker.api", "logs", "monitoring"):
        assert f"com.amazonaws.us-east-1.{svc}" in names
    [flow] = by_type(prod, "aws:ec2/flowLog:FlowLog")
    assert flow.inputs["trafficType"] == "ALL"
    [group] = [
        g
        for g in by_type(prod, "aws:cloudwatch/logGroup:LogGroup")
        if "flow-logs" in g.inputs["name"]
    ]
    assert group.inputs["retentionInDays"] == 365 and group.inputs["kmsKeyId"].startswith(
        "arn:aws:kms:"
    )
    [default_sg] = by_type(prod, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default_sg.inputs.get("ingress", []) == [] and default_sg.inputs.get("egress", []) == []


def test_feature_store_buckets_are_hardened(rendered):
    inv = rendered("fraud-prod")
    buckets = {r.urn: r for r in by_type(inv, "aws:s3/bucket:Bucket")}
    # access logs, offline feature store, model artifacts, audit trail; in prod the model
    # artifacts' DR-region replica and that region's access-log bucket (dataGovernance.drRegion)
    assert len(buckets) == 6

    def children(typ):
        out = {}
        for r in by_type(inv, typ):
            [bucket_urn] = r.property_dependencies["bucket"]
            out[bucket_urn] = r
        return out

    sse = children(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    pab = children("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    versioning = children("aws:s3/bucketVersioning:BucketVersioning")
    policy = children("aws:s3/bucketPolicy:BucketPolicy")
    logging = children("aws:s3/bucketLogging:BucketLogging")
    for urn, bucket in buckets.items():
        assert set(pab[urn].inputs) >= {
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        }
        assert all(pab[urn].inputs[k] is True for k in ("blockPublicAcls", "restrictPublicBuckets"))
        assert versioning[urn].inputs["versioningConfiguration"]["status"] == "Enabled"
        doc = json.loads(policy[urn].inputs["policy"])
        deny = [s for s in doc["Statement"] if s["Effect"] == "Deny"]
        assert deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        rule = sse[urn].inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        if "-access-logs" in bucket.inputs["bucket"]:  # -access-logs-, -access-logs-dr-
            # S3 cannot deliver access logs into an SSE-KMS bucket: the log target uses SSE-S3.
            assert rule["sseAlgorithm"] == "AES256"
            assert urn not in logging
        else:
            assert rule["sseAlgorithm"] == "aws:kms" and rule["kmsMasterKeyId"].startswith(
                "arn:aws:kms:"
            )
            assert sse[urn].inputs["rules"][0]["bucketKeyEnabled"] is True
            assert urn in logging


def test_feature_store_tables_and_groups_are_encrypted_with_the_bu_key(rendered):
    inv = rendered("fraud-prod")
    # the BU key; the only other key is the backup copies' key in the DR region
    [key] = [k for k in by_type(inv, "aws:kms/key:Key") if not k.inputs.get("region")]
    assert key.inputs["enableKeyRotation"] is True
    [table] = by_type(inv, "aws:dynamodb/table:Table")
    assert table.inputs["serverSideEncryption"]["enabled"] is True
    assert table.inputs["pointInTimeRecovery"]["enabled"] is True
    assert table.inputs["deletionProtectionEnabled"] is True
    assert key.urn in table.property_dependencies["serverSideEncryption"]
    groups = by_type(inv, "aws:sagemaker/featureGroup:FeatureGroup")
    assert {g.inputs["featureGroupName"] for g in groups} == {
        "fraud-prod-transactions",
        "fraud-prod-merchants",
    }
    for g in groups:
        assert g.inputs["onlineStoreConfig"]["securityConfig"]["kmsKeyId"].startswith(
            "arn:aws:kms:"
        )
        assert g.inputs["offlineStoreConfig"]["s3StorageConfig"]["kmsKeyId"].startswith(
            "arn:aws:kms:"
        )
    dev_groups = by_type(rendered("marketing-dev"), "aws:sagemaker/featureGroup:FeatureGroup")
    assert "onlineStoreConfig" not in dev_groups[0].inputs  # offline-only group


def test_feature_store_role_is_least_privilege(rendered):
    inv = rendered("fraud-prod")
    policies = [r for r in by_type(inv, "aws:iam/rolePolicy:RolePolicy") if "sagemaker" in r.name]
    doc = json.loads(policies[0].inputs["policy"])
    for statement in doc["Statement"]:
        resources = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        assert "*" not in resources
        assert not any(a.endswith(":*") or a == "*" for a in statement["Action"])
    [role] = [r for r in by_type(inv, "aws:iam/role:Role") if "sagemaker" in r.name]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"] == "222222222222"


def test_bu_stack_reads_platform_outputs_through_a_stack_reference(rendered):
    inv = rendered("fraud-prod")
    [ref] = by_type(inv, "pulumi:pulumi:StackReference")
    assert ref.inputs["name"] == "acme/ai-estate/platform-prod"
    assert inv.outputs["platformVpcId"] == rendered("platform-prod").outputs["vpcId"]


def test_renders_are_deterministic(rendered):
    from estate.offline.gate import render_stack
    from estate.offline.project import load_project

    again = render_stack(
        load_project(), "marketing-dev", {"platform-dev": rendered("platform-dev").outputs}
    )
    assert again.to_json() == rendered("marketing-dev").to_json()
