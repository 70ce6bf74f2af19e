"""The `estate` command line: stacks, validate, preview, check.

Exit codes are a contract pipelines rely on: 0 all good, 1 a mandatory policy violation (or a
failed verification), 2 a usage or configuration error — always with one line per problem
naming the file and key, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from estate import __version__
from estate.offline.gate import DEFAULT_PACK, Job, run_jobs
from estate.offline.model import StackResult
from estate.offline.project import (
    SECRET_PLACEHOLDER,
    ConfigOverrides,
    Project,
    load_project,
    parse_config_args,
)
from estate.stack.config import ConfigError

app = typer.Typer(
    name="estate",
    help="AI Estate: render, check and report on the estate's Pulumi stacks offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # markdown: a docstring's single line breaks are spaces, so help wraps to the terminal.
    rich_markup_mode="markdown",
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE = 0, 1, 2

_option_type = typer.core.TyperOption.display_type_rich


def _no_flag_type(self: typer.core.TyperOption, ctx: Any) -> str | None:
    # Typer's rich help prints `<bool>` after every on/off flag (`--all <bool>`), which reads
    # as if the flag took a value; click's plain help shows none, and neither do we.
    return None if self.is_flag else _option_type(self, ctx)


typer.core.TyperOption.display_type_rich = _no_flag_type  # type: ignore[method-assign]

JOBS_HELP = "Stacks checked at once; 0 (the default): one per CPU core, at most one per stack."

ProjectOpt = Annotated[
    Path | None,
    typer.Option(
        "--project",
        help="A Pulumi Python program directory (default: this repository's estate program).",
        file_okay=False,
        dir_okay=True,
    ),
]
StackOpt = Annotated[
    list[str] | None,
    typer.Option("--stack", "-s", help="Stack name, e.g. fraud-prod (repeat for several)."),
]
AllOpt = Annotated[bool, typer.Option("--all", help="Every stack of the project.")]
ConfigOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--config",
        "-c",
        help="KEY=VALUE, repeatable, over the stack file as with `pulumi preview --config`; a key "
        "without a namespace is the project's (`size=large`), others name theirs "
        "(`aws:region=eu-west-1`).",
    ),
]
ConfigSecretOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--config-secret",
        help="KEY=VALUE like --config, marked secret: the program reads it as a secret and the "
        "reports never print it.",
    ),
]
ConfigFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--config-file",
        help="Read the stack's config from this file, shaped like a Pulumi.STACK.yaml, instead "
        "of the stack file (the project's defaults still apply, --config still wins).",
        dir_okay=False,
    ),
]


def fail(lines: list[str] | str, code: int = EXIT_USAGE) -> typer.Exit:
    for line in [lines] if isinstance(lines, str) else lines:
        err.print(line, markup=False)
    return typer.Exit(code)


def _project(path: Path | None) -> Project:
    try:
        return load_project(path)
    except ConfigError as exc:
        raise fail(exc.lines) from None


def _overrides(
    project: Project,
    values: list[str] | None,
    secrets: list[str] | None,
    file: Path | None,
    names: list[str],
) -> ConfigOverrides | None:
    """The command line's config, checked once for every stack it applies to."""
    if not (values or secrets or file):
        return None
    if file is not None and len(names) != 1:
        raise fail("estate: --config-file is one stack's config: give it with --stack NAME")
    try:
        pairs, secret_keys = parse_config_args(values or [], secrets or [], project.name)
        given = ConfigOverrides(
            file=file.resolve() if file else None, values=pairs, secrets=secret_keys
        )
        errors: list[str] = []
        for name in names:
            try:
                project.stack_settings(name, given)
            except ConfigError as exc:
                errors.extend(exc.lines)
        if errors:
            raise ConfigError(errors)
    except ConfigError as exc:
        raise fail(exc.lines) from None
    return given


