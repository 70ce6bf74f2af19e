"""Benchmark `estate check --all`: wall time, peak memory, time per resource.

Scenarios: the shipped stacks, then 20 and 100 generated BU stacks (plus the two platform
stacks they reference) in a scratch copy of the project. Each scenario runs the real CLI in a
subprocess, exactly as a pipeline would, while a sampler sums the resident memory of the CLI and
all its descendants (workers and policy-pack processes) every 50 ms.

    .venv/bin/python benchmarks/bench_check.py                 # print the table
    .venv/bin/python benchmarks/bench_check.py --write benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUSINESS_UNITS = ("risk", "claims", "pricing", "growth", "support", "supply", "search", "ads")


def generate_bu_stack(index: int) -> tuple[str, str]:
    """A realistic BU stack: two online tables and two feature groups, env alternating."""
    bu = f"{BUSINESS_UNITS[index % len(BUSINESS_UNITS)]}{index:03d}"
    env = "prod" if index % 2 else "dev"
    account = "222222222222" if env == "prod" else "111111111111"
    # prod pins the node AMI release (the schema refuses `latest` there)
    ami = "\n      amiVersion: v20251120" if env == "prod" else ""
    # prod model families are owned, retrained and carded, and prod backups leave the region
    prod = (
        f"""
  ai-estate:mlops:
    families:
      scoring:
        owners: {{business: {bu}-lead@example.com, technical: {bu}@example.com, risk: risk@example.com}}
        retraining: {{schedule: rate(7 days), image: "scoring:trainer-1.0.0"}}
        modelCard: {{intendedUse: Score entities for review., riskRating: low, status: Approved}}
  ai-estate:backup:
    drRegion: us-west-2"""
        if env == "prod"
        else ""
    )
    text = f"""config:
  aws:region: us-east-1
  ai-estate:kind: bu
  ai-estate:businessUnit: {bu}
  ai-estate:environment: {env}
  ai-estate:owner: {bu}@example.com
  ai-estate:costCenter: CC-{5000 + index}
  ai-estate:dataClassification: confidential
  ai-estate:accountId: "{account}"
  ai-estate:platformStack: acme/ai-estate/platform-{env}
  ai-estate:budget:
    monthlyLimitUsd: 20000
  ai-estate:gpuPools:
    - name: train-a10g
      provisioner: karpenter
      instanceTypes: [g5.xlarge, g5.2xlarge]
      capacityType: spot
      maxSize: 4{ami}
  ai-estate:modelRegistry:
    modelFamilies: [scoring]
  ai-estate:featureStore:
    onlineTables:
      - {{name: profiles, hashKey: entity_id}}
      - {{name: sessions, hashKey: session_id, rangeKey: ts, ttlAttribute: expires_at}}
    featureGroups:
      - name: events
        recordIdentifier: event_id
        eventTime: event_time
        features:
          - {{name: event_id, type: String}}
          - {{name: event_time, type: Fractional}}
          - {{name: value, type: Fractional}}
      - name: entities
        recordIdentifier: entity_id
        eventTime: event_time
        online: false
        features:
          - {{name: entity_id, type: String}}
          - {{name: event_time, type: String}}
          - {{name: score, type: Fractional}}{prod}
