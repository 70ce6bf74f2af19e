"""The CI templates users copy: linted, and saying what they must say.

`check-jsonschema` (a declared test dependency) validates the workflows and the local action
against the GitHub schemas it vendors. Beyond the schema, the tests check what a schema cannot:
the gate runs `estate check` with every report and fails last with its exit code, SARIF goes to
code scanning, the sticky comment logic finds its marker (run under Node with a mocked GitHub
API), previews use OIDC and the policy pack, deploys put platform stacks before BU stacks, every
shell step parses, every expression names a step, job or matrix key that exists, and the stack
matrix script computes the right stacks.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from estate.reports import COMMENT_MARKER

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
GATE = WORKFLOWS / "policy-gate.yml"
PREVIEW = WORKFLOWS / "preview.yml"
DEPLOY = WORKFLOWS / "deploy.yml"
ACTIONS = sorted((ROOT / ".github" / "actions").glob("*/action.yml"))
MATRIX_SCRIPT = ROOT / ".github" / "actions" / "stack-matrix" / "stack_matrix.py"
STACKS = ROOT / "stacks"

EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+|[0-9a-f]{40})$")

PULUMI_ACTION_INPUTS = {
    # pulumi/actions v7 (README "Configuration" and "Extra options"; v7 kept v6's inputs, Node 24).
    "command",
    "stack-name",
    "work-dir",
    "cloud-url",
    "comment-on-pr",
    "comment-on-summary",
    "github-token",
    "refresh",
    "secrets-provider",
    "color",
    "config-map",
    "diff",
    "comment-on-pr-number",
    "edit-pr-comment",
    "expect-no-changes",
    "message",
    "parallel",
    "policyPacks",
    "policyPackConfigs",
    "pulumi-version",
    "pulumi-version-file",
    "remove",
    "replace",
    "target",
    "target-dependents",
    "upsert",
    "exclude-protected",
    "suppress-outputs",
    "suppress-progress",
    "omit-stdout",
    "plan",
    "always-include-summary",
    "continue-on-error",
    "log-verbosity",
    "log-flow",
    "debug",
}


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in doc:  # YAML 1.1 reads the key `on` as a boolean
        doc["on"] = doc.pop(True)
    return doc


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if str(s.get("uses", "")).split("@")[0] == action]


def one_step_using(job: dict[str, Any], action: str) -> dict[str, Any]:
    found = steps_using(job, action)
    assert len(found) == 1, f"{len(found)} steps use {action}"
    return found[0]


def all_workflows() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def load_matrix_script():
    spec = importlib.util.spec_from_file_location("stack_matrix", MATRIX_SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["stack_matrix"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def stack_matrix():
    return load_matrix_script()


# -- the linter ---------------------------------------------------------------------------------


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    assert importlib.util.find_spec("check_jsonschema"), (
        "check-jsonschema is a test dependency (pyproject [test] extra): run `make venv`"
    )
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_three_workflows_exist():
    assert {p.name for p in all_workflows()} >= {"policy-gate.yml", "preview.yml", "deploy.yml"}


def test_workflows_pass_the_github_workflow_schema():
    done = check_jsonschema("vendor.github-workflows", *all_workflows())
    assert done.returncode == 0, done.stdout + done.stderr


def test_local_actions_pass_the_github_action_schema():
    assert ACTIONS
    done = check_jsonschema("vendor.github-actions", *ACTIONS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_linter_rejects_a_broken_workflow(tmp_path: Path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        GATE.read_text(encoding="utf-8").replace("runs-on: ubuntu-latest", "run-on: ubuntu-latest"),
        encoding="utf-8",
    )
    done = check_jsonschema("vendor.github-workflows", broken)
    assert done.returncode != 0


# -- what a schema cannot see -------------------------------------------------------------------


@pytest.mark.parametrize("path", all_workflows(), ids=lambda p: p.name)
def test_actions_are_pinned_to_a_major_version_or_a_sha(path: Path):
    for job in load(path)["jobs"].values():
        for step in job.get("steps", []):
            uses = step.get("uses")
            if uses and not uses.startswith("./"):
                assert PINNED.match(uses), f"{path.name}: {uses} is not pinned to @vN or a SHA"


NODE24_MAJORS = {
    # The first major of each action that runs on Node 24: GitHub removed Node 20 from its
    # runners on 2026-09-16, so older majors run on a runtime they were not built for.
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/upload-artifact": 6,
    "actions/github-script": 8,
    "github/codeql-action/upload-sarif": 4,
    "aws-actions/configure-aws-credentials": 6,
    "pulumi/actions": 7,
}


@pytest.mark.parametrize("path", all_workflows(), ids=lambda p: p.name)
def test_actions_are_node24_majors(path: Path):
    for job in load(path)["jobs"].values():
        for step in job.get("steps", []):
            name, _, ref = str(step.get("uses", "")).partition("@")
            if name in NODE24_MAJORS and ref.startswith("v"):
                assert int(ref[1:]) >= NODE24_MAJORS[name], f"{path.name}: {name}@{ref}"


@pytest.mark.parametrize(
    "path", [*all_workflows(), *ACTIONS], ids=lambda p: p.parent.name + "/" + p.name
)
def test_every_shell_step_parses(path: Path):
    doc = load(path)
    jobs = doc.get("jobs") or {"composite": {"steps": doc["runs"].get("steps", [])}}
    for name, job in jobs.items():
        for step in job.get("steps", []):
            if "run" not in step:
                continue
            script = EXPRESSION.sub("EXPR", step["run"])
            done = subprocess.run(["bash", "-n", "-c", script], capture_output=True, text=True)
            assert done.returncode == 0, f"{path.name}:{name}: {step.get('name')}: {done.stderr}"


@pytest.mark.parametrize("path", all_workflows(), ids=lambda p: p.name)
def test_expressions_name_steps_jobs_and_matrix_keys_that_exist(path: Path, stack_matrix):
    matrix_keys = set(stack_matrix.matrix(STACKS)[0])
    doc = load(path)
    for name, job in doc["jobs"].items():
        text = yaml.safe_dump(job)
        step_ids = {s["id"] for s in job.get("steps", []) if "id" in s}
        needs = job.get("needs", [])
        needs = {needs} if isinstance(needs, str) else set(needs)
        literal = job.get("strategy", {}).get("matrix")
        keys = set(literal) if isinstance(literal, dict) else matrix_keys  # a literal matrix
        for expression in EXPRESSION.findall(text):
            for step in re.findall(r"\bsteps\.([\w-]+)", expression):
                assert step in step_ids, f"{path.name}:{name}: no step id {step!r}"
            for other in re.findall(r"\bneeds\.([\w-]+)", expression):
                assert other in needs, f"{path.name}:{name}: {other!r} is not in needs"
                outputs = doc["jobs"][other].get("outputs", {})
                for key in re.findall(
                    rf"\bneeds\.{re.escape(other)}\.outputs\.([\w-]+)", expression
                ):
                    assert key in outputs, f"{path.name}:{name}: {other} has no output {key!r}"
            for key in re.findall(r"\bmatrix\.([\w-]+)", expression):
                assert key in keys, f"{path.name}:{name}: matrix has no key {key!r}"


@pytest.mark.parametrize("path", [PREVIEW, DEPLOY], ids=lambda p: p.name)
def test_pulumi_action_inputs_exist(path: Path):
    for job in load(path)["jobs"].values():
        for step in steps_using(job, "pulumi/actions"):
            assert step["uses"] == "pulumi/actions@v7"
            unknown = set(step["with"]) - PULUMI_ACTION_INPUTS
            assert not unknown, f"{path.name}: pulumi/actions has no input {sorted(unknown)}"


# -- the policy gate ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gate() -> dict[str, Any]:
    return load(GATE)


def test_gate_runs_on_pull_requests_one_run_per_pr(gate):
    assert "pull_request" in gate["on"]
    assert "github.event.pull_request.number" in gate["concurrency"]["group"]
    assert gate["concurrency"]["cancel-in-progress"] is True


def test_gate_sets_up_python_with_a_pip_cache_then_the_venv(gate):
    (job,) = gate["jobs"].values()
    setup = one_step_using(job, "actions/setup-python")
    assert str(setup["with"]["python-version"]) == "3.11"
    assert setup["with"]["cache"] == "pip"
    runs = [s.get("run", "") for s in job["steps"]]
    assert any(r.strip() == "make venv" for r in runs)


def test_gate_runs_estate_check_with_all_four_reports(gate):
    (job,) = gate["jobs"].values()
    check = next(s for s in job["steps"] if "estate check" in s.get("run", ""))
    command = " ".join(check["run"].replace("\\\n", " ").split())
    assert ".venv/bin/estate check --all" in command
    for flag, path in [
        ("--sarif", "out/check.sarif"),
        ("--junit", "out/check.xml"),
        ("--markdown", "out/check.md"),
        ("--json", "out/check.json"),
    ]:
        assert f"{flag} {path}" in command
    # The exit code is kept, not acted on: the uploads run first.
    assert "|| status=$?" in command and "exit-code=$status" in command


def test_gate_checks_affected_stacks_against_the_pr_base_with_full_history(gate):
    (job,) = gate["jobs"].values()
    checkout = one_step_using(job, "actions/checkout")
    assert checkout["with"]["fetch-depth"] == 0  # a shallow clone lacks the base commit
    check = next(s for s in job["steps"] if "estate check" in s.get("run", ""))
    command = " ".join(check["run"].replace("\\\n", " ").split())
    assert '--affected --base "$BASE_SHA"' in command
    assert check["env"]["BASE_SHA"] == "${{ github.event.pull_request.base.sha }}"


def test_gate_shards_cover_the_matrix(gate):
    (job,) = gate["jobs"].values()
    shards = job["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, len(shards) + 1))
    assert int(job["env"]["SHARDS"]) == len(shards)
    check = next(s for s in job["steps"] if "estate check" in s.get("run", ""))
    assert '--shard "${{ matrix.shard }}/$SHARDS"' in check["run"]
    artifacts = one_step_using(job, "actions/upload-artifact")
    assert "${{ matrix.shard }}" in artifacts["with"]["name"]  # one artifact per shard


def test_gate_uploads_then_fails_with_the_original_exit_code(gate):
    (job,) = gate["jobs"].values()
    steps = job["steps"]
    check_index = next(i for i, s in enumerate(steps) if s.get("id") == "check")
    sarif = one_step_using(job, "github/codeql-action/upload-sarif")
    artifacts = one_step_using(job, "actions/upload-artifact")
    comment = one_step_using(job, "actions/github-script")
    verdict = steps[-1]
    for step in (sarif, artifacts, comment, verdict):
        assert steps.index(step) > check_index
        assert "!cancelled()" in step["if"], f"{step.get('name')} must run after a violation"
    assert sarif["with"] == {
        "sarif_file": "out/check.sarif",
        "category": "ai-estate-policy-${{ matrix.shard }}",
    }
    assert {"out/check.xml", "out/check.json"} <= set(artifacts["with"]["path"].split())
    assert verdict["env"]["EXIT_CODE"] == "${{ steps.check.outputs.exit-code }}"
    assert 'exit "$EXIT_CODE"' in verdict["run"]


def test_gate_may_upload_sarif_and_comment(gate):
    (job,) = gate["jobs"].values()
    assert job["permissions"]["security-events"] == "write"
    assert job["permissions"]["pull-requests"] == "write"
    assert gate["permissions"] == {"contents": "read"}


def test_gate_comment_uses_the_reports_marker(gate):
    (job,) = gate["jobs"].values()
    comment = one_step_using(job, "actions/github-script")
    assert comment["env"]["MARKER"] == COMMENT_MARKER
    assert comment["env"]["REPORT_PATH"] == "out/check.md"


def run_comment_script(gate, tmp_path: Path, comments: list[dict], report: str) -> list:
    node = shutil.which("node")
    # Node.js ships with this project's machine image (and GitHub's runners): the script that
    # posts the PR comment is run for real, never skipped.
    assert node is not None, (
        "Node.js is required to test the PR-comment script (apt-get install nodejs)"
    )
    (job,) = gate["jobs"].values()
    step = one_step_using(job, "actions/github-script")
    (tmp_path / "script.js").write_text(step["with"]["script"], encoding="utf-8")
    (tmp_path / "check.md").write_text(report, encoding="utf-8")
    (tmp_path / "comments.json").write_text(json.dumps(comments), encoding="utf-8")
    harness = tmp_path / "harness.js"
    harness.write_text(
        """