def _select(project: Project, stack: list[str] | None, all_: bool) -> list[str]:
    known = project.stacks()
    if stack and all_:
        raise fail("estate: give either --stack or --all, not both")
    if stack:
        unknown = [s for s in stack if known and s not in known]
        if unknown:
            raise fail(
                [
                    f"{project.display(project.stack_file(s))}: no such stack "
                    f"(known: {', '.join(known)})"
                    for s in unknown
                ]
            )
        return list(dict.fromkeys(stack))  # in the order given, each once
    if all_ or not project.is_estate:
        return known or ["dev"]
    raise fail("estate: give --stack NAME or --all")


@app.command()
def stacks(project: ProjectOpt = None) -> None:
    """List the project's stacks, one per line, name first."""
    proj = _project(project)
    for name in proj.stacks():
        path = proj.stack_file(name)
        try:
            config = proj.stack_config(name)
            kind = config.get("ai-estate:kind", "")
            env = config.get("ai-estate:environment", "")
            typer.echo(f"{name}\t{kind}\t{env}\t{proj.display(path)}")
        except ConfigError:
            typer.echo(f"{name}\tinvalid\t\t{proj.display(path)}")


@app.command()
def validate(stack: StackOpt = None, all_: AllOpt = False, project: ProjectOpt = None) -> None:
    """Validate stack configuration only (no rendering)."""
    proj = _project(project)
    errors: list[str] = []
    names = _select(proj, stack, all_)
    for name in names:
        try:
            proj.stack_config(name)
            for line in proj.stack_warnings(name):
                err.print(line, markup=False)  # advice: printed, exit 0
        except ConfigError as exc:
            errors.extend(exc.lines)
    if errors:
        raise fail(errors)
    out.print(f"{len(names)} stack(s) valid: {', '.join(names)}", markup=False)


@app.command()
def preview(
    stack: StackOpt = None,
    all_: AllOpt = False,
    tree: Annotated[
        bool,
        typer.Option(
            "--tree",
            help="With --all: also print each stack's resource tree (--stack always does).",
        ),
    ] = False,
    format_: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    project: ProjectOpt = None,
    prices: Annotated[
        Path | None,
        typer.Option("--prices", help="A prices file overriding estate/data/prices.json."),
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help=JOBS_HELP)] = 0,
    config: ConfigOpt = None,
    config_secret: ConfigSecretOpt = None,
    config_file: ConfigFileOpt = None,
) -> None:
    """Render stacks offline under the Pulumi mock runtime and show their resources, estimated
    monthly cost (idle / typical / peak) and deploy critical path: one stack as its resource
    tree, `--all` as one summary row per stack."""
    if format_ not in ("table", "json"):
        raise fail(f"estate preview: --format must be table or json (got {format_!r})")
    proj = _project(project)
    if not all_ and stack is None and proj.is_estate:
        raise fail("estate preview: give --stack NAME or --all")
    names = _select(proj, stack, all_)
    if len(names) != 1 and not all_:
        raise fail(f"estate preview: give one --stack, or --all (got: {', '.join(names)})")
    given = _overrides(proj, config, config_secret, config_file, names)
    workers = jobs or min(len(names), os.cpu_count() or 1)
    results = run_jobs(
        [Job(project_path=proj.path, stack=n, render_only=True, config=given) for n in names],
        workers=workers,
    )
    errors = [f"{r.stack}: {r.error or 'render failed'}" for r in results if r.inventory is None]
    if errors:
        raise fail(errors if all_ else [e.split(": ", 1)[1] for e in errors])
    views = [_preview_view(r, prices) for r in results]
    if format_ == "json":
        data = [v["json"] for v in views]
        sys.stdout.write(json.dumps(data if all_ else data[0], indent=2) + "\n")
        return
    from estate.reports import render_inventory_tree

    if not all_ or tree:
        for view in views:
            if all_:
                out.print(f"\n== {view['stack']}", markup=False)
            render_inventory_tree(view["inventory"], out)
            out.print(view["line"], markup=False)
    if all_:
        out.print(_preview_table(views))


