"""What a careful platform team writes by hand passes the whole pack in prod.

Each program below is configured the way AWS and Kubernetes document it (the execution role's VPC
network-interface actions, a log bucket whose sources live elsewhere, a key policy with the
account root and conditions, ...). Each is rendered by the offline engine as the BU stack
`fraud-prod` with the owners' tags as the provider's default tags (as `Pulumi.<stack>.yaml` would
set `aws:defaultTags`), and judged by the real pack process over the Analyzer protocol, exactly
as `estate check` does. None may draw a blocking finding: a rule that blocks one of them blocks
what AWS requires or recommends.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
from policy_programs import KEY_ARN, OWNERSHIP_TAGS

from estate.offline.engine import render
from estate.offline.runner import run_pack

PACK = Path(__file__).resolve().parents[2] / "policies"
ACCOUNT = "123456789012"
REGION = "us-east-1"
ORG = "o-a1b2c3d4e5"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/ai-estate/fraud/fraud-prod-boundary"
SUBNETS = ["subnet-0aaa1111bbbb2222c", "subnet-0ddd3333eeee4444f"]
SECURITY_GROUP = "sg-0a1b2c3d4e5f60718"
OIDC = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
ECR = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
DIGEST = "sha256:" + "0123456789abcdef" * 4
PROTECT = pulumi.ResourceOptions(protect=True)


def _doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _tls_only(bucket_arn: str) -> dict:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


# -- the programs -----------------------------------------------------------------------------


def sagemaker_execution_role() -> None:
    """The execution role of VPC-bound jobs: the network-interface actions on `*`, as AWS
    documents them ("Give SageMaker AI Access to Resources in your Amazon VPC")."""
    role = aws.iam.Role(
        "sm-exec",
        path="/ai-estate/fraud/",
        permissions_boundary=BOUNDARY,
        assume_role_policy=_doc(
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            }
        ),
    )
    aws.iam.RolePolicy(
        "sm-exec-vpc",
        role=role.id,
        policy=_doc(
            {
                "Effect": "Allow",
                "Action": [
                    "ec2:CreateNetworkInterface",
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                ],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": "arn:aws:s3:::fraud-prod-models-1a2b3c/*",
            },
            # the rest of what a training job's role needs (SageMaker AI roles guide), scoped
            {
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                "Resource": "*",
                "Condition": {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
            },
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/*",
            },
            {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/fraud-prod/*",
            },
            {
                "Effect": "Allow",
                "Action": "kms:CreateGrant",
                "Resource": KEY_ARN,
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
        ),
    )


def _log_bucket(name: str, *, delivery: str) -> None:
    """A server-access-log bucket whose source buckets are in other stacks: SSE-S3 (the only
    default encryption S3 log delivery supports), private, versioned, TLS only, and letting the
    log delivery write in by `delivery`: `policy` (the bucket policy AWS recommends),
    `policy-pattern` (the same with an action pattern) or `acl` (the older log-delivery-write
    ACL AWS still documents), or `none` (a data bucket that only looks like one)."""
    arn = f"arn:aws:s3:::{name}"
    bucket = aws.s3.BucketV2("access-logs", bucket=name, opts=PROTECT)
    aws.s3.BucketServerSideEncryptionConfigurationV2(
        "access-logs-sse",
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationV2RuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256"
                )
            )
        ],
    )
    aws.s3.BucketPublicAccessBlock(
        "access-logs-pab",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )
    aws.s3.BucketVersioningV2(
        "access-logs-versioning",
        bucket=bucket.id,
        versioning_configuration=aws.s3.BucketVersioningV2VersioningConfigurationArgs(
            status="Enabled"
        ),
    )
    aws.s3.BucketOwnershipControls(
        "access-logs-ownership",
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(
            object_ownership="ObjectWriter" if delivery == "acl" else "BucketOwnerEnforced"
        ),
    )
    statements = [_tls_only(arn)]
    if delivery.startswith("policy"):
        statements.insert(
            0,
            {
                "Sid": "S3ServerAccessLogsPolicy",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:Put*" if delivery == "policy-pattern" else "s3:PutObject",
                "Resource": f"{arn}/*",
                "Condition": {
                    "ArnLike": {"aws:SourceArn": "arn:aws:s3:::fraud-prod-*"},
                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                },
            },
        )
    if delivery == "acl":
        aws.s3.BucketAclV2("access-logs-acl", bucket=bucket.id, acl="log-delivery-write")
    aws.s3.BucketPolicy("access-logs-policy", bucket=bucket.id, policy=_doc(*statements))


def access_log_bucket() -> None:
    _log_bucket("fraud-prod-access-logs-1a2b3c", delivery="policy")


def access_log_bucket_action_pattern() -> None:
    _log_bucket("fraud-prod-access-logs-2b3c4d", delivery="policy-pattern")


def access_log_bucket_by_acl() -> None:
    _log_bucket("fraud-prod-access-logs-3c4d5e", delivery="acl")


def org_ecr_repository() -> None:
    """A private repository the organisation's accounts may pull from."""
    repo = aws.ecr.Repository(
        "scorer",
        name="fraud-prod/scorer",
        image_tag_mutability="IMMUTABLE",
        image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
            scan_on_push=True
        ),
        encryption_configurations=[
            aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=KEY_ARN)
        ],
        opts=PROTECT,
    )
    aws.ecr.RepositoryPolicy(
        "scorer-policy",
        repository=repo.name,
        policy=_doc(
            {
                "Sid": "OrgPull",
                "Effect": "Allow",
                "Principal": "*",
                "Action": [
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                ],
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}},
            }
        ),
    )


