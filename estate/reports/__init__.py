"""Report writers for `estate check` and `estate preview`: JSON, SARIF, JUnit, markdown, terminal.

One module per format (`json_report`, `sarif`, `junit`, `markdown`, `terminal`, `inventory_tree`),
what they share in `common`, and `files.write_reports`; this package re-exports the public names.

Every writer is a pure function of the `StackResult` list (or an `Inventory`), so the formats are
tested by building those dataclasses by hand, without Pulumi. The writers share one ordering
(stacks by name; findings blocking first, then advisories, then waived, each by severity, policy
and resource) so that two runs over the same estate produce byte-identical files.

Text that comes from policies and programs is untrusted as far as the formats go: it may hold
pipes, newlines, markup or control characters. Each writer makes it safe for its own format
(XML 1.0 forbids most control characters, a markdown table cell must not hold a raw `|` or a
newline, rich must not read `[...]` as markup) rather than trusting the producer.
"""

from __future__ import annotations

from estate.reports.common import (
    ENFORCEMENT_LEVEL,
    ENFORCEMENT_STRICTNESS,
    FINGERPRINT_KEY,
    GITHUB_COMMENT_LIMIT,
    INFORMATION_URI,
    PROJECT_FILE,
    SARIF_SCHEMA_URI,
    SARIF_VERSION,
    SECURITY_SEVERITY,
    SEVERITY_ORDER,
    TOOL_NAME,
    passed,
    summarize,
)
from estate.reports.files import write_reports
from estate.reports.inventory_tree import STACK_TYPE, inventory_tree, render_inventory_tree
from estate.reports.json_report import to_json
from estate.reports.junit import to_junit
from estate.reports.markdown import COMMENT_MARKER, md_cell, to_markdown
from estate.reports.sarif import finding_fingerprint, to_sarif
from estate.reports.terminal import render_table

__all__ = [
    "COMMENT_MARKER",
    "ENFORCEMENT_LEVEL",
    "ENFORCEMENT_STRICTNESS",
    "FINGERPRINT_KEY",
    "GITHUB_COMMENT_LIMIT",
    "INFORMATION_URI",
    "PROJECT_FILE",
    "SARIF_SCHEMA_URI",
    "SARIF_VERSION",
    "SECURITY_SEVERITY",
    "SEVERITY_ORDER",
    "STACK_TYPE",
    "TOOL_NAME",
    "finding_fingerprint",
    "inventory_tree",
    "md_cell",
    "passed",
    "render_inventory_tree",
    "render_table",
    "summarize",
    "to_json",
    "to_junit",
    "to_markdown",
    "to_sarif",
    "write_reports",
]
