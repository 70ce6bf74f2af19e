"""A gate worker settles its heap once, after its first job, and renders the same afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import gc, json, sys
from estate.offline import gate
from estate.offline.project import load_project
project = load_project(gate.ROOT)
known = {"platform-dev": gate.render_stack(project, "platform-dev").outputs}
before = gate.render_stack(project, "marketing-dev", known).to_json()
threshold = gc.get_threshold()[0]
gate.settle_heap()
frozen = gc.get_freeze_count()
gate.settle_heap()  # once per process: the second call freezes nothing more
again = gc.get_freeze_count()
after = gate.render_stack(project, "marketing-dev", known).to_json()
print(json.dumps({"threshold": [threshold, gc.get_threshold()[0]], "frozen": frozen,
                  "again": again, "same": before == after}))
"""


def test_settle_heap_freezes_once_and_changes_no_render():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # Exit (the frozen heap thawed and collected) is quiet: no "Exception ignored" noise.
    assert "Exception ignored" not in done.stderr, done.stderr[-2000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["threshold"] == [700, 10_000]
    assert facts["frozen"] > 100_000 and facts["again"] <= facts["frozen"]
    assert facts["same"]


def test_every_event_loop_a_render_makes_is_closed_at_its_end(monkeypatch):
    """The SDK's executor threads each use an event loop of their own; the engine closes them
    with the render's, instead of leaving them to the collector (which can fail to close them:
    "Exception ignored in BaseEventLoop.__del__ ... Invalid file descriptor")."""
    import asyncio

    from estate.offline import gate
    from estate.offline.project import load_project

    made: list[asyncio.AbstractEventLoop] = []
    real = asyncio.new_event_loop

    def recording() -> asyncio.AbstractEventLoop:
        loop = real()
        made.append(loop)
        return loop

    monkeypatch.setattr(asyncio, "new_event_loop", recording)
    project = load_project(gate.ROOT)
    inventory = gate.render_stack(project, "platform-dev")
    assert inventory.resources and len(made) >= 2  # the render's loop and its threads' loops
    assert [loop for loop in made if not loop.is_closed()] == []
