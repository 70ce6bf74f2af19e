"""The offline engine: run a Pulumi Python program under the SDK's mock runtime.

What `pulumi preview` would send to the resource monitor, we record: every registration with its
inputs (engine wire names), parent, dependencies, property dependencies, provider and options.
That inventory is what the policy runner feeds to the real policy pack, what the reports and the
cost and critical-path models read, and what `--base` diffs compare.

One render runs in a fresh `contextvars.Context` with its own event loop, so several renders can
share a process (the benchmarks render a hundred stacks in two workers) without Pulumi's global
state leaking from one into the next (pulumi/pulumi#7746).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import gc
import json
import logging
import os
import runpy
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func

from estate.offline.mocks import ACCOUNT_ID, DEFAULT_REGION, UNKNOWN, EstateMocks
from estate.offline.model import Inventory, Resource

# Wire signatures of the Pulumi property protocol (sdk/go/common/resource/sig).
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SIG_SECRET = "1b47061264138c4ac30d75fd1eb44270"
_SIG_RESOURCE = "5cf8f73096256a8f31e491e813e4eb8e"
_SIG_ASSET = "c44067f5952c0a294b673a41bacd8c17"
_SIG_ARCHIVE = "0def7320c3a5731c473e5ecbe6d01bc7"
_SIG_OUTPUT = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
UNKNOWN_WIRE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


class ProgramError(Exception):
    """The program under render failed: a user error in the program or its config."""


class MissingModuleError(ProgramError):
    """The program imports a module the interpreter running it lacks (a provider SDK, mostly)."""

    def __init__(self, module: str, where: str = "") -> None:
        self.module = module
        self.requirement = requirement_for(module)
        super().__init__(
            f"the program imports {module}{where}, which this environment lacks "
            f"(requirement: {self.requirement})"
        )


class EngineError(Exception):
    """A bug in the offline engine or its mocks (never the program's fault): exit 3."""


#: Import names whose distribution is not the import name with `_` as `-`.
_DISTRIBUTIONS = {
    "yaml": "PyYAML",
    "PIL": "Pillow",
    "dateutil": "python-dateutil",
    "jwt": "PyJWT",
    "dotenv": "python-dotenv",
    "google.protobuf": "protobuf",
    "Crypto": "pycryptodome",
    "bs4": "beautifulsoup4",
    "sklearn": "scikit-learn",
}


def requirement_for(module: str) -> str:
    """The pip requirement that provides an import: `pulumi_random` -> `pulumi-random`."""
    top = module.split(".")[0]
    if module in _DISTRIBUTIONS or top in _DISTRIBUTIONS:
        return _DISTRIBUTIONS.get(module) or _DISTRIBUTIONS[top]
    return top.replace("_", "-")


def plain(value: Any) -> Any:
    """Turn a decoded wire value into plain JSON: secrets unwrapped, references to URNs."""
    if isinstance(value, dict):
        sig = value.get(_SIG_KEY)
        if sig == _SIG_SECRET:
            return plain(value.get("value"))
        if sig == _SIG_RESOURCE:
            return value.get("urn", "")
        if sig == _SIG_ASSET:
            return {"asset": value.get("path") or value.get("uri") or "<text>"}
        if sig == _SIG_ARCHIVE:
            return {"archive": value.get("path") or value.get("uri") or "<assets>"}
        if sig == _SIG_OUTPUT:
            return plain(value.get("value", UNKNOWN)) if "value" in value else UNKNOWN
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if value == UNKNOWN_WIRE:
        return UNKNOWN
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


YAML_V2_CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile"
"""A multi-language component of pulumi-kubernetes the engine can expand itself (a local file)."""


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, keeping what the real engine would be told about each resource."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.recorded: list[Resource] = []
        self.stack_urn: str | None = None
        self.internal_errors: list[str] = []
        """What failed inside the monitor or the mocks: the engine's bugs, not the program's."""

    def _guarded(self, what: str, call: Callable[[], Any]) -> Any:
        """Run the SDK mock's part of a request; a failure there is ours, so remember it (the
        program only sees a failed RPC, and would otherwise be blamed for it)."""
        try:
            return call()
        except Exception as exc:
            import traceback

            self.internal_errors.append(
                f"{what}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}"
            )
            raise

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """URNs as the Pulumi engine builds them, not as the SDK's mock does.

        The engine leaves the root stack out of the type chain and keeps every ancestor's type
        (`Outer$Inner$aws:s3/bucket:Bucket`); the SDK's mock keeps only the parent's last type and
        prefixes top-level resources with `pulumi:pulumi:Stack$`. Waivers, `--base` diffs and
        aliases compare URNs with real state, so they must be the engine's.
        """
        if parent:
            qualified = parent.split("::")[2]
            if qualified != "pulumi:pulumi:Stack":
                type_ = f"{qualified}${type_}"
        return f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{type_}::{name}"

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        response = self._guarded(
            f"registering {request.type} '{request.name}'",
            lambda: super(RecordingMonitor, self).RegisterResource(
                _without_references(request, "object")
            ),
        )
        urn = response.urn
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = urn
        opts_aliases = list(request.aliasURNs) + [
            a.urn if a.urn else alias_urn(urn, a.spec) for a in request.aliases
        ]
        dependencies = sorted(set(request.dependencies))
        implied = {u for v in request.propertyDependencies.values() for u in v.urns}
        timeouts = request.customTimeouts
        wire = json_format.MessageToDict(request.object)
        self.recorded.append(
            Resource(
                urn=urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                inputs=plain(wire),
                remote=bool(request.remote),
                secret_inputs=sorted(k for k, v in wire.items() if _holds_secret(v)),
                parent=request.parent or None,
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                # The SDK gathers these in sets: sort, or two renders of one program differ.
                dependencies=dependencies,
                property_dependencies={
                    k: sorted(set(v.urns)) for k, v in sorted(request.propertyDependencies.items())
                },
                provider=request.provider or None,
                aliases=opts_aliases,
                ignore_changes=list(request.ignoreChanges),
                replace_on_changes=list(request.replaceOnChanges),
                delete_before_replace=bool(request.deleteBeforeReplace)
                if request.deleteBeforeReplaceDefined
                else None,
                custom_timeouts={
                    k: getattr(timeouts, k)
                    for k in ("create", "update", "delete")
                    if getattr(timeouts, k)
                },
                depends_on=[d for d in dependencies if d not in implied],
                deleted_with=request.deletedWith or None,
            )
        )
        if request.remote and request.type == YAML_V2_CONFIG_FILE:
            self._expand_config_file(self.recorded[-1])
        return response

    def _expand_config_file(self, component: Resource) -> None:
        """Render a `kubernetes:yaml/v2:ConfigFile` of a local file as its provider does: one
        child per document, named `<prefix>:<namespace>/<name>` (`resourcePrefix` defaults to the
        component's name), so the pack judges what it creates. A file that cannot be read here
        (a URL, a missing path) leaves the component opaque, reported as such."""
        import yaml

        path = component.inputs.get("file")
        if not isinstance(path, str) or "://" in path or not Path(path).is_file():
            return
        try:
            documents = [d for d in yaml.safe_load_all(Path(path).read_text()) if d]
        except (OSError, yaml.YAMLError):
            return
        prefix = component.inputs.get("resourcePrefix")
        prefix = component.name if prefix is None else str(prefix)
        children = []
        for doc in documents:
            if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
                return  # not a manifest the provider would accept: keep the component opaque
            group, _, version = str(doc["apiVersion"]).rpartition("/")
            meta = doc.get("metadata") or {}
            name = str(meta.get("name") or "")
            if meta.get("namespace"):
                name = f"{meta['namespace']}/{name}"
            child = f"{prefix}:{name}" if prefix else name
            type_ = f"kubernetes:{group or 'core'}/{version}:{doc['kind']}"
            children.append(
                Resource(
                    urn=self.make_urn(component.urn, type_, child),
                    type=type_,
                    name=child,
                    custom=True,
                    inputs=plain(doc),
                    parent=component.urn,
                    dependencies=list(component.dependencies),
                    depends_on=list(component.depends_on),
                )
            )
        component.remote = False  # its children are in the inventory now
        self.recorded.extend(children)

    def ReadResource(self, request):  # noqa: N802 - gRPC method name
        response = self._guarded(
            f"reading {request.type} '{request.name}'",
            lambda: super(RecordingMonitor, self).ReadResource(
                _without_references(request, "properties")
            ),
        )
        # The SDK's mock leaves the id out of the response, which a preview reads as "unknown":
        # every value derived from a StackReference would then be unknown too.
        response.id = self.resources[response.urn].id or request.id
        self.recorded.append(
            Resource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=True,
                inputs={"id": request.id, **plain(json_format.MessageToDict(request.properties))},
                parent=request.parent or None,
                dependencies=sorted(set(request.dependencies)),
                provider=request.provider or None,
            )
        )
        return response

    def Invoke(self, request):  # noqa: N802 - gRPC method name
        return self._guarded(
            f"invoking {request.tok}",
            lambda: super(RecordingMonitor, self).Invoke(_without_references(request, "args")),
        )


