"""EC2 rules: IMDSv2 only, encrypted volumes.

GPU nodes run third-party model code; with IMDSv1 a single server-side request forgery in that
code yields the node role's credentials, so instance metadata must require session tokens. Node
volumes hold model weights and cached features, so they are encrypted like every other store.
Launch templates are checked as well as instances: EKS node groups and Karpenter launch from them.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .catalog import BLOCK_EVERYWHERE, Rule, Settings, checkov, cis, securityhub
from .properties import as_list, get, is_true, text

INSTANCE = "aws:ec2/instance:Instance"
SPOT_INSTANCE_REQUEST = "aws:ec2/spotInstanceRequest:SpotInstanceRequest"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"
EBS_VOLUME = "aws:ebs/volume:Volume"

METADATA_TYPES = frozenset({INSTANCE, SPOT_INSTANCE_REQUEST, LAUNCH_TEMPLATE, LAUNCH_CONFIGURATION})
INSTANCE_TYPES = frozenset({INSTANCE, SPOT_INSTANCE_REQUEST, LAUNCH_CONFIGURATION})


def validate_imdsv2(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    options = args.props.get("metadataOptions")
    if text(get(options, "httpEndpoint")) == "disabled":
        return  # no metadata service at all is stricter than IMDSv2
    tokens = text(get(options, "httpTokens"))
    if tokens != "required":
        report(
            f"'{args.name}' allows IMDSv1 (metadataOptions.httpTokens is {tokens or 'unset'}; "
            "must be 'required').",
            None,
        )
    hops = get(options, "httpPutResponseHopLimit")
    if isinstance(hops, int | float) and not isinstance(hops, bool) and hops > 1:
        # A second hop lets every pod behind the CNI reach the node role's credentials; EKS
        # workloads get theirs from Pod Identity instead.
        report(
            f"'{args.name}' lets containers reach IMDS (metadataOptions.httpPutResponseHopLimit "
            f"is {int(hops)}; must be 1).",
            None,
        )


def _unencrypted_devices(args: ResourceValidationArgs) -> list[str]:
    props = args.props
    if args.resource_type == EBS_VOLUME:
        return [] if is_true(props.get("encrypted")) else ["the volume"]
    if args.resource_type == LAUNCH_TEMPLATE:
        # Only declared EBS mappings: the AMI's own mappings are outside the template.
        return [
            f"block device {text(get(m, 'deviceName')) or '?'}"
            for m in as_list(props.get("blockDeviceMappings"))
            if get(m, "ebs") is not None and not is_true(get(m, "ebs", "encrypted"))
        ]
    unencrypted = []
    if not is_true(get(props, "rootBlockDevice", "encrypted")):
        unencrypted.append("the root volume")
    devices: list[Any] = as_list(props.get("ebsBlockDevices"))
    unencrypted.extend(
        f"EBS volume {text(get(d, 'deviceName')) or '?'}"
        for d in devices
        if not is_true(get(d, "encrypted"))
    )
    return unencrypted


def validate_ebs_encryption(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    for device in _unencrypted_devices(args):
        report(f"'{args.name}' does not encrypt {device}.", None)


RULES: tuple[Rule, ...] = (
    Rule(
        id="ec2-imdsv2-required",
        title="EC2 instance metadata requires IMDSv2",
        description=(
            "Every EC2 instance, launch template and launch configuration requires IMDSv2 "
            "session tokens (metadataOptions.httpTokens = required) and sets no PUT response "
            "hop limit above 1 (so containers cannot reach the node's credentials)."
        ),
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Set metadata_options={'http_tokens': 'required', 'http_put_response_hop_limit': 1}: "
            "the node reaches IMDS, pods behind the CNI do not (they get AWS credentials from EKS "
            "Pod Identity, and add-ons take the region from their config)."
        ),
        kind="resource",
        validate=validate_imdsv2,
        resource_types=METADATA_TYPES,
        frameworks=(
            checkov("CKV_AWS_79"),
            cis("5.6", version="3.0.0"),
            securityhub("EC2.8"),
            securityhub("EC2.170"),
            securityhub("AutoScaling.3"),
        ),
        domain="compute",
    ),
    Rule(
        id="ec2-ebs-encryption",
        title="EC2 volumes are encrypted",
        description=(
            "Every EBS volume, and every root and EBS block device of an instance or launch "
            "template, is encrypted."
        ),
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Set encrypted=True (and kms_key_id to the BU's key) on root_block_device and each "
            "ebs_block_devices entry, on block_device_mappings[].ebs of launch templates (the "
            "string 'true'), and on aws.ebs.Volume."
        ),
        kind="resource",
        validate=validate_ebs_encryption,
        resource_types=frozenset({*INSTANCE_TYPES, LAUNCH_TEMPLATE, EBS_VOLUME}),
        frameworks=(checkov("CKV_AWS_3"), checkov("CKV_AWS_8"), securityhub("EC2.3")),
        domain="compute",
        rationale=(
            "An instance without root_block_device gets the AMI's default, unencrypted unless the "
            "account enables EBS encryption by default, which a program cannot see: it is flagged."
        ),
    ),
)
