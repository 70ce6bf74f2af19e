"""The policy runner: start the real policy pack and speak the Analyzer protocol to it.

This does what the Pulumi CLI does with `--policy-pack policies`: start
`python -u -m pulumi.policy <engine> <pack dir>` with PULUMI_PROJECT, PULUMI_STACK, PULUMI_DRY_RUN
in its environment and the stack config (the CLI's PULUMI_CONFIG) in a file named by
AI_ESTATE_PULUMI_CONFIG_FILE, read the port it prints, then call GetAnalyzerInfo,
Configure, ConfigureStack, Analyze for each resource and AnalyzeStack once, over the gRPC stubs
the Pulumi SDK ships (`pulumi.runtime.proto`). The pack cannot tell us from the CLI — which is
the point: what passes here passes `pulumi preview --policy-pack policies`.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, plugin_pb2

from estate.offline.engine import UNKNOWN_WIRE, config_to_wire
from estate.offline.mocks import UNKNOWN
from estate.offline.model import Finding, Inventory, PolicyInfo, Resource
from estate.offline.project import ROOT
from estate.stack.config import decode_config_value

CONFIG_FILE_VARIABLE = "AI_ESTATE_PULUMI_CONFIG_FILE"
"""The variable naming the stack config file the pack reads when PULUMI_CONFIG is unset (the
pack's `governance.profiles.CONFIG_FILE_VARIABLE`; a test pins both)."""

ENFORCEMENT_NAMES = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
    analyzer_pb2.REMEDIATE: "remediate",
}
ENFORCEMENT_VALUES = {v: k for k, v in ENFORCEMENT_NAMES.items()}
SEVERITY_NAMES = {
    analyzer_pb2.POLICY_SEVERITY_UNSPECIFIED: "",
    analyzer_pb2.POLICY_SEVERITY_LOW: "low",
    analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
    analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
    analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical",
}
_STARTUP_TIMEOUT_S = 60
_MAX_MESSAGE = 400 * 1024 * 1024


class PackError(Exception):
    """The policy pack could not be started or answered badly (a pack bug or a broken install)."""


def _wire_value(value: Any) -> Any:
    """Inputs back onto the wire: our '<computed>' placeholder becomes Pulumi's unknown value."""
    if isinstance(value, dict):
        return {k: _wire_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire_value(v) for v in value]
    if value == UNKNOWN:
        return UNKNOWN_WIRE
    return value


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    json_format.ParseDict(_wire_value(props), struct)
    return struct


def default_provider(inventory: Inventory, package: str) -> Resource:
    """The default provider the CLI would create for `package`, configured from stack config."""
    prefix = f"{package}:"
    props = {
        k[len(prefix) :]: decode_config_value(v)
        for k, v in inventory.config.items()
        if k.startswith(prefix)
    }
    urn = f"urn:pulumi:{inventory.stack}::{inventory.project}::pulumi:providers:{package}::default"
    return Resource(
        urn=urn, type=f"pulumi:providers:{package}", name="default", custom=True, inputs=props
    )


PACK_HOST_VARIABLE = "ESTATE_PACK_HOST"
"""Set to 0 to start every pack process from scratch (`subprocess`) instead of forking it from
a warm host (`estate.offline.packhost`); the pack and what it answers are the same either way."""

OWN_PACK = ROOT / "policies"
OWN_PACK_PRELOAD = ("governance",)
"""Modules of the estate's own pack the host imports once: they read no environment at import
(the stack's profile and waivers are built in `build_pack`, in each forked child)."""


class _HostedProcess:
    """A pack process forked by a `PackHost`: the slice of `subprocess.Popen` the client uses."""

    def __init__(self, pid: int, stdout: Any, stderr: Any) -> None:
        self.pid = pid
        self.stdout = stdout
        self.stderr = stderr

    def poll(self) -> int | None:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return 0
        except PermissionError:
            return None
        return None

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.005)
        return 0

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, number)


