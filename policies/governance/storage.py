"""S3 rules: encryption, public access, TLS, versioning, access logs.

A bucket's hardening lives on satellite resources (pulumi-aws v7: `BucketServerSideEncryption-
Configuration`, `BucketVersioning`, `BucketPublicAccessBlock`, `BucketPolicy`, `BucketLogging`),
so most rules here are stack rules that link those to their bucket (see `linking.py`). The
deprecated inline arguments of `aws.s3.Bucket` (`serverSideEncryptionConfiguration`,
`versioning`, `logging`, `policy`) are honoured too: hand-written programs still use them, and
after `pulumi up` the bucket's outputs mirror the satellites' effect there.

Buckets that receive other buckets' server access logs are exempt from access logging (a log
bucket logging to itself loops) and from the customer-managed-key rule: S3 cannot deliver server
access logs to a bucket whose default encryption is SSE-KMS, so AWS requires SSE-S3 there. A
bucket is a log target when a bucket of this stack logs into it, or when its bucket policy lets
the S3 logging service (`logging.s3.amazonaws.com`) put objects into it, which is how a log
bucket whose sources live in other stacks declares itself (or, the older way AWS still
documents, its ACL gives the log delivery group WRITE: `log-delivery-write`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from .catalog import (
    BLOCK_EVERYWHERE,
    BLOCK_FROM_STAGING,
    BLOCK_IN_PROD,
    Rule,
    Settings,
    checkov,
    cis,
    securityhub,
)
from .linking import group_by_target, known_names, linked, of_types
from .properties import (
    actions,
    as_list,
    get,
    is_customer_managed_key,
    is_true,
    json_document,
    principal_is_everyone,
    public_statement_problems,
    statements,
    text,
)


def _s3(name: str, *, v2: bool = True) -> tuple[str, ...]:
    """The type token of an S3 resource and, where the provider has one, its deprecated V2 alias."""
    kind = name[0].upper() + name[1:]
    tokens = (f"aws:s3/{name}:{kind}",)
    return (*tokens, f"aws:s3/{name}V2:{kind}V2") if v2 else tokens


BUCKET_TYPES = _s3("bucket")
ENCRYPTION_TYPES = _s3("bucketServerSideEncryptionConfiguration")
VERSIONING_TYPES = _s3("bucketVersioning")
LOGGING_TYPES = _s3("bucketLogging")
ACL_TYPES = _s3("bucketAcl")
PUBLIC_ACCESS_BLOCK_TYPES = _s3("bucketPublicAccessBlock", v2=False)
BUCKET_POLICY_TYPES = _s3("bucketPolicy", v2=False)
ACCOUNT_PUBLIC_ACCESS_BLOCK_TYPES = _s3("accountPublicAccessBlock", v2=False)

KMS_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})
PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
PUBLIC_CANNED_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)


# -- linking ------------------------------------------------------------------------------------


def _bucket_names(bucket: PolicyResource) -> set[str]:
    return known_names(bucket, ("bucket", "id"))


def buckets(resources: Iterable[PolicyResource]) -> dict[str, PolicyResource]:
    """URN -> bucket, for every general-purpose bucket in the stack."""
    return {b.urn: b for b in of_types(resources, BUCKET_TYPES)}


def satellites(
    resources: Iterable[PolicyResource], types: Iterable[str], targets: Mapping[str, PolicyResource]
) -> dict[str, list[PolicyResource]]:
    """Bucket URN -> the satellite resources of `types` that configure it."""
    return group_by_target(of_types(resources, types), "bucket", targets, _bucket_names)


def log_targets(resources: list[PolicyResource], targets: Mapping[str, PolicyResource]) -> set[str]:
    """URNs of the buckets in this stack that receive other buckets' server access logs."""
    # A bucket logging into itself is not a log target: that would exempt a data bucket.
    found: set[str] = set()
    for logging in of_types(resources, LOGGING_TYPES):
        sources = {t.urn for t in linked(logging, "bucket", targets, _bucket_names)}
        found.update(
            t.urn
            for t in linked(logging, "targetBucket", targets, _bucket_names)
            if t.urn not in sources
        )
    for urn, bucket in targets.items():
        if get(bucket.props, "logging") is None:
            continue
        deps = [
            d.urn for d in bucket.property_dependencies.get("logging") or [] if d.urn in targets
        ]
        if not deps:
            name = text(get(bucket.props, "logging", "targetBucket"))
            deps = [u for u, t in targets.items() if name and name in _bucket_names(t)]
        found.update(d for d in deps if d != urn)
    # Source buckets may live in other stacks: a bucket whose policy lets the S3 logging service
    # write into it is a log target by its own declaration.
    # The same holds for the older grant AWS still documents: a bucket ACL giving the S3 log
    # delivery group WRITE (the canned ACL log-delivery-write, or an explicit grant).
    policies = satellites(resources, BUCKET_POLICY_TYPES, targets)
    acls = satellites(resources, ACL_TYPES, targets)
    for urn, bucket in targets.items():
        documents = [json_document(p.props.get("policy")) for p in policies[urn]]
        documents.append(json_document(bucket.props.get("policy")))
        grants = [
            (acl.props.get("acl"), as_list(get(acl.props, "accessControlPolicy", "grants")))
            for acl in acls[urn]
        ]
        grants.append((bucket.props.get("acl"), as_list(bucket.props.get("grants"))))
        if any(admits_log_delivery(d) for d in documents) or any(
            acl_admits_log_delivery(canned, explicit) for canned, explicit in grants
        ):
            found.add(urn)
    return found


