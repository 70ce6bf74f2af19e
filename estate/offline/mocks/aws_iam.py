"""IAM: roles, policies and instance profiles (unique IDs, paths), and policy documents rendered as AWS would accept them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from estate.offline.mocks.common import CREATED_AT, stable_digits, stable_hex
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
        "aws:iam/group:Group": AwsType(arn=Arn("iam", "group{path}{name}", regional=False)),
        "aws:iam/instanceProfile:InstanceProfile": AwsType(
            arn=Arn("iam", "instance-profile{path}{name}", regional=False)
        ),
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider": AwsType(
            arn=Arn("iam", "oidc-provider/oidc.eks.{region}.amazonaws.com/id/{id}", regional=False)
        ),
        "aws:iam/policy:Policy": AwsType(arn=Arn("iam", "policy{path}{name}", regional=False)),
        "aws:iam/role:Role": AwsType(arn=Arn("iam", "role{path}{name}", regional=False)),
        "aws:iam/user:User": AwsType(arn=Arn("iam", "user{path}{name}", regional=False)),
    }
)


@resource_id("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
def _attachment_id(
    m: EstateMocks, typ: str, logical: str, inputs: dict[str, Any], physical: str
) -> str:
    stamp = "2026" + stable_digits(typ, logical, m.salt, length=22)
    return f"{inputs.get('role', 'role')}-{stamp}"


@resource_id("aws:iam/rolePolicy:RolePolicy")
def _role_policy_id(
    m: EstateMocks, typ: str, logical: str, inputs: dict[str, Any], physical: str
) -> str:
    return f"{inputs.get('role', 'role')}:{physical}"


@resource("aws:iam/role:Role")
def _role(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    typ, inputs, physical = r.typ, r.inputs, r.physical
    return {
        "uniqueId": "AROA" + stable_hex(typ, physical, length=17).upper(),
        "createDate": CREATED_AT,
        "path": inputs.get("path") or "/",
        "maxSessionDuration": inputs.get("maxSessionDuration") or 3600,
    }


@resource("aws:iam/policy:Policy")
def _policy(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    typ, inputs, physical = r.typ, r.inputs, r.physical
    return {
        "policyId": "ANPA" + stable_hex(typ, physical, length=17).upper(),
        "path": inputs.get("path") or "/",
        "attachmentCount": 0,
    }


@resource("aws:iam/instanceProfile:InstanceProfile")
def _instance_profile(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    typ, physical = r.typ, r.physical
    return {"uniqueId": "AIPA" + stable_hex(typ, physical, length=17).upper()}


@invoke("aws:iam/getPolicyDocument:getPolicyDocument")
def _get_policy_document(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    doc = policy_document_json(a)
    return {
        "id": stable_hex(doc, length=10),
        "json": doc,
        "minifiedJson": json.dumps(json.loads(doc), separators=(",", ":")),
    }


@invoke("aws:iam/getPolicy:getPolicy")
def _get_policy(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    arn = a.get("arn") or f"arn:aws:iam::aws:policy/{a.get('name') or 'ReadOnlyAccess'}"
    name = arn.rsplit("/", 1)[-1]
    return {
        "id": arn,
        "arn": arn,
        "name": name,
        "path": "/",
        "policyId": "ANPA" + stable_hex(arn, length=17).upper(),
        "policy": json.dumps({"Version": "2012-10-17", "Statement": []}),
    }


@invoke("aws:iam/getRole:getRole")
def _get_role(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    name = a.get("name") or "role"
    return {
        "id": name,
        "name": name,
        "arn": f"arn:aws:iam::{m.account_id}:role/{name}",
        "uniqueId": "AROA" + stable_hex("role", name, length=17).upper(),
        "path": "/",
        "createDate": CREATED_AT,
        "maxSessionDuration": 3600,
    }


def policy_document_json(args: dict[str, Any]) -> str:
    """Render `aws.iam.get_policy_document` arguments into the JSON AWS would accept."""
    statements = []
    for st in args.get("statements") or []:
        out: dict[str, Any] = {}
        if st.get("sid"):
            out["Sid"] = st["sid"]
        out["Effect"] = st.get("effect") or "Allow"
        for key, wire in (
            ("actions", "Action"),
            ("notActions", "NotAction"),
            ("resources", "Resource"),
            ("notResources", "NotResource"),
        ):
            values = st.get(key)
            if values:
                out[wire] = values[0] if len(values) == 1 else sorted(values)
        for key, wire in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
            principals = st.get(key)
            if principals:
                block: dict[str, Any] = {}
                for p in principals:
                    ids = p.get("identifiers") or []
                    if p.get("type") == "*" and ids == ["*"]:
                        block = "*"  # type: ignore[assignment]
                        break
                    block.setdefault(p["type"], [])
                    block[p["type"]].extend(ids)
                if isinstance(block, dict):
                    block = {k: (v[0] if len(v) == 1 else v) for k, v in block.items()}
                out[wire] = block
        conditions = st.get("conditions")
        if conditions:
            cond: dict[str, dict[str, Any]] = {}
            for c in conditions:
                values = c.get("values") or []
                cond.setdefault(c["test"], {})[c["variable"]] = (
                    values[0] if len(values) == 1 else values
                )
            out["Condition"] = cond
        statements.append(out)
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)
