"""Cost governance: where the account's cost data lands, how it is grouped by BU, who hears of
spend that breaks its pattern.

Two components:

- `PlatformCostGovernance` (platform stacks): a CUR 2.0 data export (AWS Data Exports, table
  `COST_AND_USAGE_REPORT`) with split cost allocation data, so EKS pod costs are split to the
  pods (and so to BU namespaces) that used the nodes, delivered into a bucket encrypted with the
  platform key; and one cost category with a rule per BU on the `BusinessUnit` tag.
- `BuCostAnomaly` (BU stacks, under `BuMonitoring`): a Cost Anomaly Detection monitor of type
  CUSTOM over the BU's `BusinessUnit` tag and an IMMEDIATE subscription that alerts the BU's
  alarm topic when an anomaly's impact passes the BU's threshold.

The monitor lives in the BU stack because all it needs is the BU's tag and the BU's topic; the
BU that owns the topic owns the alert. The cost category spans BUs, so it is the platform's.

What the account must do once, outside any stack (README, "Deploying for real"): activate the
`BusinessUnit` cost-allocation tag and, for split cost allocation data, opt in to "Split cost
allocation data" for Amazon EKS in the Billing console's cost management preferences; both are
payer-account settings no member-account stack can change.
"""

from __future__ import annotations

import json
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from . import naming, tags
from .addons import _depends_on_of
from .iam import account_region_partition
from .options import child
from .storage import AccessLogBucket, SecureBucket

DATA_EXPORT_SERVICES = ("bcm-data-exports.amazonaws.com", "billingreports.amazonaws.com")
"""The services that write CUR 2.0 exports (AWS Data Exports user guide, "Setting up an Amazon S3
bucket for data exports"). The platform key names them so they can write SSE-KMS objects."""

DATA_EXPORT_REGION = "us-east-1"
"""Data Exports and the legacy CUR service run in us-east-1 only: their source ARNs say so."""

COST_ALERTS_SERVICE = "costalerts.amazonaws.com"
"""The service principal AWS Cost Anomaly Detection publishes to SNS as."""

CUR2_TABLE = "COST_AND_USAGE_REPORT"
EXPORT_PREFIX = "cur2"

CUR2_COLUMNS = (
    "bill_billing_period_start_date",
    "bill_payer_account_id",
    "line_item_usage_account_id",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_line_item_type",
    "line_item_product_code",
    "line_item_usage_type",
    "line_item_operation",
    "line_item_usage_amount",
    "line_item_unblended_cost",
    "line_item_net_unblended_cost",
    "pricing_public_on_demand_cost",
    "product_region_code",
    "product_instance_type",
    "resource_tags",
    "cost_category",
)
"""Columns of every export (CUR 2.0 table dictionary): who, when, what and what it cost, with the
resource tags and cost categories as CUR 2.0's nested map columns."""

RESOURCE_COLUMNS = ("line_item_resource_id",)
"""Added by `INCLUDE_RESOURCES`."""

SPLIT_COST_COLUMNS = (
    "split_line_item_parent_resource_id",
    "split_line_item_split_usage",
    "split_line_item_split_usage_ratio",
    "split_line_item_split_cost",
    "split_line_item_unused_cost",
    "split_line_item_public_on_demand_split_cost",
    "split_line_item_public_on_demand_unused_cost",
    "split_line_item_actual_usage",
    "split_line_item_reserved_usage",
)
"""Added by `INCLUDE_SPLIT_COST_ALLOCATION_DATA`: the pod's share of its EC2 parent's cost."""


class CostExportSpec(TypedDict):
    """The CUR 2.0 export (`ai-estate:costGovernance.export`)."""

    time_granularity: str
    """`HOURLY`, `DAILY` or `MONTHLY`."""
    include_resources: bool
    """Resource-level line items."""
    split_cost_allocation_data: bool
    """Split EKS node costs to pods."""
    format: str
    """`PARQUET` or `TEXT_OR_CSV`."""


class PlatformCostGovernanceSettings(TypedDict):
    """What a platform stack file chooses (`ai-estate:costGovernance`)."""

    export: CostExportSpec | None
    """The CUR 2.0 export; None delivers none."""


