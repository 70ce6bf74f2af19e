"""Approval -> deployment: a model package version approved in the BU's registry starts the
deploy workflow of the repository that holds the stacks, and every model-package event is kept.

```
SageMaker (model package state change, Approved, group <bu>-<env>-<family>)
  └─ EventBridge rule, one per family ──► API destination POST {apiUrl}/repos/{repo}/dispatches
        input transformer → {"event_type": "<eventType>",                 (connection: API key
                             "client_payload": {"stack", "family",          header Authorization,
                                                "modelPackageArn"}}         secret in Secrets Manager)
        retries, then the encrypted dead-letter queue
SageMaker (every model package state change of the BU) ──► EventBridge archive (BU key)
```

Why one rule per family: the payload names the family, and an input transformer can only copy
event fields, not strip the `<bu>-<env>-` prefix off the group name; so each family's rule
carries its family (and its stack) as literals, and matches its own group only.

The GitHub token. EventBridge keeps an API-key connection's value in a Secrets Manager secret it
manages (`events!connection/<name>/...`); the connection API takes the value itself, never a
reference. Two ways to give it, neither puts the token in git:

- `tokenSecretArn` set: the program reads that existing secret (the raw token) at deploy time and
  passes `Bearer <token>` to the connection as a Pulumi secret (encrypted in the stack's state).
  Rotating the token is a secret update followed by `pulumi up`.
- unset: the connection is created with the placeholder `PLACEHOLDER_TOKEN` and the stack
  ignores later changes of the value, so the platform team sets the real one once, out of band
  (README: "The retraining loop"); until then GitHub answers 401 and deliveries land in the DLQ.

The connection's secret stays under the AWS-owned key EventBridge uses by default: a customer
managed key there needs the `EventBridgeApiDestinations` key tag and Secrets Manager grants for
the deploying principal, which the BU key's policy does not give (left as a follow-up). The
archive, the DLQ and everything the payload points at are under the BU key.

The invoke role may only `events:InvokeApiDestination` on this destination, trusts EventBridge
for this account only, and carries the BU's permission boundary like every BU role.
"""

from __future__ import annotations

import json
import re
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from . import naming
from .iam import POLICY_VERSION, allow, policy_json, service_trust_policy
from .model_registry import MODEL_PACKAGE_EVENT, approval_event_pattern
from .options import child, stateful
from .tags import merge_tags

GITHUB_API_VERSION = "2022-11-28"
"""The REST API version the dispatch is sent with (`X-GitHub-Api-Version`)."""
GITHUB_ACCEPT = "application/vnd.github+json"
PLACEHOLDER_TOKEN = "PLACEHOLDER_TOKEN"
"""The connection's value until the platform team sets the real token (no `tokenSecretArn`)."""
APPROVED = "Approved"
INVOKE_ACTION = "events:InvokeApiDestination"
ARCHIVE_RETENTION_DAYS = 2557
"""Default retention of the model-package archive: seven years (a common model-risk record
keeping period; AWS's own default is to keep events forever)."""
DISPATCH_RATE_PER_SECOND = 1
"""Invocations per second the API destination allows: approvals are rare, and GitHub's secondary
rate limits punish bursts."""
RETRY_ATTEMPTS = 12
RETRY_MAX_AGE_SECONDS = 6 * 3600
"""EventBridge retries a failed delivery (GitHub 5xx, 429, timeouts) with back-off for up to six
hours, then hands it to the DLQ: an approval is never dropped silently."""
DLQ_RETENTION_SECONDS = 14 * 24 * 3600

_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class DeployDispatchSettings(TypedDict):
    """`ai-estate:mlops.deployDispatch` (see `DeployDispatchConfig`)."""

    repository: str
    """`owner/name` of the repository holding the stacks."""
    api_url: str
    """GitHub's REST API root (`https://api.github.com`, or GitHub Enterprise's `/api/v3`)."""
    event_type: str
    """The `repository_dispatch` type the deploy workflow listens to (`model-approved`)."""
    token_secret_arn: str | None
    """An existing Secrets Manager secret holding the token; None: a placeholder (module doc)."""