"""
    return f"{bu}-{env}", text


def scratch_project(bu_count: int) -> Path:
    """A copy of the project whose stacks/ holds the platform stacks plus `bu_count` BUs."""
    base = Path(tempfile.mkdtemp(prefix=f"estate-bench-{bu_count}-"))
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, base / name)
    for name in ("components", "estate"):
        (base / name).symlink_to(ROOT / name)
    stacks = base / "stacks"
    stacks.mkdir()
    for platform_stack in ("platform-dev", "platform-prod"):
        shutil.copy(ROOT / "stacks" / f"Pulumi.{platform_stack}.yaml", stacks)
    for i in range(bu_count):
        name, text = generate_bu_stack(i)
        (stacks / f"Pulumi.{name}.yaml").write_text(text)
    return base


def _tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ppid = int(fields[1])
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            children.setdefault(ppid, []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack.extend(children.get(p, []))
    return total


def run_scenario(label: str, project: Path | None) -> dict:
    report = Path(tempfile.mkdtemp()) / "check.json"
    cmd = [sys.executable, "-m", "estate", "check", "--all", "--quiet", "--json", str(report)]
    if project is not None:
        cmd += ["--project", str(project)]
    peak = 0
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_bytes(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    data = json.loads(report.read_text())
    summary = data["summary"]
    stacks = summary.get("stacks", len(data["stacks"]))
    resources = summary.get("resources") or sum(s.get("resources", 0) for s in data["stacks"])
    return {
        "scenario": label,
        "exit": proc.returncode,
        "stacks": stacks,
        "resources": resources,
        "wall_s": round(wall, 2),
        "peak_rss_mib": round(peak / 2**20),
        "ms_per_resource": round(1000 * wall / max(resources, 1), 2),
        "blocking": summary.get("blocking"),
        "verdict": stdout.strip().splitlines()[-1] if stdout.strip() else stderr.strip()[-200:],
    }


def stack_economics() -> list[dict]:
    """Idle / typical / peak monthly cost and deploy critical path of each shipped stack, from
    `estate preview --format json` (the same numbers a PR reviewer sees)."""
    names = subprocess.run(
        [sys.executable, "-m", "estate", "stacks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    rows = []
    for name in names[::4]:
        done = subprocess.run(
            [sys.executable, "-m", "estate", "preview", "--stack", name, "--format", "json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        data = json.loads(done.stdout)
        chain = data["criticalPath"]
        longest = (
            max(chain, key=lambda step: step["minutes"]) if chain else {"type": "-", "minutes": 0}
        )
        rows.append(
            {
                "stack": name,
                "resources": len(data["resources"]),
                "idle": data["cost"]["idle"],
                "typical": data["cost"]["typical"],
                "peak": data["cost"]["peak"],
                "critical_path_min": data["criticalPathMinutes"],
                "steps": len(chain),
                "longest": f"{longest['type']} ({longest['minutes']} min)",
            }
        )
    return rows


def economics_markdown(rows: list[dict]) -> str:
    lines = [
        "",
        "## Cost and deploy time of the shipped stacks",
        "",
        "From `estate preview --stack S --format json` (prices: estate/data/prices.json, create",
        "times: estate/data/create_times.json). Monthly USD; idle = pools at min, typical = desired",
        "(Karpenter: a fraction of max), peak = every pool at max.",
        "",
        "| stack | resources | idle | typical | peak | critical path (min) | steps | longest step |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['stack']} | {r['resources']} | {r['idle']:,.0f} | {r['typical']:,.0f} | "
            f"{r['peak']:,.0f} | {r['critical_path_min']} | {r['steps']} | {r['longest']} |"
        )
    return "\n".join(lines) + "\n"


def markdown(rows: list[dict]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "`estate check --all` end to end (render under the Pulumi mock runtime, the real policy",
        "pack over the Analyzer protocol, reports), measured by `benchmarks/bench_check.py`:",
        "",
        "    make bench      # or: .venv/bin/python benchmarks/bench_check.py --write benchmarks/RESULTS.md",
        "",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}.",
        "Peak memory is the summed resident memory of the CLI, its workers and the policy-pack",
        "processes, sampled every 50 ms. Targets (2 cores): shipped stacks < 15 s, 100 BU stacks",
        "< 120 s, peak < 1.5 GiB.",
        "",
        "| scenario | stacks | resources | wall (s) | peak RSS (MiB) | ms / resource | exit | blocking |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scenario']} | {r['stacks']} | {r['resources']} | {r['wall_s']} | "
            f"{r['peak_rss_mib']} | {r['ms_per_resource']} | {r['exit']} | {r['blocking']} |"
        )
    return "\n".join(lines) + "\n"


def _timed(cmd: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    return round(time.perf_counter() - started, 2), done.returncode


def ratios(bu_count: int = 100, jobs: int = 2) -> dict:
    """In one run: one BU stack, `--all`, and `--affected --base HEAD` after touching one BU
    file, in a git copy of a `bu_count`-BU project. Ratios to the single-stack check."""
    project = scratch_project(bu_count)
    try:
        git = ["git", "-C", str(project), "-c", "user.name=b", "-c", "user.email=b@example.com"]
        subprocess.run([*git, "init", "-q"], check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "base"], check=True)
        estate = [sys.executable, "-m", "estate", "check", "--project", str(project), "--quiet"]
        estate += ["--jobs", str(jobs)]
        one = generate_bu_stack(1)[0]
        single, single_exit = _timed([*estate, "--stack", one])
        every, every_exit = _timed([*estate, "--all"])
        touched = project / "stacks" / f"Pulumi.{one}.yaml"
        touched.write_text(touched.read_text() + "# touched\n")
        affected, affected_exit = _timed([*estate, "--all", "--affected", "--base", "HEAD"])
    finally:
        shutil.rmtree(project, ignore_errors=True)
    return {
        "stack": one,
        "single_s": single,
        "all_s": every,
        "affected_s": affected,
        "all_ratio": round(every / single, 2),
        "affected_ratio": round(affected / single, 2),
        "exits": [single_exit, every_exit, affected_exit],
        "load": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="write the results as markdown here")
    parser.add_argument("--sizes", default="20,100", help="generated BU stack counts")
    parser.add_argument(
        "--ratios", action="store_true", help="only the single / --all / --affected ratios"
    )
    args = parser.parse_args()
    if args.ratios:
        print(json.dumps(ratios()))
        return
    rows = [run_scenario("shipped stacks", None)]
    print(json.dumps(rows[-1]))
    for size in [int(s) for s in args.sizes.split(",") if s]:
        project = scratch_project(size)
        try:
            rows.append(run_scenario(f"{size} generated BU stacks + 2 platform", project))
        finally:
            shutil.rmtree(project, ignore_errors=True)
        print(json.dumps(rows[-1]))
    text = markdown(rows) + economics_markdown(stack_economics())
    if args.write:
        args.write.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