const fs = require('fs');
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
const script = fs.readFileSync(process.argv[2], 'utf8');
const comments = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
const calls = [];
const github = {
  paginate: async (method, params) => { calls.push(['list', params]); return comments; },
  rest: { issues: {
    listComments: async () => ({ data: comments }),
    updateComment: async (p) => { calls.push(['update', p]); return { data: { id: p.comment_id } }; },
    createComment: async (p) => { calls.push(['create', p]); return { data: { id: 99 } }; },
  } },
};
const context = { repo: { owner: 'acme', repo: 'estate' }, payload: { pull_request: { number: 7 } } };
const core = { info: () => {}, setFailed: (m) => { throw new Error(m); } };
new AsyncFunction('require', 'github', 'context', 'core', script)(require, github, context, core)
  .then(() => console.log(JSON.stringify(calls)))
  .catch((e) => { console.error(e); process.exit(1); });
""",
        encoding="utf-8",
    )
    env = {**os.environ, **step["env"], "REPORT_PATH": str(tmp_path / "check.md")}
    done = subprocess.run(
        [node, str(harness), str(tmp_path / "script.js"), str(tmp_path / "comments.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_comment_script_updates_its_own_earlier_comment(gate, tmp_path: Path):
    report = f"## Policy check\n\nall good\n\n{COMMENT_MARKER}\n"
    comments = [
        {"id": 1, "user": {"type": "User"}, "body": f"quoting {COMMENT_MARKER}"},
        {"id": 2, "user": {"type": "Bot"}, "body": "another bot"},
        {"id": 3, "user": {"type": "Bot"}, "body": f"old report\n{COMMENT_MARKER}"},
    ]
    calls = run_comment_script(gate, tmp_path, comments, report)
    assert calls[0][0] == "list" and calls[0][1]["issue_number"] == 7
    assert calls[1:] == [
        ["update", {"owner": "acme", "repo": "estate", "comment_id": 3, "body": report}]
    ]


def test_comment_script_creates_a_comment_the_first_time(gate, tmp_path: Path):
    report = f"## Policy check\n\n{COMMENT_MARKER}\n"
    comments = [{"id": 1, "user": {"type": "User"}, "body": f"a person wrote {COMMENT_MARKER}"}]
    calls = run_comment_script(gate, tmp_path, comments, report)
    assert calls[1:] == [
        ["create", {"owner": "acme", "repo": "estate", "issue_number": 7, "body": report}]
    ]


def test_comment_script_keeps_the_marker_on_a_huge_report(gate, tmp_path: Path):
    report = "x" * 70_000 + f"\n{COMMENT_MARKER}\n"
    calls = run_comment_script(gate, tmp_path, [], report)
    body = calls[1][1]["body"]
    assert len(body) <= 65_536 and body.rstrip().endswith(COMMENT_MARKER)


# -- preview ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def preview() -> dict[str, Any]:
    return load(PREVIEW)


def test_preview_triggers_on_the_estates_code(preview):
    paths = set(preview["on"]["pull_request"]["paths"])
    assert {"stacks/**", "components/**", "policies/**", "estate/**", "__main__.py"} <= paths


def test_preview_runs_one_job_per_changed_stack(preview):
    changes, job = preview["jobs"]["changes"], preview["jobs"]["preview"]
    assert "matrix" in changes["outputs"]
    assert one_step_using(changes, "./.github/actions/stack-matrix")["with"]["changed-files-path"]
    assert job["needs"] == "changes"
    assert job["strategy"]["matrix"] == "${{ fromJSON(needs.changes.outputs.matrix) }}"
    assert "needs.changes.outputs.count != '0'" in job["if"]


def test_preview_uses_oidc_and_the_policy_pack(preview):
    job = preview["jobs"]["preview"]
    assert job["permissions"]["id-token"] == "write"
    credentials = one_step_using(job, "aws-actions/configure-aws-credentials")
    assert "${{ vars." in credentials["with"]["role-to-assume"]
    assert "aws-access-key-id" not in credentials["with"]
    pulumi = one_step_using(job, "pulumi/actions")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["stack-name"] == "${{ vars.PULUMI_ORG }}/${{ matrix.stack }}"
    assert pulumi["with"]["policyPacks"] == "policies"
    assert pulumi["with"]["comment-on-pr"] is True
    steps = job["steps"]
    assert steps.index(credentials) < steps.index(pulumi)
    assert any(s.get("run", "").strip() == "make venv" for s in steps[: steps.index(pulumi)])


# -- deploy -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deploy() -> dict[str, Any]:
    return load(DEPLOY)


def test_deploy_runs_on_pushes_to_main(deploy):
    assert deploy["on"]["push"]["branches"] == ["main"]


def test_deploy_puts_platform_stacks_before_bu_stacks(deploy):
    jobs = deploy["jobs"]
    platform, bu = jobs["platform"], jobs["bu"]
    assert "platform" in bu["needs"]
    assert "failure()" in bu["if"], "BU stacks must not deploy after a failed platform stack"
    plan_steps = {s["id"]: s for s in jobs["plan"]["steps"] if "id" in s}
    assert plan_steps["platform"]["with"]["kind"] == "platform"
    assert plan_steps["bu"]["with"]["kind"] == "bu"
    assert platform["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.platform) }}"
    assert bu["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.bu) }}"


@pytest.mark.parametrize("job_name", ["platform", "bu"])
def test_deploy_jobs_are_protected_serialised_and_capped(deploy, job_name: str):
    job = deploy["jobs"][job_name]
    assert job["environment"] == "${{ matrix.env }}"
    assert job["concurrency"]["group"] == "deploy-${{ matrix.stack }}"
    assert job["concurrency"]["cancel-in-progress"] is False
    assert "max-parallel" in job["strategy"]
    assert job["strategy"]["fail-fast"] is False
    assert job["permissions"]["id-token"] == "write"
    credentials = one_step_using(job, "aws-actions/configure-aws-credentials")
    assert "${{ vars." in credentials["with"]["role-to-assume"]
    pulumi = one_step_using(job, "pulumi/actions")
    assert pulumi["with"]["command"] == "up"
    assert pulumi["with"]["policyPacks"] == "policies"
    assert pulumi["with"]["stack-name"] == "${{ vars.PULUMI_ORG }}/${{ matrix.stack }}"


# -- the stack matrix script --------------------------------------------------------------------


def test_matrix_lists_every_stack_platform_first(stack_matrix):
    entries = stack_matrix.matrix(STACKS)
    names = [e["stack"] for e in entries]
    assert sorted(names) == sorted(p.name.split(".")[1] for p in STACKS.glob("Pulumi.*.yaml"))
    kinds = [e["kind"] for e in entries]
    assert kinds == sorted(kinds, key=lambda k: k != "platform")


def test_matrix_reads_stack_config_as_yaml_does(stack_matrix):
    for path in STACKS.glob("Pulumi.*.yaml"):
        config = yaml.safe_load(path.read_text(encoding="utf-8"))["config"]
        entry = stack_matrix.describe(path)
        assert entry == {
            "stack": path.name.split(".")[1],
            "kind": config["ai-estate:kind"],
            "env": config["ai-estate:environment"],
            "account": str(config["ai-estate:accountId"]),
            "region": config["aws:region"],
        }


def test_matrix_reader_handles_quotes_comments_and_nesting(stack_matrix, tmp_path: Path):
    path = tmp_path / "Pulumi.ops-staging.yaml"
    path.write_text(
        "# a comment\n"
        "config:\n"
        "  aws:region: 'eu-west-1'   # quoted\n"
        '  ai-estate:accountId: "333333333333"\n'
        "  ai-estate:environment: staging # trailing comment\n"
        "  ai-estate:featureStore:\n"
        "    ai-estate:kind: not-this-one\n"
        "encryptionsalt: v1:abc\n",
        encoding="utf-8",
    )
    assert stack_matrix.describe(path) == {
        "stack": "ops-staging",
        "kind": "bu",
        "env": "staging",
        "account": "333333333333",
        "region": "eu-west-1",
    }


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (["stacks/Pulumi.fraud-prod.yaml"], ["fraud-prod"]),
        (["stacks/Pulumi.fraud-prod.yaml", "README.md"], ["fraud-prod"]),
        (["README.md", "docs/policies.md", "tests/test_cli.py"], []),
        (["stacks/Pulumi.gone-prod.yaml"], []),
        (["components/storage.py"], "all"),
        (["policies/governance/storage.py"], "all"),
        (["estate/cli.py"], "all"),
        (["__main__.py"], "all"),
        (["pyproject.toml", "stacks/Pulumi.fraud-prod.yaml"], "all"),
    ],
)
def test_matrix_for_changed_paths(stack_matrix, changed: list[str], expected):
    names = [e["stack"] for e in stack_matrix.matrix(STACKS, changed)]
    if expected == "all":
        expected = [e["stack"] for e in stack_matrix.matrix(STACKS)]
    assert names == expected


def test_matrix_kinds_split_the_stacks(stack_matrix):
    platform = stack_matrix.matrix(STACKS, kind="platform")
    bu = stack_matrix.matrix(STACKS, kind="bu")
    assert platform and all(e["kind"] == "platform" for e in platform)
    assert bu and all(e["kind"] == "bu" for e in bu)
    assert len(platform) + len(bu) == len(stack_matrix.matrix(STACKS))


def test_max_parallel_is_the_strictest_cap_of_the_environments_deployed(stack_matrix):
    caps = stack_matrix.parse_caps("dev=4,staging=3,prod=2")
    assert stack_matrix.max_parallel([{"env": "dev"}], caps) == 4
    assert stack_matrix.max_parallel([{"env": "dev"}, {"env": "prod"}], caps) == 2
    assert stack_matrix.max_parallel([], caps) == 4
    with pytest.raises(ValueError, match="ENV=N"):
        stack_matrix.parse_caps("prod=0")


def test_matrix_cli_writes_github_outputs(tmp_path: Path):
    changed = tmp_path / "changed.txt"
    changed.write_text("stacks/Pulumi.fraud-prod.yaml\n", encoding="utf-8")
    output = tmp_path / "github_output"
    done = subprocess.run(
        [
            sys.executable,
            str(MATRIX_SCRIPT),
            "--changed",
            str(changed),
            "--github-output",
            str(output),
            "--max-parallel",
            "dev=4,prod=1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = dict(line.split("=", 1) for line in output.read_text(encoding="utf-8").splitlines())
    matrix = json.loads(lines["matrix"])
    assert [e["stack"] for e in matrix["include"]] == ["fraud-prod"]
    assert lines["count"] == "1" and lines["max-parallel"] == "1"
    assert json.loads(done.stdout) == matrix
