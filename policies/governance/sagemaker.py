"""SageMaker rules: notebooks and Studio stay inside the VPC, and every job, model and endpoint
runs isolated, in the VPC, encrypted between containers and under the BU's own keys.

Which SageMaker types pulumi-aws (v7) has decides what a program can declare, and so what is
policed here: `NotebookInstance`, `Domain`, `Model`, `EndpointConfiguration`, `TrainingJob`,
`HyperParameterTuningJob`, `DataQualityJobDefinition`, `MonitoringSchedule` (with an inline job
definition), `LabelingJob` and `FlowDefinition`. Processing jobs and the model-quality, model-bias
and explainability job definitions are not pulumi-aws resources, so no program can declare them.

Family 1, notebooks and Studio:
- `sagemaker-notebook-no-direct-internet`: `direct_internet_access` is `Disabled`. AWS enables
  direct internet access when the field is unset, so an unset value is a violation.
- `sagemaker-notebook-no-root-access`: `root_access` is `Disabled` (AWS's default is Enabled;
  lifecycle configurations still run as root, which is how a platform installs tooling).
- `sagemaker-notebook-in-vpc`: a `subnet_id` and at least one security group.
- `sagemaker-notebook-kms-cmk`: `kms_key_id` names a customer-managed key.
- `sagemaker-notebook-imdsv2`: `instance_metadata_service_configuration` sets
  `minimum_instance_metadata_service_version` to `"2"` (AWS's default still answers IMDSv1).
- `sagemaker-domain-vpc-only`: `app_network_access_type` is `VpcOnly` (the default,
  `PublicInternetOnly`, gives every Studio app a route to the internet around the VPC).
- `sagemaker-domain-kms-cmk`: the domain's EFS home volumes use a customer-managed `kms_key_id`.

Family 2, jobs, models, endpoints and monitoring:
- `sagemaker-network-isolation`: models, training and tuning jobs and monitoring jobs set
  `enable_network_isolation` (their containers get no outbound network and no AWS credentials).
- `sagemaker-inter-container-encryption`: training, tuning and monitoring jobs set
  `enable_inter_container_traffic_encryption` (distributed jobs otherwise talk in the clear).
- `sagemaker-workload-in-vpc`: the same models and jobs name VPC subnets and security groups, so
  their S3 and API traffic goes through the estate's VPC endpoints and endpoint policies.
- `sagemaker-job-kms-cmk`: job outputs and storage volumes use customer-managed keys. A volume on
  an instance type with local NVMe instance storage needs none and may not have one: AWS encrypts
  it in hardware and refuses a `VolumeKmsKeyId` for it.
- `sagemaker-endpoint-config-kms-cmk`: an endpoint configuration's volume key (`kms_key_arn`,
  with the same local-storage exemption), its data capture output and its asynchronous inference
  output all use customer-managed keys.

A job that runs in network isolation still needs its execution role to manage network
interfaces in the VPC; the `iam-no-wildcard-write` rule accepts the network-interface actions
AWS documents for that on `*` (see `identity.VPC_NETWORK_INTERFACE_ACTIONS`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .catalog import (
    BLOCK_EVERYWHERE,
    BLOCK_FROM_STAGING,
    Rule,
    Settings,
    checkov,
    securityhub,
)
from .properties import as_list, get, is_customer_managed_key, is_true, text

NOTEBOOK = "aws:sagemaker/notebookInstance:NotebookInstance"
DOMAIN = "aws:sagemaker/domain:Domain"
MODEL = "aws:sagemaker/model:Model"
ENDPOINT_CONFIGURATION = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
TRAINING_JOB = "aws:sagemaker/trainingJob:TrainingJob"
TUNING_JOB = "aws:sagemaker/hyperParameterTuningJob:HyperParameterTuningJob"
DATA_QUALITY_JOB = "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"
MONITORING_SCHEDULE = "aws:sagemaker/monitoringSchedule:MonitoringSchedule"
LABELING_JOB = "aws:sagemaker/labelingJob:LabelingJob"
FLOW_DEFINITION = "aws:sagemaker/flowDefinition:FlowDefinition"

JOB_TYPES = frozenset({TRAINING_JOB, TUNING_JOB, DATA_QUALITY_JOB, MONITORING_SCHEDULE})
"""Types that run jobs on instances SageMaker launches for them."""

LOCAL_STORAGE_FAMILY = re.compile(
    r"^(ml\.)?([a-z]+\d+[a-z]*d[a-z]*|p5[a-z]*|g[56][a-z]*|gr6|trn[12][a-z]*)\."
)
"""Instance families with local NVMe instance storage (`ml.g4dn`, `ml.p4d`, `ml.m5d`, `ml.c6id`,
and the families whose every size has it: `ml.p5*`, `ml.g5`, `ml.g6*`, `ml.trn1*`), after the EC2
instance-store list. AWS encrypts those volumes with a hardware module and fails a request that
names a volume key for them, so the volume-key checks skip them."""


def has_local_storage(instance_type: Any) -> bool:
    """Whether a SageMaker instance type has local instance storage (no volume key allowed)."""
    return LOCAL_STORAGE_FAMILY.match(text(instance_type).lower()) is not None


def _label(args: ResourceValidationArgs) -> str:
    kind = args.resource_type.rsplit(":", 1)[-1]
    return f"{kind} '{args.name}'"


# -- family 1: notebooks ----------------------------------------------------------------------


def validate_notebook_no_direct_internet(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    value = text(args.props.get("directInternetAccess"))
    if value != "Disabled":
        why = "is Enabled" if value else "is unset, and AWS then enables it"
        report(f"{_label(args)} has direct internet access: direct_internet_access {why}.", None)


def validate_notebook_no_root(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    value = text(args.props.get("rootAccess"))
    if value != "Disabled":
        why = "is Enabled" if value else "is unset, and AWS then enables it"
        report(f"{_label(args)} gives its users root: root_access {why}.", None)


def validate_notebook_in_vpc(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    subnet = text(args.props.get("subnetId"))
    groups = [g for g in as_list(args.props.get("securityGroups")) if text(g)]
    if not subnet:
        report(
            f"{_label(args)} has no subnet_id: it runs in the SageMaker service VPC, outside "
            "every security group, flow log and endpoint policy of the estate.",
            None,
        )
    elif not groups:
        report(f"{_label(args)} is in a subnet but names no security_groups.", None)


def validate_notebook_kms(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    key = args.props.get("kmsKeyId")
    if not is_customer_managed_key(key):
        which = "an AWS-managed key" if text(key) else "no kms_key_id (the AWS-managed key)"
        report(f"{_label(args)} encrypts its storage volume with {which}.", None)


def validate_notebook_imdsv2(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    version = text(
        get(
            args.props,
            "instanceMetadataServiceConfiguration",
            "minimumInstanceMetadataServiceVersion",
        )
    )
    if version != "2":
        shown = version or "unset (AWS answers IMDSv1)"
        report(
            f"{_label(args)} does not require IMDSv2: minimum metadata service version is {shown}.",
            None,
        )


# -- family 1: Studio domains -----------------------------------------------------------------


def validate_domain_vpc_only(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    mode = text(args.props.get("appNetworkAccessType")) or "PublicInternetOnly"
    if mode != "VpcOnly":
        report(
            f"{_label(args)} has app network access {mode}: Studio apps reach the internet "
            "through SageMaker's network instead of the estate's VPC.",
            None,
        )


def validate_domain_kms(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    key = args.props.get("kmsKeyId")
    if not is_customer_managed_key(key):
        which = "an AWS-managed key" if text(key) else "no kms_key_id (the AWS-managed key)"
        report(f"{_label(args)} encrypts its home file system with {which}.", None)


# -- family 2: where each type keeps its network and key settings ----------------------------


def job_definitions(args: ResourceValidationArgs) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(where, settings block) for each place a job type declares its network settings.

    Training jobs and models keep the flags at the top level; tuning jobs in each training job
    definition; data-quality jobs and monitoring schedules in `networkConfig` (a schedule only
    when its job definition is inline: a named one is judged as its own resource).
    """
    props = args.props
    kind = args.resource_type
    if kind in (TRAINING_JOB, MODEL):
        yield "", props
    elif kind == TUNING_JOB:
        single = props.get("trainingJobDefinition")
        several = as_list(props.get("trainingJobDefinitions"))
        for index, definition in enumerate([single, *several] if single is not None else several):
            if isinstance(definition, Mapping):
                name = text(definition.get("definitionName"))
                yield (f"training job definition {name or index}", definition)
    elif kind == DATA_QUALITY_JOB:
        network = props.get("networkConfig")
        yield "network_config", network if isinstance(network, Mapping) else {}
    elif kind == MONITORING_SCHEDULE:
        definition = get(props, "monitoringScheduleConfig", "monitoringJobDefinition")
        if isinstance(definition, Mapping):
            network = definition.get("networkConfig")
            yield (
                "inline monitoring job definition",
                network if isinstance(network, Mapping) else {},
            )


