"""SageMaker model cards: what each model family is for, how risky it is, and who owns it.

One `aws.sagemaker.ModelCard` per family of `ai-estate:mlops.families` with a `modelCard`, named
like the family's model package group (`<prefix>-<family>`), its content encrypted with the BU
key. The content follows the SageMaker model card JSON schema (a subset is vendored under
tests/vendor/sagemaker_model_card/ and the rendered content is validated against it):
`model_overview` (description, owner), `intended_uses` (purpose, intended uses, risk rating and
who rated it), `business_details` (the business problem, stakeholders, line of business) and
`additional_information.custom_details` (the three owners, the KPI, the group).

The card's `model_card_status` comes from config. In prod a serving endpoint may serve the
family only when it is `Approved` (the schema refuses the endpoint otherwise; the pack's
`mlops-prod-family-loop` asks every prod family for an `Approved` card). Editing
the content creates a new card version in SageMaker (an immutable record); a status change does
not.
"""

from __future__ import annotations

import json
from typing import Any, Literal, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from .options import stateful

MODEL_CARD_STATUSES = ("Draft", "PendingReview", "Approved", "Archived")
RISK_RATINGS = {"low": "Low", "medium": "Medium", "high": "High", "unknown": "Unknown"}
"""Config's rating -> the schema's `intended_uses.risk_rating` enum."""
FAMILY_TAG = "ai-estate/model-family"
OWNER_TAGS = {"business": "BusinessOwner", "technical": "TechnicalOwner", "risk": "RiskOwner"}
"""Owner role -> tag key on the family's resources (readiness reads `*Owner` tags)."""


class OwnersSpec(TypedDict):
    """A family's owners (`ai-estate:mlops.families.<f>.owners`)."""

    business: str
    technical: str
    risk: str


class ModelCardSpec(TypedDict):
    """One family's card (`ai-estate:mlops.families.<f>.modelCard`)."""

    intended_use: str
    risk_rating: Literal["low", "medium", "high", "unknown"]
    status: Literal["Draft", "PendingReview", "Approved", "Archived"]
    kpi: str | None


class CardFamilySpec(TypedDict):
    """What the card of one family says."""

    model_package_group_name: str
    owners: OwnersSpec | None
    card: ModelCardSpec
    tags: dict[str, str]
    """The family's ownership tags, on top of the stack's."""


def family_tags(family: str, owners: OwnersSpec | None) -> dict[str, str]:
    """`ai-estate/model-family` and, when named, the `BusinessOwner`/`TechnicalOwner`/`RiskOwner`
    tags of a family's resources."""
    tags = {FAMILY_TAG: family}
    if owners:
        tags.update({OWNER_TAGS[role]: owners[role] for role in OWNER_TAGS})  # type: ignore[literal-required]
    return tags


def model_card_name(prefix: str, family: str) -> str:
    """`fraud-prod-card-fraud`: the family's card, named as its model package group."""
    return f"{prefix}-{family}"


def model_card_content(
    *,
    business_unit: str,
    family: str,
    group_name: str,
    owners: OwnersSpec | None,
    card: ModelCardSpec,
) -> dict[str, Any]:
    """The card's content in the SageMaker model card JSON schema."""
    custom: dict[str, str] = {"model_package_group": group_name}
    if owners:
        custom.update({f"{role}_owner": owners[role] for role in OWNER_TAGS})  # type: ignore[literal-required]
    if card["kpi"]:
        custom["kpi"] = card["kpi"]
    rated_by = f" by {owners['risk']}" if owners else ""
    content: dict[str, Any] = {
        "model_overview": {
            "model_description": f"The {family} model family of BU {business_unit}: every "
            f"version is registered in the model package group {group_name}.",
            "model_name": family,
        },
        "intended_uses": {
            "purpose_of_model": card["intended_use"],
            "intended_uses": card["intended_use"],
            "risk_rating": RISK_RATINGS[card["risk_rating"]],
            "explanations_for_risk_rating": f"Rated {card['risk_rating']}{rated_by} "
            "(ai-estate:mlops modelCard.riskRating).",
        },
        "business_details": {
            "business_problem": card["intended_use"],
            "line_of_business": business_unit,
        },
        "additional_information": {"custom_details": custom},
    }
    if owners:
        content["model_overview"]["model_owner"] = owners["technical"]
        content["business_details"]["business_stakeholders"] = (
            f"business owner {owners['business']}; technical owner {owners['technical']}; "
            f"risk owner {owners['risk']}"
        )
    return content


class ModelCardsArgs(TypedDict):
    """Inputs of `ModelCards`."""

    business_unit: str
    environment: str
    families: dict[str, CardFamilySpec]
    """Family -> its card."""
    kms_key_arn: pulumi.Input[str]
    """The BU key: encrypts the cards' content."""
    tags: dict[str, str]
    protect: NotRequired[bool]
    """Protect and retain the cards (prod): a card's versions are the record of its reviews."""


class ModelCards(pulumi.ComponentResource):
    """One SageMaker model card per family (module docstring)."""

    card_arns: dict[str, pulumi.Output[str]]
    """Family -> model card ARN."""
    statuses: dict[str, str]
    """Family -> the card's status as configured."""

    def __init__(
        self, name: str, args: ModelCardsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:mlops:ModelCards", name, None, opts)
        prefix = f"{args['business_unit']}-{args['environment']}"
        self.card_arns, self.statuses = {}, {}
        for family, spec in sorted(args["families"].items()):
            content = model_card_content(
                business_unit=args["business_unit"],
                family=family,
                group_name=spec["model_package_group_name"],
                owners=spec["owners"],
                card=spec["card"],
            )
            card = aws.sagemaker.ModelCard(
                f"{name}-{family}",
                model_card_name=model_card_name(prefix, family),
                model_card_status=spec["card"]["status"],
                content=json.dumps(content, sort_keys=True),
                security_config=aws.sagemaker.ModelCardSecurityConfigArgs(
                    kms_key_id=args["kms_key_arn"]
                ),
                tags={**args["tags"], **spec["tags"]},
                opts=stateful(self, args.get("protect", False)),
            )
            self.card_arns[family] = card.model_card_arn
            self.statuses[family] = spec["card"]["status"]
        self.register_outputs({"cardArns": self.card_arns})
