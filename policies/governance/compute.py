"""EC2 rules: IMDSv2 only, encrypted volumes.

GPU nodes run third-party model code; with IMDSv1 a single server-side request forgery in that
code yields the node role's credentials, so instance metadata must require session tokens. Node
volumes hold model weights and cached features, so they are encrypted like every other store.
Launch templates are checked as well as instances: EKS node groups and Karpenter launch from them.

IMDS options are judged on what the instance will get, not only on what a program writes:
- On an EC2 instance, spot request, launch template or launch configuration, an unset
  `httpTokens` is flagged (AWS's default is `optional` unless the AMI's `ImdsSupport` is `v2.0`
  or the account's instance metadata defaults say otherwise, neither of which a program shows),
  and so is an unset `httpPutResponseHopLimit`: AWS defaults it to 1, but to 2 for an AMI with
  `ImdsSupport` `v2.0` (Amazon Linux 2023 among them) and to the account's default when one is
  set ("Configure instance metadata options for new instances", EC2 User Guide), so only an
  explicit 1 proves that containers cannot reach the node's credentials.
- A Karpenter `EC2NodeClass` (a custom resource) writes the launch template Karpenter uses, so
  its `spec.metadataOptions` is judged the same way, with Karpenter's own defaults for what it
  leaves out, which the CRD applies on admission: `karpenter.k8s.aws/v1` defaults
  `httpTokens: required` and `httpPutResponseHopLimit: 1` (also field by field), the older
  `v1beta1` defaults the hop limit to 2 (aws/karpenter-provider-aws `pkg/apis/v1/ec2nodeclass.go`,
  and `pkg/apis/v1beta1/ec2nodeclass.go` at v0.37.0).
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .catalog import BLOCK_EVERYWHERE, Rule, Settings, checkov, cis, securityhub
from .properties import as_int, as_list, get, is_true, text

INSTANCE = "aws:ec2/instance:Instance"
SPOT_INSTANCE_REQUEST = "aws:ec2/spotInstanceRequest:SpotInstanceRequest"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"
EBS_VOLUME = "aws:ebs/volume:Volume"

EC2_METADATA_TYPES = frozenset(
    {INSTANCE, SPOT_INSTANCE_REQUEST, LAUNCH_TEMPLATE, LAUNCH_CONFIGURATION}
)
KARPENTER_METADATA_DEFAULTS: dict[str, tuple[str, int]] = {
    "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass": ("required", 1),
    "kubernetes:karpenter.k8s.aws/v1beta1:EC2NodeClass": ("required", 2),
}
"""Karpenter's `httpTokens` and `httpPutResponseHopLimit` defaults per EC2NodeClass version."""
EC2_NODE_CLASSES = frozenset(KARPENTER_METADATA_DEFAULTS)
METADATA_TYPES = EC2_METADATA_TYPES | EC2_NODE_CLASSES
INSTANCE_TYPES = frozenset({INSTANCE, SPOT_INSTANCE_REQUEST, LAUNCH_CONFIGURATION})


def validate_imdsv2(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    karpenter = KARPENTER_METADATA_DEFAULTS.get(args.resource_type)
    if karpenter is None:
        options = args.props.get("metadataOptions")
        what = f"'{args.name}'"
    else:
        options = get(args.props, "spec", "metadataOptions")
        what = f"EC2NodeClass '{args.name}'"
    if text(get(options, "httpEndpoint")) == "disabled":
        return  # no metadata service at all is stricter than IMDSv2
    raw_tokens = get(options, "httpTokens")
    # What a Karpenter EC2NodeClass leaves out, the CRD fills in on admission.
    tokens = karpenter[0] if raw_tokens is None and karpenter else text(raw_tokens)
    if tokens != "required":
        report(
            f"{what} allows IMDSv1 (metadataOptions.httpTokens is {tokens or 'unset'}; "
            "must be 'required').",
            None,
        )
    raw_hops = get(options, "httpPutResponseHopLimit")
    if raw_hops is None and karpenter is None:
        report(
            f"{what} leaves metadataOptions.httpPutResponseHopLimit unset: EC2 then uses 2 for "
            "an AMI with ImdsSupport v2.0 (Amazon Linux 2023 among them) or the account's "
            "default, so containers may reach IMDS; must be 1.",
            None,
        )
        return
    hops: int | None
    if raw_hops is None and karpenter is not None:
        hops, shown = karpenter[1], f"{karpenter[1]} by default"
    else:
        hops = as_int(raw_hops)
        shown = str(hops) if hops is not None else repr(raw_hops)
    if hops is None or hops > 1:
        # A second hop lets every pod behind the CNI reach the node role's credentials; EKS
        # workloads get theirs from Pod Identity instead.
        report(
            f"{what} lets containers reach IMDS (metadataOptions.httpPutResponseHopLimit "
            f"is {shown}; must be 1).",
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
            "Every EC2 instance, spot request, launch template, launch configuration and "
            "Karpenter EC2NodeClass requires IMDSv2 session tokens (metadataOptions.httpTokens "
            "= required) and a PUT response hop limit of 1 (so containers cannot reach the "
            "node's credentials); on EC2 both are set explicitly, an EC2NodeClass may rely on "
            "Karpenter v1's defaults (required, 1)."
        ),
        severity="high",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Set metadata_options={'http_tokens': 'required', 'http_put_response_hop_limit': 1}: "
            "the node reaches IMDS, pods behind the CNI do not (they get AWS credentials from EKS "
            "Pod Identity, and add-ons take the region from their config). On a Karpenter "
            "EC2NodeClass set spec.metadataOptions {httpTokens: required, "
            "httpPutResponseHopLimit: 1}, or leave them out on karpenter.k8s.aws/v1."
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
        rationale=(
            "An unset hop limit is not AWS's documented 1 for every AMI: an AMI with ImdsSupport "
            "v2.0 (Amazon Linux 2023, which EKS nodes run) launches with 2, and an account's "
            "instance metadata defaults can change it too, so EC2 resources must say 1. "
            "Karpenter's EC2NodeClass CRD fills in httpTokens required and hop limit 1 (v1; 2 on "
            "v1beta1) for whatever it leaves out, so those defaults are judged as set."
        ),
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