def _preview_view(result: StackResult, prices: Path | None) -> dict[str, Any]:
    """One rendered stack's preview: its JSON document, summary line and table row."""
    from estate.analysis import cost as cost_model
    from estate.analysis import critical_path as path_model

    inventory = result.inventory
    assert inventory is not None
    try:
        cost: dict[str, Any] | None = cost_model.cost_for(inventory, prices)
    except cost_model.CostError as exc:
        if prices is not None:
            raise fail(str(exc)) from None
        err.print(f"{result.stack}: cost: {exc}", markup=False)  # e.g. a region without prices
        cost = None
    path = path_model.critical_path(inventory)
    data = inventory.to_json()
    for resource in data["resources"]:
        # As `pulumi preview --json` shows them: a secret's value is not for the terminal or a
        # CI log (the policy pack still judged the real value).
        for key in resource.get("secretInputs", []):
            resource["inputs"][key] = SECRET_PLACEHOLDER
    data["cost"] = cost
    data["criticalPathMinutes"] = path["criticalPathMinutes"]
    data["criticalPath"] = path["chain"]
    line = path_model.summary_line(path)
    if cost is not None:
        line = f"{cost_model.summary_line(cost)} · {line}"
    return {
        "stack": result.stack,
        "inventory": inventory,
        "json": data,
        "line": line,
        "cost": cost,
        "minutes": float(path["criticalPathMinutes"] or 0.0),
    }


def _preview_table(views: list[dict[str, Any]]) -> Any:
    """`estate preview --all`: one row per stack; fits 80 columns."""
    from rich.table import Table

    table = Table(title="Preview (monthly USD; deploy minutes)", title_justify="left")
    table.add_column("Stack", overflow="fold")
    for column in ("Resources", "Idle", "Typical", "Peak", "Deploy"):
        table.add_column(column, justify="right")
    for view in views:
        cost = view["cost"]
        money = [f"{cost[s]:,.0f}" if cost else "-" for s in ("idle", "typical", "peak")]
        table.add_row(
            view["stack"],
            str(len(view["inventory"].resources)),
            *money,
            f"{view['minutes']:.0f}",
        )
    return table


def _load_pack_config(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise fail(f"{path}: cannot read the policy pack config ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise fail(f"{path}: not valid JSON at line {exc.lineno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise fail(f"{path}: must be a JSON object of policy name to level or settings")
    return data


@app.command()
def check(
    stack: StackOpt = None,
    all_: AllOpt = False,
    project: ProjectOpt = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write a JSON report.")] = None,
    sarif_path: Annotated[Path | None, typer.Option("--sarif", help="Write SARIF 2.1.0.")] = None,
    junit_path: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML.")] = None,
    markdown_path: Annotated[
        Path | None, typer.Option("--markdown", help="Write a PR-comment markdown report.")
    ] = None,
    policy_pack: Annotated[
        Path,
        typer.Option(
            "--policy-pack",
            help="Policy pack directory.",
            file_okay=False,
            show_default="the estate's own pack, policies/",
        ),
    ] = DEFAULT_PACK,
    policy_pack_config: Annotated[
        Path | None,
        typer.Option("--policy-pack-config", help="JSON policy config, as for the Pulumi CLI."),
    ] = None,
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            help="Git ref to compare with: flags changes that would delete, replace or "
            "unprotect data, and reports resource changes.",
        ),
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help=JOBS_HELP)] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the verdict line.")] = False,
    affected: Annotated[
        bool,
        typer.Option(
            "--affected",
            help="With --base: only the stacks whose stack file, platform stack or shared code "
            "changed since the base; the others are listed as skipped.",
        ),
    ] = False,
    shard: Annotated[
        str | None,
        typer.Option("--shard", help="K/N: check only shard K of N (a stable hash of the name)."),
    ] = None,
    base_unrenderable: Annotated[
        str,
        typer.Option(
            "--base-unrenderable",
            help="With --base: the level of the `base-not-rendered` finding a stack gets when "
            "its base cannot be rendered (auto: blocking in prod, advisory elsewhere; "
            "blocking; advisory). It is always reported.",
        ),
    ] = "auto",
    config: ConfigOpt = None,
    config_secret: ConfigSecretOpt = None,
    config_file: ConfigFileOpt = None,
) -> None:
    """Render stacks offline and run the policy pack over them via the Analyzer protocol."""
    from estate.offline.gate import BASE_UNRENDERABLE_LEVELS

    if base_unrenderable not in BASE_UNRENDERABLE_LEVELS:
        raise fail(
            "estate check: --base-unrenderable must be one of "
            f"{', '.join(BASE_UNRENDERABLE_LEVELS)} (got {base_unrenderable!r})"
        )
    proj = _project(project)
    names = _select(proj, stack, all_)
    names, skipped, deleted = _narrow(proj, names, base, affected, shard)
    if not (policy_pack / "PulumiPolicy.yaml").is_file():
        raise fail(f"{policy_pack}: no PulumiPolicy.yaml (not a policy pack directory)")
    pack_config = _load_pack_config(policy_pack_config)
    given = _overrides(proj, config, config_secret, config_file, names)
    workers = jobs or min(len(names), os.cpu_count() or 1)
    job_list = [
        Job(
            project_path=proj.path,
            stack=name,
            pack_dir=policy_pack.resolve(),
            policy_config=pack_config,
            config=given,
        )
        for name in names
    ]
    with contextlib.ExitStack() as scratch:
        base_names = [*names, *deleted] if affected else names
        base_jobs, base_failed = (
            _base_jobs(proj, base, base_names, all_ and not affected, scratch)
            if base is not None
            else ([], [])
        )
        # Platform stacks the head stacks read but that are not checked themselves: rendered
        # once here when base jobs share them (instead of once per reader, in a subprocess).
        shared = {p for j in base_jobs for p in j.shared_outputs}
        dep_jobs = (
            [
                Job(project_path=proj.path, stack=p, render_only=True)
                for p in _platforms_of(proj, names)
                if p in shared and p not in names
            ]
            if shared
            else []
        )
        every = [*job_list, *dep_jobs, *base_jobs]
        results = _run_with_progress(every, workers, quiet) if every else []
    done_base = results[len(job_list) + len(dep_jobs) :]
    results = results[: len(job_list)]
    prior = [*done_base, *base_failed] if base is not None else None
    if base is not None:
        from estate.offline.gate import attach_diffs

        assert prior is not None
        results = attach_diffs(results, prior, base_unrenderable, policy_pack.resolve())
    from estate.analysis.readiness import attach_readiness

    attach_readiness(results, prior)
    _report_and_exit(results, json_path, sarif_path, junit_path, markdown_path, quiet, skipped)


