"""Lake Formation (components/lake_formation.py): the BU's registered offline store and the
platform's account-wide data lake settings and LF-tags.

BU stacks (`lakeFormation.offlineLocationArn`):
- the offline store's S3 location is registered, with the BU's Lake Formation role;
- in the access mode the stack declares (`lakeFormation.hybridAccess`).

Platform stacks (`dataGovernance.catalogId`):
- the data lake settings grant nothing by default on new databases and tables (no
  `IAMAllowedPrincipals` grant: a new database is governed from its first day);
- the data lake administrators are exactly the configured ones (the settings replace the list);
- the LF-tags the grants are written in exist with every declared value.
"""

from __future__ import annotations

from typing import Any

from estate.verify.checks.base import (
    Context,
    MissingResourceError,
    Outcome,
    Problem,
    Run,
    Target,
    aws_call,
    policy,
    reported,
    section_of,
)

IAM_ALLOWED_PRINCIPALS = "IAM_ALLOWED_PRINCIPALS"

LOCATION_REGISTERED = policy(
    "verify-lakeformation-location-registered",
    "high",
    "The BU's offline store location is registered with Lake Formation (its grants govern it).",
    "Re-run `pulumi up` (it registers the location again); check who deregistered it.",
)
LOCATION_ROLE = policy(
    "verify-lakeformation-location-role",
    "medium",
    "The location is registered with the BU's Lake Formation role (lakeFormation.roleArn).",
    "Re-run `pulumi up` (it registers the location with the BU's role).",
)
LOCATION_HYBRID = policy(
    "verify-lakeformation-location-hybrid-access",
    "medium",
    "The location's hybrid access mode is what the stack declares (lakeFormation.hybridAccess).",
    "Re-run `pulumi up` (it sets hybrid_access_enabled back).",
)
SETTINGS_DEFAULTS = policy(
    "verify-lakeformation-no-default-grants",
    "critical",
    "The data lake settings grant nothing by default on new databases and tables (no "
    "IAMAllowedPrincipals grant, which would make Lake Formation permissions moot).",
    "Re-run `pulumi up` for the platform stack (it empties both default permission lists).",
)
SETTINGS_ADMINS = policy(
    "verify-lakeformation-admins",
    "high",
    "The data lake administrators are exactly the configured ones "
    "(`ai-estate:dataGovernance.lakeFormationAdmins`).",
    "Re-run `pulumi up` for the platform stack; an extra administrator can grant itself any data.",
)
LF_TAGS = policy(
    "verify-lakeformation-lf-tags",
    "high",
    "The LF-tags the BU grants are written in exist with every declared value.",
    "Re-run `pulumi up` for the platform stack (it creates the LF-tags and their values).",
)


def check_location(ctx: Context, target: Target) -> list[Outcome]:
    lf = ctx.client("lakeformation")
    settings = section_of(ctx, target)
    run = Run(target, arn=target.name)
    info = run.exists(
        LOCATION_REGISTERED,
        lambda: aws_call(lf, "describe_resource", ResourceArn=target.name).get("ResourceInfo"),
        missing=f"is not registered with Lake Formation, but the outputs declare it "
        f"({target.declared_by}): its grants govern nothing",
    )
    role = settings.get("roleArn")
    if role:
        run.check(
            LOCATION_ROLE,
            lambda: (
                None
                if info.get("RoleArn") == role
                else f"is registered with role {info.get('RoleArn') or '(none)'}, not {role}"
            ),
            f"registered with {role.rsplit('/', 1)[-1]}",
        )
    else:
        run.skip(LOCATION_ROLE, "the outputs declare no Lake Formation role")
    hybrid = settings.get("hybridAccess")
    if isinstance(hybrid, bool):
        run.check(
            LOCATION_HYBRID,
            lambda: _hybrid(info, hybrid),
            f"hybrid access {'on' if hybrid else 'off'}",
        )
    else:
        run.skip(LOCATION_HYBRID, "the outputs declare no access mode")
    return run.outcomes


