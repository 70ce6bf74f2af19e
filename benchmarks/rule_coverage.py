"""Render benchmarks/coverage.md: rules per resource type, this pack versus three public scanners.

    .venv/bin/python benchmarks/rule_coverage.py            # print the table
    .venv/bin/python benchmarks/rule_coverage.py --write    # rewrite it in coverage.md

Rows are every resource type a rule of `governance.pack.RULES` judges, except types only the
ownership-tagging rule judges (it runs on every taggable type; it is counted in the rows that
exist). Kubernetes types are one row per kind: every API version and the `…Patch` variant.
The pack's column is computed from the pack; the scanners' columns from `scanner_counts.json`
(written by `scanner_counts.py` from the snapshots whose commits it records) through the type
mappings below, so the table regenerates offline.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "policies"), str(ROOT)]

from governance.pack import RULES  # noqa: E402

COVERAGE = ROOT / "benchmarks" / "coverage.md"
COUNTS = ROOT / "benchmarks" / "scanner_counts.json"
BEGIN, END = "<!-- coverage:begin -->", "<!-- coverage:end -->"
EVERYWHERE = "required-ownership-tags"

#: Pulumi AWS type -> (Terraform types, CloudFormation types) the same resource has upstream.
#: CloudFormation folds several Terraform/Pulumi resources into properties of one type (bucket
#: versioning, ACLs, public access blocks, key policies); those map to nothing, as AWSGuard
#: judges them on the owning type.
AWS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "autoscaling/group:Group": (
        ("aws_autoscaling_group",),
        ("AWS::AutoScaling::AutoScalingGroup",),
    ),
    "backup/vault:Vault": (("aws_backup_vault",), ("AWS::Backup::BackupVault",)),
    "cloudtrail/trail:Trail": (("aws_cloudtrail",), ("AWS::CloudTrail::Trail",)),
    "cloudwatch/logGroup:LogGroup": (("aws_cloudwatch_log_group",), ("AWS::Logs::LogGroup",)),
    "cloudwatch/metricAlarm:MetricAlarm": (
        ("aws_cloudwatch_metric_alarm",),
        ("AWS::CloudWatch::Alarm",),
    ),
    "dynamodb/table:Table": (("aws_dynamodb_table",), ("AWS::DynamoDB::Table",)),
    "ebs/encryptionByDefault:EncryptionByDefault": (("aws_ebs_encryption_by_default",), ()),
    "ebs/volume:Volume": (("aws_ebs_volume",), ("AWS::EC2::Volume",)),
    "ec2/defaultSecurityGroup:DefaultSecurityGroup": (("aws_default_security_group",), ()),
    "ec2/instance:Instance": (("aws_instance",), ("AWS::EC2::Instance",)),
    "ec2/launchConfiguration:LaunchConfiguration": (
        ("aws_launch_configuration",),
        ("AWS::AutoScaling::LaunchConfiguration",),
    ),
    "ec2/launchTemplate:LaunchTemplate": (("aws_launch_template",), ("AWS::EC2::LaunchTemplate",)),
    "ec2/securityGroup:SecurityGroup": (("aws_security_group",), ("AWS::EC2::SecurityGroup",)),
    "ec2/securityGroupRule:SecurityGroupRule": (
        ("aws_security_group_rule",),
        ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"),
    ),
    "ec2/spotInstanceRequest:SpotInstanceRequest": (("aws_spot_instance_request",), ()),
    "ecr/registryPolicy:RegistryPolicy": (
        ("aws_ecr_registry_policy",),
        ("AWS::ECR::RegistryPolicy",),
    ),
    "ecr/repository:Repository": (("aws_ecr_repository",), ("AWS::ECR::Repository",)),
    "ecr/repositoryPolicy:RepositoryPolicy": (("aws_ecr_repository_policy",), ()),
    "efs/fileSystem:FileSystem": (("aws_efs_file_system",), ("AWS::EFS::FileSystem",)),
    "eks/accessPolicyAssociation:AccessPolicyAssociation": (
        ("aws_eks_access_policy_association",),
        ("AWS::EKS::AccessEntry",),
    ),
    "eks/cluster:Cluster": (("aws_eks_cluster",), ("AWS::EKS::Cluster",)),
    "eks/nodeGroup:NodeGroup": (("aws_eks_node_group",), ("AWS::EKS::Nodegroup",)),
    "cloudwatch/eventArchive:EventArchive": (
        ("aws_cloudwatch_event_archive",),
        ("AWS::Events::Archive",),
    ),
    "lakeformation/dataLakeSettings:DataLakeSettings": (
        ("aws_lakeformation_data_lake_settings",),
        ("AWS::LakeFormation::DataLakeSettings",),
    ),
    "glue/catalogDatabase:CatalogDatabase": (
        ("aws_glue_catalog_database",),
        ("AWS::Glue::Database",),
    ),
    "glue/dataCatalogEncryptionSettings:DataCatalogEncryptionSettings": (
        ("aws_glue_data_catalog_encryption_settings",),
        ("AWS::Glue::DataCatalogEncryptionSettings",),
    ),
    "glue/job:Job": (("aws_glue_job",), ("AWS::Glue::Job",)),
    "glue/securityConfiguration:SecurityConfiguration": (
        ("aws_glue_security_configuration",),
        ("AWS::Glue::SecurityConfiguration",),
    ),
    "iam/accessKey:AccessKey": (("aws_iam_access_key",), ("AWS::IAM::AccessKey",)),
    "iam/groupMembership:GroupMembership": (
        ("aws_iam_group_membership",),
        ("AWS::IAM::UserToGroupAddition",),
    ),
    "iam/groupPolicy:GroupPolicy": (("aws_iam_group_policy",), ("AWS::IAM::GroupPolicy",)),
    "iam/groupPolicyAttachment:GroupPolicyAttachment": (("aws_iam_group_policy_attachment",), ()),
    "iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive": (
        ("aws_iam_group_policy_attachments_exclusive",),
        (),
    ),
    "iam/policy:Policy": (("aws_iam_policy",), ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")),
    "iam/policyAttachment:PolicyAttachment": (("aws_iam_policy_attachment",), ()),
    "iam/role:Role": (("aws_iam_role",), ("AWS::IAM::Role",)),
    "iam/rolePolicy:RolePolicy": (("aws_iam_role_policy",), ("AWS::IAM::RolePolicy",)),
    "iam/rolePolicyAttachment:RolePolicyAttachment": (("aws_iam_role_policy_attachment",), ()),
    "iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": (
        ("aws_iam_role_policy_attachments_exclusive",),
        (),
    ),
    "iam/serviceSpecificCredential:ServiceSpecificCredential": (
        ("aws_iam_service_specific_credential",),
        (),
    ),
    "iam/signingCertificate:SigningCertificate": (("aws_iam_signing_certificate",), ()),
    "iam/sshKey:SshKey": (("aws_iam_user_ssh_key",), ()),
    "iam/user:User": (("aws_iam_user",), ("AWS::IAM::User",)),
    "iam/userGroupMembership:UserGroupMembership": (("aws_iam_user_group_membership",), ()),
    "iam/userLoginProfile:UserLoginProfile": (("aws_iam_user_login_profile",), ()),
    "iam/userPoliciesExclusive:UserPoliciesExclusive": (("aws_iam_user_policies_exclusive",), ()),
    "iam/userPolicy:UserPolicy": (("aws_iam_user_policy",), ("AWS::IAM::UserPolicy",)),
    "iam/userPolicyAttachment:UserPolicyAttachment": (("aws_iam_user_policy_attachment",), ()),
    "iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive": (
        ("aws_iam_user_policy_attachments_exclusive",),
        (),
    ),
    "iam/virtualMfaDevice:VirtualMfaDevice": (
        ("aws_iam_virtual_mfa_device",),
        ("AWS::IAM::VirtualMFADevice",),
    ),
    "kms/key:Key": (("aws_kms_key",), ("AWS::KMS::Key",)),
    "kms/keyPolicy:KeyPolicy": (("aws_kms_key_policy",), ()),
    "rds/cluster:Cluster": (("aws_rds_cluster",), ("AWS::RDS::DBCluster",)),
    "rds/clusterInstance:ClusterInstance": (
        ("aws_rds_cluster_instance",),
        ("AWS::RDS::DBInstance",),
    ),
    "rds/instance:Instance": (("aws_db_instance",), ("AWS::RDS::DBInstance",)),
    "s3/accountPublicAccessBlock:AccountPublicAccessBlock": (
        ("aws_s3_account_public_access_block",),
        (),
    ),
    "ec2/vpcEndpoint:VpcEndpoint": (("aws_vpc_endpoint",), ("AWS::EC2::VPCEndpoint",)),
    "s3/bucket:Bucket": (("aws_s3_bucket",), ("AWS::S3::Bucket",)),
    "s3/bucketAcl:BucketAcl": (("aws_s3_bucket_acl",), ()),
    "s3/bucketAclV2:BucketAclV2": (("aws_s3_bucket_acl",), ()),
    "s3/bucketPolicy:BucketPolicy": (("aws_s3_bucket_policy",), ("AWS::S3::BucketPolicy",)),
    "s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (
        ("aws_s3_bucket_public_access_block",),
        (),
    ),
    "s3/bucketV2:BucketV2": (("aws_s3_bucket",), ("AWS::S3::Bucket",)),
    "s3/bucketVersioning:BucketVersioning": (("aws_s3_bucket_versioning",), ()),
    "s3/bucketVersioningV2:BucketVersioningV2": (("aws_s3_bucket_versioning",), ()),
    "sagemaker/dataQualityJobDefinition:DataQualityJobDefinition": (
        ("aws_sagemaker_data_quality_job_definition",),
        ("AWS::SageMaker::DataQualityJobDefinition",),
    ),
    "sagemaker/domain:Domain": (("aws_sagemaker_domain",), ("AWS::SageMaker::Domain",)),
    "sagemaker/endpointConfiguration:EndpointConfiguration": (
        ("aws_sagemaker_endpoint_configuration",),
        ("AWS::SageMaker::EndpointConfig",),
    ),
    "sagemaker/featureGroup:FeatureGroup": (
        ("aws_sagemaker_feature_group",),
        ("AWS::SageMaker::FeatureGroup",),
    ),
    "sagemaker/flowDefinition:FlowDefinition": (("aws_sagemaker_flow_definition",), ()),
    "sagemaker/hyperParameterTuningJob:HyperParameterTuningJob": (
        ("aws_sagemaker_hyper_parameter_tuning_job",),
        (),
    ),
    "sagemaker/labelingJob:LabelingJob": (("aws_sagemaker_labeling_job",), ()),
    "sagemaker/model:Model": (("aws_sagemaker_model",), ("AWS::SageMaker::Model",)),
    "sagemaker/modelPackageGroup:ModelPackageGroup": (
        ("aws_sagemaker_model_package_group",),
        ("AWS::SageMaker::ModelPackageGroup",),
    ),
    "sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": (
        ("aws_sagemaker_model_package_group_policy",),
        (),
    ),
    "sagemaker/monitoringSchedule:MonitoringSchedule": (
        ("aws_sagemaker_monitoring_schedule",),
        ("AWS::SageMaker::MonitoringSchedule",),
    ),
    "sagemaker/notebookInstance:NotebookInstance": (
        ("aws_sagemaker_notebook_instance",),
        ("AWS::SageMaker::NotebookInstance",),
    ),
    "sagemaker/trainingJob:TrainingJob": (("aws_sagemaker_training_job",), ()),
    "secretsmanager/secretPolicy:SecretPolicy": (
        ("aws_secretsmanager_secret_policy",),
        ("AWS::SecretsManager::ResourcePolicy",),
    ),
    "sns/topic:Topic": (("aws_sns_topic",), ("AWS::SNS::Topic",)),
    "sns/topicPolicy:TopicPolicy": (("aws_sns_topic_policy",), ("AWS::SNS::TopicPolicy",)),
    "sqs/queue:Queue": (("aws_sqs_queue",), ("AWS::SQS::Queue",)),
    "sqs/queuePolicy:QueuePolicy": (("aws_sqs_queue_policy",), ("AWS::SQS::QueuePolicy",)),
    "vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        ("aws_vpc_security_group_ingress_rule",),
        ("AWS::EC2::SecurityGroupIngress",),
    ),
}


def row_key(token: str) -> str:
    """`aws:ec2/instance:Instance` -> itself without `aws:`; Kubernetes -> `k8s <Kind>`."""
    if token.startswith("aws:"):
        return token.removeprefix("aws:")
    kind = token.rsplit(":", 1)[-1]
    return f"k8s {kind.removesuffix('Patch')}"


def pack_counts() -> dict[str, set[str]]:
    """Row -> ids of the pack's resource rules that judge it (rows as in the module docstring)."""
    rows: dict[str, set[str]] = {}
    for rule in RULES:
        if rule.id == EVERYWHERE:
            continue
        for token in rule.resource_types:
            rows.setdefault(row_key(token), set()).add(rule.id)
    everywhere = next(r for r in RULES if r.id == EVERYWHERE)
    for token in everywhere.resource_types:
        if row_key(token) in rows:
            rows[row_key(token)].add(EVERYWHERE)
    return rows


