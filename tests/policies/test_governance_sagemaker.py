"""SageMaker rules: a bad and a good program for each, the AWS defaults and exemptions they
encode, and a hand-written well-configured SageMaker program the whole pack must let through.

Every program is built from real pulumi_aws resources, so the property names the rules read are
the provider's. `SAGEMAKER_CASES` has the shape of the other `*_CASES` tables (bad program, the
logical names it must flag, good program), so the catalog test counts these rules as covered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi_aws as aws
import pytest
from governance import rule as find_rule
from governance.catalog import ENVIRONMENTS
from governance.identity import wildcard_problems
from governance.sagemaker import RULES, has_local_storage
from policy_harness import POLICIES_DIR, check, names, render_program
from policy_programs import KEY_ARN, OWNERSHIP_TAGS, unknown
from pulumi_policy.proxy import UnknownValueError

from estate.offline.runner import run_pack

Program = Callable[[], None]
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/fraud-prod-sagemaker"
SUBNETS = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
GROUPS = ["sg-0a1b2c3d4e5f60001"]
IMAGE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/fraud-prod/scorer:1.4.2"
BUCKET = "s3://fraud-prod-artifacts-1a2b"
AWS_MANAGED = "alias/aws/sagemaker"


# -- builders: a well-configured resource of each type, broken one setting at a time ----------


def notebook(name: str, **overrides: Any) -> aws.sagemaker.NotebookInstance:
    settings: dict[str, Any] = {
        "instance_type": "ml.t3.medium",
        "role_arn": ROLE_ARN,
        "direct_internet_access": "Disabled",
        "root_access": "Disabled",
        "subnet_id": SUBNETS[0],
        "security_groups": GROUPS,
        "kms_key_id": KEY_ARN,
        "platform_identifier": "notebook-al2-v3",
        "instance_metadata_service_configuration": (
            aws.sagemaker.NotebookInstanceInstanceMetadataServiceConfigurationArgs(
                minimum_instance_metadata_service_version="2"
            )
        ),
        "tags": OWNERSHIP_TAGS,
        **overrides,
    }
    return aws.sagemaker.NotebookInstance(name, **settings)


def domain(name: str, **overrides: Any) -> aws.sagemaker.Domain:
    settings: dict[str, Any] = {
        "domain_name": f"fraud-prod-{name}",
        "auth_mode": "IAM",
        "vpc_id": "vpc-0a1b2c3d4e5f60001",
        "subnet_ids": SUBNETS,
        "app_network_access_type": "VpcOnly",
        "kms_key_id": KEY_ARN,
        "default_user_settings": aws.sagemaker.DomainDefaultUserSettingsArgs(
            execution_role=ROLE_ARN, security_groups=GROUPS
        ),
        "tags": OWNERSHIP_TAGS,
        **overrides,
    }
    return aws.sagemaker.Domain(name, **settings)


def model(name: str, **overrides: Any) -> aws.sagemaker.Model:
    settings: dict[str, Any] = {
        "execution_role_arn": ROLE_ARN,
        "primary_container": aws.sagemaker.ModelPrimaryContainerArgs(
            image=IMAGE, model_data_url=f"{BUCKET}/models/scorer/model.tar.gz"
        ),
        "enable_network_isolation": True,
        "vpc_config": aws.sagemaker.ModelVpcConfigArgs(subnets=SUBNETS, security_group_ids=GROUPS),
        "tags": OWNERSHIP_TAGS,
        **overrides,
    }
    return aws.sagemaker.Model(name, **settings)


def variant(instance_type: str | None = "ml.m5.xlarge", **extra: Any) -> Any:
    return aws.sagemaker.EndpointConfigurationProductionVariantArgs(
        model_name="fraud-prod-scorer",
        variant_name="primary",
        initial_instance_count=2 if instance_type else None,
        instance_type=instance_type,
        **extra,
    )


def capture(key: str | None = KEY_ARN, **extra: Any) -> Any:
    return aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs(
        destination_s3_uri=f"{BUCKET}/capture",
        initial_sampling_percentage=10,
        capture_options=[
            aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureOptionArgs(
                capture_mode="InputAndOutput"
            )
        ],
        kms_key_id=key,
        **extra,
    )


def endpoint_config(name: str, **overrides: Any) -> aws.sagemaker.EndpointConfiguration:
    settings: dict[str, Any] = {
        "production_variants": [variant()],
        "kms_key_arn": KEY_ARN,
        "data_capture_config": capture(),
        "tags": OWNERSHIP_TAGS,
        **overrides,
    }
    return aws.sagemaker.EndpointConfiguration(name, **settings)


def training_job(name: str, **overrides: Any) -> aws.sagemaker.TrainingJob:
    settings: dict[str, Any] = {
        "training_job_name": f"fraud-prod-{name}",
        "role_arn": ROLE_ARN,
        "algorithm_specification": aws.sagemaker.TrainingJobAlgorithmSpecificationArgs(
            training_image=IMAGE, training_input_mode="File"
        ),
        "output_data_config": aws.sagemaker.TrainingJobOutputDataConfigArgs(
            s3_output_path=f"{BUCKET}/training", kms_key_id=KEY_ARN
        ),
        "resource_config": aws.sagemaker.TrainingJobResourceConfigArgs(
            instance_type="ml.m5.2xlarge",
            instance_count=2,
            volume_size_in_gb=50,
            volume_kms_key_id=KEY_ARN,
        ),
        "stopping_condition": aws.sagemaker.TrainingJobStoppingConditionArgs(
            max_runtime_in_seconds=3600
        ),
        "enable_network_isolation": True,
        "enable_inter_container_traffic_encryption": True,
        "vpc_config": aws.sagemaker.TrainingJobVpcConfigArgs(
            subnets=SUBNETS, security_group_ids=GROUPS
        ),
        "tags": OWNERSHIP_TAGS,
        **overrides,
    }
    return aws.sagemaker.TrainingJob(name, **settings)


def tuning_definition(**overrides: Any) -> Any:
    settings: dict[str, Any] = {
        "definition_name": "xgb",
        "role_arn": ROLE_ARN,
        "algorithm_specification": (
            aws.sagemaker.HyperParameterTuningJobTrainingJobDefinitionAlgorithmSpecificationArgs(
                training_image=IMAGE, training_input_mode="File"
            )
        ),
        "output_data_config": (
            aws.sagemaker.HyperParameterTuningJobTrainingJobDefinitionOutputDataConfigArgs(
                s3_output_path=f"{BUCKET}/tuning", kms_key_id=KEY_ARN
            )
        ),
        "resource_config": (
            aws.sagemaker.HyperParameterTuningJobTrainingJobDefinitionResourceConfigArgs(
                instance_type="ml.m5.2xlarge",
                instance_count=1,
                volume_size_in_gb=50,
                volume_kms_key_id=KEY_ARN,
            )
        ),
        "stopping_condition": (
            aws.sagemaker.HyperParameterTuningJobTrainingJobDefinitionStoppingConditionArgs(
                max_runtime_in_seconds=3600
            )
        ),
        "enable_network_isolation": True,
        "enable_inter_container_traffic_encryption": True,
        "vpc_config": aws.sagemaker.HyperParameterTuningJobTrainingJobDefinitionVpcConfigArgs(
            subnets=SUBNETS, security_group_ids=GROUPS
        ),
        **overrides,
    }
    return aws.sagemaker.HyperParameterTuningJobTrainingJobDefinitionArgs(**settings)


def tuning_job(name: str, *definitions: Any, **overrides: Any):
    settings: dict[str, Any] = {
        "name": f"fraud-prod-{name}",
        "config": aws.sagemaker.HyperParameterTuningJobConfigArgs(
            strategy="Bayesian",
            resource_limits=aws.sagemaker.HyperParameterTuningJobConfigResourceLimitsArgs(
                max_parallel_training_jobs=2, max_number_of_training_jobs=10
            ),
        ),
        "training_job_definition": definitions[0] if len(definitions) == 1 else None,
        "training_job_definitions": list(definitions) if len(definitions) > 1 else None,
        "tags": OWNERSHIP_TAGS,
        **overrides,
    }
    return aws.sagemaker.HyperParameterTuningJob(name, **settings)


def data_quality_job(name: str, **overrides: Any) -> aws.sagemaker.DataQualityJobDefinition:
    dq = aws.sagemaker
    settings: dict[str, Any] = {
        "name": f"fraud-prod-{name}",
        "role_arn": ROLE_ARN,
        "data_quality_app_specification": dq.DataQualityJobDefinitionDataQualityAppSpecificationArgs(
            image_uri=IMAGE
        ),
        "data_quality_job_input": dq.DataQualityJobDefinitionDataQualityJobInputArgs(
            endpoint_input=dq.DataQualityJobDefinitionDataQualityJobInputEndpointInputArgs(
                endpoint_name="fraud-prod-scorer"
            )
        ),
        "data_quality_job_output_config": dq.DataQualityJobDefinitionDataQualityJobOutputConfigArgs(
            kms_key_id=KEY_ARN,
            monitoring_outputs=dq.DataQualityJobDefinitionDataQualityJobOutputConfigMonitoringOutputsArgs(
                s3_output=dq.DataQualityJobDefinitionDataQualityJobOutputConfigMonitoringOutputsS3OutputArgs(
                    s3_uri=f"{BUCKET}/monitoring"
                )
            ),
        ),
        "job_resources": dq.DataQualityJobDefinitionJobResourcesArgs(
            cluster_config=dq.DataQualityJobDefinitionJobResourcesClusterConfigArgs(
                instance_count=1,
                instance_type="ml.m5.large",
                volume_size_in_gb=20,
                volume_kms_key_id=KEY_ARN,
            )
        ),
        "network_config": dq.DataQualityJobDefinitionNetworkConfigArgs(
            enable_network_isolation=True,
            enable_inter_container_traffic_encryption=True,
            vpc_config=dq.DataQualityJobDefinitionNetworkConfigVpcConfigArgs(
                subnets=SUBNETS, security_group_ids=GROUPS
            ),
        ),
        "tags": OWNERSHIP_TAGS,
        **overrides,
    }
    return aws.sagemaker.DataQualityJobDefinition(name, **settings)


_MS = "MonitoringScheduleMonitoringScheduleConfigMonitoringJobDefinition"


def _ms(suffix: str) -> Any:
    return getattr(aws.sagemaker, f"{_MS}{suffix}Args")


def monitoring_network(**overrides: Any) -> Any:
    settings: dict[str, Any] = {
        "enable_network_isolation": True,
        "enable_inter_container_traffic_encryption": True,
        "vpc_config": _ms("NetworkConfigVpcConfig")(subnets=SUBNETS, security_group_ids=GROUPS),
        **overrides,
    }
    return _ms("NetworkConfig")(**settings)


def inline_schedule(name: str, *, network: Any = None, output_key: Any = KEY_ARN, **cluster: Any):
    cluster_settings: dict[str, Any] = {
        "instance_count": 1,
        "instance_type": "ml.m5.large",
        "volume_size_in_gb": 20,
        "volume_kms_key_id": KEY_ARN,
        **cluster,
    }
    definition = _ms("")(
        role_arn=ROLE_ARN,
        monitoring_app_specification=_ms("MonitoringAppSpecification")(image_uri=IMAGE),
        monitoring_inputs=_ms("MonitoringInputs")(
            endpoint_input=_ms("MonitoringInputsEndpointInput")(
                endpoint_name="fraud-prod-scorer", local_path="/opt/ml/processing/input"
            )
        ),
        monitoring_output_config=_ms("MonitoringOutputConfig")(
            kms_key_id=output_key,
            monitoring_outputs=_ms("MonitoringOutputConfigMonitoringOutputs")(
                s3_output=_ms("MonitoringOutputConfigMonitoringOutputsS3Output")(
                    s3_uri=f"{BUCKET}/monitoring", local_path="/opt/ml/processing/output"
                )
            ),
        ),
        monitoring_resources=_ms("MonitoringResources")(
            cluster_config=_ms("MonitoringResourcesClusterConfig")(**cluster_settings)
        ),
        network_config=monitoring_network() if network is None else network,
    )
    return aws.sagemaker.MonitoringSchedule(
        name,
        name=f"fraud-prod-{name}",
        monitoring_schedule_config=aws.sagemaker.MonitoringScheduleMonitoringScheduleConfigArgs(
            monitoring_type="DataQuality",
            monitoring_job_definition=definition,
        ),
        tags=OWNERSHIP_TAGS,
    )


def named_schedule(name: str, definition: Any) -> aws.sagemaker.MonitoringSchedule:
    return aws.sagemaker.MonitoringSchedule(
        name,
        name=f"fraud-prod-{name}",
        monitoring_schedule_config=aws.sagemaker.MonitoringScheduleMonitoringScheduleConfigArgs(
            monitoring_type="DataQuality",
            monitoring_job_definition_name=definition.name,
            schedule_config=aws.sagemaker.MonitoringScheduleMonitoringScheduleConfigScheduleConfigArgs(
                schedule_expression="cron(0 * ? * * *)"
            ),
        ),
        tags=OWNERSHIP_TAGS,
    )


def flow_definition(name: str, key: Any = KEY_ARN) -> aws.sagemaker.FlowDefinition:
    return aws.sagemaker.FlowDefinition(
        name,
        flow_definition_name=f"fraud-prod-{name}",
        role_arn=ROLE_ARN,
        human_loop_config=aws.sagemaker.FlowDefinitionHumanLoopConfigArgs(
            human_task_ui_arn=f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:human-task-ui/review",
            task_count=1,
            task_description="Review a fraud decision",
            task_title="Fraud review",
            workteam_arn=f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:workteam/private-crowd/fraud",
        ),
        output_config=aws.sagemaker.FlowDefinitionOutputConfigArgs(
            s3_output_path=f"{BUCKET}/reviews", kms_key_id=key
        ),
        tags=OWNERSHIP_TAGS,
    )


def labeling_job(name: str, key: Any = KEY_ARN, **overrides: Any) -> aws.sagemaker.LabelingJob:
    settings: dict[str, Any] = {
        "labeling_job_name": f"fraud-prod-{name}",
        "label_attribute_name": "label",
        "role_arn": ROLE_ARN,
        "human_task_config": aws.sagemaker.LabelingJobHumanTaskConfigArgs(
            number_of_human_workers_per_data_object=1,
            task_description="Label transactions",
            task_time_limit_in_seconds=300,
            task_title="Transactions",
            ui_config=aws.sagemaker.LabelingJobHumanTaskConfigUiConfigArgs(
                ui_template_s3_uri=f"{BUCKET}/labeling/template.liquid"
            ),
            workteam_arn=f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:workteam/private-crowd/fraud",
        ),
        "input_config": aws.sagemaker.LabelingJobInputConfigArgs(
            data_source=aws.sagemaker.LabelingJobInputConfigDataSourceArgs(
                s3_data_source=aws.sagemaker.LabelingJobInputConfigDataSourceS3DataSourceArgs(
                    manifest_s3_uri=f"{BUCKET}/labeling/manifest.json"
                )
            )
        ),
        "output_config": aws.sagemaker.LabelingJobOutputConfigArgs(
            s3_output_path=f"{BUCKET}/labeling/out", kms_key_id=key
        ),
        "tags": OWNERSHIP_TAGS,
        **overrides,
    }
    return aws.sagemaker.LabelingJob(name, **settings)


# -- family 1: notebooks and Studio ------------------------------------------------------------


def bad_direct_internet() -> None:
    notebook("unset-internet", direct_internet_access=None)
    notebook("internet-on", direct_internet_access="Enabled")


def bad_root() -> None:
    notebook("unset-root", root_access=None)
    notebook("root-on", root_access="Enabled")


def bad_notebook_vpc() -> None:
    notebook("service-vpc", subnet_id=None, security_groups=None, direct_internet_access=None)
    notebook("no-groups", security_groups=[])


def bad_notebook_kms() -> None:
    notebook("default-key", kms_key_id=None)
    notebook("aws-managed", kms_key_id=AWS_MANAGED)


def bad_notebook_imds() -> None:
    notebook("imds-unset", instance_metadata_service_configuration=None)
    notebook(
        "imds-v1",
        instance_metadata_service_configuration=aws.sagemaker.NotebookInstanceInstanceMetadataServiceConfigurationArgs(
            minimum_instance_metadata_service_version="1"
        ),
    )


def good_notebooks() -> None:
    notebook("research")


def bad_domain_vpc() -> None:
    domain("public-default", app_network_access_type=None)
    domain("public", app_network_access_type="PublicInternetOnly")


def bad_domain_kms() -> None:
    domain("default-key", kms_key_id=None)
    domain("aws-managed", kms_key_id=f"arn:aws:kms:us-east-1:{ACCOUNT}:{AWS_MANAGED}")


def good_domains() -> None:
    domain("studio")


# -- family 2: jobs, models, endpoints, monitoring ---------------------------------------------


def bad_isolation() -> None:
    model("open-model", enable_network_isolation=None)
    training_job("open-training", enable_network_isolation=False)
    tuning_job("open-tuning", tuning_definition(enable_network_isolation=None))
    data_quality_job(
        "open-quality",
        network_config=aws.sagemaker.DataQualityJobDefinitionNetworkConfigArgs(
            enable_inter_container_traffic_encryption=True,
            vpc_config=aws.sagemaker.DataQualityJobDefinitionNetworkConfigVpcConfigArgs(
                subnets=SUBNETS, security_group_ids=GROUPS
            ),
        ),
    )
    inline_schedule("open-schedule", network=monitoring_network(enable_network_isolation=False))


def bad_inter_container() -> None:
    training_job("clear-training", enable_inter_container_traffic_encryption=None)
    tuning_job(
        "clear-tuning",
        tuning_definition(),
        tuning_definition(definition_name="lgbm", enable_inter_container_traffic_encryption=False),
    )
    data_quality_job("clear-quality", network_config=None)
    inline_schedule(
        "clear-schedule",
        network=monitoring_network(enable_inter_container_traffic_encryption=None),
    )


def bad_vpc() -> None:
    model("no-vpc-model", vpc_config=None)
    training_job("no-vpc-training", vpc_config=None)
    tuning_job(
        "no-groups-tuning",
        tuning_definition(vpc_config={"subnets": SUBNETS, "security_group_ids": []}),
    )
    data_quality_job("no-network-quality", network_config=None)
    inline_schedule("no-vpc-schedule", network=monitoring_network(vpc_config=None))


def good_jobs() -> None:
    model("scorer")
    training_job("train")
    tuning_job("tune", tuning_definition(), tuning_definition(definition_name="lgbm"))
    quality = data_quality_job("quality")
    named_schedule("quality-hourly", quality)  # judged through its named definition
    inline_schedule("inline-hourly")
    # A GPU training job on local NVMe storage: AWS refuses a volume key there.
    training_job(
        "train-gpu",
        resource_config=aws.sagemaker.TrainingJobResourceConfigArgs(
            instance_type="ml.g5.12xlarge", instance_count=1, volume_size_in_gb=100
        ),
    )
    labeling_job("label")
    flow_definition("review")


def bad_job_kms() -> None:
    training_job(
        "training-default-keys",
        output_data_config=aws.sagemaker.TrainingJobOutputDataConfigArgs(
            s3_output_path=f"{BUCKET}/training"
        ),
    )
    training_job(
        "training-volume-aws-key",
        resource_config=aws.sagemaker.TrainingJobResourceConfigArgs(
            instance_type="ml.m5.2xlarge",
            instance_count=1,
            volume_size_in_gb=50,
            volume_kms_key_id=AWS_MANAGED,
        ),
    )
    tuning_job(
        "tuning-no-volume-key",
        tuning_definition(
            resource_config=aws.sagemaker.HyperParameterTuningJobTrainingJobDefinitionResourceConfigArgs(
                instance_type="ml.c5.4xlarge", instance_count=1, volume_size_in_gb=50
            )
        ),
    )
    data_quality_job(
        "quality-no-output-key",
        data_quality_job_output_config=aws.sagemaker.DataQualityJobDefinitionDataQualityJobOutputConfigArgs(
            monitoring_outputs=aws.sagemaker.DataQualityJobDefinitionDataQualityJobOutputConfigMonitoringOutputsArgs(
                s3_output=aws.sagemaker.DataQualityJobDefinitionDataQualityJobOutputConfigMonitoringOutputsS3OutputArgs(
                    s3_uri=f"{BUCKET}/monitoring"
                )
            )
        ),
    )
    inline_schedule("schedule-no-volume-key", volume_kms_key_id=None)
    labeling_job("label-no-key", key=None)
    labeling_job(
        "auto-label-no-volume-key",
        labeling_job_algorithms_config=aws.sagemaker.LabelingJobLabelingJobAlgorithmsConfigArgs(
            labeling_job_algorithm_specification_arn=(
                "arn:aws:sagemaker:us-east-1:027400017018:labeling-job-algorithm-specification/"
                "image-classification"
            )
        ),
    )
    flow_definition("review-aws-key", key=AWS_MANAGED)


def bad_endpoint_kms() -> None:
    endpoint_config("no-volume-key", kms_key_arn=None)
    endpoint_config("capture-no-key", data_capture_config=capture(key=None))
    endpoint_config(
        "async-aws-key",
        async_inference_config=aws.sagemaker.EndpointConfigurationAsyncInferenceConfigArgs(
            output_config=aws.sagemaker.EndpointConfigurationAsyncInferenceConfigOutputConfigArgs(
                s3_output_path=f"{BUCKET}/async", kms_key_id=AWS_MANAGED
            )
        ),
    )


def good_endpoints() -> None:
    endpoint_config("scorer")
    # Local NVMe storage: the volume key must be left out (AWS fails the call otherwise).
    endpoint_config("scorer-gpu", kms_key_arn=None, production_variants=[variant("ml.g4dn.xlarge")])
    # Serverless variants have no volume; capture switched off stores nothing.
    endpoint_config(
        "scorer-serverless",
        kms_key_arn=None,
        production_variants=[
            variant(
                None,
                serverless_config=aws.sagemaker.EndpointConfigurationProductionVariantServerlessConfigArgs(
                    max_concurrency=5, memory_size_in_mb=2048
                ),
            )
        ],
        data_capture_config=capture(key=None, enable_capture=False),
    )


SAGEMAKER_CASES: dict[str, tuple[Program, set[str], Program]] = {
    "sagemaker-notebook-no-direct-internet": (
        bad_direct_internet,
        {"unset-internet", "internet-on"},
        good_notebooks,
    ),
    "sagemaker-notebook-no-root-access": (bad_root, {"unset-root", "root-on"}, good_notebooks),
    "sagemaker-notebook-in-vpc": (bad_notebook_vpc, {"service-vpc", "no-groups"}, good_notebooks),
    "sagemaker-notebook-kms-cmk": (
        bad_notebook_kms,
        {"default-key", "aws-managed"},
        good_notebooks,
    ),
    "sagemaker-notebook-imdsv2": (bad_notebook_imds, {"imds-unset", "imds-v1"}, good_notebooks),
    "sagemaker-domain-vpc-only": (bad_domain_vpc, {"public-default", "public"}, good_domains),
    "sagemaker-domain-kms-cmk": (bad_domain_kms, {"default-key", "aws-managed"}, good_domains),
    "sagemaker-network-isolation": (
        bad_isolation,
        {"open-model", "open-training", "open-tuning", "open-quality", "open-schedule"},
        good_jobs,
    ),
    "sagemaker-inter-container-encryption": (
        bad_inter_container,
        {"clear-training", "clear-tuning", "clear-quality", "clear-schedule"},
        good_jobs,
    ),
    "sagemaker-workload-in-vpc": (
        bad_vpc,
        {
            "no-vpc-model",
            "no-vpc-training",
            "no-groups-tuning",
            "no-network-quality",
            "no-vpc-schedule",
        },
        good_jobs,
    ),
    "sagemaker-job-kms-cmk": (
        bad_job_kms,
        {
            "training-default-keys",
            "training-volume-aws-key",
            "tuning-no-volume-key",
            "quality-no-output-key",
            "schedule-no-volume-key",
            "label-no-key",
            "auto-label-no-volume-key",
            "review-aws-key",
        },
        good_jobs,
    ),
    "sagemaker-endpoint-config-kms-cmk": (
        bad_endpoint_kms,
        {"no-volume-key", "capture-no-key", "async-aws-key"},
        good_endpoints,
    ),
}


def test_every_sagemaker_rule_has_a_case():
    assert set(SAGEMAKER_CASES) == {r.id for r in RULES}
    assert all(find_rule(r.id) is r for r in RULES), "sagemaker rules are in the pack"


@pytest.mark.parametrize("rule_id", sorted(SAGEMAKER_CASES))
def test_bad_program_is_caught(rule_id: str):
    bad, flagged, _ = SAGEMAKER_CASES[rule_id]
    violations = check(rule_id, bad, environment="prod")
    assert set(names(violations)) == flagged
    assert all(v.message for v in violations)


@pytest.mark.parametrize("rule_id", sorted(SAGEMAKER_CASES))
def test_good_program_passes(rule_id: str):
    _, _, good = SAGEMAKER_CASES[rule_id]
    assert check(rule_id, good, environment="prod") == []


# -- details -----------------------------------------------------------------------------------


def test_every_rule_is_mandatory_in_prod_and_has_framework_ids_or_a_reason():
    for r in RULES:
        assert r.enforcement["prod"] == "mandatory", r.id
        assert r.enforcement["dev"] in ("advisory", "mandatory"), r.id
        assert r.remediation and r.domain == "sagemaker"
        assert (
            r.frameworks
            or "no public scanner" in r.rationale
            or r.id == ("sagemaker-workload-in-vpc")
        ), r.id


def test_exposure_rules_block_in_dev_too():
    exposure = {
        "sagemaker-notebook-no-direct-internet",
        "sagemaker-notebook-in-vpc",
        "sagemaker-notebook-imdsv2",
        "sagemaker-domain-vpc-only",
    }
    for rule_id in exposure:
        assert set(find_rule(rule_id).enforcement.values()) == {"mandatory"}, rule_id
    # ...while the others are advisory in dev and still judged there.
    assert check("sagemaker-notebook-no-root-access", bad_root, environment="dev")
    assert find_rule("sagemaker-notebook-no-root-access").enforcement["dev"] == "advisory"


def test_unset_means_the_aws_default_in_the_message():
    notebooks = {
        v.resource_name: v.message
        for v in check("sagemaker-notebook-no-direct-internet", bad_direct_internet)
    }
    assert "unset, and AWS then enables it" in notebooks["unset-internet"]
    assert "is Enabled" in notebooks["internet-on"]
    domains = {
        v.resource_name: v.message for v in check("sagemaker-domain-vpc-only", bad_domain_vpc)
    }
    assert "PublicInternetOnly" in domains["public-default"]


def test_tuning_job_messages_name_the_definition():
    violations = check("sagemaker-inter-container-encryption", bad_inter_container)
    [tuning] = [v.message for v in violations if v.resource_name == "clear-tuning"]
    assert "(training job definition lgbm)" in tuning  # only the definition that is off


def test_messages_say_which_key_is_missing():
    by_name = {v.resource_name: v.message for v in check("sagemaker-job-kms-cmk", bad_job_kms)}
    assert "model output with no key" in by_name["training-default-keys"]
    assert "storage volume with an AWS-managed key" in by_name["training-volume-aws-key"]
    assert "automated labeling volume" in by_name["auto-label-no-volume-key"]
    endpoint = {
        v.resource_name: v.message
        for v in check("sagemaker-endpoint-config-kms-cmk", bad_endpoint_kms)
    }
    assert "captured data" in endpoint["capture-no-key"]
    assert "asynchronous inference output" in endpoint["async-aws-key"]


@pytest.mark.parametrize(
    ("instance_type", "local"),
    [
        ("ml.g4dn.xlarge", True),
        ("ml.p4d.24xlarge", True),
        ("ml.p5.48xlarge", True),
        ("ml.g5.2xlarge", True),
        ("ml.m5d.large", True),
        ("ml.c6id.4xlarge", True),
        ("ml.trn1.32xlarge", True),
        ("ml.m5.xlarge", False),
        ("ml.c5.4xlarge", False),
        ("ml.t3.medium", False),
        ("ml.inf2.xlarge", False),
        ("", False),
        (None, False),
    ],
)
def test_local_storage_instance_types(instance_type, local):
    assert has_local_storage(instance_type) is local


def test_a_named_monitoring_definition_is_judged_on_its_own():
    def program() -> None:
        named_schedule("hourly", data_quality_job("quality", network_config=None))

    flagged = names(check("sagemaker-network-isolation", program))
    assert flagged == ["quality"]


@pytest.mark.parametrize(
    ("rule_id", "program"),
    [
        (
            "sagemaker-notebook-no-direct-internet",
            lambda: notebook("n", direct_internet_access=unknown()),
        ),
        ("sagemaker-domain-vpc-only", lambda: domain("d", app_network_access_type=unknown())),
        ("sagemaker-network-isolation", lambda: model("m", enable_network_isolation=unknown())),
        ("sagemaker-endpoint-config-kms-cmk", lambda: endpoint_config("e", kms_key_arn=unknown())),
    ],
)
def test_unknown_inputs_raise_instead_of_passing(rule_id, program):
    with pytest.raises(UnknownValueError):
        check(rule_id, program)


# -- false positives: what AWS documents as required passes ------------------------------------

SAGEMAKER_VPC_STATEMENT = {
    "Sid": "SageMakerVpcAccess",
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
}
"""The statement AWS documents for a SageMaker execution role whose jobs run in a VPC."""


def test_the_documented_vpc_statement_is_not_a_wildcard_write():
    exempt = find_rule("iam-no-wildcard-write").settings[0].defaults
    for env in ENVIRONMENTS:
        assert wildcard_problems({"Statement": [SAGEMAKER_VPC_STATEMENT]}, exempt[env]) == []
    # ...but only those actions: another write on '*' in the same statement is still caught.
    widened = {
        **SAGEMAKER_VPC_STATEMENT,
        "Action": [*SAGEMAKER_VPC_STATEMENT["Action"], "ec2:AttachNetworkInterface"],
    }
    [problem] = wildcard_problems({"Statement": [widened]}, exempt["prod"])
    assert "ec2:AttachNetworkInterface" in problem and "CreateNetworkInterface" not in problem


def _execution_role() -> aws.iam.Role:
    role = aws.iam.Role(
        "sagemaker-execution",
        name="fraud-prod-sagemaker",
        assume_role_policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "sagemaker.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
                    }
                ],
            }
        ),
        tags=OWNERSHIP_TAGS,
    )
    aws.iam.RolePolicy(
        "sagemaker-execution-vpc",
        role=role.name,
        policy=json.dumps({"Version": "2012-10-17", "Statement": [SAGEMAKER_VPC_STATEMENT]}),
    )
    aws.iam.RolePolicy(
        "sagemaker-execution-data",
        role=role.name,
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "Artifacts",
                        "Effect": "Allow",
                        "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                        "Resource": [
                            "arn:aws:s3:::fraud-prod-artifacts-1a2b",
                            "arn:aws:s3:::fraud-prod-artifacts-1a2b/*",
                        ],
                    },
                    {
                        "Sid": "Key",
                        "Effect": "Allow",
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant"],
                        "Resource": KEY_ARN,
                    },
                ],
            }
        ),
    )
    return role


def well_configured_sagemaker() -> None:
    """What a platform team would write by hand for a BU's SageMaker work, done right."""
    _execution_role()
    notebook("research")
    domain("studio")
    model("scorer")
    endpoint_config("scorer")
    training_job("train")
    tuning_job("tune", tuning_definition())
    quality = data_quality_job("quality")
    named_schedule("quality-hourly", quality)
    inline_schedule("drift-hourly")
    flow_definition("review")


def test_the_execution_role_passes_the_identity_rules():
    for rule_id in (
        "iam-no-wildcard-write",
        "iam-role-permission-boundary",
        "iam-trust-specific-principals",
    ):
        assert check(rule_id, _execution_role) == [], rule_id


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_a_well_configured_sagemaker_program_has_no_blocking_findings(environment):
    inventory = render_program(well_configured_sagemaker, environment=environment)
    run = run_pack(POLICIES_DIR, inventory)
    blocking = sorted((f.policy, f.resource_name) for f in run.findings if f.blocking)
    assert blocking == []
    # The SageMaker rules did run (and passed) on it.
    policies = {p.name for p in run.policies}
    assert {r.id for r in RULES} <= policies


def test_the_same_program_broken_once_is_blocked_in_prod():
    def program() -> None:
        well_configured_sagemaker()
        notebook("leaky", direct_internet_access=None)

    run = run_pack(POLICIES_DIR, render_program(program, environment="prod"))
    blocking = {(f.policy, f.resource_name) for f in run.findings if f.blocking}
    assert blocking == {("sagemaker-notebook-no-direct-internet", "leaky")}
