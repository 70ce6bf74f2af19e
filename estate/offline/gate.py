"""The gate: render stacks offline and judge them with the policy pack, several at a time.

Stacks run in worker processes (Pulumi's runtime keeps process-global state, and the pack is a
process per stack anyway, as with the CLI). Platform stacks go first: BU stacks read their
outputs through `StackReference`, and a rendered platform's outputs are handed to every BU
stack that references it instead of being rendered again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import json
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from estate.offline.engine import EngineError, MissingModuleError, ProgramError, render
from estate.offline.model import Finding, Inventory, StackResult
from estate.offline.project import (
    ROOT,
    ConfigOverrides,
    Project,
    load_project,
    program_interpreter,
)
from estate.stack.config import ConfigError

DEFAULT_PACK = ROOT / "policies"


@dataclass(frozen=True)
class Job:
    """One stack to render (and, unless `render_only`, to check)."""

    project_path: Path
    stack: str
    pack_dir: Path = DEFAULT_PACK
    policy_config: dict[str, Any] | None = None
    known_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    render_only: bool = False
    config: ConfigOverrides | None = None
    """`--config`, `--config-secret` and `--config-file` of the command line."""
    code_root: Path | None = None
    """For a `--base` job: the base ref's tree when it carries its own `estate` package. The
    stack is then rendered by that code (a subprocess with the tree first on `PYTHONPATH`), so
    the comparison is base code on base config against today's code on today's config."""
    outputs_from: Path | None = None
    """For a `--base` job whose code is today's: the project whose rendered stacks named in
    `shared_outputs` it may read instead of rendering them again (their stack files, and the
    code, are the same at the base)."""
    shared_outputs: frozenset[str] = frozenset()


def _outputs_by_subprocess(project: Project, stack: str) -> dict[str, Any]:
    """Render a referenced stack in a fresh process (Pulumi's runtime cannot nest)."""
    cmd = [
        sys.executable,
        "-m",
        "estate",
        "preview",
        "--project",
        str(project.path),
        "--stack",
        stack,
        "--format",
        "json",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise ProgramError(
            f"StackReference to '{stack}': rendering it failed: {detail[-1] if detail else '?'}"
        )
    return dict(json.loads(done.stdout).get("outputs") or {})


def render_with_own_code(code_root: Path, project_path: Path, stack: str) -> Inventory:
    """Render a stack with the `estate` code of another tree (a base ref): that tree's own
    program, components and schema, as its own `estate preview --format json` prints them."""
    cmd = [sys.executable, "-m", "estate", "preview", "--project", str(project_path)]
    cmd += ["--stack", stack, "--format", "json"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(code_root), *_pythonpath()])}
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=code_root, env=env)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise ProgramError(lines[-1] if lines else f"exit {done.returncode}")
    return Inventory.from_json(json.loads(done.stdout))


def _pythonpath() -> list[str]:
    current = os.environ.get("PYTHONPATH", "")
    return [p for p in current.split(os.pathsep) if p]


def render_stack(
    project: Project,
    stack: str,
    known_outputs: dict[str, dict[str, Any]] | None = None,
    overrides: ConfigOverrides | None = None,
) -> Inventory:
    """Render one stack of a project; `StackReference`s resolve to local stacks."""
    config, secret_keys = project.stack_settings(stack, overrides)
    known = dict(known_outputs or {})

    def stack_outputs(reference: str) -> dict[str, Any]:
        short = reference.rsplit("/", 1)[-1]
        if short not in known:
            if not project.stack_file(short).is_file():
                raise ProgramError(
                    f"{project.source_for(stack)}: StackReference '{reference}': no stack file "
                    f"{project.display(project.stack_file(short))} to render it from"
                )
            known[short] = _outputs_by_subprocess(project, short)
        return known[short]

    interpreter = None if project.is_estate else program_interpreter(project)
    if interpreter is not None and interpreter.python is not None:
        return _render_in_virtualenv(
            project, stack, interpreter.python, config, secret_keys, known, interpreter.virtualenv
        )
    try:
        return render(
            project.path,
            stack=stack,
            project=project.name,
            config=config,
            stack_outputs=stack_outputs,
            source=project.source_for(stack),
            secret_keys=secret_keys,
        )
    except MissingModuleError as exc:
        raise ProgramError(_missing_module_line(project, exc.module, exc.requirement)) from None