class PlatformCostGovernanceArgs(PlatformCostGovernanceSettings):
    """Inputs of `PlatformCostGovernance`."""

    business_units: list[str]
    """BU slugs the cost category has a rule for; empty builds no cost category."""
    environment: str
    """Names the export, its bucket and the cost category."""
    account_id: str
    """The platform account (seeds the bucket names)."""
    kms_key_arn: pulumi.Input[str]
    """The platform key: encrypts the export bucket (it must admit `DATA_EXPORT_SERVICES`)."""
    protect: bool
    """Protect and retain the export bucket (prod)."""
    tags: dict[str, str]
    """Ownership tags for every taggable resource."""


# -- pure functions ---------------------------------------------------------------------------


def cur2_query(spec: CostExportSpec) -> str:
    """The export's SQL: `CUR2_COLUMNS` plus the columns its table configurations add."""
    columns = [*CUR2_COLUMNS]
    if spec["include_resources"]:
        columns += RESOURCE_COLUMNS
    if spec["split_cost_allocation_data"]:
        columns += SPLIT_COST_COLUMNS
    return f"SELECT {', '.join(columns)} FROM {CUR2_TABLE}"


def _flag(value: bool) -> str:
    return "TRUE" if value else "FALSE"


def cur2_table_configuration(
    spec: CostExportSpec, partition: str, account_id: str
) -> dict[str, dict[str, str]]:
    """`table_configurations` of the export. When any is set all must be, `BILLING_VIEW_ARN`
    included (pulumi-aws bcmdata.Export docs): the account's primary billing view."""
    return {
        CUR2_TABLE: {
            "BILLING_VIEW_ARN": f"arn:{partition}:billing::{account_id}:billingview/primary",
            "TIME_GRANULARITY": spec["time_granularity"],
            "INCLUDE_RESOURCES": _flag(spec["include_resources"]),
            "INCLUDE_MANUAL_DISCOUNT_COMPATIBILITY": "FALSE",
            "INCLUDE_SPLIT_COST_ALLOCATION_DATA": _flag(spec["split_cost_allocation_data"]),
        }
    }


def data_export_statements(
    bucket_arn: str, account_id: str, partition: str
) -> list[dict[str, Any]]:
    """Let Data Exports (and CUR) write exports into the bucket and check its policy, for this
    account's exports only (the policy the Data Exports user guide applies to export buckets)."""
    return [
        {
            "Sid": "EnableAWSDataExportsToWriteToS3AndCheckPolicy",
            "Effect": "Allow",
            "Principal": {"Service": list(DATA_EXPORT_SERVICES)},
            "Action": ["s3:PutObject", "s3:GetBucketPolicy"],
            "Resource": [f"{bucket_arn}/*", bucket_arn],
            "Condition": {
                "StringLike": {
                    "aws:SourceAccount": account_id,
                    "aws:SourceArn": [
                        f"arn:{partition}:cur:{DATA_EXPORT_REGION}:{account_id}:definition/*",
                        f"arn:{partition}:bcm-data-exports:{DATA_EXPORT_REGION}:{account_id}"
                        ":export/*",
                    ],
                }
            },
        }
    ]


def output_configuration(spec: CostExportSpec) -> dict[str, str]:
    """Overwrite each period's files (the export is re-stated up to three times a day)."""
    parquet = spec["format"] == "PARQUET"
    return {
        "overwrite": "OVERWRITE_REPORT",
        "format": spec["format"],
        "compression": "PARQUET" if parquet else "GZIP",
        "output_type": "CUSTOM",
    }


def cost_category_name(environment: str) -> str:
    return f"ai-estate-{environment}-business-unit"


def business_unit_expression(business_unit: str) -> dict[str, Any]:
    """A Cost Explorer expression: costs tagged `BusinessUnit=<bu>`."""
    return {
        "Tags": {"Key": tags.BUSINESS_UNIT, "Values": [business_unit], "MatchOptions": ["EQUALS"]}
    }


