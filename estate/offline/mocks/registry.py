"""The mock runtime's table: what each resource type and each invoke answers, by token.

Service modules (`aws_s3.py`, `aws_eks.py`, `kubernetes.py`, ...) fill these tables with
decorators at import time; `EstateMocks` only dispatches. A type or invoke with no entry gets the
generic answer of its package (an autoname, an ARN in the service's layout, inputs echoed back),
so a new resource type works before it has a handler, and adding one never touches the others.

    @resource("aws:sqs/queue:Queue")
    def _queue(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
        return {"url": ...}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from estate.offline.mocks.core import EstateMocks


@dataclass(frozen=True)
class Arn:
    """The resource part of a type's ARN: `pattern` with `{name}`, `{id}`, `{uuid}`, `{region}`,
    `{path}`, `{cluster}`, `{bucket}`, `{key}`, `{lbkind}`, `{hex16}` and `{hex6}` filled in."""

    service: str
    pattern: str
    regional: bool = True


@dataclass(frozen=True)
class AwsType:
    """Facts about an AWS resource type that the generic AWS answer needs."""

    id_prefix: str | None = None
    """Prefix AWS puts on the type's IDs (`vpc-`, `subnet-`); the ID is prefix + a stable hash."""
    name_property: str = "name"
    """The input that carries the physical name Pulumi autonames (`bucket` for S3 buckets)."""
    arn: Arn | None = None
    """The ARN layout; without one, `arn:aws:<service>:<region>:<account>:<kind>/<name>`."""
    lowercase_name: bool = False
    """The service refuses upper case in names, so the autoname is lower-cased (S3, RDS)."""
    id_is_arn: bool = False
    """The resource's ID is its ARN (ELBv2)."""


@dataclass(frozen=True)
class NewAwsResource:
    """An AWS resource being created, as its type-specific handler sees it."""

    typ: str
    logical_name: str
    inputs: dict[str, Any]
    physical: str
    """The physical name (autonamed where the program gave none)."""
    rid: str
    """The ID the generic answer chose."""
    region: str


#: (mocks, type, logical name, inputs) -> (physical name, initial state).
Namer = Callable[["EstateMocks", str, str, dict[str, Any]], tuple[str, dict[str, Any]]]
#: (mocks, type, logical name, inputs, physical name) -> ID.
IdRule = Callable[["EstateMocks", str, str, dict[str, Any], str], str]
#: (mocks, resource) -> state merged over the generic answer.
StateHandler = Callable[["EstateMocks", NewAwsResource], dict[str, Any]]
#: (mocks, invoke arguments, region) -> the invoke's result.
InvokeHandler = Callable[["EstateMocks", dict[str, Any], str], dict[str, Any]]
#: (mocks, spec (may be completed in place), namespace/name) -> status or None.
StatusHandler = Callable[["EstateMocks", dict[str, Any], str], "dict[str, Any] | None"]

#: (mocks, logical name, inputs) -> (ID, state): a whole answer, for packages other than aws and
#: kubernetes (pulumi-random, pulumi-tls), whose resources compute their results locally.
PackageHandler = Callable[["EstateMocks", str, dict[str, Any]], tuple[str, dict[str, Any]]]

F = TypeVar("F", bound=Callable[..., Any])

AWS_TYPES: dict[str, AwsType] = {}
NAMERS: dict[str, Namer] = {}
ID_RULES: dict[str, IdRule] = {}
#: (token prefix, excluded tokens, rule): IDs for a family of types (S3 bucket sub-resources).
ID_FAMILY_RULES: list[tuple[str, frozenset[str], IdRule]] = []
RESOURCES: dict[str, StateHandler] = {}
INVOKES: dict[str, InvokeHandler] = {}
KUBERNETES_STATUS: dict[str, StatusHandler] = {}
PACKAGE_RESOURCES: dict[str, PackageHandler] = {}


def _register(table: dict[str, Any], keys: tuple[str, ...], fn: Any, what: str) -> None:
    for key in keys:
        if key in table:
            raise ValueError(f"{what} {key!r} is registered twice")
        table[key] = fn


def aws_types(types: dict[str, AwsType]) -> None:
    """Declare the facts of some AWS resource types (one service module's table)."""
    for token, facts in types.items():
        _register(AWS_TYPES, (token,), facts, "AWS type")


def resource(*tokens: str) -> Callable[[F], F]:
    """Register the type-specific state of AWS resource types (merged over the generic answer)."""

    def decorate(fn: F) -> F:
        _register(RESOURCES, tokens, fn, "resource handler for")
        return fn

    return decorate


def resource_name(*tokens: str) -> Callable[[F], F]:
    """Register how a type's physical name and initial state are chosen, replacing the generic."""

    def decorate(fn: F) -> F:
        _register(NAMERS, tokens, fn, "name rule for")
        return fn

    return decorate


def resource_id(*tokens: str) -> Callable[[F], F]:
    """Register how a type's ID is formed where it is neither a prefixed hash nor the name."""

    def decorate(fn: F) -> F:
        _register(ID_RULES, tokens, fn, "ID rule for")
        return fn

    return decorate


def resource_id_family(prefix: str, *, exclude: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Register an ID rule for every type whose token starts with `prefix`, but `exclude`."""

    def decorate(fn: F) -> F:
        ID_FAMILY_RULES.append((prefix, frozenset(exclude), fn))
        return fn

    return decorate


def invoke(*tokens: str) -> Callable[[F], F]:
    """Register the answer to invokes (`aws.iam.get_policy_document`, ...)."""

    def decorate(fn: F) -> F:
        _register(INVOKES, tokens, fn, "invoke handler for")
        return fn

    return decorate


def kubernetes_status(*kinds: str) -> Callable[[F], F]:
    """Register the status the API server reports for Kubernetes kinds."""

    def decorate(fn: F) -> F:
        _register(KUBERNETES_STATUS, kinds, fn, "Kubernetes status for")
        return fn

    return decorate


def package_resource(*tokens: str) -> Callable[[F], F]:
    """Register the whole answer of a resource type of another package (`random:`, `tls:`)."""

    def decorate(fn: F) -> F:
        _register(PACKAGE_RESOURCES, tokens, fn, "package resource handler for")
        return fn

    return decorate
