"""DR copies (components/replication.py) on the shipped stacks: fraud-prod's model artifacts
replicate to its backup DR region under a replica key, and platform-prod replicates the BUs'
images; the replication role does exactly its job (IAM evaluator), the pack's
`artifact-bucket-replicated` rule's good and bad programs are in
tests/policies/test_governance_backup.py."""

from __future__ import annotations

import json

from estate.analysis.iam import Principal, Request, evaluate
from estate.offline.model import Inventory, Resource

REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"


def of(inventory: Inventory, type_: str) -> list[Resource]:
    return [r for r in inventory.resources if r.type == type_]


def test_fraud_prod_artifacts_replicate_to_the_backup_dr_region(rendered):
    inventory = rendered("fraud-prod")
    by_urn = inventory.by_urn()
    [config] = of(inventory, REPLICATION)
    source = by_urn[config.property_dependencies["bucket"][0]]
    assert source.inputs["tags"]["Purpose"] == "model-artifacts"
    assert config.inputs["bucket"] == source.inputs["bucket"]
    [rule] = config.inputs["rules"]
    assert rule["status"] == "Enabled" and rule["filter"] == {"prefix": ""}
    assert rule["deleteMarkerReplication"] == {"status": "Disabled"}
    assert rule["sourceSelectionCriteria"]["sseKmsEncryptedObjects"]["status"] == "Enabled"
    dr = inventory.config["ai-estate:backup"]["drRegion"]
    replicas = [
        r
        for r in of(inventory, "aws:s3/bucket:Bucket")
        if r.inputs.get("tags", {}).get("Purpose") == "model-artifacts-replica"
    ]
    [replica] = replicas
    assert replica.inputs["region"] == dr and replica.protect and replica.retain_on_delete
    # the replica is object-locked like its source (prod) and versioned (replication needs it)
    assert replica.inputs["objectLockEnabled"] is True
    versioning = [
        v
        for v in of(inventory, "aws:s3/bucketVersioning:BucketVersioning")
        if v.property_dependencies["bucket"] == [replica.urn]
    ]
    assert versioning and versioning[0].inputs["versioningConfiguration"]["status"] == "Enabled"
    assert versioning[0].inputs["region"] == dr
    # encrypted under a key of its own in the DR region; the rule re-encrypts with it
    [key] = [k for k in of(inventory, "aws:kms/key:Key") if "artifact-replication" in k.name]
    assert key.inputs["region"] == dr and key.inputs["enableKeyRotation"] is True
    assert set(config.property_dependencies["rules"]) >= {replica.urn, key.urn}
    encryption = [
        e
        for e in of(
            inventory,
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        )
        if e.property_dependencies["bucket"] == [replica.urn]
    ]
    assert encryption[0].property_dependencies["rules"] == [key.urn]
    # replication starts only once both buckets are versioned
    assert versioning[0].urn in config.dependencies


def _replication_world(inventory: Inventory):
    role = next(
        r for r in of(inventory, "aws:iam/role:Role") if r.name.endswith("replication-role")
    )
    policy = next(
        json.loads(p.inputs["policy"])
        for p in of(inventory, "aws:iam/rolePolicy:RolePolicy")
        if p.property_dependencies["role"] == [role.urn]
    )
    account = str(inventory.config["ai-estate:accountId"])
    principal = Principal(
        f"arn:aws:iam::{account}:role/{role.inputs['name']}", identity_policies=(policy,)
    )
    bucket_policies = {}
    by_urn = inventory.by_urn()
    for bp in of(inventory, "aws:s3/bucketPolicy:BucketPolicy"):
        name = by_urn[bp.property_dependencies["bucket"][0]].inputs["bucket"]
        bucket_policies[name] = json.loads(bp.inputs["policy"])
    return principal, json.loads(role.inputs["assumeRolePolicy"]), bucket_policies


