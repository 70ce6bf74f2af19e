"""Render a program with the interpreter of its own virtualenv, as the Pulumi CLI runs it.

A program whose `Pulumi.yaml` names a virtualenv (`runtime.options.virtualenv`, or uv's `.venv`)
runs, under the Pulumi CLI, with that virtualenv's Python: its provider SDKs and helper packages
are installed there, not where estate is. `estate` does the same: `render_in_interpreter` starts
that interpreter on this module, which imports only the offline engine (`estate.offline.engine`,
its mocks and model: the standard library, `pulumi` and the `protobuf` that `pulumi` depends on),
made importable through `PYTHONPATH` pointing at a directory holding nothing but a link to the
`estate` package. So the program's virtualenv needs `pulumi` (which every Pulumi Python program
has) and nothing of estate's own dependencies; the policy pack still runs in estate's environment.

The request comes on stdin and the inventory goes to stdout, both JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parents[1]
"""The `estate` package directory the host imports the engine from."""


class HostError(Exception):
    """The program's interpreter could not run the engine (it lacks pulumi, or crashed)."""


def render_in_interpreter(python: Path, request: dict[str, Any]) -> dict[str, Any]:
    """Run one render under `python`; return {"inventory", "warnings"} or {"error", ...}."""
    with tempfile.TemporaryDirectory(prefix="estate-host-") as shim:
        (Path(shim) / "estate").symlink_to(PACKAGE, target_is_directory=True)
        env = {
            **os.environ,
            "PYTHONPATH": shim,
            # StackReferences to stacks not rendered yet are rendered by estate's own Python.
            "ESTATE_PYTHON": sys.executable,
        }
        env.pop("PYTHONHOME", None)
        done = subprocess.run(
            [str(python), "-m", "estate.offline.host"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
    try:
        answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        lines = done.stderr.strip().splitlines()
        raise HostError(lines[-1] if lines else f"exit {done.returncode}") from None
    return answer


def _stack_outputs(project_path: str, known: dict[str, Any]) -> Any:
    def resolve(reference: str) -> dict[str, Any]:
        short = reference.rsplit("/", 1)[-1]
        if short not in known:
            python = os.environ.get("ESTATE_PYTHON", sys.executable)
            cmd = [python, "-m", "estate", "preview", "--project", project_path]
            cmd += ["--stack", short, "--format", "json"]
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
            if done.returncode != 0:
                from estate.offline.engine import ProgramError

                detail = (done.stderr or done.stdout).strip().splitlines()
                raise ProgramError(
                    f"StackReference to '{short}': rendering it failed: "
                    f"{detail[-1] if detail else '?'}"
                )
            known[short] = dict(json.loads(done.stdout).get("outputs") or {})
        return dict(known[short])

    return resolve


def main() -> None:
    request = json.loads(sys.stdin.read())
    from estate.offline.engine import EngineError, MissingModuleError, ProgramError, render

    answer: dict[str, Any]
    try:
        inventory = render(
            Path(request["program"]),
            stack=request["stack"],
            project=request["project"],
            config=request["config"],
            stack_outputs=_stack_outputs(request["project_path"], request["known_outputs"]),
            source=request["source"],
            secret_keys=frozenset(request["secret_keys"]),
        )
        answer = {"inventory": inventory.to_json(), "warnings": inventory.warnings}
    except MissingModuleError as exc:
        answer = {"error": str(exc), "module": exc.module, "requirement": exc.requirement}
    except ProgramError as exc:
        answer = {"error": str(exc)}
    except EngineError as exc:
        answer = {"error": str(exc), "internal": True}
    sys.stdout.write("\n" + json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