def _narrow(
    proj: Project, names: list[str], base: str | None, affected: bool, shard: str | None
) -> tuple[list[str], dict[str, str], list[str]]:
    """Apply `--affected` then `--shard`: (stacks to check, skipped with why, stacks deleted
    since the base — their base render is still diffed so a deletion is never missed)."""
    from estate.offline.selection import (
        SelectionError,
        affected_stacks,
        changed_paths,
        parse_shard,
        select_shard,
    )

    skipped: dict[str, str] = {}
    deleted: list[str] = []
    try:
        if affected:
            if base is None:
                raise SelectionError("--affected needs --base REF (the ref to compare with)")
            changed = changed_paths(proj.path, base)

            def rel(name: str) -> str:
                return proj.stack_file(name).resolve().relative_to(proj.path).as_posix()

            def platform(name: str) -> str | None:
                try:
                    return platform_of_config(proj.stack_config(name))
                except ConfigError:
                    return None

            chosen = affected_stacks(names, changed, rel, platform, base)
            names, skipped = chosen.selected, chosen.skipped
            stack_dir = proj.stack_dir.resolve().relative_to(proj.path).as_posix()
            for path in changed:
                parent, _, file = path.rpartition("/")
                if (parent or ".") == stack_dir and file.startswith("Pulumi."):
                    name = file.removeprefix("Pulumi.").removesuffix(".yaml")
                    if not proj.stack_file(name).is_file():
                        deleted.append(name)
        if shard is not None:
            k, n = parse_shard(shard)
            chosen = select_shard(names, k, n)
            names = chosen.selected
            skipped.update(chosen.skipped)
            deleted = [d for d in deleted if select_shard([d], k, n).selected]
    except SelectionError as exc:
        raise fail(f"estate check: {exc}") from None
    return names, skipped, deleted


