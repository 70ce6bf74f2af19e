"""Writing the requested reports to files (UTF-8, parent folders created)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from estate.offline.model import StackResult
from estate.reports.json_report import to_json
from estate.reports.junit import to_junit
from estate.reports.markdown import to_markdown
from estate.reports.sarif import to_sarif


def write_reports(
    results: list[StackResult],
    *,
    json_path: str | Path | None = None,
    sarif_path: str | Path | None = None,
    junit_path: str | Path | None = None,
    markdown_path: str | Path | None = None,
    tool_version: str,
    skipped: dict[str, str] | None = None,
) -> list[Path]:
    """Write each requested report (UTF-8, parent folders created); returns the paths written."""

    def dump(data: dict[str, Any]) -> str:
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    writers = [
        (json_path, lambda: dump({**to_json(results), "skipped": skipped_json(skipped)})),
        (sarif_path, lambda: dump(to_sarif(results, tool_version=tool_version))),
        (junit_path, lambda: to_junit(results)),
        (markdown_path, lambda: to_markdown(results) + skipped_markdown(skipped)),
    ]
    written: list[Path] = []
    for destination, render in writers:
        if destination is None:
            continue
        path = Path(destination)
        path.parent.mkdir(parents=True, exist_ok=True)
        # A lone surrogate (text mis-decoded upstream) must not lose the whole report.
        path.write_bytes(render().encode("utf-8", "replace"))
        written.append(path)
    return written


def skipped_json(skipped: dict[str, str] | None) -> list[dict[str, str]]:
    """The stacks `--affected` or `--shard` left out, each with the reason."""
    return [{"stack": k, "reason": v} for k, v in sorted((skipped or {}).items())]


def skipped_markdown(skipped: dict[str, str] | None) -> str:
    """A collapsed list of the stacks left out, for the PR comment."""
    if not skipped:
        return ""
    rows = "".join(f"- `{k}`: {v}\n" for k, v in sorted(skipped.items()))
    return f"\n<details><summary>{len(skipped)} stack(s) skipped</summary>\n\n{rows}\n</details>\n"