class DeployDispatchArgs(TypedDict):
    """Inputs of `DeployDispatch`."""

    business_unit: str
    """The BU (names, the payload's stack)."""
    environment: str
    """The environment (names, the payload's stack)."""
    account_id: str
    """The BU's account (the invoke role's trust, the default event bus)."""
    model_package_group_names: dict[str, str]
    """Model family -> its model package group (`ModelRegistry.model_package_group_names`)."""
    dispatch: DeployDispatchSettings | None
    """Where approvals are sent; None keeps the archive only."""
    kms_key_arn: pulumi.Input[str]
    """The BU key: encrypts the archive and the DLQ."""
    boundary_arn: pulumi.Input[str] | None
    """The BU's permission boundary (the invoke role carries it); required with `dispatch`."""
    archive_retention_days: NotRequired[int]
    """Days the archive keeps events (default `ARCHIVE_RETENTION_DAYS`)."""
    tags: dict[str, str]
    """Ownership tags."""
    protect: NotRequired[bool]
    """Protect and retain the archive (prod): deleting it deletes the archived events."""


# -- pure parts -----------------------------------------------------------------------------


def dispatch_endpoint(api_url: str, repository: str) -> str:
    """`https://api.github.com/repos/acme/ai-estate/dispatches` (GitHub: "Create a repository
    dispatch event")."""
    if not api_url.startswith("https://"):
        raise ValueError(f"deploy dispatch apiUrl {api_url!r} must be an https:// URL")
    if not _REPOSITORY.match(repository):
        raise ValueError(f"deploy dispatch repository {repository!r} must be owner/name")
    return f"{api_url.rstrip('/')}/repos/{repository}/dispatches"


def approved_event_pattern(group_name: str) -> str:
    """A version of `group_name` reaching `Approved` (and nothing else of the registry)."""
    return json.dumps(
        {
            **MODEL_PACKAGE_EVENT,
            "detail": {"ModelPackageGroupName": [group_name], "ModelApprovalStatus": [APPROVED]},
        },
        sort_keys=True,
    )


def dispatch_input_paths() -> dict[str, str]:
    """The event fields the payload copies: only the version's ARN (the rest are literals)."""
    return {"modelPackageArn": "$.detail.ModelPackageArn"}


def dispatch_input_template(event_type: str, stack: str, family: str) -> str:
    """The `repository_dispatch` body: `{"event_type", "client_payload": {stack, family,
    modelPackageArn}}` (the contract the deploy workflow reads). The ARN placeholder sits inside
    quotes, so EventBridge inserts the string as is; a model package ARN has no character that
    JSON must escape."""
    return json.dumps(
        {
            "event_type": event_type,
            "client_payload": {
                "stack": stack,
                "family": family,
                "modelPackageArn": "<modelPackageArn>",
            },
        },
        sort_keys=True,
    )


def invoke_policy(destination_arn: str) -> str:
    """The invoke role's only right: this API destination."""
    return policy_json([allow("InvokeDeployDispatch", [INVOKE_ACTION], destination_arn)])


def dlq_policy(queue_arn: str, rule_arns: list[str]) -> str:
    """EventBridge may send failed deliveries of these rules, and nothing else may send."""
    return json.dumps(
        {
            "Version": POLICY_VERSION,
            "Statement": [
                {
                    "Sid": "EventBridgeDeadLetters",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": sorted(rule_arns)}},
                }
            ],
        },
        sort_keys=True,
    )


def default_bus_arn(partition: str, region: str, account_id: str) -> str:
    return f"arn:{partition}:events:{region}:{account_id}:event-bus/default"


# -- the component --------------------------------------------------------------------------


