"""Any team's own Pulumi program, rendered as faithfully as the real engine would run it.

Resource objects passed as inputs (resource references), and `Resource.get` look-ups.
"""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from estate.offline import engine
from estate.offline.model import Inventory, Resource

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = Path(__file__).resolve().parent / "fixtures" / "programs"
REFERENCES = PROGRAMS / "resource-references"


def render(program: Any, **kwargs: Any) -> Inventory:
    kwargs.setdefault("stack", "dev")
    kwargs.setdefault("project", "thumbnailer")
    try:
        return engine.render(program, **kwargs)
    finally:
        gc.collect()


def by_name(inventory: Inventory, name: str, type_: str = "") -> Resource:
    found = [r for r in inventory.resources if r.name == name and r.type.startswith(type_)]
    assert len(found) == 1, name
    return found[0]


# -- resource references ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def references() -> Inventory:
    return render(REFERENCES)


def test_components_and_resources_taking_resource_objects_render(references):
    types = [r.type for r in references.resources]
    assert types.count("acme:storage:Watched") == 6
    assert types.count("aws:lambda/permission:Permission") == 7
    assert types.count("aws:s3/bucketNotification:BucketNotification") == 6


def test_a_resource_input_is_recorded_as_a_reference_with_its_dependency(references):
    function = by_name(references, "thumbnailer", "aws:lambda")
    for i in range(6):
        permission = by_name(references, f"watch-{i}-invoke")
        assert permission.inputs["function"] == function.urn
        assert permission.property_dependencies["function"] == [function.urn]
        component = by_name(references, f"watch-{i}")
        assert component.inputs["bucket"] == by_name(references, f"uploads-{i}").urn
        assert function.urn in component.dependencies


def test_a_resource_input_reads_back_as_the_providers_value(references):
    """The provider gets the function's ID, and reports that string back, as AWS's does."""
    assert (
        references.outputs["permissionFunction"]
        == references.outputs["functionArn"].rsplit(":", 1)[-1]
    )
    assert references.outputs["component"].endswith("acme:storage:Watched::watch-0")


def test_resource_get_reads_the_existing_resource_by_its_id(references):
    logs = by_name(references, "access-logs")
    assert logs.inputs == {"id": "acme-access-logs"}
    assert references.outputs["logsArn"] == "arn:aws:s3:::acme-access-logs"
    assert references.outputs["sharedArn"].endswith(":function:acme-authorizer")
    shared = by_name(references, "shared-authorizer")
    assert by_name(references, "authorizer-invoke").inputs["function"] == shared.urn


def test_resource_references_never_hang_or_race():
    """The race the SDK's mock monitor has with references (a `getResource` scheduled on a worker
    thread's loop) hung one render in three: five renders in a row in a fresh process."""
    script = (
        "import sys\n"
        "from estate.offline import engine\n"
        "for _ in range(5):\n"
        "    inv = engine.render(sys.argv[1], stack='dev', project='thumbnailer')\n"
        "    assert len(inv.resources) == 30, len(inv.resources)\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(REFERENCES)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