def anomaly_monitor_specification(business_unit: str) -> str:
    """The CUSTOM monitor's specification: the BU's tagged spend."""
    return json.dumps(business_unit_expression(business_unit), sort_keys=True)


def _impact(key: str, value: float) -> dict[str, Any]:
    return {"key": key, "match_options": ["GREATER_THAN_OR_EQUAL"], "values": [f"{value:g}"]}


def anomaly_threshold_expression(usd: float, percent: float | None) -> dict[str, Any]:
    """Alert on anomalies whose total impact reaches `usd` (and `percent` of the expected spend,
    when given): the subscription's `threshold_expression` as pulumi-aws args."""
    if usd <= 0 or (percent is not None and percent <= 0):
        raise ValueError("cost anomaly thresholds must be above 0")
    absolute = {"dimension": _impact("ANOMALY_TOTAL_IMPACT_ABSOLUTE", usd)}
    if percent is None:
        return absolute
    return {"ands": [absolute, {"dimension": _impact("ANOMALY_TOTAL_IMPACT_PERCENTAGE", percent)}]}


# -- PlatformCostGovernance ---------------------------------------------------------------------


class PlatformCostGovernance(pulumi.ComponentResource):
    """The platform account's CUR 2.0 export and per-BU cost category; see the module docstring."""

    export_bucket_name: pulumi.Output[str] | None
    export_arn: pulumi.Output[str] | None
    cost_category_arn: pulumi.Output[str] | None

    def __init__(
        self,
        name: str,
        args: PlatformCostGovernanceArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ai-estate:cost:PlatformCostGovernance", name, None, opts)
        self.export_bucket_name, self.export_arn, self.cost_category_arn = None, None, None
        export = args["export"]
        if export is not None:
            self._export(name, args, export)
        if args["business_units"]:
            self._cost_category(name, args)
        self.register_outputs(
            {
                "exportBucketName": self.export_bucket_name,
                "exportArn": self.export_arn,
                "costCategoryArn": self.cost_category_arn,
            }
        )

    def _export(self, name: str, args: PlatformCostGovernanceArgs, spec: CostExportSpec) -> None:
        account, region, partition = account_region_partition(self)
        env, account_id = args["environment"], args["account_id"]
        access_logs = AccessLogBucket(
            f"{name}-access-logs",
            {
                "bucket_name": naming.bucket_name("platform", env, "cost-export-logs", account_id),
                "account_id": account,
                "tags": args["tags"],
                "protect": args["protect"],
            },
            child(self),
        )
        bucket = SecureBucket(
            f"{name}-export-bucket",
            {
                "bucket_name": naming.bucket_name("platform", env, "cost-export", account_id),
                "kms_key_arn": args["kms_key_arn"],
                "access_log_bucket": access_logs.bucket_name,
                "policy_statements": lambda arn: pulumi.Output.all(arn, account, partition).apply(
                    lambda p: data_export_statements(p[0], p[1], p[2])
                ),
                # Overwritten in place each refresh; old versions are kept a month for audits.
                "noncurrent_version_retention_days": 30,
                "tags": args["tags"],
                "protect": args["protect"],
            },
            child(self),
        )
        created = aws.bcmdata.Export(
            f"{name}-cur2",
            export=aws.bcmdata.ExportExportArgs(
                name=f"ai-estate-{naming.prefix('platform', env)}-cur2",
                description=(
                    f"AI Estate CUR 2.0 ({spec['time_granularity'].lower()}): cost per "
                    "BusinessUnit tag, with EKS costs split to pods when split cost allocation "
                    "data is on"
                ),
                data_queries=[
                    aws.bcmdata.ExportExportDataQueryArgs(
                        query_statement=cur2_query(spec),
                        table_configurations=pulumi.Output.all(partition, account).apply(
                            lambda p: cur2_table_configuration(spec, p[0], p[1])
                        ),
                    )
                ],
                destination_configurations=[
                    aws.bcmdata.ExportExportDestinationConfigurationArgs(
                        s3_destinations=[
                            aws.bcmdata.ExportExportDestinationConfigurationS3DestinationArgs(
                                s3_bucket=bucket.bucket_name,
                                s3_prefix=EXPORT_PREFIX,
                                s3_region=region,
                                s3_output_configurations=[
                                    aws.bcmdata.ExportExportDestinationConfigurationS3DestinationS3OutputConfigurationArgs(
                                        **output_configuration(spec)
                                    )
                                ],
                            )
                        ]
                    )
                ],
                refresh_cadences=[
                    aws.bcmdata.ExportExportRefreshCadenceArgs(frequency="SYNCHRONOUS")
                ],
            ),
            tags=args["tags"],
            # Data Exports checks the bucket policy when the export is created.
            opts=child(self, depends_on=[bucket]),
        )
        self.export_bucket_name = bucket.bucket_name
        self.export_arn = created.arn

    def _cost_category(self, name: str, args: PlatformCostGovernanceArgs) -> None:
        category = aws.costexplorer.CostCategory(
            f"{name}-business-units",
            name=cost_category_name(args["environment"]),
            rule_version="CostCategoryExpression.v1",
            rules=[
                aws.costexplorer.CostCategoryRuleArgs(
                    type="REGULAR",
                    value=bu,
                    rule=aws.costexplorer.CostCategoryRuleRuleArgs(
                        tags=aws.costexplorer.CostCategoryRuleRuleTagsArgs(
                            key=tags.BUSINESS_UNIT, values=[bu], match_options=["EQUALS"]
                        )
                    ),
                )
                for bu in args["business_units"]
            ],
            # Spend no BU tag claims (shared platform, untagged resources) stays visible as such.
            default_value="unallocated",
            tags=args["tags"],
            opts=child(self),
        )
        self.cost_category_arn = category.arn


# -- BuCostAnomaly ------------------------------------------------------------------------------


class CostAnomalySpec(TypedDict):
    """The BU's anomaly alert (`ai-estate:monitoring.costAnomaly`)."""

    threshold_usd: float
    """Alert at this total impact (USD)."""
    threshold_percent: NotRequired[float | None]
    """And at this share of the expected spend (percent); None: USD only."""


class BuCostAnomalyArgs(CostAnomalySpec):
    """Inputs of `BuCostAnomaly`."""

    business_unit: str
    """The BU slug: the `BusinessUnit` tag value the monitor watches."""
    environment: str
    """Names the monitor and subscription `ai-estate-<bu>-<env>`."""
    topic_arn: pulumi.Input[str]
    """The BU's alarm topic (its policy must admit `COST_ALERTS_SERVICE`)."""
    tags: dict[str, str]
    """Ownership tags for every taggable resource."""


class BuCostAnomaly(pulumi.ComponentResource):
    """A cost anomaly monitor on the BU's tagged spend, alerting the BU's topic."""

    monitor_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: BuCostAnomalyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:cost:BuCostAnomaly", name, None, opts)
        bu, prefix = (
            args["business_unit"],
            naming.prefix(args["business_unit"], args["environment"]),
        )
        # Pulumi does not hand a component's depends_on to its children: the subscription
        # must wait for the topic policy that admits Cost Anomaly Detection itself.
        after = _depends_on_of(opts)
        expression = anomaly_threshold_expression(
            float(args["threshold_usd"]), args.get("threshold_percent")
        )
        monitor = aws.costexplorer.AnomalyMonitor(
            f"{name}-monitor",
            name=f"ai-estate-{prefix}",
            monitor_type="CUSTOM",
            monitor_specification=anomaly_monitor_specification(bu),
            tags=args["tags"],
            opts=child(self),
        )
        aws.costexplorer.AnomalySubscription(
            f"{name}-subscription",
            name=f"ai-estate-{prefix}-alerts",
            # SNS subscribers take individual alerts only.
            frequency="IMMEDIATE",
            monitor_arn_lists=[monitor.arn],
            subscribers=[
                aws.costexplorer.AnomalySubscriptionSubscriberArgs(
                    type="SNS", address=args["topic_arn"]
                )
            ],
            threshold_expression=expression,
            tags=args["tags"],
            opts=child(self, depends_on=after),
        )
        self.monitor_arn = monitor.arn
        self.register_outputs({"monitorArn": self.monitor_arn})