def _by_type(checks: dict[str, list[str]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for check, types in checks.items():
        for t in types:
            found.setdefault(t, set()).add(check)
    return found


def scanner_counts(row: str, data: dict) -> tuple[int, int, int]:
    """(AWSGuard, Pulumi compliance-policies, Checkov) rules on one row."""
    if row.startswith("k8s "):
        kind = row.removeprefix("k8s ")
        checkov = _by_type(data["checkov"]["kubernetes"])
        ids = set(checkov.get(kind, ()))
        if kind in data["checkov"]["pod_template_owners"]:
            ids |= checkov.get("Pod", set())  # Checkov judges their pod template as a Pod
        compliance = data["compliance_policies"]["kubernetes"].get(kind, [])
        return 0, len(compliance), len(ids)
    terraform, cloudformation = AWS[row]
    tf = _by_type(data["checkov"]["terraform"])
    cfn = _by_type(data["awsguard"]["cloudformation"])
    module, rest = row.split("/", 1)
    compliance = data["compliance_policies"]["aws"].get(f"{module}/{rest.rsplit(':', 1)[-1]}", [])
    return (
        len(set().union(*(cfn.get(t, set()) for t in cloudformation))),
        len(compliance),
        len(set().union(*(tf.get(t, set()) for t in terraform))),
    )


def table() -> str:
    data = json.loads(COUNTS.read_text())
    rows = pack_counts()
    lines = [
        "| resource type (Pulumi) | this pack | AWSGuard | Pulumi compliance-policies | Checkov |",
        "|---|---:|---:|---:|---:|",
    ]
    totals = [0, 0, 0, 0]
    for row in sorted(rows, key=lambda r: (r.startswith("k8s "), r.lower())):
        counts = (len(rows[row]), *scanner_counts(row, data))
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        lines.append(f"| `{row}` | " + " | ".join(str(c) for c in counts) + " |")
    lines.append("| **total** | " + " | ".join(f"**{t}**" for t in totals) + " |")
    snap = " · ".join(
        f"{name} `{data[key]['commit'][:12]}` ({data[key]['date']})"
        for name, key in (
            ("AWSGuard", "awsguard"),
            ("compliance-policies", "compliance_policies"),
            ("Checkov", "checkov"),
        )
    )
    return "\n".join([*lines, "", f"Snapshots counted: {snap}."])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the table in coverage.md")
    args = parser.parse_args()
    rendered = table()
    if not args.write:
        print(rendered)
        return
    text = COVERAGE.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    COVERAGE.write_text(f"{head}{BEGIN}\n{rendered}\n{END}{tail}")


if __name__ == "__main__":
    main()