def _run_with_progress(job_list: list[Job], workers: int, quiet: bool) -> list[StackResult]:
    show_progress = len(job_list) > 1 and err.is_terminal and not quiet
    if show_progress:
        with Progress(
            TextColumn("[bold]checking[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as progress:
            task = progress.add_task("stacks", total=len(job_list))

            def advance(res: StackResult) -> None:
                progress.update(task, advance=1, description=res.stack)

            return run_jobs(job_list, workers=workers, on_done=advance)
    return run_jobs(job_list, workers=workers)


def _report_and_exit(
    results: list[StackResult],
    json_path: Path | None,
    sarif_path: Path | None,
    junit_path: Path | None,
    markdown_path: Path | None,
    quiet: bool,
    skipped: dict[str, str] | None = None,
) -> None:
    from estate.reports import render_table, write_reports

    write_reports(
        results,
        json_path=json_path,
        sarif_path=sarif_path,
        junit_path=junit_path,
        markdown_path=markdown_path,
        tool_version=__version__,
        skipped=skipped,
    )
    if not quiet:
        render_table(results, out)
        for name, why in (skipped or {}).items():
            out.print(f"skipped {name}: {why}", markup=False)
    errors = [r for r in results if r.error]
    blocking = sum(len(r.blocking) for r in results)
    advisories = sum(len(r.advisories) for r in results)
    resources = sum(r.resource_count for r in results)
    verdict = (
        f"{len(results)} stack(s), {resources} resources: {blocking} blocking, "
        f"{advisories} advisory, {len(errors)} error(s)"
    )
    if skipped:
        verdict += f", {len(skipped)} skipped"
    for r in errors:
        err.print(r.error, markup=False)
    out.print(verdict, markup=False)
    if errors:
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(EXIT_VIOLATIONS if blocking else EXIT_OK)


def _base_jobs(
    proj: Project, ref: str, names: list[str], all_: bool, scratch: contextlib.ExitStack
) -> tuple[list[Job], list[StackResult]]:
    """Render-only jobs for the same stacks at git `ref` (extracted into a scratch directory),
    and the base results already known to have failed (a base project that does not load)."""
    import tempfile

    from estate.offline.gate import BaseRefError, materialize_base

    where = Path(scratch.enter_context(tempfile.TemporaryDirectory(prefix="estate-base-")))
    try:
        base_path = materialize_base(proj.path, ref, where)
    except BaseRefError as exc:
        raise fail(f"estate check: {exc}") from None
    if not (base_path / "Pulumi.yaml").is_file():
        return [], []  # the project did not exist at the base ref: everything is new
    try:
        base_project = load_project(base_path)
    except ConfigError as exc:
        # The project existed but does not load at the base: no stack can be compared, and
        # each says so (never an empty base, which would read as "every stack is new").
        reason = "; ".join(line.replace(str(where), ref) for line in exc.lines)
        failed = [StackResult(stack=n, source="Pulumi.yaml", error=reason) for n in names]
        return [], failed
    known = base_project.stacks()
    chosen = known if all_ else [n for n in names if n in known]
    from estate.offline.selection import SelectionError, changed_paths, render_code_changed

    try:
        same_code = not render_code_changed(proj.path, ref)
        changed = set(changed_paths(proj.path, ref))
    except SelectionError:
        same_code, changed = False, set()
    if same_code:
        # The rendering code is the same at the base: render the base in the workers with it,
        # and let base stacks read today's render of each platform stack whose file is
        # unchanged too (the same code on the same file gives the same outputs).
        unchanged = frozenset(
            p for p in proj.stacks() if p.startswith("platform-") and _rel(proj, p) not in changed
        )
        jobs = [
            Job(
                project_path=base_path,
                stack=n,
                render_only=True,
                outputs_from=proj.path,
                shared_outputs=unchanged,
            )
            for n in chosen
        ]
        return jobs, []
    # This repository at the base ref carries its own estate code: render the base with it, not
    # with today's (whose schema and module paths may have moved on).
    own = where if (where / "estate" / "__init__.py").is_file() else None
    jobs = [Job(project_path=base_path, stack=n, render_only=True, code_root=own) for n in chosen]
    return jobs, []


def _rel(proj: Project, name: str) -> str:
    return proj.stack_file(name).resolve().relative_to(proj.path).as_posix()


def _platforms_of(proj: Project, names: list[str]) -> list[str]:
    """The platform stacks (with a stack file) that the valid stacks among `names` reference."""
    out: list[str] = []
    for name in names:
        try:
            ref = platform_of_config(proj.stack_config(name))
        except ConfigError:
            continue
        if ref and ref not in out and proj.stack_file(ref).is_file():
            out.append(ref)
    return out


EXIT_INTERNAL = 3


class _ReaderMayLeave:
    """stdout for `estate ... | head`: once the reader has gone, the rest of the output is
    dropped and the command finishes its work (reports are still written) and exits with its
    own verdict, instead of click turning the broken pipe into exit 1, which reads as
    "violations"."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._gone = False

    def _leave(self) -> None:
        self._gone = True
        with contextlib.suppress(OSError, ValueError):  # no fd 1 to redirect: nothing to do
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())  # the interpreter's last flush succeeds

    def write(self, text: str) -> int:
        if not self._gone:
            try:
                return int(self._stream.write(text))
            except BrokenPipeError:
                self._leave()
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._leave()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main() -> None:
    """Console entry point. A bug must never read as a verdict: exit 1 means "violations", so
    an unexpected exception exits 3 with its traceback for the bug report."""
    sys.stdout = _ReaderMayLeave(sys.stdout)
    try:
        app(standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except Exception:
        import traceback

        traceback.print_exc()
        err.print("estate: internal error (a bug, not a policy verdict); please report it above.")
        raise SystemExit(EXIT_INTERNAL) from None


def _print_version(value: bool) -> None:
    if value:
        out.print(f"estate {__version__}", markup=False)
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Show the version and exit.",
            callback=_print_version,
            is_eager=True,  # before "Missing command": `estate --version` alone works
        ),
    ] = False,
) -> None:
    """AI Estate: render, check and report on the estate's Pulumi stacks offline."""


@app.command()
def verify(
    stack: Annotated[str, typer.Option("--stack", "-s", help="Stack name, e.g. fraud-prod.")],
    outputs: Annotated[
        Path,
        typer.Option(
            "--outputs",
            help="The stack's outputs: `pulumi stack output --json --show-secrets > FILE`.",
            dir_okay=False,
        ),
    ],
    region: Annotated[
        str | None, typer.Option("--region", help="AWS region (default: the outputs' region).")
    ] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option("--endpoint-url", help="Send every AWS call here (moto, LocalStack)."),
    ] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write a JSON report.")] = None,
    sarif_path: Annotated[Path | None, typer.Option("--sarif", help="Write SARIF 2.1.0.")] = None,
    junit_path: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML.")] = None,
    pool_config: Annotated[
        str | None,
        typer.Option(
            "--pool-config",
            help="Instead of verifying: write the GPU node conformance config of this pool.",
        ),
    ] = None,
    pool_output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where --pool-config writes (default: stdout)."),
    ] = None,
    min_driver_version: Annotated[
        str | None,
        typer.Option(
            "--min-driver-version",
            help="NVIDIA driver floor for --pool-config (default: the first CUDA 12.4 driver).",
        ),
    ] = None,
) -> None:
    """Check a deployed stack's live AWS resources against governance, from its outputs."""
    from estate.verify import verify_command

    raise typer.Exit(
        verify_command(
            stack=stack,
            outputs_path=outputs,
            region=region,
            endpoint_url=endpoint_url,
            json_path=json_path,
            sarif_path=sarif_path,
            junit_path=junit_path,
            pool=pool_config,
            pool_output=pool_output,
            min_driver_version=min_driver_version,
            out=out,
            err=err,
        )
    )