def key_with_policy() -> None:
    """A key policy as the KMS guide writes it: the account root, and key use for every principal
    of the account through one service only (kms:CallerAccount + kms:ViaService)."""
    key = aws.kms.Key(
        "features",
        description="fraud-prod feature store",
        enable_key_rotation=True,
        deletion_window_in_days=30,
        opts=PROTECT,
    )
    aws.kms.KeyPolicy(
        "features-policy",
        key_id=key.id,
        policy=_doc(
            {
                "Sid": "EnableRootPermissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "AllowUseThroughDynamoDB",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": ACCOUNT,
                        "kms:ViaService": f"dynamodb.{REGION}.amazonaws.com",
                    }
                },
            },
        ),
    )


def events_topic() -> None:
    """A topic EventBridge rules publish to, pinned to the rule by aws:SourceArn."""
    topic = aws.sns.Topic("pipeline-events", kms_master_key_id=KEY_ARN)
    aws.sns.TopicPolicy(
        "pipeline-events-policy",
        arn=topic.arn,
        policy=_doc(
            {
                "Sid": "EventBridgePublish",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": f"arn:aws:sns:{REGION}:{ACCOUNT}:pipeline-events",
                "Condition": {
                    "ArnEquals": {
                        "aws:SourceArn": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/fraud-prod-retrain"
                    }
                },
            }
        ),
    )


def irsa_role() -> None:
    """An IRSA role for one service account, pinned on :sub and :aud."""
    aws.iam.Role(
        "scorer-irsa",
        path="/ai-estate/fraud/",
        permissions_boundary=BOUNDARY,
        assume_role_policy=_doc(
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{OIDC}:sub": "system:serviceaccount:fraud:scorer",
                        f"{OIDC}:aud": "sts.amazonaws.com",
                    }
                },
            }
        ),
    )


