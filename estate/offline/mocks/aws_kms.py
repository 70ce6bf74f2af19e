"""KMS: keys (UUID IDs) and aliases."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from estate.offline.mocks.common import stable_uuid
from estate.offline.mocks.registry import (
    Arn,
    AwsType,
    NewAwsResource,
    aws_types,
    invoke,
    resource,
    resource_id,
)

if TYPE_CHECKING:
    from estate.offline.mocks.core import EstateMocks


aws_types(
    {
        "aws:kms/alias:Alias": AwsType(arn=Arn("kms", "{name}")),
        "aws:kms/key:Key": AwsType(arn=Arn("kms", "key/{id}")),
    }
)


@resource_id("aws:kms/key:Key")
def _key_id(m: EstateMocks, typ: str, logical: str, inputs: dict[str, Any], physical: str) -> str:
    return stable_uuid(typ, logical, m.salt)


@resource("aws:kms/key:Key")
def _key(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    rid = r.rid
    return {"keyId": rid}


@invoke("aws:kms/getKey:getKey")
def _get_key(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    key_id = str(a.get("keyId") or "")
    uuid = (
        key_id.rsplit("/", 1)[-1]
        if not key_id.startswith("alias/")
        else (stable_uuid("kms", key_id))
    )
    return {
        "id": uuid,
        "arn": m.arn("kms", f"key/{uuid}", True, region),
        "keyId": key_id,
        "keyState": "Enabled",
        "enabled": True,
        "keyManager": "CUSTOMER",
        "keyUsage": "ENCRYPT_DECRYPT",
    }