class PackHost:
    """A warm `estate.offline.packhost` process for one pack directory and interpreter."""

    def __init__(self, pack_dir: Path, python: str, preload: tuple[str, ...]) -> None:
        self.pack_dir = pack_dir
        ours, theirs = socket.socketpair()
        cmd = [python, "-u", str(Path(__file__).with_name("packhost.py"))]
        cmd += ["--socket-fd", str(theirs.fileno())]
        for name in preload:
            cmd += ["--preload", name]
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        self.process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            pass_fds=[theirs.fileno()],
            cwd=str(pack_dir),
            env=env,
        )
        theirs.close()
        self.socket = ours
        self.replies = ours.makefile("rb")
        self.lock = threading.Lock()

    def spawn(self, argv: list[str], env: dict[str, str], cwd: str) -> _HostedProcess:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        message = json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode() + b"\n"
        try:
            with self.lock:
                socket.send_fds(self.socket, [message], [out_w, err_w])
                reply = self.replies.readline()
        finally:
            os.close(out_w)
            os.close(err_w)
        if not reply:
            os.close(out_r)
            os.close(err_r)
            raise PackError("the policy pack host exited")
        pid = int(json.loads(reply)["pid"])
        return _HostedProcess(pid, os.fdopen(out_r, "rb"), os.fdopen(err_r, "rb"))

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        self.replies.close()
        self.socket.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_HOSTS: dict[tuple[str, str], PackHost] = {}


def _host_for(pack_dir: Path, python: str) -> PackHost | None:
    """This process's warm host for `pack_dir` (started on first use); None when disabled."""
    if os.environ.get(PACK_HOST_VARIABLE, "1") == "0" or not hasattr(os, "fork"):
        return None
    key = (str(pack_dir.resolve()), python)
    host = _HOSTS.get(key)
    if host is not None and host.alive():
        return host
    preload = OWN_PACK_PRELOAD if pack_dir.resolve() == OWN_PACK.resolve() else ()
    host = _HOSTS[key] = PackHost(pack_dir, python, preload)
    return host


@atexit.register
def _close_hosts() -> None:
    for host in _HOSTS.values():
        host.close()
    _HOSTS.clear()