def _missing_module_line(project: Project, module: str, requirement: str) -> str:
    """One line: which requirement the program lacks, and the two ways to give it."""
    interpreter = program_interpreter(project)
    if interpreter.virtualenv is not None and interpreter.missing:
        venv = project.display(interpreter.virtualenv)
        return (
            f"the program imports {module} ({requirement}) and its Pulumi.yaml runs it in the "
            f"virtualenv {venv}, which does not exist: create it (python -m venv {venv} && "
            f"{venv}/bin/pip install -r requirements.txt) and estate runs the program with it"
        )
    if interpreter.python is not None:
        venv = project.display(interpreter.virtualenv or interpreter.python)
        return (
            f"the program imports {module}, which its virtualenv {venv} lacks: "
            f"{venv}/bin/pip install {requirement}"
        )
    return (
        f"the program imports {module}, which estate's environment lacks: pip install "
        f"{requirement} next to estate, or name the program's virtualenv in its Pulumi.yaml "
        "(runtime.options.virtualenv) and estate runs the program with that interpreter"
    )


def _render_in_virtualenv(
    project: Project,
    stack: str,
    python: Path,
    config: dict[str, Any],
    secret_keys: frozenset[str],
    known: dict[str, dict[str, Any]],
    virtualenv: Path | None,
) -> Inventory:
    """Render with the program's own interpreter (`estate.offline.host`)."""
    from estate.offline.host import HostError, render_in_interpreter

    request = {
        "program": str(project.path),
        "project_path": str(project.path),
        "stack": stack,
        "project": project.name,
        "config": config,
        "secret_keys": sorted(secret_keys),
        "source": project.source_for(stack),
        "known_outputs": known,
    }
    venv = project.display(virtualenv or python)
    try:
        answer = render_in_interpreter(python, request)
    except HostError as exc:
        raise ProgramError(
            f"the program's virtualenv {venv} (named in Pulumi.yaml) cannot run estate's "
            f"engine ({exc}); it needs pulumi: {venv}/bin/pip install pulumi"
        ) from None
    if "error" in answer:
        if answer.get("internal"):
            raise EngineError(answer["error"])
        if "module" in answer:
            raise ProgramError(
                f"the program imports {answer['module']}, which its virtualenv {venv} lacks: "
                f"{venv}/bin/pip install {answer['requirement']}"
            )
        raise ProgramError(answer["error"])
    inventory = Inventory.from_json(answer["inventory"])
    inventory.config = config
    inventory.source = project.source_for(stack)
    inventory.warnings = list(answer.get("warnings") or [])
    return inventory


_HEAP_SETTLED = False

GC_GEN0_THRESHOLD = 10_000
"""Allocations between young-generation collections in a worker (CPython's default is 700).
A render allocates a few hundred thousand short-lived objects; with the default, the collector
runs hundreds of times per stack."""


def settle_heap() -> None:
    """Once per worker process, after its first job: move everything alive now (the imported SDKs,
    about 440,000 objects) into the collector's permanent generation (`gc.freeze`) and collect
    the young generation less often. Each later render then pays for its own objects only,
    instead of every full collection walking the provider SDKs again: about 30 % of a warm
    render (benchmarks/RESULTS.md). What is frozen and later becomes cyclic garbage is freed
    only at exit, instead of by the next full collection."""
    global _HEAP_SETTLED
    if _HEAP_SETTLED:
        return
    _HEAP_SETTLED = True
    gc.collect()
    gc.freeze()
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