def sagemaker_workloads() -> None:
    """A notebook, a Studio domain and a training job configured as the SageMaker security
    guide and Security Hub's SageMaker controls ask."""
    role = f"arn:aws:iam::{ACCOUNT}:role/ai-estate/fraud/fraud-prod-sagemaker"
    aws.sagemaker.NotebookInstance(
        "explore",
        instance_type="ml.t3.medium",
        role_arn=role,
        direct_internet_access="Disabled",
        root_access="Disabled",
        subnet_id=SUBNETS[0],
        security_groups=[SECURITY_GROUP],
        kms_key_id=KEY_ARN,
        platform_identifier="notebook-al2023-v1",
        instance_metadata_service_configuration=aws.sagemaker.NotebookInstanceInstanceMetadataServiceConfigurationArgs(
            minimum_instance_metadata_service_version="2"
        ),
    )
    aws.sagemaker.Domain(
        "studio",
        domain_name="fraud-prod",
        auth_mode="IAM",
        vpc_id="vpc-0a1b2c3d4e5f60718",
        subnet_ids=SUBNETS,
        app_network_access_type="VpcOnly",
        kms_key_id=KEY_ARN,
        default_user_settings=aws.sagemaker.DomainDefaultUserSettingsArgs(
            execution_role=role, security_groups=[SECURITY_GROUP]
        ),
        opts=PROTECT,
    )
    aws.sagemaker.TrainingJob(
        "train",
        training_job_name="fraud-prod-train-1",
        role_arn=role,
        algorithm_specification=aws.sagemaker.TrainingJobAlgorithmSpecificationArgs(
            training_image=f"{ECR}/fraud-prod/trainer@{DIGEST}",
            training_input_mode="File",
        ),
        output_data_config=aws.sagemaker.TrainingJobOutputDataConfigArgs(
            s3_output_path="s3://fraud-prod-models-1a2b3c/output/", kms_key_id=KEY_ARN
        ),
        resource_config=aws.sagemaker.TrainingJobResourceConfigArgs(
            instance_type="ml.m5.xlarge",
            instance_count=2,
            volume_size_in_gb=50,
            volume_kms_key_id=KEY_ARN,
        ),
        stopping_condition=aws.sagemaker.TrainingJobStoppingConditionArgs(
            max_runtime_in_seconds=3600
        ),
        vpc_config=aws.sagemaker.TrainingJobVpcConfigArgs(
            subnets=SUBNETS, security_group_ids=[SECURITY_GROUP]
        ),
        enable_network_isolation=True,
        enable_inter_container_traffic_encryption=True,
    )


def queue_from_topic() -> None:
    """The SNS-to-SQS subscription policy: Principal '*' pinned to the topic by aws:SourceArn."""
    queue = aws.sqs.Queue("fanout", kms_master_key_id=KEY_ARN)
    aws.sqs.QueuePolicy(
        "fanout-policy",
        queue_url=queue.url,
        policy=_doc(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "sqs:SendMessage",
                "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:fanout",
                "Condition": {
                    "ArnEquals": {
                        "aws:SourceArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:pipeline-events"
                    }
                },
            }
        ),
    )


def github_deploy_role() -> None:
    """A GitHub Actions role pinned to one repository's main branch (StringLike on :sub)."""
    github = "token.actions.githubusercontent.com"
    aws.iam.Role(
        "deploy",
        path="/ai-estate/fraud/",
        permissions_boundary=BOUNDARY,
        assume_role_policy=_doc(
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{github}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {f"{github}:aud": "sts.amazonaws.com"},
                    "StringLike": {f"{github}:sub": "repo:acme/fraud-models:ref:refs/heads/main"},
                },
            }
        ),
    )


def pod_identity_role() -> None:
    """An EKS Pod Identity role and its association to one service account."""
    aws.iam.Role(
        "scorer-pod",
        path="/ai-estate/fraud/",
        permissions_boundary=BOUNDARY,
        assume_role_policy=_doc(
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            }
        ),
    )
    aws.eks.PodIdentityAssociation(
        "scorer-pod",
        cluster_name="platform-prod",
        namespace="fraud",
        service_account="scorer",
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/ai-estate/fraud/scorer-pod",
    )


def namespace_access() -> None:
    """Read-only RBAC for the BU's developers in its namespace, and their EKS access entry
    scoped to that namespace."""
    k8s.rbac.v1.Role(
        "developer",
        metadata=k8s.meta.v1.ObjectMetaArgs(name="fraud-developer", namespace="fraud"),
        rules=[
            k8s.rbac.v1.PolicyRuleArgs(
                api_groups=["", "apps", "batch"],
                resources=["pods", "pods/log", "deployments", "jobs"],
                verbs=["get", "list", "watch"],
            )
        ],
    )
    k8s.rbac.v1.RoleBinding(
        "developer",
        metadata=k8s.meta.v1.ObjectMetaArgs(name="fraud-developer", namespace="fraud"),
        role_ref=k8s.rbac.v1.RoleRefArgs(
            api_group="rbac.authorization.k8s.io", kind="Role", name="fraud-developer"
        ),
        subjects=[
            k8s.rbac.v1.SubjectArgs(
                kind="Group", name="fraud-developers", api_group="rbac.authorization.k8s.io"
            )
        ],
    )
    aws.eks.AccessPolicyAssociation(
        "developer",
        cluster_name="platform-prod",
        principal_arn=f"arn:aws:iam::{ACCOUNT}:role/ai-estate/fraud/fraud-prod-developer",
        policy_arn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
        access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(
            type="namespace", namespaces=["fraud"]
        ),
    )