def test_the_replication_role_does_exactly_its_job(rendered):
    inventory = rendered("fraud-prod")
    role, trust, policies = _replication_world(inventory)
    assert trust["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    assert trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"] == role.account
    source = next(n for n in policies if n.startswith("fraud-prod-models-") and "-dr-" not in n)
    replica = next(n for n in policies if n.startswith("fraud-prod-models-dr-"))
    features = next(n for n in policies if n.startswith("fraud-prod-features-"))

    def can(action: str, bucket: str, key: str = "models/card-fraud/3/model.tar.gz") -> bool:
        resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else "")
        return bool(
            evaluate(
                Request(
                    principal=role,
                    action=action,
                    resource=resource,
                    resource_policy=policies[bucket],
                )
            )
        )

    # liveness: S3 reads the source's versions and writes the replicas, through both bucket
    # policies' BU-only denies
    assert can("s3:GetObjectVersionForReplication", source)
    assert can("s3:GetObjectRetention", source)
    assert can("s3:GetReplicationConfiguration", source, key="")
    assert can("s3:ReplicateObject", replica)
    # safety: nothing else, nowhere else
    assert not can("s3:GetObject", source)
    assert not can("s3:PutObject", source)
    assert not can("s3:DeleteObject", replica)
    assert not can("s3:GetObjectVersionForReplication", features, key="offline/part-0")
    assert not can("s3:ReplicateObject", source)


def test_the_source_key_is_used_only_through_s3_in_the_home_region(rendered):
    inventory = rendered("fraud-prod")
    role, _, _ = _replication_world(inventory)
    [statement] = [
        s for s in role.identity_policies[0]["Statement"] if s["Sid"] == "DecryptSourceThroughS3"
    ]
    assert statement["Condition"]["StringEquals"]["kms:ViaService"] == "s3.us-east-1.amazonaws.com"
    [encrypt] = [
        s for s in role.identity_policies[0]["Statement"] if s["Sid"] == "EncryptReplicasThroughS3"
    ]
    assert encrypt["Condition"]["StringEquals"]["kms:ViaService"] == "s3.us-west-2.amazonaws.com"


def test_platform_prod_replicates_the_bus_images_into_encrypted_immutable_repositories(rendered):
    inventory = rendered("platform-prod")
    dr = inventory.config["ai-estate:dataGovernance"]["drRegion"]
    [config] = of(inventory, "aws:ecr/replicationConfiguration:ReplicationConfiguration")
    [rule] = config.inputs["replicationConfiguration"]["rules"]
    assert rule["destinations"] == [{"region": dr, "registryId": "222222222222"}]
    bus = inventory.config["ai-estate:businessUnits"]
    assert rule["repositoryFilters"] == [
        {"filter": f"{bu}-prod/", "filterType": "PREFIX_MATCH"} for bu in sorted(bus)
    ]
    templates = of(inventory, "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate")
    assert {t.inputs["prefix"] for t in templates} == {f"{bu}-prod" for bu in bus}
    for template in templates:
        assert template.inputs["appliedFors"] == ["REPLICATION"]
        assert template.inputs["imageTagMutability"] == "IMMUTABLE"
        assert template.inputs["region"] == dr
        [encryption] = template.inputs["encryptionConfigurations"]
        assert encryption["encryptionType"] == "KMS"
        assert template.urn in config.dependencies
    # no image replication where no DR region is configured
    assert not of(
        rendered("platform-dev"), "aws:ecr/replicationConfiguration:ReplicationConfiguration"
    )


def test_replication_is_itemised_in_the_cost_model(rendered):
    from estate.analysis.cost import cost_for

    for stack, type_ in (
        ("fraud-prod", "aws:s3/bucketReplicationConfig:BucketReplicationConfig"),
        ("platform-prod", "aws:ecr/replicationConfiguration:ReplicationConfiguration"),
    ):
        [item] = [i for i in cost_for(rendered(stack))["items"] if i["type"] == type_]
        assert 0 <= item["idle"] < item["typical"] < item["peak"], item
        assert "cross-region" in item["description"]
