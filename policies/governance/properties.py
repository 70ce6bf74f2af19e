"""Reading resource properties the way the engine sends them.

Properties arrive with the provider's camelCase wire names, wrapped in `pulumi_policy`'s
unknown-checking proxy: reading a value that is unknown during preview raises
`UnknownValueError`, which these helpers let through on purpose (the SDK reports it as "can't run
policy during preview" instead of a false pass or a false violation). Numbers arrive as floats
from the real engine (`365.0`), booleans sometimes as strings (`"true"` in launch templates), and
JSON documents as strings: the helpers normalise all of that in one place.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyProviderResource

_AWS_MANAGED_ALIAS = "alias/aws/"


def get(value: Any, *path: str | int) -> Any:
    """Walk `path` into nested mappings and sequences; None where a step is missing."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, Sequence) or isinstance(value, str):
                return None
            if not -len(value) <= step < len(value):
                return None
            value = value[step]
        else:
            if not isinstance(value, Mapping):
                return None
            value = value.get(step)
        if value is None:
            return None
    return value


def as_list(value: Any) -> list[Any]:
    """A list-or-single-object property as a list (`rule` vs `rules`, one block vs many)."""
    if value is None:
        return []
    if isinstance(value, (Mapping, str)):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    return [value]


def is_true(value: Any) -> bool:
    """True for `True` and for the string `"true"` (launch templates send booleans as strings)."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() == "true"


def as_int(value: Any) -> int | None:
    """An integer property (the engine sends numbers as floats); None if absent or not a number.

    Strings are parsed as numbers too; infinities and NaN (`"inf"`, `"1e999"`) are not numbers
    a property can mean, so they are None rather than an `OverflowError` in the rule.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    return None


def text(value: Any) -> str:
    """A string property, stripped; '' when absent."""
    return value.strip() if isinstance(value, str) else ""


def is_customer_managed_key(key: Any) -> bool:
    """Whether a KMS key reference names a customer-managed key.

    Empty means the service's default (AWS-owned or AWS-managed) key, and `alias/aws/<service>`
    (bare or inside an alias ARN) is the AWS-managed key, whose key policy nobody can edit — so
    cross-account readers, CloudWatch alarms publishing to SNS and key revocation all fail. A
    bare key id or key ARN cannot be told apart offline; it is accepted.
    """
    key = text(key)
    return bool(key) and _AWS_MANAGED_ALIAS not in key


def json_document(value: Any) -> dict[str, Any] | None:
    """A JSON policy document given as a string or an object; None when absent or malformed."""
    if isinstance(value, Mapping):
        return plain(value)
    if isinstance(value, str) and value.strip():
        try:
            doc = json.loads(value)
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None
    return None


def plain(value: Any) -> Any:
    """A proxied value as plain dicts and lists (reading every element, so unknowns raise)."""
    if isinstance(value, Mapping):
        return {k: plain(value[k]) for k in value}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [plain(v) for v in value]
    return value


def string_map(value: Any) -> dict[str, str]:
    """A tags-like map (object, or JSON string from provider config) as str -> str."""
    if isinstance(value, str):
        value = json_document(value)
    if not isinstance(value, Mapping):
        return {}
    return {str(k): "" if value[k] is None else str(value[k]) for k in value}


def provider_default_tags(provider: PolicyProviderResource | None) -> dict[str, str]:
    """The `defaultTags.tags` of the resource's AWS provider ({} when none).

    Explicit providers send `defaultTags` as a JSON string (the SDK serialises provider inputs
    that way); a default provider carries the stack's `aws:defaultTags` config, which may arrive as
    a string or as an object. Both are accepted.
    """
    if provider is None or not str(provider.resource_type).startswith("pulumi:providers:aws"):
        return {}
    default_tags = provider.props.get("defaultTags")
    if isinstance(default_tags, str):
        default_tags = json_document(default_tags)
    if not isinstance(default_tags, Mapping):
        return {}
    return string_map(default_tags.get("tags"))