def _hybrid(info: dict[str, Any], expected: bool) -> Problem:
    live = bool(reported(info, "HybridAccessEnabled", "lakeformation:DescribeResource"))
    if live != expected:
        return (
            f"has hybrid access {'on' if live else 'off'}, but the stack declares it "
            f"{'on' if expected else 'off'}"
        )
    return None


def check_settings(ctx: Context, target: Target) -> list[Outcome]:
    lf = ctx.client("lakeformation")
    catalog = target.name
    declared = section_of(ctx, target)
    run = Run(
        target, arn=f"arn:{ctx.partition}:lakeformation:{ctx.region}:{catalog}:catalog:{catalog}"
    )

    def settings() -> dict[str, Any]:
        found = aws_call(lf, "get_data_lake_settings", CatalogId=catalog)
        return found.get("DataLakeSettings") or {}

    admins = sorted(declared.get("lakeFormationAdmins") or [])
    if admins:
        run.check(
            SETTINGS_DEFAULTS,
            lambda: _defaults(ctx.cached(("lf-settings", catalog), settings)),
            "no default grants on new databases or tables",
        )
        run.check(
            SETTINGS_ADMINS,
            lambda: _admins(ctx.cached(("lf-settings", catalog), settings), admins),
            f"{len(admins)} administrators, as configured",
        )
    else:
        reason = "the stack manages no data lake settings (no lakeFormationAdmins)"
        run.skip(SETTINGS_DEFAULTS, reason)
        run.skip(SETTINGS_ADMINS, reason)
    tags = declared.get("lfTags") or {}
    if tags:
        run.check(
            LF_TAGS,
            lambda: _lf_tags(lf, catalog, tags),
            ", ".join(sorted(tags)) + " with every value",
        )
    else:
        run.skip(LF_TAGS, "the outputs declare no LF-tags")
    return run.outcomes


def _defaults(settings: dict[str, Any]) -> Problem:
    problems = []
    for field, what in (
        ("CreateDatabaseDefaultPermissions", "new databases"),
        ("CreateTableDefaultPermissions", "new tables"),
    ):
        grants = settings.get(field) or []
        principals = sorted(
            {str((g.get("Principal") or {}).get("DataLakePrincipalIdentifier")) for g in grants}
        )
        if principals:
            names = ", ".join(
                "IAMAllowedPrincipals" if p == IAM_ALLOWED_PRINCIPALS else p for p in principals
            )
            problems.append(f"{what} get a default grant to {names} ({field})")
    if problems:
        return "; ".join(problems) + ": Lake Formation permissions do not govern them"
    return None


def _admins(settings: dict[str, Any], expected: list[str]) -> Problem:
    live = {str(a.get("DataLakePrincipalIdentifier")) for a in settings.get("DataLakeAdmins") or []}
    missing, extra = sorted(set(expected) - live), sorted(live - set(expected))
    parts = []
    if missing:
        parts.append("missing " + ", ".join(missing))
    if extra:
        parts.append("unexpected " + ", ".join(extra))
    return (
        "data lake administrators differ from the configured ones: " + "; ".join(parts)
        if parts
        else None
    )


def _lf_tags(lf: Any, catalog: str, declared: dict[str, Any]) -> Problem:
    problems = []
    for key, values in sorted(declared.items()):
        try:
            found = aws_call(lf, "get_lf_tag", CatalogId=catalog, TagKey=key)
        except MissingResourceError:
            found = None
        live = set((found or {}).get("TagValues") or [])
        if not live:  # moto answers a missing key with no values; AWS with EntityNotFound
            problems.append(f"LF-tag {key} does not exist")
            continue
        missing = sorted(set(values) - live)
        if missing:
            problems.append(f"LF-tag {key} lacks the values {', '.join(missing)}")
    return "; ".join(problems) + " (grants written in them match nothing)" if problems else None
