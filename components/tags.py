"""Ownership tags: the keys every taggable AWS resource carries, and how they are merged.

Pure functions, no Pulumi runtime: the policy pack imports the key names from here too (by
value, through `policies/governance/tagging.py`), so a renamed key breaks a test rather than
silently disabling the check.
"""

from __future__ import annotations

from collections.abc import Mapping

BUSINESS_UNIT = "BusinessUnit"
OWNER = "Owner"
COST_CENTER = "CostCenter"
ENVIRONMENT = "Environment"
DATA_CLASSIFICATION = "DataClassification"
MANAGED_BY = "ManagedBy"

#: The ownership tags every taggable resource must carry (provider default tags or its own).
REQUIRED_TAG_KEYS: tuple[str, ...] = (
    BUSINESS_UNIT,
    OWNER,
    COST_CENTER,
    ENVIRONMENT,
    DATA_CLASSIFICATION,
    MANAGED_BY,
)

MANAGED_BY_VALUE = "ai-estate"


def ownership_tags(
    *,
    business_unit: str,
    owner: str,
    cost_center: str,
    environment: str,
    data_classification: str,
) -> dict[str, str]:
    """The ownership tag set for one stack."""
    return {
        BUSINESS_UNIT: business_unit,
        OWNER: owner,
        COST_CENTER: cost_center,
        ENVIRONMENT: environment,
        DATA_CLASSIFICATION: data_classification,
        MANAGED_BY: MANAGED_BY_VALUE,
    }


def merge_tags(base: Mapping[str, str], *extra: Mapping[str, str] | None) -> dict[str, str]:
    """Merge tag maps left to right; ownership keys in `base` cannot be overridden.

    A component may add tags (a `Name`, a `Component`), but a BU cannot relabel its resources
    as someone else's cost: the required keys always keep the stack's values.
    """
    merged: dict[str, str] = dict(base)
    for more in extra:
        for key, value in (more or {}).items():
            if key in REQUIRED_TAG_KEYS and key in base:
                continue
            merged[key] = value
    return merged


def missing_tag_keys(
    tags: Mapping[str, str] | None, required: tuple[str, ...] = REQUIRED_TAG_KEYS
) -> list[str]:
    """The required keys absent (or empty) in `tags`, in the order they are required."""
    tags = tags or {}
    return [key for key in required if not str(tags.get(key) or "").strip()]