def statements(document: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The statements of an IAM-style policy document (a single statement may be an object)."""
    if not document:
        return []
    return [s for s in as_list(document.get("Statement")) if isinstance(s, dict)]


def principal_is_everyone(principal: Any) -> bool:
    """Whether a statement's Principal is anyone at all (`*`, or `{"AWS": "*"}`)."""
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return any("*" in as_list(v) for k, v in principal.items() if k == "AWS")
    return False


# Condition keys that narrow *who* may use a statement: the calling principal, its account or
# organisation, or the AWS resource, account or network it acts for. A condition on anything else
# (`aws:SecureTransport`, `aws:CurrentTime`, `s3:prefix`…) still admits every principal in the
# world, so it is no guard against a public `Principal: "*"`. Each key maps to what one of its
# values must pin for the condition to count (see `value_pins_who`).
WHO_CONDITION_KEYS: Mapping[str, str] = {
    "aws:principalarn": "arn",
    "aws:principalaccount": "account",
    "aws:principalorgid": "org",
    "aws:principalorgpaths": "org-path",
    "aws:principalservicename": "service",
    "aws:principalservicenameslist": "service",
    "aws:userid": "user-id",
    "aws:sourcearn": "arn",
    "aws:sourceaccount": "account",
    "aws:sourceorgid": "org",
    "aws:sourceorgpaths": "org-path",
    "aws:sourcevpc": "vpc",
    "aws:sourcevpce": "vpce",
    "aws:sourceowner": "account",
    "kms:calleraccount": "account",
}

_ACCOUNT_ID = re.compile(r"\d{12}")
_ORG_ID = re.compile(r"o-[a-z0-9]+")
_VPC_ID = re.compile(r"vpc-[0-9a-z]+")
_VPCE_ID = re.compile(r"vpce-[0-9a-z]+")
_UNIQUE_ID = re.compile(r"[A-Z0-9]+")
_WILDCARDS = ("*", "?", "${")
"""`*` and `?` match anything under the `…Like` operators; a `${…}` policy variable is whatever
the request says, so a value holding one pins nothing the policy's author chose."""


def _concrete(part: str) -> bool:
    return bool(part) and not any(w in part for w in _WILDCARDS)


def _condition_value(value: Any) -> str:
    """A condition value as text (account ids are sometimes written as JSON numbers)."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    return text(value)


def value_pins_who(kind: str, value: Any) -> bool:
    """Whether one value of a who-condition key names a concrete caller (`WHO_CONDITION_KEYS`).

    - account (`aws:SourceAccount`, `aws:PrincipalAccount`, `kms:CallerAccount`, …): a 12-digit
      account id;
    - org (`aws:PrincipalOrgID`, `aws:SourceOrgID`): an organisation id `o-…`, no wildcard;
    - org-path: a path whose first segment is such an organisation id (`o-…/r-…/ou-…/*`);
    - arn (`aws:PrincipalArn`, `aws:SourceArn`): an ARN whose account field is a 12-digit account
      (`arn:aws:events:*:123456789012:rule/*` pins the account, wildcards elsewhere are fine), or
      whose account field is empty because the resource name is global (S3 buckets:
      `arn:aws:s3:::fraud-prod-data`) with no wildcard in service or resource — anyone can
      create a bucket matching `fraud-prod-*`, or a role `arn:aws:iam::*:role/admin`;
    - vpc / vpce (`aws:SourceVpc`, `aws:SourceVpce`): a `vpc-…` / `vpce-…` id;
    - user-id (`aws:userid`): a unique id or account id before the `:` (`AROA…:*`);
    - service (`aws:PrincipalServiceName`): a service principal name such as `sns.amazonaws.com`.

    `*`, `?` and `${…}` policy variables pin nothing: `ArnLike aws:SourceArn "arn:aws:*:*:*:*"`,
    `StringLike aws:PrincipalOrgID "*"` or `aws:SourceAccount "*"` restrict nobody.
    """
    value = _condition_value(value)
    if kind == "account":
        return bool(_ACCOUNT_ID.fullmatch(value))
    if kind == "org":
        return bool(_ORG_ID.fullmatch(value))
    if kind == "org-path":
        return bool(_ORG_ID.fullmatch(value.split("/", 1)[0]))
    if kind == "vpc":
        return bool(_VPC_ID.fullmatch(value))
    if kind == "vpce":
        return bool(_VPCE_ID.fullmatch(value))
    if kind == "user-id":
        return bool(_UNIQUE_ID.fullmatch(value.split(":", 1)[0]))
    if kind == "service":
        return _concrete(value) and "." in value
    if kind == "arn":
        parts = value.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn":
            return False
        _, _, service, _, account, resource = parts
        if _ACCOUNT_ID.fullmatch(account):
            return True
        return account == "" and _concrete(service) and _concrete(resource)
    return False


def condition_restricts_who(condition: Any) -> bool:
    """Whether a statement's Condition limits who it admits.

    Only a positive string or ARN operator (`StringEquals`, `StringLike`, `ArnEquals`,
    `ArnLike`, …) on a key of `WHO_CONDITION_KEYS` counts, and only when every one of its
    values pins a concrete caller (`value_pins_who`): the values of one key are ORed, so one
    wildcard among them (`["o-a1b2c3d4e5", "*"]`) admits everyone. Negated operators
    (`StringNotEquals`: everyone but X), `…IfExists` (a request without the key matches),
    `ForAllValues:` (true for a request with no value for the key) and `Null` admit callers the
    owner never named, so they do not count; neither does any other key (`aws:SecureTransport`
    restricts how, not who). Separate keys and operators are ANDed, so one that counts is
    enough.
    """
    if not isinstance(condition, Mapping):
        return False
    for operator, block in condition.items():
        op = str(operator).lower()
        if op.startswith("forallvalues:"):
            continue  # true for a request that has no value for the key at all
        op = op.removeprefix("foranyvalue:")
        if not op.startswith(("string", "arn")) or "not" in op or op.endswith("ifexists"):
            continue
        if not isinstance(block, Mapping):
            continue
        for key, values in block.items():
            kind = WHO_CONDITION_KEYS.get(str(key).lower())
            if kind is None:
                continue
            listed = as_list(values)
            if listed and all(value_pins_who(kind, v) for v in listed):
                return True
    return False


def public_statement_problems(
    document: Mapping[str, Any] | None, noun: str = "statement"
) -> list[str]:
    """The Allow statements of a resource policy that admit anyone: `Principal: "*"` with no
    condition restricting who (see `condition_restricts_who`), or `NotPrincipal` (everyone but
    the few it names). `noun` names a statement in the messages ("policy statement" for S3)."""
    problems = []
    for statement in statements(document):
        if text(statement.get("Effect")).lower() != "allow":
            continue
        sid = text(statement.get("Sid"))
        which = f"{noun} {sid!r}" if sid else f"a {noun}"
        if statement.get("NotPrincipal") is not None:
            problems.append(f"{which} allows everyone but a NotPrincipal")
        elif principal_is_everyone(statement.get("Principal")) and not condition_restricts_who(
            statement.get("Condition")
        ):
            problems.append(f"{which} allows Principal '*' without a condition on who may call")
    return problems


def actions(statement: Mapping[str, Any]) -> list[str]:
    """A statement's actions, lower-cased."""
    return [str(a).lower() for a in as_list(statement.get("Action"))]