@dataclass
class AnalyzerClient:
    """A running policy pack process and a gRPC stub to it."""

    pack_dir: Path
    project: str
    stack: str
    config: dict[str, Any]
    dry_run: bool = True
    python: str = sys.executable
    warm: bool = False
    """Fork the pack process from this process's warm `PackHost` instead of exec'ing it."""
    process: subprocess.Popen[bytes] | _HostedProcess | None = None
    stub: analyzer_pb2_grpc.AnalyzerStub | None = None
    channel: grpc.Channel | None = None
    stderr_lines: list[str] = field(default_factory=list)
    config_file: Path | None = None
    provider_messages: dict[str, analyzer_pb2.AnalyzerProviderResource] = field(
        default_factory=dict
    )
    """Each provider's message, built once per stack (every resource of a package names it)."""

    def start(self) -> None:
        env = dict(os.environ)
        env.update(
            {
                "PULUMI_PROJECT": self.project,
                "PULUMI_STACK": self.stack,
                "PULUMI_DRY_RUN": "true" if self.dry_run else "false",
                "PULUMI_ORGANIZATION": env.get("PULUMI_ORGANIZATION", "organization"),
            }
        )
        # The CLI puts the stack config in PULUMI_CONFIG; we hand the pack a file instead
        # (policies/governance/profiles.py reads either), because Linux caps one environment
        # string at 128 KB and a large config would fail exec with "Argument list too long".
        env.pop("PULUMI_CONFIG", None)
        with tempfile.NamedTemporaryFile(
            "w", prefix="estate-config-", suffix=".json", delete=False, encoding="utf-8"
        ) as handle:
            json.dump(config_to_wire(self.config), handle)
        self.config_file = Path(handle.name)
        env[CONFIG_FILE_VARIABLE] = str(self.config_file)
        env.pop("PYTHONPATH", None)
        # The engine address is where the CLI's engine service listens; the Python policy host
        # parses it but never dials it, so any well-formed address will do.
        cmd = [self.python, "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(self.pack_dir)]
        host = _host_for(self.pack_dir, self.python) if self.warm else None
        if host is not None:
            # The same argv, environment and directory, forked from a host that has the
            # policy host's libraries imported already (estate/offline/packhost.py).
            argv = [cmd[3], *cmd[4:]]
            self.process = host.spawn(argv, env, str(self.pack_dir))
        else:
            self.process = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=str(self.pack_dir),
            )
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        port_line = self._read_port_line()
        try:
            port = int(port_line.strip())
        except ValueError:
            self.stop()
            raise PackError(
                f"policy pack {self.pack_dir} did not print a port (got {port_line!r}): "
                + " ".join(self.stderr_lines[-5:])
            ) from None
        self.channel = grpc.insecure_channel(
            f"127.0.0.1:{port}",
            options=[
                ("grpc.max_receive_message_length", _MAX_MESSAGE),
                ("grpc.max_send_message_length", _MAX_MESSAGE),
            ],
        )
        grpc.channel_ready_future(self.channel).result(timeout=_STARTUP_TIMEOUT_S)
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)

    def _read_port_line(self) -> str:
        assert self.process is not None and self.process.stdout is not None
        result: list[str] = []

        def read() -> None:
            assert self.process is not None and self.process.stdout is not None
            result.append(self.process.stdout.readline().decode(errors="replace"))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(_STARTUP_TIMEOUT_S)
        if not result:
            self.stop()
            raise PackError(
                f"policy pack {self.pack_dir} did not start within {_STARTUP_TIMEOUT_S}s"
            )
        return result[0]

    def _drain_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        stream = self.process.stderr
        for raw in stream:
            self.stderr_lines.append(raw.decode(errors="replace").rstrip())
        if isinstance(self.process, _HostedProcess):
            stream.close()

    def stop(self) -> None:
        if self.config_file is not None:
            self.config_file.unlink(missing_ok=True)
            self.config_file = None
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if isinstance(self.process, _HostedProcess):
            self.process.stdout.close()
        self.process = None

    def __enter__(self) -> AnalyzerClient:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the protocol ----------------------------------------------------------------------

    def info(self) -> analyzer_pb2.AnalyzerInfo:
        assert self.stub is not None
        return self.stub.GetAnalyzerInfo(empty_pb2.Empty())

    def plugin_version(self) -> str:
        assert self.stub is not None
        info: plugin_pb2.PluginInfo = self.stub.GetPluginInfo(empty_pb2.Empty())
        return info.version

    def configure(self, policy_config: dict[str, dict[str, Any]]) -> None:
        """Configure enforcement and properties per policy, as `--policy-pack-config` does."""
        assert self.stub is not None
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, cfg in policy_config.items():
            level = cfg.get("enforcementLevel", "advisory")
            entry = analyzer_pb2.PolicyConfig(enforcementLevel=ENFORCEMENT_VALUES[level])
            props = {k: v for k, v in cfg.items() if k != "enforcementLevel"}
            if props:
                entry.properties.update(props)
            request.policyConfig[name].CopyFrom(entry)
        self.stub.Configure(request)

    def configure_stack(self) -> None:
        assert self.stub is not None
        wire = config_to_wire(self.config)
        self.stub.ConfigureStack(
            analyzer_pb2.AnalyzerStackConfigureRequest(
                stack=self.stack,
                project=self.project,
                organization="organization",
                dry_run=self.dry_run,
                config=wire,
            )
        )

    @staticmethod
    def _options(resource: Resource) -> analyzer_pb2.AnalyzerResourceOptions:
        return analyzer_pb2.AnalyzerResourceOptions(
            protect=resource.protect,
            aliases=resource.aliases,
            parent=resource.parent or "",
        )

    def _provider(
        self, resource: Resource, providers: dict[str, Resource], inventory: Inventory
    ) -> analyzer_pb2.AnalyzerProviderResource | None:
        if not resource.custom or resource.type.startswith("pulumi:"):
            return None
        ref = resource.provider
        prov = providers.get(ref.rsplit("::", 1)[0]) if ref else None
        key = prov.urn if prov is not None else "default:" + resource.type.split(":", 1)[0]
        message = self.provider_messages.get(key)
        if message is None:
            if prov is None:
                prov = default_provider(inventory, resource.type.split(":", 1)[0])
            message = analyzer_pb2.AnalyzerProviderResource(
                type=prov.type, properties=_struct(prov.inputs), urn=prov.urn, name=prov.name
            )
            self.provider_messages[key] = message
        return message

    def analyze(
        self, resource: Resource, providers: dict[str, Resource], inventory: Inventory
    ) -> analyzer_pb2.AnalyzeResponse:
        assert self.stub is not None
        request = analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            properties=_struct(resource.inputs),
            urn=resource.urn,
            name=resource.name,
            options=self._options(resource),
        )
        provider = self._provider(resource, providers, inventory)
        if provider is not None:
            request.provider.CopyFrom(provider)
        return self.stub.Analyze(request)

    def analyze_stack(
        self, inventory: Inventory, providers: dict[str, Resource]
    ) -> analyzer_pb2.AnalyzeResponse:
        assert self.stub is not None
        request = analyzer_pb2.AnalyzeStackRequest()
        for r in inventory.resources:
            entry = analyzer_pb2.AnalyzerResource(
                type=r.type,
                properties=_struct(r.inputs),
                urn=r.urn,
                name=r.name,
                options=self._options(r),
                parent=r.parent or "",
                dependencies=r.dependencies,
            )
            for key, urns in r.property_dependencies.items():
                entry.propertyDependencies[key].urns.extend(urns)
            provider = self._provider(r, providers, inventory)
            if provider is not None:
                entry.provider.CopyFrom(provider)
            request.resources.append(entry)
        return self.stub.AnalyzeStack(request)