def sagemaker_serving() -> None:
    """A network-isolated model in the VPC and its endpoint configuration: two instances,
    volumes and captured data under the BU's key."""
    model = aws.sagemaker.Model(
        "scorer",
        execution_role_arn=f"arn:aws:iam::{ACCOUNT}:role/ai-estate/fraud/fraud-prod-sagemaker",
        enable_network_isolation=True,
        primary_container=aws.sagemaker.ModelPrimaryContainerArgs(
            image=f"{ECR}/fraud-prod/scorer@{DIGEST}",
            model_data_url="s3://fraud-prod-models-1a2b3c/scorer/model.tar.gz",
        ),
        vpc_config=aws.sagemaker.ModelVpcConfigArgs(
            subnets=SUBNETS, security_group_ids=[SECURITY_GROUP]
        ),
    )
    aws.sagemaker.EndpointConfiguration(
        "scorer",
        kms_key_arn=KEY_ARN,
        production_variants=[
            aws.sagemaker.EndpointConfigurationProductionVariantArgs(
                variant_name="main",
                model_name=model.name,
                instance_type="ml.m5.xlarge",
                initial_instance_count=2,
            )
        ],
        data_capture_config=aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs(
            enable_capture=True,
            initial_sampling_percentage=10,
            destination_s3_uri="s3://fraud-prod-capture-1a2b3c/scorer/",
            kms_key_id=KEY_ARN,
            capture_options=[
                aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureOptionArgs(
                    capture_mode="Input"
                ),
                aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureOptionArgs(
                    capture_mode="Output"
                ),
            ],
        ),
    )


def sagemaker_monitoring() -> None:
    """A data quality job definition (isolated, encrypted between containers, in the VPC, KMS on
    volume and output) and the hourly schedule that runs it by name."""
    sm = aws.sagemaker
    definition = sm.DataQualityJobDefinition(
        "scorer-dq",
        name="fraud-prod-scorer-dq",
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/ai-estate/fraud/fraud-prod-sagemaker",
        data_quality_app_specification=sm.DataQualityJobDefinitionDataQualityAppSpecificationArgs(
            image_uri=f"156813124566.dkr.ecr.{REGION}.amazonaws.com/sagemaker-model-monitor-analyzer"
        ),
        data_quality_job_input=sm.DataQualityJobDefinitionDataQualityJobInputArgs(
            endpoint_input=sm.DataQualityJobDefinitionDataQualityJobInputEndpointInputArgs(
                endpoint_name="fraud-prod-scorer", local_path="/opt/ml/processing/input"
            )
        ),
        data_quality_job_output_config=sm.DataQualityJobDefinitionDataQualityJobOutputConfigArgs(
            kms_key_id=KEY_ARN,
            monitoring_outputs=sm.DataQualityJobDefinitionDataQualityJobOutputConfigMonitoringOutputsArgs(
                s3_output=sm.DataQualityJobDefinitionDataQualityJobOutputConfigMonitoringOutputsS3OutputArgs(
                    s3_uri="s3://fraud-prod-monitoring-1a2b3c/data-quality/",
                    local_path="/opt/ml/processing/output",
                )
            ),
        ),
        job_resources=sm.DataQualityJobDefinitionJobResourcesArgs(
            cluster_config=sm.DataQualityJobDefinitionJobResourcesClusterConfigArgs(
                instance_count=1,
                instance_type="ml.m5.large",
                volume_size_in_gb=20,
                volume_kms_key_id=KEY_ARN,
            )
        ),
        network_config=sm.DataQualityJobDefinitionNetworkConfigArgs(
            enable_inter_container_traffic_encryption=True,
            enable_network_isolation=True,
            vpc_config=sm.DataQualityJobDefinitionNetworkConfigVpcConfigArgs(
                subnets=SUBNETS, security_group_ids=[SECURITY_GROUP]
            ),
        ),
        stopping_condition=sm.DataQualityJobDefinitionStoppingConditionArgs(
            max_runtime_in_seconds=1800
        ),
    )
    sm.MonitoringSchedule(
        "scorer-dq",
        name="fraud-prod-scorer-dq",
        monitoring_schedule_config=sm.MonitoringScheduleMonitoringScheduleConfigArgs(
            monitoring_type="DataQuality",
            monitoring_job_definition_name=definition.name,
            schedule_config=sm.MonitoringScheduleMonitoringScheduleConfigScheduleConfigArgs(
                schedule_expression="cron(0 * ? * * *)"
            ),
        ),
    )