LOG_DELIVERY_SERVICE = "logging.s3.amazonaws.com"
LOG_DELIVERY_GROUP = "http://acs.amazonaws.com/groups/s3/LogDelivery"


def admits_log_delivery(document: Mapping[str, Any] | None) -> bool:
    """Whether a bucket policy lets S3 server access logging deliver into the bucket (an Allow
    of s3:PutObject, or an action pattern matching it, to the `logging.s3.amazonaws.com` service
    principal)."""
    for statement in statements(document):
        if text(statement.get("Effect")).lower() != "allow":
            continue
        principal = statement.get("Principal")
        services = as_list(get(principal, "Service")) if isinstance(principal, Mapping) else []
        if LOG_DELIVERY_SERVICE not in [text(s) for s in services]:
            continue
        if any(fnmatchcase("s3:putobject", a) for a in actions(statement)):
            return True
    return False


def acl_admits_log_delivery(canned: Any, grants: list[Any]) -> bool:
    """Whether a bucket ACL lets the S3 log delivery group write into the bucket (the canned ACL
    `log-delivery-write`, or a WRITE or FULL_CONTROL grant to the group's URI)."""
    if text(canned) == "log-delivery-write":
        return True
    for grant in grants:
        uri = get(grant, "grantee", "uri") or get(grant, "uri")
        permissions = [
            text(p) for p in as_list(get(grant, "permission") or get(grant, "permissions"))
        ]
        if text(uri) == LOG_DELIVERY_GROUP and {"WRITE", "FULL_CONTROL"} & set(permissions):
            return True
    return False


def _label(resource: PolicyResource) -> str:
    return f"S3 bucket '{resource.name}'"


# -- s3-bucket-encryption-cmk ---------------------------------------------------------------


def _encryption_defaults(rules: Any) -> list[Any]:
    return [get(rule, "applyServerSideEncryptionByDefault") for rule in as_list(rules)]


def _is_cmk_default(default: Any) -> bool:
    return text(get(default, "sseAlgorithm")) in KMS_ALGORITHMS and is_customer_managed_key(
        get(default, "kmsMasterKeyId")
    )


