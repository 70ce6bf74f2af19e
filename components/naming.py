"""Physical names, derived purely from the stack's identity so they are stable and predictable.

AWS names that other teams, dashboards and IAM policies refer to (buckets, tables, feature
groups, log groups) are deterministic rather than Pulumi-autonamed: an auditor can read the BU and
environment off any resource, and a BU's IAM policies can be scoped by name prefix.
"""

from __future__ import annotations

import hashlib
import re


def prefix(business_unit: str, environment: str) -> str:
    """`fraud-prod`: the prefix every physical name of a stack starts with."""
    return f"{business_unit}-{environment}"


def bucket_name(business_unit: str, environment: str, purpose: str, account_id: str) -> str:
    """A globally unique, DNS-safe bucket name: `<bu>-<env>-<purpose>-<hash of account>`.

    S3 names are global across all AWS accounts, so a short account hash keeps two
    organisations' `fraud-prod-features` from colliding without leaking the account id.
    """
    digest = hashlib.sha256(account_id.encode()).hexdigest()[:8]
    name = f"{prefix(business_unit, environment)}-{purpose}-{digest}".lower()
    name = re.sub(r"[^a-z0-9-]", "-", name)
    if len(name) > 63:
        raise ValueError(f"bucket name {name!r} is longer than 63 characters")
    return name


def glue_database_name(business_unit: str, environment: str, purpose: str) -> str:
    """Glue (and Athena) database names: lowercase with underscores, no dashes."""
    return re.sub(r"[^a-z0-9_]", "_", f"{business_unit}_{environment}_{purpose}".lower())
