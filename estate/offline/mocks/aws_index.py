"""Account, region and partition: the provider-level invokes (`aws.get_caller_identity`, ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from estate.offline.mocks.common import AZ_COUNT, AZ_SUFFIXES
from estate.offline.mocks.registry import invoke

if TYPE_CHECKING:
    from estate.offline.mocks.core import EstateMocks


@invoke("aws:index/getAvailabilityZones:getAvailabilityZones")
def _get_availability_zones(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    names = [f"{region}{s}" for s in AZ_SUFFIXES[: AZ_COUNT.get(region, 3)]]
    return {
        "id": region,
        "names": names,
        "zoneIds": [m.zone_id(n) for n in names],
        "groupNames": [region] * len(names),
        "state": a.get("state") or "available",
    }


@invoke("aws:index/getAvailabilityZone:getAvailabilityZone")
def _get_availability_zone(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    zone = a.get("name") or f"{region}a"
    return {
        "id": zone,
        "name": zone,
        "zoneId": m.zone_id(zone),
        "nameSuffix": zone[-1],
        "region": region,
        "groupName": region,
        "state": "available",
        "zoneType": "availability-zone",
    }


@invoke("aws:index/getCallerIdentity:getCallerIdentity")
def _get_caller_identity(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    return {
        "id": m.account_id,
        "accountId": m.account_id,
        "arn": f"arn:aws:sts::{m.account_id}:assumed-role/platform-deployer/session",
        "userId": "AROAEXAMPLEDEPLOYER:session",
    }


@invoke("aws:index/getRegion:getRegion")
def _get_region(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    return {
        "id": region,
        "name": region,
        "region": region,
        "description": region,
        "endpoint": f"ec2.{region}.amazonaws.com",
    }


@invoke("aws:index/getPartition:getPartition")
def _get_partition(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    return {
        "id": "aws",
        "partition": "aws",
        "dnsSuffix": "amazonaws.com",
        "reverseDnsPrefix": "com.amazonaws",
    }


@invoke("aws:index/getDefaultTags:getDefaultTags")
def _get_default_tags(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    return {"id": "aws", "tags": {}}