def _holds_secret(value: Any) -> bool:
    """Whether a wire value is, or holds, a secret (what `pulumi preview` shows as [secret])."""
    if isinstance(value, dict):
        return value.get(_SIG_KEY) == _SIG_SECRET or any(_holds_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_secret(v) for v in value)
    return False


def _dereference(value: Any) -> Any:
    """A wire value with every resource reference replaced by what a provider that takes no
    references receives from the engine: a custom resource's ID, else its URN."""
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SIG_RESOURCE:
            if "id" in value:
                return value["id"] or UNKNOWN_WIRE
            return value.get("urn", "")
        return {k: _dereference(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dereference(v) for v in value]
    return value


def _without_references(request: Any, field: str) -> Any:
    """The request with the resource references in `field` dereferenced, for the SDK's mock.

    The SDK's MockMonitor deserializes what it is sent on a gRPC worker thread; a resource
    reference there constructs a resource whose `getResource` call is scheduled on that thread's
    private event loop, which is never run again: the program's RPC count never drops to zero
    and the render hangs (or, sharing a loop, fails with asyncio's RuntimeError). The engine
    hands the provider the referenced resource's ID, which is also what the mocks should see;
    what we record is the request as the program sent it.
    """
    struct = getattr(request, field)
    if _SIG_RESOURCE not in str(struct):
        return request
    copy = type(request)()
    copy.CopyFrom(request)
    getattr(copy, field).Clear()
    json_format.ParseDict(_dereference(json_format.MessageToDict(struct)), getattr(copy, field))
    return copy


def alias_urn(urn: str, spec: Any) -> str:
    """The URN an alias spec points at, as the engine would compute it."""
    head, project, qualified_type, name = urn.split("::", 3)
    stack = head.split(":", 2)[2]
    types = qualified_type.split("$")
    if spec.type:
        types[-1] = spec.type
    if spec.noParent:
        types = types[-1:]
    elif spec.parentUrn:
        parent_type = spec.parentUrn.split("::")[2]
        types = ([] if parent_type == "pulumi:pulumi:Stack" else parent_type.split("$")) + types[
            -1:
        ]
    return "::".join(
        [
            f"urn:pulumi:{spec.stack or stack}",
            spec.project or project,
            "$".join(types),
            spec.name or name,
        ]
    )


def inherit_parent_aliases(resources: list[Resource]) -> None:
    """Give each child the aliases its parent's aliases imply, as the engine does (the SDK
    leaves it to the engine once the monitor supports alias specs): for each URN the parent had,
    the URN the child had under it, its name's parent prefix renamed as the parent was
    (pulumi/pulumi `inheritedChildAlias`). A renamed component's children then move with it."""
    by_urn = {r.urn: r for r in resources}
    done: set[str] = set()

    def visit(r: Resource) -> None:
        if r.urn in done:
            return
        done.add(r.urn)
        parent = by_urn.get(r.parent or "")
        if parent is None:
            return
        visit(parent)
        for old_parent in list(parent.aliases):
            head, project, parent_type, parent_alias_name = old_parent.split("::", 3)
            name = r.name
            if name.startswith(parent.name):
                name = parent_alias_name + name[len(parent.name) :]
            chain = r.type if parent_type == "pulumi:pulumi:Stack" else f"{parent_type}${r.type}"
            r.aliases.append(f"{head}::{project}::{chain}::{name}")

    for resource in resources:
        visit(resource)


def config_to_wire(config: dict[str, Any]) -> dict[str, str]:
    """Config as the Pulumi CLI hands it to programs and packs: strings, objects as JSON."""
    wire = {}
    for key, value in config.items():
        if isinstance(value, str):
            wire[key] = value
        elif isinstance(value, bool):
            wire[key] = "true" if value else "false"
        else:
            wire[key] = json.dumps(value)
    return wire


@contextlib.contextmanager
def _program_environment(program_dir: Path) -> Iterator[None]:
    """cwd and sys.path as the Python language host sets them for a program."""
    old_cwd, old_path = os.getcwd(), list(sys.path)
    os.chdir(program_dir)
    sys.path.insert(0, str(program_dir))
    try:
        yield
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path


async def _resolve(value: Any) -> Any:
    """Await every Output inside an exported value."""
    if isinstance(value, pulumi.Output):
        is_known = await value.is_known()
        if not is_known:
            return UNKNOWN
        return await _resolve(await value.future())
    if isinstance(value, pulumi.Resource):
        return await _resolve(value.urn)
    if isinstance(value, dict):
        return {k: await _resolve(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [await _resolve(v) for v in value]
    if asyncio.isfuture(value) or asyncio.iscoroutine(value):
        return await _resolve(await value)
    return value


def _account_from_config(config: dict[str, Any]) -> str | None:
    """The account a stack pins itself to, so mocked ARNs and caller identity agree with it."""
    pinned = config.get("ai-estate:accountId") or config.get("aws:allowedAccountIds")
    if isinstance(pinned, str) and pinned.startswith("["):
        pinned = json.loads(pinned)
    if isinstance(pinned, list):
        pinned = pinned[0] if pinned else None
    return str(pinned) if pinned else None


def _raise_internal(monitor: RecordingMonitor) -> None:
    """Fail as a bug when the monitor or the mocks failed, whatever the program then did."""
    if monitor.internal_errors:
        raise EngineError(
            "internal error in estate's offline engine (a bug in estate, not in the program or "
            f"its config; please report it): {monitor.internal_errors[0]}"
        )


def _where(exc: BaseException) -> str:
    """` (at file:line)`: the program's own frame an exception was raised from, if any."""
    import traceback

    sdk = str(Path(pulumi.__file__).resolve().parent.parent)
    here = str(Path(__file__).resolve().parents[1])
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = str(Path(frame.filename).resolve())
        if (
            not path.startswith((sdk, here))
            and "site-packages" not in path
            and not path.startswith("<")
        ):
            return f" (at {frame.filename}:{frame.lineno})"
    return ""


def _describe_exception(exc: BaseException) -> str:
    # Pulumi wraps errors raised while serializing inputs; the root cause is the useful part.
    root: BaseException = exc
    while root.__cause__ is not None and root.__cause__ is not root:
        root = root.__cause__
    return f"{type(root).__name__}: {root}{_where(root)}"


@functools.lru_cache(maxsize=4096)
def _source_uri(filename: str) -> str | None:
    try:
        return Path(filename).as_uri()
    except BaseException:  # as the SDK: a frame with no URI has no position
        return None


def _sdk_stack_trace() -> Any:
    """`pulumi.runtime.resource._get_stack_trace`, giving the same `StackTrace` (the frames
    below the third `__init__`, each a file URI and line) without what makes the SDK's cost a
    fifth of a render: `traceback.extract_stack` stats every file on the stack and reads each
    frame's source line, which the SDK never uses. Pinned against the SDK's by
    tests/test_engine_stack_trace.py."""
    from pulumi.runtime.proto import source_pb2

    frames: list[tuple[str, str, int | None]] = []
    frame = sys._getframe()
    while frame is not None:
        code = frame.f_code
        frames.append((code.co_name, code.co_filename, frame.f_lineno))
        frame = frame.f_back  # type: ignore[assignment]
    frames.reverse()  # oldest first, as `traceback.extract_stack` lists them
    seen, i = 0, len(frames) - 1
    for i in range(len(frames) - 1, -1, -1):
        if frames[i][0] == "__init__":
            seen += 1
            if seen == 3:
                break
    if i < 1:
        return source_pb2.StackTrace()
    key = tuple((filename, lineno) for _name, filename, lineno in frames[:i])
    wire = _STACK_TRACES.get(key)
    if wire is None:
        out = []
        for filename, lineno in reversed(key):
            uri = _source_uri(filename) if filename and lineno is not None else None
            pc = source_pb2.SourcePosition(uri=uri, line=lineno) if uri is not None else None
            out.append(source_pb2.StackFrame(pc=pc))
        wire = source_pb2.StackTrace(frames=out).SerializeToString()
        if len(_STACK_TRACES) >= 65536:
            _STACK_TRACES.clear()
        _STACK_TRACES[key] = wire
    return source_pb2.StackTrace.FromString(wire)


_STACK_TRACES: dict[tuple[tuple[str, int | None], ...], bytes] = {}
"""Stack traces already built, by their frames: every render of a program registers its
resources from the same lines, so a worker builds each trace once (a fresh message is parsed
from the bytes for each caller)."""


_SDK_STACK_TRACE: list[Callable[[], Any]] = []
"""The SDK's own `_get_stack_trace`, kept when ours is installed (tests compare the two)."""


def _install_sdk_stack_trace() -> None:
    from pulumi.runtime import resource as sdk_resource

    current = getattr(sdk_resource, "_get_stack_trace", None)
    if current is None or current is _sdk_stack_trace:
        return
    _SDK_STACK_TRACE[:] = [current]
    sdk_resource._get_stack_trace = _sdk_stack_trace


def render(
    program: Callable[[], Any] | Path | str,
    *,
    stack: str,
    project: str,
    config: dict[str, Any] | None = None,
    stack_outputs: Callable[[str], dict[str, Any]] | None = None,
    preview: bool = True,
    source: str = "",
    account_id: str | None = None,
    secret_keys: frozenset[str] | set[str] = frozenset(),
) -> Inventory:
    """Run a program (a callable, or a directory holding `__main__.py`) and record its resources.

    `config` maps full keys (`ai-estate:environment`, `aws:region`) to values as written in the
    stack file. `stack_outputs` resolves `StackReference` names to outputs. `secret_keys` are
    the config keys the program reads as secrets (`secure:` values, `--config-secret`).
    """
    config = dict(config or {})
    _install_sdk_stack_trace()
    region = str(config.get("aws:region") or DEFAULT_REGION)
    mocks = EstateMocks(
        region=region,
        account_id=account_id or _account_from_config(config) or ACCOUNT_ID,
        stack_outputs=stack_outputs,
        salt=f"{project}/{stack}",
    )
    ctx = contextvars.Context()
    return ctx.run(
        _render_in_context,
        program,
        stack,
        project,
        config,
        mocks,
        preview,
        source,
        frozenset(secret_keys),
    )


class _Recorder(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.WARNING:
            self.into.append(record.getMessage())


def _warning_recorder(stack: str) -> tuple[logging.Logger, list[str]]:
    """A logger for the mock engine that keeps the program's `pulumi.log.warn` messages (they
    become advisory findings) instead of printing them as bare stderr lines; info and debug
    messages are dropped, as the CLI hides them by default."""
    logged: list[str] = []
    logger = logging.Logger(f"estate.render.{stack}")  # not registered: one per render
    logger.setLevel(logging.WARNING)  # debug and info records are not even made
    logger.propagate = False
    logger.addHandler(_Recorder(logged))
    return logger, logged


def _render_in_context(
    program: Callable[[], Any] | Path | str,
    stack: str,
    project: str,
    config: dict[str, Any],
    mocks: EstateMocks,
    preview: bool,
    source: str,
    secret_keys: frozenset[str] = frozenset(),
) -> Inventory:
    loop = asyncio.new_event_loop()
    # The SDK runs its RPCs in the loop's executor threads, and each thread makes an event loop
    # of its own (`_sync_await`) that nothing closes; left to the collector, such a loop can
    # fail to close ("Exception ignored ... Invalid file descriptor"). Give each thread its
    # loop up front instead, and close them all once the threads have been joined.
    thread_loops: list[asyncio.AbstractEventLoop] = []

    def thread_loop() -> None:
        own = asyncio.new_event_loop()
        asyncio.set_event_loop(own)
        thread_loops.append(own)

    loop.set_default_executor(
        concurrent.futures.ThreadPoolExecutor(thread_name_prefix="asyncio", initializer=thread_loop)
    )
    asyncio.set_event_loop(loop)
    monitor = RecordingMonitor(mocks)
    logger, logged = _warning_recorder(stack)
    try:
        pulumi_settings.ROOT.set(None)
        pulumi.runtime.set_all_config(config_to_wire(config), sorted(secret_keys))
        pulumi.runtime.set_mocks(
            mocks, project=project, stack=stack, preview=preview, monitor=monitor, logger=logger
        )
        pulumi_settings.SETTINGS.rpc_manager.clear()
        pulumi_settings.SETTINGS.outputs.clear()

        if callable(program):
            body = program
            env: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
        else:
            program_dir = Path(program).resolve()
            if not (program_dir / "__main__.py").is_file():
                raise ProgramError(f"{program_dir}: no __main__.py to run")

            def body() -> None:
                runpy.run_path(str(program_dir), run_name="__main__")

            env = _program_environment(program_dir)

        with env:
            try:
                loop.run_until_complete(run_pulumi_func(body))
            except pulumi.RunError as exc:
                _raise_internal(monitor)
                raise ProgramError(str(exc)) from exc
            except ProgramError:
                raise
            except ModuleNotFoundError as exc:
                _raise_internal(monitor)
                if not exc.name:
                    raise ProgramError(_describe_exception(exc)) from exc
                raise MissingModuleError(exc.name, _where(exc)) from None
            except Exception as exc:
                _raise_internal(monitor)
                # An exception in someone's program is that program's error, not ours: report it
                # as the language host would (type and message), with where it was raised.
                raise ProgramError(_describe_exception(exc)) from exc
            _raise_internal(monitor)
            root = pulumi_settings.get_root_resource()
            raw_outputs = dict(getattr(root, "outputs", {}) or {})
            outputs = loop.run_until_complete(_resolve(raw_outputs))
    finally:
        # A failed program leaves SDK tasks pending; cancel and drain them here, or they are
        # collected later as never-awaited coroutines inside someone else's render.
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        with contextlib.suppress(Exception):
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_default_executor())  # joins the threads
        loop.close()
        for own in thread_loops:
            own.close()
        if sys.exc_info()[0] is not None:
            # A failed program also leaves SDK coroutine objects that were never scheduled;
            # collect them now, quietly, instead of in the middle of the next render.
            with warnings.catch_warnings():
                warnings.filterwarnings(
                    "ignore", message="coroutine .* was never awaited", category=RuntimeWarning
                )
                gc.collect()
        asyncio.set_event_loop(None)

    # Registrations arrive in whatever order the SDK's threads finish them; sort so the same
    # program always yields the same inventory (diffs, golden files, reviewable JSON).
    resources = sorted(monitor.recorded, key=lambda r: (r.type != "pulumi:pulumi:Stack", r.urn))
    inherit_parent_aliases(resources)
    for r in resources:
        r.aliases = sorted(set(r.aliases))
    return Inventory(
        stack=stack,
        project=project,
        resources=resources,
        outputs=outputs,
        config=config,
        source=source,
        warnings=logged,
    )
