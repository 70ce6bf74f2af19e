"""The gate: render stacks offline and judge them with the policy pack, several at a time.

Stacks run in worker processes (Pulumi's runtime keeps process-global state, and the pack is a
process per stack anyway, as with the CLI). Platform stacks go first: BU stacks read their
outputs through `StackReference`, and a rendered platform's outputs are handed to every BU
stack that references it instead of being rendered again.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import ConfigError
from .engine import ProgramError, render
from .model import Inventory, StackResult
from .project import ROOT, Project, load_project

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


def render_stack(
    project: Project, stack: str, known_outputs: dict[str, dict[str, Any]] | None = None
) -> Inventory:
    """Render one stack of a project; `StackReference`s resolve to local stacks."""
    config = project.stack_config(stack)
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

    return render(
        project.path,
        stack=stack,
        project=project.name,
        config=config,
        stack_outputs=stack_outputs,
        source=project.source_for(stack),
    )


def run_job(job: Job) -> StackResult:
    """Render and check one stack; errors become the result's `error`, never an exception."""
    from .runner import PackError, run_pack

    started = time.perf_counter()
    project = load_project(job.project_path)
    result = StackResult(stack=job.stack, source=project.source_for(job.stack))
    try:
        inventory = render_stack(project, job.stack, job.known_outputs)
        result.inventory = inventory
        result.resource_count = len(inventory.resources)
        if not job.render_only:
            run = run_pack(job.pack_dir, inventory, policy_config=job.policy_config)
            result.policies = run.policies
            result.findings = run.findings
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


def run_jobs(
    jobs: list[Job],
    *,
    workers: int,
    on_done: Callable[[StackResult], None] | None = None,
) -> list[StackResult]:
    """Run jobs in `workers` processes, platform stacks first; results in job order."""
    platform = [j for j in jobs if j.stack.startswith("platform-")]
    rest = [j for j in jobs if not j.stack.startswith("platform-")]
    results: dict[str, StackResult] = {}

    if workers <= 1:
        for phase in (platform, rest):
            known = _known(results.values())
            for job in phase:
                res = run_job(_with_known(job, known))
                results[job.stack] = res
                if on_done:
                    on_done(res)
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for phase in (platform, rest):
                known = _known(results.values())
                futures: dict[Future[StackResult], Job] = {
                    pool.submit(run_job, _with_known(job, known)): job for job in phase
                }
                for future in as_completed(futures):
                    res = future.result()
                    results[futures[future].stack] = res
                    if on_done:
                        on_done(res)
    return [results[j.stack] for j in jobs]


def _known(results: Iterable[StackResult]) -> dict[str, dict[str, Any]]:
    return {r.stack: r.inventory.outputs for r in results if r.inventory is not None}


def _with_known(job: Job, known: dict[str, dict[str, Any]]) -> Job:
    if not known:
        return job
    return Job(
        project_path=job.project_path,
        stack=job.stack,
        pack_dir=job.pack_dir,
        policy_config=job.policy_config,
        known_outputs={**known, **job.known_outputs},
        render_only=job.render_only,
    )