def _describe_default(default: Any) -> str:
    algorithm = text(get(default, "sseAlgorithm")) or "no algorithm"
    if algorithm in KMS_ALGORITHMS:
        key = text(get(default, "kmsMasterKeyId"))
        return f"{algorithm} with {'the AWS-managed key ' + key if key else 'the AWS-managed key'}"
    return algorithm


def validate_bucket_encryption(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    resources = list(args.resources)
    targets = buckets(resources)
    if not targets:
        return
    configs = satellites(resources, ENCRYPTION_TYPES, targets)
    exempt = log_targets(resources, targets)
    for urn, bucket in targets.items():
        if urn in exempt:
            continue
        separate = [d for c in configs[urn] for d in _encryption_defaults(c.props.get("rules"))]
        if separate:
            weak = [d for d in separate if not _is_cmk_default(d)]
            if not weak:
                continue
            report(
                f"{_label(bucket)} default encryption is {_describe_default(weak[0])}; "
                "use SSE-KMS with a customer-managed key.",
                urn,
            )
            continue
        inline = _encryption_defaults(
            get(bucket.props, "serverSideEncryptionConfiguration", "rule")
        )
        if any(_is_cmk_default(d) for d in inline):
            continue
        found = f" (found {_describe_default(inline[0])})" if inline else ""
        report(
            f"{_label(bucket)} has no default encryption with a customer-managed KMS key{found}.",
            urn,
        )


# -- s3-bucket-public-access-block ----------------------------------------------------------


def _missing_flags(block: PolicyResource) -> list[str]:
    return [f for f in PUBLIC_ACCESS_FLAGS if not is_true(block.props.get(f))]


def validate_public_access_block(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    resources = list(args.resources)
    targets = buckets(resources)
    if not targets:
        return
    if any(not _missing_flags(a) for a in of_types(resources, ACCOUNT_PUBLIC_ACCESS_BLOCK_TYPES)):
        return  # the account-wide block with all four flags covers every bucket
    blocks = satellites(resources, PUBLIC_ACCESS_BLOCK_TYPES, targets)
    for urn, bucket in targets.items():
        if not blocks[urn]:
            report(f"{_label(bucket)} has no public access block.", urn)
            continue
        missing = min((_missing_flags(b) for b in blocks[urn]), key=len)
        if missing:
            report(f"{_label(bucket)} public access block leaves {', '.join(missing)} off.", urn)


# -- s3-bucket-tls-only ---------------------------------------------------------------------


def denies_insecure_transport(document: Mapping[str, Any] | None) -> bool:
    """Whether a policy denies all S3 actions to everyone when `aws:SecureTransport` is false."""
    for statement in statements(document):
        if text(statement.get("Effect")).lower() != "deny":
            continue
        if not principal_is_everyone(statement.get("Principal")):
            continue
        if not {"s3:*", "*"} & set(actions(statement)):
            continue
        conditions = statement.get("Condition")
        if not isinstance(conditions, Mapping):
            continue  # no condition (or a malformed one): not a TLS-only deny
        for operator, block in conditions.items():
            if str(operator).lower() != "bool" or not isinstance(block, Mapping):
                continue
            for key, value in block.items():
                if str(key).lower() == "aws:securetransport" and any(
                    str(v).lower() == "false" for v in as_list(value)
                ):
                    return True
    return False


def validate_tls_only(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    resources = list(args.resources)
    targets = buckets(resources)
    if not targets:
        return
    policies = satellites(resources, BUCKET_POLICY_TYPES, targets)
    for urn, bucket in targets.items():
        documents = [json_document(p.props.get("policy")) for p in policies[urn]]
        documents.append(json_document(bucket.props.get("policy")))
        if not any(denies_insecure_transport(d) for d in documents):
            report(
                f"{_label(bucket)} has no bucket policy statement denying requests without TLS "
                "(Deny s3:* to '*' when aws:SecureTransport is false).",
                urn,
            )


# -- s3-bucket-versioning -------------------------------------------------------------------


def validate_versioning(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    resources = list(args.resources)
    targets = buckets(resources)
    if not targets:
        return
    versionings = satellites(resources, VERSIONING_TYPES, targets)
    for urn, bucket in targets.items():
        statuses = [
            text(get(v.props, "versioningConfiguration", "status")) for v in versionings[urn]
        ]
        if statuses:
            if all(s == "Enabled" for s in statuses):
                continue
            bad = next(s for s in statuses if s != "Enabled") or "unset"
            report(f"{_label(bucket)} versioning status is {bad}; set it to Enabled.", urn)
            continue
        if is_true(get(bucket.props, "versioning", "enabled")):
            continue
        report(f"{_label(bucket)} has no versioning enabled.", urn)


# -- s3-bucket-access-logging ---------------------------------------------------------------


def validate_access_logging(
    args: StackValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    resources = list(args.resources)
    targets = buckets(resources)
    if not targets:
        return
    loggings = satellites(resources, LOGGING_TYPES, targets)
    exempt = log_targets(resources, targets)
    for urn, bucket in targets.items():
        if urn in exempt:
            continue
        if any(entry.props.get("targetBucket") for entry in loggings[urn]):
            continue
        if get(bucket.props, "logging", "targetBucket"):
            continue
        report(f"{_label(bucket)} has no server access logging.", urn)


# -- s3-no-public-grants --------------------------------------------------------------------


def _public_acl_problems(acl: Any, grantee_uris: Iterable[Any]) -> list[str]:
    problems = []
    if text(acl) in PUBLIC_CANNED_ACLS:
        problems.append(f"canned ACL '{text(acl)}'")
    problems.extend(
        f"ACL grant to {text(uri)}" for uri in grantee_uris if text(uri) in PUBLIC_GRANTEES
    )
    return problems


def _public_policy_problems(policy: Any) -> list[str]:
    return public_statement_problems(json_document(policy), noun="policy statement")


def validate_no_public_grants(
    args: ResourceValidationArgs, report: ReportViolation, settings: Settings
) -> None:
    props = args.props
    if args.resource_type in BUCKET_TYPES:
        problems = _public_acl_problems(
            props.get("acl"), [get(g, "uri") for g in as_list(props.get("grants"))]
        ) + _public_policy_problems(props.get("policy"))
    elif args.resource_type in ACL_TYPES:
        grants = as_list(get(props, "accessControlPolicy", "grants"))
        problems = _public_acl_problems(
            props.get("acl"), [get(g, "grantee", "uri") for g in grants]
        )
    else:
        problems = _public_policy_problems(props.get("policy"))
    for problem in problems:
        report(f"'{args.name}' makes the bucket public: {problem}.", None)


RULES: tuple[Rule, ...] = (
    Rule(
        id="s3-bucket-encryption-cmk",
        title="S3 buckets encrypt with a customer-managed KMS key",
        description="Every S3 bucket's default encryption is SSE-KMS with a customer-managed key.",
        severity="high",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Add an aws.s3.BucketServerSideEncryptionConfiguration for the bucket with "
            "sse_algorithm='aws:kms', kms_master_key_id=<the BU's KMS key ARN> and "
            "bucket_key_enabled=True (components.storage.SecureBucket does this)."
        ),
        kind="stack",
        validate=validate_bucket_encryption,
        frameworks=(checkov("CKV_AWS_145"), cis("2.1.1"), securityhub("S3.17")),
        domain="storage",
        rationale=(
            "A BU's key is the unit of revocation and of cross-account access; SSE-S3 and the "
            "AWS-managed key cannot be revoked or scoped. Access-log target buckets are exempt "
            "because S3 log delivery requires SSE-S3 on them."
        ),
    ),
    Rule(
        id="s3-bucket-public-access-block",
        title="S3 buckets block all public access",
        description="Every S3 bucket has a public access block with all four flags on.",
        severity="critical",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Add an aws.s3.BucketPublicAccessBlock for the bucket with block_public_acls, "
            "block_public_policy, ignore_public_acls and restrict_public_buckets all True."
        ),
        kind="stack",
        validate=validate_public_access_block,
        frameworks=(
            checkov("CKV2_AWS_6"),
            checkov("CKV_AWS_53"),
            checkov("CKV_AWS_54"),
            checkov("CKV_AWS_55"),
            checkov("CKV_AWS_56"),
            cis("2.1.5"),
            securityhub("S3.8"),
        ),
        domain="storage",
    ),
    Rule(
        id="s3-bucket-tls-only",
        title="S3 buckets refuse requests without TLS",
        description=(
            "Every S3 bucket's policy denies all S3 actions to everyone when aws:SecureTransport "
            "is false."
        ),
        severity="high",
        enforcement=BLOCK_FROM_STAGING,
        remediation=(
            "Add a bucket policy statement {Effect: Deny, Principal: '*', Action: 's3:*', "
            "Resource: [<bucket ARN>, <bucket ARN>/*], Condition: {Bool: "
            "{aws:SecureTransport: 'false'}}} (components.storage.tls_only_statement)."
        ),
        kind="stack",
        validate=validate_tls_only,
        frameworks=(cis("2.1.2"), securityhub("S3.5")),
        domain="storage",
    ),
    Rule(
        id="s3-bucket-versioning",
        title="S3 buckets keep object versions",
        description="Every S3 bucket has versioning enabled.",
        severity="medium",
        enforcement=BLOCK_IN_PROD,
        remediation=(
            "Add an aws.s3.BucketVersioning for the bucket with "
            "versioning_configuration={'status': 'Enabled'}, and a lifecycle rule that expires "
            "noncurrent versions so cost stays bounded."
        ),
        kind="stack",
        validate=validate_versioning,
        frameworks=(checkov("CKV_AWS_21"), securityhub("S3.14")),
        domain="storage",
    ),
    Rule(
        id="s3-bucket-access-logging",
        title="S3 buckets write server access logs",
        description=(
            "Every S3 bucket (except the buckets that receive access logs) writes server access "
            "logs to a log bucket."
        ),
        severity="medium",
        enforcement=BLOCK_IN_PROD,
        remediation=(
            "Add an aws.s3.BucketLogging for the bucket with target_bucket=<the stack's access-log "
            "bucket> and a per-bucket target_prefix (SecureBucketArgs.access_log_bucket)."
        ),
        kind="stack",
        validate=validate_access_logging,
        frameworks=(checkov("CKV_AWS_18"), securityhub("S3.9")),
        domain="storage",
    ),
    Rule(
        id="s3-no-public-grants",
        title="S3 ACLs and bucket policies grant nothing to the public",
        description=(
            "No S3 bucket ACL grants access to AllUsers or AuthenticatedUsers, and no bucket "
            "policy allows Principal '*' (or uses NotPrincipal) without a condition on who may "
            "call that names a concrete account, organisation, ARN, VPC or VPC endpoint."
        ),
        severity="critical",
        enforcement=BLOCK_EVERYWHERE,
        remediation=(
            "Remove public canned ACLs (public-read, public-read-write, authenticated-read) and "
            "public grantees; scope Allow statements to named principals (Principal, never "
            "NotPrincipal) or add a condition with concrete values (aws:PrincipalOrgID "
            "o-..., aws:SourceAccount <12-digit id>, aws:SourceVpce vpce-...): a wildcard value "
            "such as aws:SourceArn 'arn:aws:*:*:*:*' restricts nobody."
        ),
        kind="resource",
        validate=validate_no_public_grants,
        resource_types=frozenset((*BUCKET_TYPES, *ACL_TYPES, *BUCKET_POLICY_TYPES)),
        frameworks=(
            checkov("CKV_AWS_20"),
            checkov("CKV_AWS_57"),
            checkov("CKV_AWS_70"),
            securityhub("S3.2"),
            securityhub("S3.3"),
        ),
        domain="storage",
    ),
)
