"""`EstateMocks`: the Pulumi mock runtime's two questions, dispatched through the registry.

The mock runtime asks "what did creating this resource produce?" (`new_resource`) and "what does
this function return?" (`call`). The answers live in the service modules, by token
(`registry.py`); this class holds what they share: the account, region and salt, what earlier
resources produced, and the explicit providers' settings.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from typing import Any

import pulumi

from estate.offline.mocks import aws, kubernetes
from estate.offline.mocks.common import (
    ACCOUNT_ID,
    AZ_SUFFIXES,
    DEFAULT_REGION,
    GLOBAL_SERVICES,
    autoname,
    region_code,
    stable_hex,
    stable_int,
    stable_uuid,
)
from estate.offline.mocks.registry import INVOKES, PACKAGE_RESOURCES

_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SIG_SECRET = "1b47061264138c4ac30d75fd1eb44270"


def unwrap_secrets(value: Any) -> Any:
    """Inputs as a provider receives them: plain values. The SDK's mock hands them over still
    wrapped where a secret is inside (and a map holding one secret becomes one secret map), so
    a resource with a secret password would see none of its inputs."""
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SIG_SECRET:
            return unwrap_secrets(value.get("value"))
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


class EstateMocks(pulumi.runtime.Mocks):
    """Answers shaped like AWS's, for every resource and for the invokes programs commonly make.

    `stack_outputs` resolves a `StackReference` by stack name; it is given the referenced
    stack's name (e.g. `org/ai-estate/platform-prod`) and returns that stack's outputs.
    Invokes the mocks have no specific answer for are collected in `unanswered_calls`.
    """

    def __init__(
        self,
        region: str = DEFAULT_REGION,
        account_id: str = ACCOUNT_ID,
        stack_outputs: Callable[[str], dict[str, Any]] | None = None,
        salt: str = "",
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.stack_outputs = stack_outputs
        self.salt = salt
        self.unanswered_calls: set[str] = set()
        # What each resource produced, by physical ID, so later answers can agree with earlier
        # ones (a cluster reports the VPC of its subnets). Registrations run on SDK threads.
        self._lock = threading.Lock()
        self._by_id: dict[tuple[str, str], dict[str, Any]] = {}
        self._providers: dict[str, dict[str, Any]] = {}

    # -- what handlers share ---------------------------------------------------------------

    def arn(self, service: str, resource: str, regional: bool, region: str | None = None) -> str:
        """An ARN in this account (S3's carry no account; global services no region)."""
        region = (region or self.region) if regional and service not in GLOBAL_SERVICES else ""
        account = "" if service == "s3" else self.account_id
        return f"arn:aws:{service}:{region}:{account}:{resource}"

    def remember(self, rid: str, typ: str, state: dict[str, Any]) -> None:
        """Record what a resource produced, for later answers to agree with."""
        with self._lock:
            self._by_id[(typ, rid)] = state

    def lookup(self, rid: Any, typ: str) -> dict[str, Any]:
        """What an earlier resource of type `typ` with ID `rid` produced, or {} if none did."""
        if not isinstance(rid, str):
            return {}
        with self._lock:
            return self._by_id.get((typ, rid), {})

    def provider_settings(self, provider_ref: str | None) -> dict[str, Any]:
        """An explicit provider's configuration (region, defaultTags), nested values decoded."""
        if not provider_ref:
            return {}
        with self._lock:
            settings = dict(self._providers.get(provider_ref.rsplit("::", 1)[-1], {}))
        for key, value in settings.items():
            # Providers receive nested configuration as JSON strings.
            if isinstance(value, str) and value.startswith(("{", "[")):
                with contextlib.suppress(ValueError):
                    settings[key] = json.loads(value)
        return settings

    def zone(self, region: str, *parts: str) -> str:
        """A stable one of the region's first three availability zones."""
        return region + AZ_SUFFIXES[stable_int(*parts, modulo=3)]

    def zone_id(self, zone: str) -> str:
        """The zone ID AWS reports for a zone name: `us-east-1b` -> `use1-az2`."""
        region, letter = zone[:-1], zone[-1]
        index = AZ_SUFFIXES.index(letter) + 1 if letter in AZ_SUFFIXES else 1
        return f"{region_code(region)}-az{index}"

    def default_vpc_id(self, region: str) -> str:
        """The ID of the account's default VPC in `region`."""
        return "vpc-" + stable_hex("default-vpc", self.account_id, region)

    def vpc_cidr(self, vpc_id: str, region: str) -> str:
        """A VPC's CIDR: as created, 172.31.0.0/16 for the default VPC, else a stable /16."""
        known = self.lookup(vpc_id, "aws:ec2/vpc:Vpc").get("cidrBlock")
        if isinstance(known, str):
            return known
        if vpc_id == self.default_vpc_id(region):
            return "172.31.0.0/16"
        # A VPC made elsewhere (another stack's): a stable private /16 of its own.
        return f"10.{stable_int('cidr', vpc_id, modulo=200) + 20}.0.0/16"

    # -- resources -------------------------------------------------------------------------

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        typ, inputs = args.typ, dict(unwrap_secrets(args.inputs))
        # The engine's own types: a StackReference reads another stack, a provider's settings
        # are remembered for the resources that name it.
        if typ == "pulumi:pulumi:StackReference":
            name = inputs.get("name") or args.name
            outputs = self.stack_outputs(name) if self.stack_outputs else {}
            return name, {"name": name, "outputs": outputs, "secretOutputNames": []}
        if typ.startswith("pulumi:providers:"):
            pid = stable_uuid(typ, args.name, self.salt)
            with self._lock:
                self._providers[pid] = {"type": typ, **inputs}
            return pid, inputs
        if typ.startswith("kubernetes:"):
            return kubernetes.new_resource(self, args, typ, inputs)
        if typ.startswith("aws:"):
            return aws.new_resource(self, args, typ, inputs)
        package = PACKAGE_RESOURCES.get(typ)
        if package is not None:
            return package(self, args.name, inputs)

        name = inputs.get("name")
        physical = name if isinstance(name, str) and name else autoname(args.name, typ, self.salt)
        unknown = name is not None and not isinstance(name, str)  # another resource's output
        return physical, {**inputs, "name": name if unknown else physical}

    # -- invokes ---------------------------------------------------------------------------

    # A bare dict is the answer form the SDK's MockMonitor has always accepted (it checks
    # `isinstance(tup, dict)`), and what callers of `call` read; no check failures to report.
    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        token, a = args.token, dict(unwrap_secrets(args.args or {}))
        provider = self.provider_settings(args.provider)
        region = str(a.get("region") or provider.get("region") or self.region)
        handler = INVOKES.get(token)
        if handler is not None:
            return handler(self, a, region)
        self.unanswered_calls.add(token)
        return {"id": stable_hex(token, json.dumps(a, sort_keys=True, default=str), length=12)}