def _where(args: ResourceValidationArgs, where: str) -> str:
    return f"{_label(args)} ({where})" if where else _label(args)


def validate_network_isolation(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    for where, block in job_definitions(args):
        if not is_true(block.get("enableNetworkIsolation")):
            report(
                f"{_where(args, where)} does not enable network isolation: its containers can "
                "call out to the internet and hold AWS credentials.",
                None,
            )


def validate_inter_container_encryption(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    for where, block in job_definitions(args):
        if not is_true(block.get("enableInterContainerTrafficEncryption")):
            report(
                f"{_where(args, where)} does not encrypt traffic between its containers "
                "(enable_inter_container_traffic_encryption).",
                None,
            )


def _vpc_problem(vpc: Any) -> str:
    if not isinstance(vpc, Mapping):
        return "has no vpc_config"
    subnets = [s for s in as_list(vpc.get("subnets")) if text(s)]
    groups = [g for g in as_list(vpc.get("securityGroupIds")) if text(g)]
    if not subnets:
        return "names no VPC subnets"
    if not groups:
        return "names no VPC security groups"
    return ""


def validate_workload_in_vpc(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    for where, block in job_definitions(args):
        problem = _vpc_problem(block.get("vpcConfig"))
        if problem:
            report(
                f"{_where(args, where)} {problem}: it runs outside the estate's VPC, its "
                "security groups and its endpoint policies.",
                None,
            )


# -- family 2: keys ---------------------------------------------------------------------------


def _key_problem(key: Any) -> str:
    if is_customer_managed_key(key):
        return ""
    return "an AWS-managed key" if text(key) else "no key (the AWS-managed key)"


def _volume_needs_key(*instance_types: Any) -> bool:
    """A volume key is required unless an instance type has local storage (AWS refuses one)."""
    return not any(has_local_storage(t) for t in instance_types)


def _resource_config_volumes(config: Any) -> Iterator[tuple[str, Any]]:
    """(instance types, volume key) of a training job's or tuning definition's resources."""
    if not isinstance(config, Mapping):
        return
    types = [config.get("instanceType")]
    types += [get(g, "instanceType") for g in as_list(config.get("instanceGroups"))]
    types += [get(c, "instanceType") for c in as_list(config.get("instanceConfigs"))]
    if _volume_needs_key(*types):
        yield "storage volume", config.get("volumeKmsKeyId")


def job_keys(args: ResourceValidationArgs) -> Iterator[tuple[str, Any]]:
    """(what is encrypted, key) for every output and volume a job type declares."""
    props = args.props
    kind = args.resource_type
    if kind == TRAINING_JOB:
        yield "model output", get(props, "outputDataConfig", "kmsKeyId")
        if props.get("serverlessJobConfig") is None:
            yield from _resource_config_volumes(props.get("resourceConfig"))
    elif kind == TUNING_JOB:
        for where, definition in job_definitions(args):
            yield f"{where} model output", get(definition, "outputDataConfig", "kmsKeyId")
            for config in ("resourceConfig", "hyperParameterTuningResourceConfig"):
                for what, key in _resource_config_volumes(definition.get(config)):
                    yield f"{where} {what}", key
    elif kind == DATA_QUALITY_JOB:
        yield "monitoring output", get(props, "dataQualityJobOutputConfig", "kmsKeyId")
        cluster = get(props, "jobResources", "clusterConfig")
        if _volume_needs_key(get(cluster, "instanceType")):
            yield "storage volume", get(cluster, "volumeKmsKeyId")
    elif kind == MONITORING_SCHEDULE:
        definition = get(props, "monitoringScheduleConfig", "monitoringJobDefinition")
        if isinstance(definition, Mapping):
            yield "monitoring output", get(definition, "monitoringOutputConfig", "kmsKeyId")
            cluster = get(definition, "monitoringResources", "clusterConfig")
            if _volume_needs_key(get(cluster, "instanceType")):
                yield "storage volume", get(cluster, "volumeKmsKeyId")
    elif kind in (LABELING_JOB, FLOW_DEFINITION):
        yield "output", get(props, "outputConfig", "kmsKeyId")
        # Automated labeling trains and runs models on instances SageMaker chooses.
        if kind == LABELING_JOB and isinstance(props.get("labelingJobAlgorithmsConfig"), Mapping):
            resources = get(props, "labelingJobAlgorithmsConfig", "labelingJobResourceConfig")
            yield "automated labeling volume", get(resources, "volumeKmsKeyId")


def validate_job_kms(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    for what, key in job_keys(args):
        problem = _key_problem(key)
        if problem:
            report(f"{_label(args)} encrypts its {what} with {problem}.", None)


def endpoint_config_keys(args: ResourceValidationArgs) -> Iterator[tuple[str, Any]]:
    """(what is encrypted, key) of an endpoint configuration: volumes, capture, async output."""
    props = args.props
    variants = [
        *as_list(props.get("productionVariants")),
        *as_list(props.get("shadowProductionVariants")),
    ]
    instance_types = [get(v, "instanceType") for v in variants]
    # Serverless variants have no instance type and no volume; a key is needed once any
    # variant runs on instances, unless one of them has local storage (AWS then refuses it).
    if any(text(t) for t in instance_types) and _volume_needs_key(*instance_types):
        yield "storage volumes (kms_key_arn)", props.get("kmsKeyArn")
    capture = props.get("dataCaptureConfig")
    enabled = get(capture, "enableCapture")
    if isinstance(capture, Mapping) and not (enabled is False or text(enabled).lower() == "false"):
        yield "captured data", capture.get("kmsKeyId")
    asynchronous = props.get("asyncInferenceConfig")
    if isinstance(asynchronous, Mapping):
        yield "asynchronous inference output", get(asynchronous, "outputConfig", "kmsKeyId")


def validate_endpoint_config_kms(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    for what, key in endpoint_config_keys(args):
        problem = _key_problem(key)
        if problem:
            report(f"{_label(args)} encrypts its {what} with {problem}.", None)


# -- the rules --------------------------------------------------------------------------------

NETWORK_TYPES = frozenset({MODEL, *JOB_TYPES})
KEY_TYPES = frozenset({*JOB_TYPES, LABELING_JOB, FLOW_DEFINITION})

RULES: tuple[Rule, ...] = (
    Rule(
        id="sagemaker-notebook-no-direct-internet",
        title="Notebook instances have no direct internet access",
        description="Every SageMaker notebook instance sets direct_internet_access to Disabled.",
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Set direct_internet_access='Disabled' on the aws.sagemaker.NotebookInstance (with "
            "subnet_id and security_groups); reach AWS APIs through the VPC's interface "
            "endpoints and package mirrors through the estate's egress."
        ),
        kind="resource",
        validate=validate_notebook_no_direct_internet,
        resource_types=frozenset({NOTEBOOK}),
        frameworks=(securityhub("SageMaker.1"), checkov("CKV_AWS_122")),
        domain="sagemaker",
        rationale=(
            "A notebook carries an execution role that reads the BU's data: direct internet "
            "access makes it an exfiltration path around every control of the VPC. AWS enables "
            "it when the field is unset, so unset fails too. Blocked in dev as well: dev "
            "notebooks read real feature tables."
        ),
    ),
    Rule(
        id="sagemaker-notebook-no-root-access",
        title="Notebook users have no root",
        description="Every SageMaker notebook instance sets root_access to Disabled.",
        severity="high",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set root_access='Disabled'; install system packages in a notebook instance "
            "lifecycle configuration (which still runs as root) and Python packages in user "
            "environments."
        ),
        kind="resource",
        validate=validate_notebook_no_root,
        resource_types=frozenset({NOTEBOOK}),
        frameworks=(securityhub("SageMaker.3"), checkov("CKV_AWS_307")),
        domain="sagemaker",
        rationale=(
            "Root on the instance can read every user's files and change what the execution "
            "role's credentials are used for. Advisory in dev, where people try packages."
        ),
    ),
    Rule(
        id="sagemaker-notebook-in-vpc",
        title="Notebook instances run in the estate's VPC",
        description="Every SageMaker notebook instance names a subnet_id and security groups.",
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Set subnet_id to one of the platform's private subnets and security_groups to a "
            "group that allows only the BU's flows (outputs of the platform stack)."
        ),
        kind="resource",
        validate=validate_notebook_in_vpc,
        resource_types=frozenset({NOTEBOOK}),
        frameworks=(securityhub("SageMaker.2"), checkov("CKV_AWS_306")),
        domain="sagemaker",
    ),
    Rule(
        id="sagemaker-notebook-kms-cmk",
        title="Notebook volumes use the BU's key",
        description="Every SageMaker notebook instance encrypts its volume with a customer-managed key.",
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation="Set kms_key_id to the BU's KMS key ARN (BuKey.arn).",
        kind="resource",
        validate=validate_notebook_kms,
        resource_types=frozenset({NOTEBOOK}),
        frameworks=(checkov("CKV_AWS_22"), checkov("CKV_AWS_187"), securityhub("SageMaker.21")),
        domain="sagemaker",
    ),
    Rule(
        id="sagemaker-notebook-imdsv2",
        title="Notebook instances require IMDSv2",
        description=(
            "Every SageMaker notebook instance sets the minimum instance metadata service "
            "version to 2."
        ),
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Set instance_metadata_service_configuration={'minimum_instance_metadata_service_"
            "version': '2'} on the aws.sagemaker.NotebookInstance (Amazon Linux 2 platforms, "
            "platform_identifier notebook-al2-v2 or later)."
        ),
        kind="resource",
        validate=validate_notebook_imdsv2,
        resource_types=frozenset({NOTEBOOK}),
        frameworks=(checkov("CKV_AWS_371"),),
        domain="sagemaker",
        rationale=(
            "IMDSv1 answers any request a notebook's code can be tricked into making (SSRF) with "
            "the execution role's credentials; IMDSv2 needs a session token first. As for EC2 "
            "(ec2-imdsv2-required), enforced everywhere."
        ),
    ),
    Rule(
        id="sagemaker-domain-vpc-only",
        title="Studio domains are VPC-only",
        description="Every SageMaker Studio domain sets app_network_access_type to VpcOnly.",
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Set app_network_access_type='VpcOnly' with vpc_id and subnet_ids from the platform "
            "and default_user_settings.security_groups; provide the SageMaker API, runtime, STS "
            "and S3 endpoints in the VPC."
        ),
        kind="resource",
        validate=validate_domain_vpc_only,
        resource_types=frozenset({DOMAIN}),
        domain="sagemaker",
        rationale=(
            "PublicInternetOnly (the default) routes every Studio app's traffic through "
            "SageMaker's network to the internet, bypassing the VPC; no public scanner control "
            "id exists for it (AWS's Studio security guidance recommends VpcOnly)."
        ),
    ),
    Rule(
        id="sagemaker-domain-kms-cmk",
        title="Studio domains use the BU's key",
        description="Every SageMaker Studio domain encrypts its home file system with a customer-managed key.",
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation="Set kms_key_id on the aws.sagemaker.Domain to the BU's KMS key ARN.",
        kind="resource",
        validate=validate_domain_kms,
        resource_types=frozenset({DOMAIN}),
        frameworks=(checkov("CKV_AWS_187"),),
        domain="sagemaker",
    ),
    Rule(
        id="sagemaker-network-isolation",
        title="SageMaker models and jobs run network-isolated",
        description=(
            "Models, training and tuning jobs, data quality job definitions and inline "
            "monitoring jobs enable network isolation."
        ),
        severity="high",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set enable_network_isolation=True (on a tuning job's training_job_definition, on a "
            "job definition's network_config); stage inputs in S3 or FSx, which SageMaker "
            "mounts for an isolated container."
        ),
        kind="resource",
        validate=validate_network_isolation,
        resource_types=NETWORK_TYPES,
        frameworks=(
            securityhub("SageMaker.5"),
            securityhub("SageMaker.11"),
            securityhub("SageMaker.14"),
            checkov("CKV_AWS_370"),
        ),
        domain="sagemaker",
        rationale=(
            "An isolated container has no outbound network and no AWS credentials: a malicious "
            "model artifact or dependency has nothing to call. Advisory in dev, where a job may "
            "still download what it needs."
        ),
    ),
    Rule(
        id="sagemaker-inter-container-encryption",
        title="Distributed SageMaker jobs encrypt traffic between containers",
        description=(
            "Training and tuning jobs, data quality job definitions and inline monitoring jobs "
            "enable inter-container traffic encryption."
        ),
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation="Set enable_inter_container_traffic_encryption=True.",
        kind="resource",
        validate=validate_inter_container_encryption,
        resource_types=JOB_TYPES,
        frameworks=(
            securityhub("SageMaker.9"),
            securityhub("SageMaker.22"),
            checkov("CKV_AWS_369"),
        ),
        domain="sagemaker",
        rationale=(
            "Distributed jobs exchange weights and data between instances; the flag costs "
            "nothing on a single instance and protects the job the day it scales out."
        ),
    ),
    Rule(
        id="sagemaker-workload-in-vpc",
        title="SageMaker models and jobs run in the estate's VPC",
        description=(
            "Models, training and tuning jobs, data quality job definitions and inline "
            "monitoring jobs name VPC subnets and security groups."
        ),
        severity="high",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set vpc_config (network_config.vpc_config on job definitions) with the platform's "
            "private subnets and a security group; give the execution role the VPC "
            "network-interface permissions AWS documents."
        ),
        kind="resource",
        validate=validate_workload_in_vpc,
        resource_types=NETWORK_TYPES,
        domain="sagemaker",
        rationale=(
            "Outside a VPC, a job's S3 traffic bypasses the estate's gateway endpoint policies "
            "that keep a BU to its own buckets."
        ),
    ),
    Rule(
        id="sagemaker-job-kms-cmk",
        title="SageMaker job outputs and volumes use the BU's key",
        description=(
            "Training and tuning jobs, monitoring jobs, labeling jobs and human review flows "
            "encrypt their outputs, and their storage volumes unless the instance type has "
            "local storage, with customer-managed keys."
        ),
        severity="medium",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set output_data_config.kms_key_id / *_output_config.kms_key_id and "
            "resource_config.volume_kms_key_id (cluster_config.volume_kms_key_id) to the BU's "
            "key ARN; leave the volume key out for instance types with local NVMe storage."
        ),
        kind="resource",
        validate=validate_job_kms,
        resource_types=KEY_TYPES,
        frameworks=(checkov("CKV_AWS_367"), checkov("CKV_AWS_368"), checkov("CKV_AWS_372")),
        domain="sagemaker",
    ),
    Rule(
        id="sagemaker-endpoint-config-kms-cmk",
        title="Endpoint configurations use the BU's key",
        description=(
            "Every endpoint configuration encrypts its volumes (unless an instance type has "
            "local storage), its captured data and its asynchronous output with "
            "customer-managed keys."
        ),
        severity="high",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Set kms_key_arn, data_capture_config.kms_key_id and "
            "async_inference_config.output_config.kms_key_id to the BU's key ARN."
        ),
        kind="resource",
        validate=validate_endpoint_config_kms,
        resource_types=frozenset({ENDPOINT_CONFIGURATION}),
        frameworks=(checkov("CKV_AWS_98"),),
        domain="sagemaker",
        rationale=(
            "Data capture stores real inference requests and responses: the most sensitive "
            "copy of production data the serving path writes."
        ),
    ),
)
