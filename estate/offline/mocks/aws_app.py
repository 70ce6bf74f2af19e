"""Application services: SQS, SNS, Lambda, EventBridge and CloudWatch, ECR, Secrets Manager, SSM."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from estate.offline.mocks.common import stable_hex
from estate.offline.mocks.registry import Arn, AwsType, NewAwsResource, aws_types, invoke, resource

if TYPE_CHECKING:
    from estate.offline.mocks.core import EstateMocks


aws_types(
    {
        "aws:cloudwatch/eventRule:EventRule": AwsType(arn=Arn("events", "rule/{name}")),
        "aws:cloudwatch/eventArchive:EventArchive": AwsType(arn=Arn("events", "archive/{name}")),
        "aws:cloudwatch/eventConnection:EventConnection": AwsType(
            arn=Arn("events", "connection/{name}/{uuid}")
        ),
        "aws:cloudwatch/eventApiDestination:EventApiDestination": AwsType(
            arn=Arn("events", "api-destination/{name}/{uuid}")
        ),
        "aws:cloudwatch/logGroup:LogGroup": AwsType(arn=Arn("logs", "log-group:{name}")),
        "aws:cloudwatch/metricAlarm:MetricAlarm": AwsType(arn=Arn("cloudwatch", "alarm:{name}")),
        "aws:ecr/repository:Repository": AwsType(arn=Arn("ecr", "repository/{name}")),
        "aws:lambda/function:Function": AwsType(arn=Arn("lambda", "function:{name}")),
        "aws:secretsmanager/secret:Secret": AwsType(
            arn=Arn("secretsmanager", "secret:{name}-{hex6}")
        ),
        "aws:sns/topic:Topic": AwsType(arn=Arn("sns", "{name}")),
        "aws:sqs/queue:Queue": AwsType(arn=Arn("sqs", "{name}")),
    }
)


@resource("aws:ecr/repository:Repository")
def _repository(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    physical, region = r.physical, r.region
    return {
        "repositoryUrl": f"{m.account_id}.dkr.ecr.{region}.amazonaws.com/{physical}",
        "registryId": m.account_id,
    }


@resource("aws:sqs/queue:Queue")
def _queue(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    physical, region = r.physical, r.region
    return {"url": f"https://sqs.{region}.amazonaws.com/{m.account_id}/{physical}"}


@resource("aws:lambda/function:Function")
def _function(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    physical, region = r.physical, r.region
    arn = m.arn("lambda", f"function:{physical}", True, region)
    return {
        "invokeArn": f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/"
        f"{arn}/invocations",
        "qualifiedArn": f"{arn}:$LATEST",
        "version": "$LATEST",
        "lastModified": "2026-01-05T09:30:00.000+0000",
    }


@invoke("aws:ssm/getParameter:getParameter")
def _get_parameter(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    name = a.get("name", "")
    if "image_id" in name or "ami" in name:
        value = "ami-" + stable_hex(name)
    elif "image_version" in name or "bottlerocket" in name:
        value = "1.30.0-2a0a0f23"
    else:
        value = "mock-" + stable_hex(name, length=8)
    return {
        "id": name,
        "name": name,
        "value": value,
        "insecureValue": value,
        "type": "String",
        "version": 1,
        "arn": f"arn:aws:ssm:{region}::parameter{name}",
    }


@resource("aws:cloudwatch/eventConnection:EventConnection")
def _event_connection(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    """EventBridge keeps the connection's credentials in a secret it manages."""
    return {
        "secretArn": m.arn(
            "secretsmanager",
            f"secret:events!connection/{r.physical}/{stable_hex(r.physical, length=8)}-"
            f"{stable_hex(r.physical + 's', length=6)}",
            True,
            r.region,
        )
    }


@invoke("aws:secretsmanager/getSecretVersion:getSecretVersion")
def _get_secret_version(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    """A secret's current value: a stand-in string (never a real credential)."""
    secret_id = a.get("secretId", "")
    return {
        "id": f"{secret_id}|AWSCURRENT",
        "arn": secret_id,
        "secretId": secret_id,
        "secretString": "mock-secret-" + stable_hex(secret_id, length=8),
        "versionId": stable_hex(secret_id + "v", length=8),
        "versionStage": "AWSCURRENT",
        "versionStages": ["AWSCURRENT"],
        "createdDate": "2026-01-05T09:30:00Z",
    }
