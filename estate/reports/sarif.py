"""SARIF 2.1.0 for GitHub code scanning: one rule per policy, one result per finding, stable fingerprints."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from estate.offline.model import Finding, PolicyInfo, StackResult
from estate.reports.common import (
    ENFORCEMENT_LEVEL,
    ENFORCEMENT_STRICTNESS,
    FINGERPRINT_KEY,
    INFORMATION_URI,
    PROJECT_FILE,
    SARIF_SCHEMA_URI,
    SARIF_VERSION,
    SECURITY_SEVERITY,
    TOOL_NAME,
    _all_findings,
    _findings,
    _jsonable,
    _ordered,
    _resource_label,
    _waiver_justification,
)


def _artifact_uri(source: str) -> str:
    """A repo-relative path as a relative URI reference (forward slashes, percent-encoded).

    A result without a source still needs a file for code scanning to show it against: the
    project file at the repository root is where every stack starts.
    """
    path = source.replace("\\", "/") or PROJECT_FILE
    while path.startswith("./"):
        path = path[2:]
    return quote(path, safe="/")


def _physical_location(source: str) -> dict[str, Any]:
    # Findings point at a whole stack (its config file or program), never a line: line 1 is what
    # code scanning needs to anchor an alert to the file.
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": _artifact_uri(source)},
            "region": {"startLine": 1},
        }
    }


def _rule_catalogue(results: Sequence[StackResult]) -> dict[str, PolicyInfo]:
    """Every policy any stack ran, by name; the strictest enforcement seen wins.

    A policy can be advisory in dev and mandatory in prod: its rule's default level should be
    the one that blocks. Findings from policies no stack declared (the runner's own, such as an
    expired waiver) still need a rule, so one is made from the finding.
    """
    catalogue: dict[str, PolicyInfo] = {}
    for result in _ordered(results):
        for policy in result.policies:
            known = catalogue.get(policy.name)
            if known is None:
                catalogue[policy.name] = replace(policy, tags=list(policy.tags))
            elif ENFORCEMENT_STRICTNESS.get(policy.enforcement, 0) > ENFORCEMENT_STRICTNESS.get(
                known.enforcement, 0
            ):
                known.enforcement = policy.enforcement
    for finding in _all_findings(results):
        if finding.policy not in catalogue:
            catalogue[finding.policy] = PolicyInfo(
                name=finding.policy,
                description=finding.description,
                enforcement=finding.enforcement,
                severity=finding.severity,
            )
    return dict(sorted(catalogue.items()))


def _sarif_rule(policy: PolicyInfo) -> dict[str, Any]:
    description = policy.description.strip() or policy.name
    short = description.split("\n", 1)[0]
    enforcement = policy.enforcement
    configuration: dict[str, Any] = {
        "level": "none" if enforcement == "disabled" else ENFORCEMENT_LEVEL.get(enforcement, "note")
    }
    if enforcement == "disabled":
        configuration["enabled"] = False
    tags = list(dict.fromkeys(policy.tags))
    properties: dict[str, Any] = {"enforcement": enforcement, "kind": policy.kind}
    if policy.severity:
        properties["severity"] = policy.severity
    if policy.severity in SECURITY_SEVERITY:
        properties["security-severity"] = SECURITY_SEVERITY[policy.severity]
        # GitHub only reads security-severity from rules tagged "security".
        if "security" not in tags:
            tags.append("security")
        properties["precision"] = "very-high"
    properties["tags"] = tags
    rule: dict[str, Any] = {
        "id": policy.name,
        "shortDescription": {"text": short},
        "fullDescription": {"text": description},
        "help": {"text": policy.remediation.strip() or description},
        "defaultConfiguration": configuration,
        "properties": properties,
    }
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*://[!-~]+", policy.url):
        rule["helpUri"] = policy.url
    return rule


def finding_fingerprint(finding: Finding) -> str:
    """Stable across runs and message rewording: what code scanning uses to track one alert."""
    key = f"{finding.stack}|{finding.policy}|{finding.urn}"
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _sarif_result(finding: Finding, source: str, rule_index: int) -> dict[str, Any]:
    resource = _resource_label(finding)
    where = f"{resource} ({finding.resource_type})" if finding.resource_type else resource
    result: dict[str, Any] = {
        "ruleId": finding.policy,
        "ruleIndex": rule_index,
        "level": ENFORCEMENT_LEVEL.get(finding.enforcement, "note"),
        "message": {"text": f"[{finding.stack}] {where}: {finding.message}"},
        "locations": [_physical_location(source)],
        "partialFingerprints": {FINGERPRINT_KEY: finding_fingerprint(finding)},
        "properties": {
            key: value
            for key, value in (
                ("stack", finding.stack),
                ("enforcement", finding.enforcement),
                ("severity", finding.severity),
                ("blocking", finding.blocking),
                ("resourceType", finding.resource_type),
                ("pack", finding.pack),
            )
            if value != ""
        },
    }
    if finding.urn:
        result["locations"][0]["logicalLocations"] = [
            {"fullyQualifiedName": finding.urn, "name": resource, "kind": "resource"}
        ]
    if finding.waived_by is not None:
        waiver = finding.waived_by
        suppression: dict[str, Any] = {
            "kind": "external",
            "status": "accepted",
            "justification": _waiver_justification(waiver),
        }
        if waiver:
            suppression["properties"] = _jsonable(waiver)
        result["suppressions"] = [suppression]
    return result


def to_sarif(
    results: list[StackResult], *, tool_version: str, information_uri: str = INFORMATION_URI
) -> dict[str, Any]:
    """A SARIF 2.1.0 log for GitHub code scanning (`upload-sarif`) and other SARIF viewers."""
    ordered = _ordered(results)
    catalogue = _rule_catalogue(ordered)
    rule_index = {name: index for index, name in enumerate(catalogue)}
    sarif_results = [
        _sarif_result(f, r.source, rule_index[f.policy]) for r in ordered for f in _findings(r)
    ]
    notifications = [
        {
            "level": "error",
            "message": {"text": f"[{r.stack}] could not be checked: {r.error}"},
            "locations": [_physical_location(r.source)],
            "properties": {"stack": r.stack},
        }
        for r in ordered
        if r.error
    ]
    invocation: dict[str, Any] = {"executionSuccessful": not notifications}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": tool_version,
                        "informationUri": information_uri,
                        "rules": [_sarif_rule(p) for p in catalogue.values()],
                    }
                },
                "invocations": [invocation],
                "results": sarif_results,
            }
        ],
    }