class DeployDispatch(pulumi.ComponentResource):
    """The BU's approval -> deploy dispatch and its model-package archive (module docstring)."""

    archive_name: pulumi.Output[str]
    archive_arn: pulumi.Output[str]
    api_destination_arn: pulumi.Output[str] | None
    """None without `dispatch`."""
    connection_arn: pulumi.Output[str] | None
    connection_secret_arn: pulumi.Output[str] | None
    """The secret EventBridge manages for the connection (where the token lives)."""
    invoke_role_arn: pulumi.Output[str] | None
    dead_letter_queue_url: pulumi.Output[str] | None
    rule_names: dict[str, pulumi.Output[str]]
    """Model family -> its approval rule."""

    def __init__(
        self, name: str, args: DeployDispatchArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:mlops:DeployDispatch", name, None, opts)
        prefix = naming.prefix(args["business_unit"], args["environment"])
        invoke = pulumi.InvokeOutputOptions(parent=self)
        partition = aws.get_partition_output(opts=invoke).partition
        region = aws.get_region_output(opts=invoke).region
        tags = merge_tags(args["tags"], {"Component": "deploy-dispatch"})

        self._archive(name, prefix, args, partition, region, tags)
        self.api_destination_arn = self.connection_arn = self.connection_secret_arn = None
        self.invoke_role_arn = self.dead_letter_queue_url = None
        self.rule_names = {}
        dispatch = args["dispatch"]
        if dispatch is not None:
            self._dispatch(name, prefix, args, dispatch, tags)
        self.register_outputs(
            {
                "archiveArn": self.archive_arn,
                "apiDestinationArn": self.api_destination_arn,
                "invokeRoleArn": self.invoke_role_arn,
                "ruleNames": self.rule_names,
            }
        )

    def _archive(
        self,
        name: str,
        prefix: str,
        args: DeployDispatchArgs,
        partition: pulumi.Output[str],
        region: pulumi.Output[str],
        tags: dict[str, str],
    ) -> None:
        """Every model-package event of the BU's groups, under the BU key (audit)."""
        archive = aws.cloudwatch.EventArchive(
            f"{name}-archive",
            name=f"{prefix}-model-packages",
            description=f"Every model package state change of {prefix}'s registry (audit)",
            event_source_arn=pulumi.Output.all(partition, region).apply(
                lambda p: default_bus_arn(p[0], p[1], args["account_id"])
            ),
            event_pattern=approval_event_pattern(prefix),
            retention_days=args.get("archive_retention_days", ARCHIVE_RETENTION_DAYS),
            kms_key_identifier=args["kms_key_arn"],
            opts=stateful(self, args.get("protect", False)),
        )
        self.archive_name, self.archive_arn = archive.name, archive.arn

    def _dispatch(
        self,
        name: str,
        prefix: str,
        args: DeployDispatchArgs,
        dispatch: DeployDispatchSettings,
        tags: dict[str, str],
    ) -> None:
        """Connection, API destination, DLQ, invoke role, and one rule + target per family."""
        if args["boundary_arn"] is None:
            raise ValueError(
                f"DeployDispatch {name}: the invoke role needs the BU's permission boundary "
                "(configure ai-estate:access)"
            )
        endpoint = dispatch_endpoint(dispatch["api_url"], dispatch["repository"])
        secret_arn = dispatch["token_secret_arn"]
        if secret_arn:
            token = aws.secretsmanager.get_secret_version_output(
                secret_id=secret_arn, opts=pulumi.InvokeOutputOptions(parent=self)
            ).secret_string
            value: pulumi.Input[str] = pulumi.Output.secret(pulumi.Output.concat("Bearer ", token))
            ignore: list[str] = []
        else:
            value = PLACEHOLDER_TOKEN
            # The platform team sets the real value once; `pulumi up` must not put it back.
            ignore = ["authParameters.apiKey.value"]
        connection = aws.cloudwatch.EventConnection(
            f"{name}-connection",
            name=f"{prefix}-github",
            description=f"GitHub repository_dispatch to {dispatch['repository']} for {prefix}",
            authorization_type="API_KEY",
            auth_parameters=aws.cloudwatch.EventConnectionAuthParametersArgs(
                api_key=aws.cloudwatch.EventConnectionAuthParametersApiKeyArgs(
                    key="Authorization", value=value
                ),
                invocation_http_parameters=(
                    aws.cloudwatch.EventConnectionAuthParametersInvocationHttpParametersArgs(
                        headers=[
                            aws.cloudwatch.EventConnectionAuthParametersInvocationHttpParametersHeaderArgs(
                                key=key, value=header_value, is_value_secret=False
                            )
                            for key, header_value in (
                                ("Accept", GITHUB_ACCEPT),
                                ("X-GitHub-Api-Version", GITHUB_API_VERSION),
                            )
                        ]
                    )
                ),
            ),
            opts=child(self, ignore_changes=ignore),
        )
        destination = aws.cloudwatch.EventApiDestination(
            f"{name}-destination",
            name=f"{prefix}-deploy-dispatch",
            description=f"repository_dispatch of {dispatch['repository']} ({prefix} approvals)",
            connection_arn=connection.arn,
            http_method="POST",
            invocation_endpoint=endpoint,
            invocation_rate_limit_per_second=DISPATCH_RATE_PER_SECOND,
            opts=child(self),
        )
        role = aws.iam.Role(
            f"{name}-invoke-role",
            name=f"{prefix}-deploy-dispatch",
            path=f"/ai-estate/{args['business_unit']}/",
            description=f"EventBridge sends {prefix}'s model approvals to the deploy workflow",
            assume_role_policy=service_trust_policy("events.amazonaws.com", args["account_id"]),
            permissions_boundary=args["boundary_arn"],
            max_session_duration=3600,
            tags=merge_tags(tags, {"Workload": "deploy-dispatch"}),
            opts=child(self),
        )
        aws.iam.RolePolicy(
            f"{name}-invoke-policy",
            name=f"{prefix}-deploy-dispatch",
            role=role.id,
            policy=destination.arn.apply(invoke_policy),
            opts=child(self),
        )
        dlq = aws.sqs.Queue(
            f"{name}-dlq",
            name=f"{prefix}-deploy-dispatch-dlq",
            kms_master_key_id=args["kms_key_arn"],
            kms_data_key_reuse_period_seconds=300,
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            tags=tags,
            opts=child(self),
        )
        rules: list[aws.cloudwatch.EventRule] = []
        stack = prefix
        for family, group in sorted(args["model_package_group_names"].items()):
            rule = aws.cloudwatch.EventRule(
                f"{name}-{family}-approved",
                name=f"{prefix}-{family}-approved",
                description=f"A {family} model version of {prefix} is approved: deploy it",
                event_pattern=approved_event_pattern(group),
                tags=tags,
                opts=child(self),
            )
            rules.append(rule)
            self.rule_names[family] = rule.name
        queue_policy = aws.sqs.QueuePolicy(
            f"{name}-dlq-policy",
            queue_url=dlq.url,
            policy=pulumi.Output.all(dlq.arn, *[r.arn for r in rules]).apply(
                lambda p: dlq_policy(p[0], list(p[1:]))
            ),
            opts=child(self),
        )
        for (family, _group), rule in zip(
            sorted(args["model_package_group_names"].items()), rules, strict=True
        ):
            aws.cloudwatch.EventTarget(
                f"{name}-{family}-target",
                rule=rule.name,
                target_id="deploy-dispatch",
                arn=destination.arn,
                role_arn=role.arn,
                input_transformer=aws.cloudwatch.EventTargetInputTransformerArgs(
                    input_paths=dispatch_input_paths(),
                    input_template=dispatch_input_template(dispatch["event_type"], stack, family),
                ),
                retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                    maximum_event_age_in_seconds=RETRY_MAX_AGE_SECONDS,
                    maximum_retry_attempts=RETRY_ATTEMPTS,
                ),
                dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=dlq.arn),
                # Failed deliveries before the queue policy exists would be lost.
                opts=child(self, depends_on=[queue_policy]),
            )
        self.api_destination_arn = destination.arn
        self.connection_arn = connection.arn
        self.connection_secret_arn = connection.secret_arn
        self.invoke_role_arn = role.arn
        self.dead_letter_queue_url = dlq.url