def _restricted_container(name: str, image: str) -> k8s.core.v1.ContainerArgs:
    return k8s.core.v1.ContainerArgs(
        name=name,
        image=image,
        ports=[k8s.core.v1.ContainerPortArgs(container_port=8443)],
        resources=k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": "500m", "memory": "1Gi"}, limits={"cpu": "1", "memory": "1Gi"}
        ),
        security_context=k8s.core.v1.SecurityContextArgs(
            allow_privilege_escalation=False,
            read_only_root_filesystem=True,
            run_as_non_root=True,
            run_as_user=10001,
            capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
        ),
    )


def pinned_deployment() -> None:
    """A namespace enforcing the restricted Pod Security Standard and a Deployment pinned by
    digest from the account's ECR, with the restricted securityContext."""
    k8s.core.v1.Namespace(
        "fraud",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name="fraud",
            labels={
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            },
        ),
    )
    # credentials by reference only: a secret's ARN, a mounted token file, a secretKeyRef
    settings = {
        "DB_PASSWORD_SECRET_ARN": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:fraud-prod/db-AbCdEf",
        "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
        "MAX_TOKENS": "4096",
    }
    k8s.core.v1.ConfigMap(
        "scorer-settings",
        metadata=k8s.meta.v1.ObjectMetaArgs(name="scorer-settings", namespace="fraud"),
        data=settings,
    )
    scorer = _restricted_container("scorer", f"{ECR}/fraud-prod/scorer@{DIGEST}")
    scorer.env = [k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in settings.items()] + [
        k8s.core.v1.EnvVarArgs(
            name="MLFLOW_TRACKING_TOKEN",
            value_from=k8s.core.v1.EnvVarSourceArgs(
                secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name="mlflow", key="token")
            ),
        )
    ]
    labels = {"app": "scorer"}
    k8s.apps.v1.Deployment(
        "scorer",
        metadata=k8s.meta.v1.ObjectMetaArgs(name="scorer", namespace="fraud", labels=labels),
        spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=2,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                spec=k8s.core.v1.PodSpecArgs(
                    service_account_name="scorer",
                    automount_service_account_token=False,
                    security_context=k8s.core.v1.PodSecurityContextArgs(
                        run_as_non_root=True,
                        run_as_user=10001,
                        fs_group=10001,
                        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                    ),
                    containers=[scorer],
                ),
            ),
        ),
    )


def gpu_training_job() -> None:
    """A GPU Job on the BU's own pool: quota on GPU requests, queued through Kueue, tolerating
    only the NVIDIA taint and its own BU's taint."""
    k8s.core.v1.ResourceQuota(
        "gpu",
        metadata=k8s.meta.v1.ObjectMetaArgs(name="gpu", namespace="fraud"),
        spec=k8s.core.v1.ResourceQuotaSpecArgs(
            hard={"requests.nvidia.com/gpu": "8", "limits.nvidia.com/gpu": "8"}
        ),
    )
    container = _restricted_container("train", f"{ECR}/fraud-prod/trainer@{DIGEST}")
    container.resources = k8s.core.v1.ResourceRequirementsArgs(
        requests={"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"},
        limits={"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"},
    )
    k8s.batch.v1.Job(
        "train",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name="train", namespace="fraud", labels={"kueue.x-k8s.io/queue-name": "fraud-gpu"}
        ),
        spec=k8s.batch.v1.JobSpecArgs(
            suspend=True,
            backoff_limit=2,
            template=k8s.core.v1.PodTemplateSpecArgs(
                spec=k8s.core.v1.PodSpecArgs(
                    restart_policy="Never",
                    security_context=k8s.core.v1.PodSecurityContextArgs(
                        run_as_non_root=True,
                        run_as_user=10001,
                        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                    ),
                    node_selector={"ai-estate/bu": "fraud"},
                    tolerations=[
                        k8s.core.v1.TolerationArgs(
                            key="nvidia.com/gpu", operator="Exists", effect="NoSchedule"
                        ),
                        k8s.core.v1.TolerationArgs(
                            key="ai-estate/bu", operator="Equal", value="fraud", effect="NoSchedule"
                        ),
                    ],
                    containers=[container],
                )
            ),
        ),
    )


