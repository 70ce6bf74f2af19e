"""S3: buckets (lower-case autonames, domain names), objects (keys and ETags), bucket-scoped configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from estate.offline.mocks.common import content_md5, stable_hex
from estate.offline.mocks.registry import (
    Arn,
    AwsType,
    NewAwsResource,
    aws_types,
    invoke,
    resource,
    resource_id_family,
    resource_name,
)

if TYPE_CHECKING:
    from estate.offline.mocks.core import EstateMocks


#: Regions whose S3 website endpoints use the legacy `s3-website-<region>` form.
S3_WEBSITE_DASH_REGIONS = {
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "eu-west-1",
    "sa-east-1",
    "us-gov-west-1",
}

_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
_OBJECTS = ("aws:s3/bucketObject:BucketObject", "aws:s3/bucketObjectv2:BucketObjectv2")


aws_types(
    {
        "aws:s3/bucket:Bucket": AwsType(
            name_property="bucket", arn=Arn("s3", "{name}", regional=False), lowercase_name=True
        ),
        "aws:s3/bucketObject:BucketObject": AwsType(
            arn=Arn("s3", "{bucket}/{key}", regional=False)
        ),
        "aws:s3/bucketObjectv2:BucketObjectv2": AwsType(
            arn=Arn("s3", "{bucket}/{key}", regional=False)
        ),
        "aws:s3/bucketV2:BucketV2": AwsType(
            name_property="bucket", arn=Arn("s3", "{name}", regional=False), lowercase_name=True
        ),
    }
)


@resource_name(*_OBJECTS)
def _object_key(
    m: EstateMocks, typ: str, logical: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """An object is named by its key, which pulumi-aws defaults to the logical name."""
    physical = inputs.get("name")
    if not physical and inputs.get("namePrefix"):
        physical = inputs["namePrefix"] + stable_hex(logical, m.salt, length=26)
    if not physical:
        physical = inputs.get("key") or logical
    state = dict(inputs)
    state.pop("name", None)
    state["key"] = physical
    return physical, state


@resource_id_family("aws:s3/bucket", exclude=_BUCKETS + _OBJECTS)
def _bucket_scoped_id(
    m: EstateMocks, typ: str, logical: str, inputs: dict[str, Any], physical: str
) -> str:
    """Bucket-scoped configuration (policy, website, versioning, ...) is keyed by bucket."""
    bucket = inputs.get("bucket")
    return bucket if isinstance(bucket, str) else physical


@resource("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
def _bucket(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    physical, region = r.physical, r.region
    return {
        "bucketDomainName": f"{physical}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{physical}.s3.{region}.amazonaws.com",
        "region": region,
        "hostedZoneId": "Z3AQBSTGFYJSTF",
    }


@resource(
    "aws:s3/bucketWebsiteConfiguration:BucketWebsiteConfiguration",
    "aws:s3/bucketWebsiteConfigurationV2:BucketWebsiteConfigurationV2",
)
def _bucket_website_configuration(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    inputs, region = r.inputs, r.region
    sep = "-" if region in S3_WEBSITE_DASH_REGIONS else "."
    domain = f"s3-website{sep}{region}.amazonaws.com"
    return {"websiteDomain": domain, "websiteEndpoint": f"{inputs.get('bucket')}.{domain}"}


@resource("aws:s3/bucketObject:BucketObject", "aws:s3/bucketObjectv2:BucketObjectv2")
def _bucket_object(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    typ, inputs, physical = r.typ, r.inputs, r.physical
    etag = content_md5(inputs.get("source")) or content_md5(inputs.get("content"))
    return {
        "etag": etag or stable_hex(typ, physical, length=32),
        "versionId": "",
        "storageClass": inputs.get("storageClass") or "STANDARD",
        "serverSideEncryption": inputs.get("serverSideEncryption") or "AES256",
        "contentType": inputs.get("contentType") or "application/octet-stream",
        "bucketKeyEnabled": bool(inputs.get("bucketKeyEnabled")),
    }


@invoke("aws:s3/getBucket:getBucket")
def _get_bucket(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    bucket = str(a.get("bucket") or "bucket")
    return {
        "id": bucket,
        "bucket": bucket,
        "arn": f"arn:aws:s3:::{bucket}",
        "bucketDomainName": f"{bucket}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
        "hostedZoneId": "Z3AQBSTGFYJSTF",
        "region": region,
    }