FormatOpt = Annotated[str, typer.Option("--format", help="table, json or markdown")]


def _readiness_jobs(proj: Project, names: list[str]) -> tuple[list[Job], list[str]]:
    """Policy-checked jobs for the BU stacks, render-only jobs for the platforms they read."""
    bu, platforms = [], []
    for name in names:
        config = proj.stack_config(name)
        if config.get("ai-estate:kind") != "bu":
            continue
        bu.append(name)
        ref = platform_of_config(config)
        if ref and proj.stack_file(ref).is_file() and ref not in platforms:
            platforms.append(ref)
    jobs = [Job(project_path=proj.path, stack=p, render_only=True) for p in platforms]
    jobs += [Job(project_path=proj.path, stack=n) for n in bu]
    return jobs, bu


def platform_of_config(config: dict[str, Any]) -> str | None:
    ref = config.get("ai-estate:platformStack")
    return str(ref).rsplit("/", 1)[-1] if ref else None


@app.command()
def readiness(
    stack: StackOpt = None,
    all_: AllOpt = False,
    format_: FormatOpt = "table",
    min_score: Annotated[
        int | None,
        typer.Option("--min-score", help="Exit 1 when a BU stack scores below this (0-100)."),
    ] = None,
    project: ProjectOpt = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help=JOBS_HELP)] = 0,
) -> None:
    """Score BU stacks on the seven capabilities of a production AI estate, from the rendered
    inventory and the policy results; every item names its evidence or what adds it."""
    if format_ not in ("table", "json", "markdown"):
        raise fail(f"estate readiness: --format must be table, json or markdown (got {format_!r})")
    if min_score is not None and not 0 <= min_score <= 100:
        raise fail(f"estate readiness: --min-score must be 0-100 (got {min_score})")
    proj = _project(project)
    names = _select(proj, stack, all_)
    try:
        job_list, bu = _readiness_jobs(proj, names)
    except ConfigError as exc:
        raise fail(exc.lines) from None
    if not bu:
        raise fail(
            f"estate readiness: {', '.join(names)}: readiness scores BU stacks "
            "(ai-estate:kind: bu); give a BU stack or --all"
        )
    workers = jobs or min(len(job_list), os.cpu_count() or 1)
    results = _run_with_progress(job_list, workers, quiet=False)
    errors = [r for r in results if r.error]
    if errors:
        raise fail([r.error or "" for r in errors])
    from estate.analysis.readiness import scorecards
    from estate.reports import readiness as report

    cards = [c for name, c in scorecards(results).items() if name in bu]
    if format_ == "json":
        sys.stdout.write(json.dumps(report.to_json(cards), indent=2) + "\n")
    elif format_ == "markdown":
        sys.stdout.write(report.to_markdown(cards))
    else:
        report.render_readiness(cards, out)
    low = [c for c in cards if min_score is not None and c.score < min_score]
    for card in low:
        err.print(f"{card.stack}: readiness {card.score} is below --min-score {min_score}")
    raise typer.Exit(EXIT_VIOLATIONS if low else EXIT_OK)