def run_job(job: Job) -> StackResult:
    """Render and check one stack; errors become the result's `error`, never an exception."""
    from estate.offline.runner import PackError, run_pack

    started = time.perf_counter()
    project = load_project(job.project_path)
    result = StackResult(stack=job.stack, source=project.source_for(job.stack))
    try:
        if job.code_root is not None:
            inventory = render_with_own_code(job.code_root, job.project_path, job.stack)
        else:
            inventory = render_stack(project, job.stack, job.known_outputs, job.config)
        result.inventory = inventory
        result.resource_count = len(inventory.resources)
        if not job.render_only:
            run = run_pack(job.pack_dir, inventory, policy_config=job.policy_config, warm=True)
            invalid = [f for f in run.findings if f.policy == "waiver-invalid"]
            if invalid:
                # A waiver the pack cannot apply is a config error (exit 2), not a finding.
                raise ConfigError([f"{result.source}: {f.message}" for f in invalid])
            result.policies = run.policies
            result.findings = [
                *run.findings,
                *program_warnings(result.stack, inventory),
                *opaque_components(result.stack, inventory),
            ]
            result.not_applicable = run.not_applicable
    except ConfigError as exc:
        result.error = str(exc)
    except ProgramError as exc:
        result.error = (
            f"{result.source}: {exc}" if not str(exc).startswith(result.source) else str(exc)
        )
    except PackError as exc:
        result.error = f"policy pack: {exc}"
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _run_in_worker(job: Job) -> StackResult:
    """`run_job` in a pool worker, whose heap is settled after its first job."""
    result = run_job(job)
    settle_heap()
    return result


def run_jobs(
    jobs: list[Job],
    *,
    workers: int,
    on_done: Callable[[StackResult], None] | None = None,
) -> list[StackResult]:
    """Run jobs in `workers` processes, platform stacks first; results in job order.

    Jobs may come from several projects (`--base` renders the base ref's copy beside the
    working tree in the same pool); platform outputs are shared within a project only.
    """
    platform = [j for j in jobs if j.stack.startswith("platform-")]
    rest = [j for j in jobs if not j.stack.startswith("platform-")]
    results: dict[tuple[Path, str], StackResult] = {}

    def record(job: Job, res: StackResult) -> None:
        results[(job.project_path, job.stack)] = res
        if on_done:
            on_done(res)

    if workers <= 1:
        for phase in (platform, rest):
            for job in phase:
                record(job, run_job(_with_known(job, results)))
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for phase in (platform, rest):
                futures: dict[Future[StackResult], Job] = {
                    pool.submit(_run_in_worker, _with_known(job, results)): job for job in phase
                }
                for future in as_completed(futures):
                    record(futures[future], future.result())
    return [results[(j.project_path, j.stack)] for j in jobs]


class BaseRefError(Exception):
    """`--base REF` could not be materialised (not a git checkout, unknown revision)."""


