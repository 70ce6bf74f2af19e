"""Data services: DynamoDB tables, RDS instances and clusters, Glue databases, SageMaker groups."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from estate.offline.mocks.common import stable_hex
from estate.offline.mocks.registry import (
    Arn,
    AwsType,
    NewAwsResource,
    aws_types,
    resource,
    resource_id,
)

if TYPE_CHECKING:
    from estate.offline.mocks.core import EstateMocks


aws_types(
    {
        "aws:dynamodb/table:Table": AwsType(arn=Arn("dynamodb", "table/{name}")),
        "aws:glue/catalogDatabase:CatalogDatabase": AwsType(arn=Arn("glue", "database/{name}")),
        "aws:rds/cluster:Cluster": AwsType(
            name_property="clusterIdentifier", arn=Arn("rds", "cluster:{name}"), lowercase_name=True
        ),
        "aws:rds/instance:Instance": AwsType(
            name_property="identifier", arn=Arn("rds", "db:{name}"), lowercase_name=True
        ),
        "aws:sagemaker/featureGroup:FeatureGroup": AwsType(
            name_property="featureGroupName", arn=Arn("sagemaker", "feature-group/{name}")
        ),
        "aws:sagemaker/modelPackageGroup:ModelPackageGroup": AwsType(
            name_property="modelPackageGroupName",
            arn=Arn("sagemaker", "model-package-group/{name}"),
        ),
        "aws:sagemaker/modelCard:ModelCard": AwsType(
            name_property="modelCardName", arn=Arn("sagemaker", "model-card/{name}")
        ),
    }
)


@resource("aws:sagemaker/modelCard:ModelCard")
def _model_card(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    # the provider's ARN attribute is `modelCardArn` (besides the generic `arn`)
    return {"modelCardArn": m.arn("sagemaker", f"model-card/{r.physical}", True, r.region)}


@resource_id("aws:glue/catalogDatabase:CatalogDatabase")
def _catalog_database_id(
    m: EstateMocks, typ: str, logical: str, inputs: dict[str, Any], physical: str
) -> str:
    return f"{m.account_id}:{physical}"


@resource("aws:dynamodb/table:Table")
def _table(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    inputs, physical, region = r.inputs, r.physical, r.region
    out: dict[str, Any] = {
        "billingMode": inputs.get("billingMode") or "PROVISIONED",
        "pointInTimeRecovery": inputs.get("pointInTimeRecovery") or {"enabled": False},
    }
    if inputs.get("streamEnabled"):
        out["streamLabel"] = "2026-01-05T09:30:00.000"
        out["streamArn"] = m.arn(
            "dynamodb", f"table/{physical}/stream/{out['streamLabel']}", True, region
        )
    return out


@resource("aws:rds/instance:Instance")
def _instance(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    typ, inputs, physical, region = r.typ, r.inputs, r.physical, r.region
    engine = str(inputs.get("engine") or "postgres")
    port = inputs.get("port") or (5432 if "postgres" in engine else 3306)
    address = f"{physical}.{stable_hex(m.account_id, region, length=12)}.{region}"
    address += ".rds.amazonaws.com"
    return {
        "address": address,
        "endpoint": f"{address}:{port}",
        "port": port,
        "resourceId": "db-" + stable_hex(typ, physical, length=26).upper(),
        "hostedZoneId": "Z2R2ITUGPM61AM",
        "status": "available",
    }