@app.command()
def report(
    html_path: Annotated[
        Path, typer.Option("--html", help="Write the self-contained HTML report here.")
    ],
    stack: StackOpt = None,
    all_: AllOpt = False,
    project: ProjectOpt = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help=JOBS_HELP)] = 0,
) -> None:
    """Check stacks (default: all) and write one offline HTML page: readiness, policy results,
    cost by component, GPU capacity against quota and budget, critical path, stack graph."""
    proj = _project(project)
    names = _select(proj, stack, all_ or stack is None)
    try:
        for name in list(names):
            ref = platform_of_config(proj.stack_config(name))
            if ref and ref not in names and proj.stack_file(ref).is_file():
                names.insert(0, ref)  # a BU's scorecard reads its platform
    except ConfigError as exc:
        raise fail(exc.lines) from None
    job_list = [Job(project_path=proj.path, stack=n) for n in names]
    workers = jobs or min(len(job_list), os.cpu_count() or 1)
    results = _run_with_progress(job_list, workers, quiet=False)
    from estate.reports.html import to_html

    try:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(to_html(results), encoding="utf-8")
    except OSError as exc:
        raise fail(f"{html_path}: cannot write the report ({exc.strerror})") from None
    errors = [r for r in results if r.error]
    for r in errors:
        err.print(r.error, markup=False)
    out.print(f"{html_path}: {len(results)} stack(s)", markup=False)
    raise typer.Exit(EXIT_USAGE if errors else EXIT_OK)