def internal_load_balancer() -> None:
    """A LoadBalancer Service the AWS Load Balancer Controller provisions as an internal NLB."""
    k8s.core.v1.Service(
        "scorer-nlb",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name="scorer",
            namespace="fraud",
            annotations={
                "service.beta.kubernetes.io/aws-load-balancer-type": "external",
                "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
                "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
            },
        ),
        spec=k8s.core.v1.ServiceSpecArgs(
            type="LoadBalancer",
            selector={"app": "scorer"},
            ports=[k8s.core.v1.ServicePortArgs(port=443, target_port=8443)],
        ),
    )


PROGRAMS: dict[str, Callable[[], None]] = {
    f.__name__: f
    for f in (
        sagemaker_execution_role,
        access_log_bucket,
        access_log_bucket_action_pattern,
        access_log_bucket_by_acl,
        org_ecr_repository,
        key_with_policy,
        events_topic,
        irsa_role,
        sagemaker_workloads,
        pinned_deployment,
        internal_load_balancer,
        queue_from_topic,
        github_deploy_role,
        pod_identity_role,
        namespace_access,
        sagemaker_serving,
        sagemaker_monitoring,
        gpu_training_job,
    )
}


STACK_CONFIG = {
    # the identity keys of a BU's Pulumi.<stack>.yaml (see stacks/Pulumi.fraud-prod.yaml)
    "ai-estate:kind": "bu",
    "ai-estate:businessUnit": "fraud",
    "ai-estate:environment": "prod",
    "ai-estate:accountId": ACCOUNT,
    "ai-estate:budget": {"monthlyLimitUsd": 20000},
    "aws:region": REGION,
    "aws:defaultTags": {"tags": OWNERSHIP_TAGS},
}


def _in_bu_stack(program: Callable[[], None]) -> Callable[[], None]:
    """The program plus what every BU stack has: its monthly cost budget."""

    def stack() -> None:
        aws.budgets.Budget(
            "fraud-prod-monthly",
            budget_type="COST",
            limit_amount="20000",
            limit_unit="USD",
            time_unit="MONTHLY",
            cost_filters=[
                aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=["BusinessUnit$fraud"])
            ],
        )
        program()

    return stack


def _judge(program: Callable[[], None]):
    inventory = render(
        _in_bu_stack(program), stack="fraud-prod", project="ai-estate", config=STACK_CONFIG
    )
    return inventory, run_pack(PACK, inventory)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_a_careful_program_draws_no_blocking_finding(name: str):
    inventory, run = _judge(PROGRAMS[name])
    assert len(inventory.resources) >= 3  # the stack, the budget and the program rendered
    blocking = [(f.policy, f.resource_name, f.message) for f in run.findings if f.blocking]
    assert blocking == []
    # judged as a BU stack in prod: the strict profile, not a lenient one
    assert {p.name: p.enforcement for p in run.policies}["iam-no-wildcard-write"] == "mandatory"


def test_the_judge_blocks_what_is_not_careful():
    """The same bucket without a log-delivery grant is a data bucket: SSE-S3 blocks in prod."""
    _, run = _judge(lambda: _log_bucket("fraud-prod-data-4d5e6f", delivery="none"))
    blocking = {f.policy for f in run.findings if f.blocking}
    assert {"s3-bucket-encryption-cmk", "s3-bucket-access-logging"} <= blocking