def policies_from_info(info: analyzer_pb2.AnalyzerInfo) -> list[PolicyInfo]:
    kinds = {
        analyzer_pb2.POLICY_TYPE_RESOURCE: "resource",
        analyzer_pb2.POLICY_TYPE_STACK: "stack",
    }
    return [
        PolicyInfo(
            name=p.name,
            description=p.description,
            enforcement=ENFORCEMENT_NAMES.get(p.enforcementLevel, "advisory"),
            severity=SEVERITY_NAMES.get(p.severity, ""),
            kind=kinds.get(p.policy_type, "resource"),
            remediation=p.remediation_steps,
            url=p.url,
            tags=list(p.tags),
        )
        for p in info.policies
    ]


def effective_policy_config(
    info: analyzer_pb2.AnalyzerInfo, overrides: dict[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """What the CLI hands Configure: each policy's default level, the pack's initial config,
    then the user's `--policy-pack-config` file (an enforcement string or an object)."""
    config: dict[str, dict[str, Any]] = {}
    for p in info.policies:
        config[p.name] = {"enforcementLevel": ENFORCEMENT_NAMES.get(p.enforcementLevel, "advisory")}
    for name, initial in info.initialConfig.items():
        entry = config.setdefault(name, {"enforcementLevel": "advisory"})
        entry.update(json_format.MessageToDict(initial.properties))
        if initial.enforcementLevel != analyzer_pb2.ADVISORY or name not in config:
            entry["enforcementLevel"] = ENFORCEMENT_NAMES[initial.enforcementLevel]
    for name, value in (overrides or {}).items():
        if name == "all":
            for entry in config.values():
                entry["enforcementLevel"] = (
                    value
                    if isinstance(value, str)
                    else value.get("enforcementLevel", entry["enforcementLevel"])
                )
            continue
        entry = config.setdefault(name, {"enforcementLevel": "advisory"})
        if isinstance(value, str):
            entry["enforcementLevel"] = value
        elif isinstance(value, dict):
            entry.update(value)
    return config


def _findings(
    response: analyzer_pb2.AnalyzeResponse, inventory: Inventory, default_urn: str = ""
) -> list[Finding]:
    by_urn = inventory.by_urn()
    found = []
    for d in response.diagnostics:
        urn = d.urn or default_urn
        res = by_urn.get(urn)
        # pulumi_policy sends "<policy description>\n<violation message>"; keep the violation.
        message = d.message
        if d.description and message.startswith(d.description):
            message = message[len(d.description) :].strip() or message
        found.append(
            Finding(
                stack=inventory.stack,
                policy=d.policyName,
                message=message,
                enforcement=ENFORCEMENT_NAMES.get(d.enforcementLevel, "advisory"),
                severity=SEVERITY_NAMES.get(d.severity, ""),
                urn=urn,
                resource_type=res.type if res else "",
                resource_name=res.name if res else "",
                description=d.description,
                pack=d.policyPackName,
            )
        )
    return found


WAIVER_APPLIED_POLICIES = ("waiver-applied", "waiver-applied-stack")
# The pack's `waivers.applied_message` format (policies/governance/waivers.py); a test pins both.
_APPLIED = re.compile(
    r"^Waived by (?P<ticket>.+?) until (?P<expires>\d{4}-\d{2}-\d{2}) "
    r"\((?P<reason>.*?)\): \[(?P<policy>[a-z0-9-]+)\] (?P<message>.*)$",
    re.DOTALL,
)


def unwrap_waived(findings: list[Finding], policies: list[PolicyInfo]) -> list[Finding]:
    """Turn the pack's `waiver-applied` reports back into the findings they suppressed,
    marked as waived (so reports show them under the policy they violate, not as blocking)."""
    by_name = {p.name: p for p in policies}
    out = []
    for f in findings:
        match = _APPLIED.match(f.message.strip()) if f.policy in WAIVER_APPLIED_POLICIES else None
        if match is None:
            out.append(f)
            continue
        original = by_name.get(match["policy"])
        out.append(
            Finding(
                stack=f.stack,
                policy=match["policy"],
                message=match["message"],
                enforcement=original.enforcement if original else "mandatory",
                severity=original.severity if original else f.severity,
                urn=f.urn,
                resource_type=f.resource_type,
                resource_name=f.resource_name,
                description=original.description if original else "",
                pack=f.pack,
                waived_by={
                    "policy": match["policy"],
                    "ticket": match["ticket"],
                    "expires": match["expires"],
                    "reason": match["reason"],
                },
            )
        )
    return out


@dataclass
class PackRun:
    """The outcome of one pack session over one inventory."""

    policies: list[PolicyInfo]
    findings: list[Finding]
    not_applicable: list[dict[str, str]]
    pack_name: str
    pack_version: str


def run_pack(
    pack_dir: Path,
    inventory: Inventory,
    *,
    policy_config: dict[str, Any] | None = None,
    dry_run: bool = True,
    warm: bool = False,
) -> PackRun:
    """Start the pack for this stack, analyze every resource and the stack, stop the pack.
    `warm`: fork the pack process from a warm host (see `AnalyzerClient.warm`)."""
    client = AnalyzerClient(
        pack_dir=pack_dir,
        project=inventory.project,
        stack=inventory.stack,
        config=inventory.config,
        dry_run=dry_run,
        warm=warm,
    )
    with client:
        info = client.info()
        config = effective_policy_config(info, policy_config)
        client.configure(config)
        client.configure_stack()
        policies = policies_from_info(info)
        for p in policies:
            p.enforcement = config.get(p.name, {}).get("enforcementLevel", p.enforcement)
        providers = {
            r.urn: r for r in inventory.resources if r.type.startswith("pulumi:providers:")
        }
        findings: list[Finding] = []
        not_applicable: list[dict[str, str]] = []
        for resource in inventory.resources:
            response = client.analyze(resource, providers, inventory)
            findings.extend(_findings(response, inventory, default_urn=resource.urn))
            not_applicable.extend(
                {"policy": n.policy_name, "reason": n.reason, "urn": resource.urn}
                for n in response.not_applicable
            )
        response = client.analyze_stack(inventory, providers)
        findings.extend(_findings(response, inventory))
    return PackRun(
        policies=policies,
        findings=unwrap_waived(findings, policies),
        not_applicable=not_applicable,
        pack_name=info.name,
        pack_version=info.version,
    )