def materialize_base(project_path: Path, ref: str, into: Path) -> Path:
    """Extract the repository at `ref` into `into`; return the project's directory inside it."""
    try:
        top = subprocess.run(
            ["git", "-C", str(project_path), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        subprocess.run(
            ["git", "-C", top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        detail = (getattr(exc, "stderr", "") or "").strip() or "not a git revision"
        raise BaseRefError(
            f"--base {ref}: {detail.splitlines()[-1] if detail else 'not a git revision'}"
        ) from None
    archive = subprocess.run(
        ["git", "-C", top, "archive", "--format=tar", ref], capture_output=True, check=True
    )
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / project_path.resolve().relative_to(Path(top).resolve())


def _monthly(inventory: Inventory | None) -> dict[str, float] | None:
    """idle / typical / peak monthly USD of an inventory (None when it cannot be priced)."""
    from estate.analysis.cost import CostError, cost_for

    if inventory is None:
        return {"idle": 0.0, "typical": 0.0, "peak": 0.0}
    try:
        estimate = cost_for(inventory)
    except CostError:
        return None
    return {k: float(estimate[k]) for k in ("idle", "typical", "peak")}


def cost_delta(before: Inventory | None, after: Inventory | None) -> dict[str, float] | None:
    """What the change does to the stack's monthly cost estimate (after minus before)."""
    old, new = _monthly(before), _monthly(after)
    if old is None or new is None:
        return None
    return {k: round(new[k] - old[k], 2) for k in ("idle", "typical", "peak")}


def _pack_waivers(pack_dir: Path) -> Any:
    """The pack's own waiver module (`governance.waivers`), so a `--base` finding is waived by
    exactly the rules that waive a pack finding; None for a pack laid out otherwise."""
    import importlib

    sys.path.insert(0, str(pack_dir))
    try:
        return importlib.import_module("governance.waivers")
    except ImportError:
        return None
    finally:
        sys.path.remove(str(pack_dir))


def waive_base_findings(
    findings: list[Finding], config: dict[str, Any], pack_dir: Path | None = None
) -> list[Finding]:
    """Mark the `--base` findings a live waiver in the stack file covers as waived (they stay in
    the reports with the waiver, and no longer block). Only the policies the pack lists as
    waivable `--base` policies qualify: a data-loss delete has other remedies (an alias,
    `retain_on_delete`). Expired and malformed waivers are the pack's findings already."""
    from estate.analysis.diff import SCHEMA_POLICY

    waivable = {f.policy for f in findings} & {SCHEMA_POLICY}
    module = _pack_waivers(pack_dir or DEFAULT_PACK) if waivable else None
    if module is None:
        return findings
    waivers, _problems = module.parse_waivers(config, waivable)
    today = dt.date.today()
    out = []
    for f in findings:
        waiver = next(
            (w for w in waivers if w.live(today) and w.matches(f.policy, f.urn)),
            None,
        )
        if f.policy not in waivable or waiver is None:
            out.append(f)
            continue
        out.append(
            dataclasses.replace(
                f,
                waived_by={
                    "policy": f.policy,
                    "ticket": waiver.ticket,
                    "expires": waiver.expires.isoformat(),
                    "reason": waiver.reason,
                },
            )
        )
    return out


DEFAULT_PACK = Path(__file__).resolve().parents[2] / "policies"
"""The estate's own policy pack (`estate check --policy-pack` names another)."""


def attach_diffs(
    results: list[StackResult],
    base: list[StackResult],
    unrenderable: str = "auto",
    pack_dir: Path | None = None,
) -> list[StackResult]:
    """Diff every stack against its base render; stacks only in the base are deletions.

    A stack whose base did not render gets a `base-not-rendered` finding at the level
    `unrenderable` names (`BASE_UNRENDERABLE_LEVELS`); a stack absent from `base` is new.
    Waivable `--base` findings are matched against the stack file's waivers (`pack_dir`'s
    waiver rules)."""
    from estate.analysis.diff import diff_inventories

    base_by_stack = {r.stack: r for r in base}
    out = list(results)
    for result in out:
        prior = base_by_stack.get(result.stack)
        if result.inventory is None:
            continue
        if prior is not None and prior.inventory is None:
            result.findings.append(base_unrendered(result, prior, unrenderable))
            continue
        before = prior.inventory if prior else None
        diff = diff_inventories(result.stack, before, result.inventory)
        result.diff = {**diff.to_json(), "costDelta": cost_delta(before, result.inventory)}
        result.findings.extend(
            waive_base_findings(diff.findings, result.inventory.config, pack_dir)
        )
    current = {r.stack for r in out}
    for prior in base:
        if prior.stack in current or prior.inventory is None:
            continue
        diff = diff_inventories(prior.stack, prior.inventory, None)
        removed = StackResult(stack=prior.stack, source=prior.source, resource_count=0)
        removed.diff = {**diff.to_json(), "costDelta": cost_delta(prior.inventory, None)}
        removed.findings = diff.findings
        out.append(removed)
    return out


PROGRAM_WARNING = "program-warning"


def program_warnings(stack: str, inventory: Inventory) -> list[Finding]:
    """Each warning the program logged, as an advisory finding: a warning read only on stderr
    is a warning nobody reads in a pull request. The estate's own warnings name the stack file
    and key (`estate.stack.config.stack_warnings`)."""
    return [
        Finding(
            stack=stack,
            policy=PROGRAM_WARNING,
            message=message,
            enforcement="advisory",
            severity="low",
            description="The program logged a warning (`pulumi.log.warn`); it does not block.",
            pack="estate-program",
        )
        for message in inventory.warnings
    ]


OPAQUE_COMPONENT = "opaque-component"


def opaque_components(stack: str, inventory: Inventory) -> list[Finding]:
    """An advisory finding per multi-language (remote) component, e.g. awsx's `Vpc`: its
    provider plugin builds the resources inside it during `pulumi up`, so an offline render
    sees the component and its inputs but none of those resources, and the pack judged none
    of them. Silence would read as "passed"."""
    return [
        Finding(
            stack=stack,
            policy=OPAQUE_COMPONENT,
            message=(
                f"{r.type} '{r.name}' is a multi-language component: its provider creates its "
                "resources at deploy time, so they were not rendered or checked offline; check "
                "them with `pulumi preview --policy-pack`, or build them from provider resources"
            ),
            enforcement="advisory",
            severity="medium",
            urn=r.urn,
            resource_type=r.type,
            resource_name=r.name,
            description="A remote component's children are invisible to an offline render.",
            pack="estate-program",
        )
        for r in inventory.resources
        if r.remote
    ]


BASE_UNRENDERED = "base-not-rendered"
"""The finding a stack gets when `--base` could not render its base: the data-loss guard did
not run for it. Blocking in prod (a reviewer must look at the change by hand, or fix the base
render), advisory elsewhere, unless `--base-unrenderable` says otherwise."""

BASE_UNRENDERABLE_LEVELS = ("auto", "blocking", "advisory")
"""`estate check --base-unrenderable`: `auto` (the default) blocks in prod stacks
(`ai-estate:environment: prod`) and advises elsewhere; `blocking` and `advisory` apply to every
stack. There is no level that hides the finding: a skipped comparison is always reported."""


def base_unrendered(result: StackResult, prior: StackResult, level: str = "auto") -> Finding:
    """Say, per stack, that its `--base` comparison did not happen, and why."""
    if level not in BASE_UNRENDERABLE_LEVELS:
        raise ValueError(f"base-unrenderable level {level!r}")
    environment = ""
    if result.inventory is not None:
        environment = str(result.inventory.config.get("ai-estate:environment") or "")
    blocking = level == "blocking" or (level == "auto" and environment == "prod")
    reason = (prior.error or "it did not render").removeprefix(f"{prior.source}: ")
    return Finding(
        stack=result.stack,
        policy=BASE_UNRENDERED,
        message=(
            f"the base ref's {prior.source} could not be rendered ({reason}); this stack was not "
            "compared with it, so deletions and replacements were not checked"
        ),
        enforcement="mandatory" if blocking else "advisory",
        severity="high",
        description="`--base` compares every stack with its base render; this one could not be.",
        pack="estate-data-loss-guard",
    )


def _with_known(job: Job, results: dict[tuple[Path, str], StackResult]) -> Job:
    """The job, told the outputs of the stacks of its project rendered so far (and of the
    unchanged stacks it shares with `outputs_from`)."""
    known = {
        stack: r.inventory.outputs
        for (project, stack), r in results.items()
        if r.inventory is not None
        and (
            project == job.project_path
            or (project == job.outputs_from and stack in job.shared_outputs)
        )
    }
    if not known:
        return job
    return dataclasses.replace(job, known_outputs={**known, **job.known_outputs})
