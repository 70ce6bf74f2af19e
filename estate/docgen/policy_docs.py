"""Generate `docs/policies.md` from the policy pack's rules, so the reference never drifts.

.venv/bin/python -m estate.docgen.policy_docs            # rewrite docs/policies.md
.venv/bin/python -m estate.docgen.policy_docs --check    # exit 1 if it is stale (the test suite does this)

The rules are read the way the pack runs them: `policies/` goes first on `sys.path` and the
top-level `governance` package is imported, so every rule in `governance.RULES` is documented —
rules added later included, with nothing listed here by hand.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from estate.reports import md_cell

ROOT = Path(__file__).resolve().parents[2]
POLICIES_DIR = ROOT / "policies"
DOC = ROOT / "docs" / "policies.md"

ENVIRONMENTS: tuple[str, ...] = ("dev", "staging", "prod")
"""Column order; the catalog's own tuple is used when the pack defines one."""

_CELL_LIMIT = 100_000
"""Never truncate reference text (md_cell truncates PR-comment cells by default)."""

COLUMNS = (
    "id",
    "title",
    "severity",
    "dev",
    "staging",
    "prod",
    "what it checks",
    "how to fix",
    "frameworks",
    "settings (default per environment)",
)


def load_governance(policies_dir: Path = POLICIES_DIR) -> Any:
    """The pack's `governance` package, imported as the pack process imports it."""
    path = str(policies_dir)
    if path not in sys.path:
        sys.path.insert(0, path)
    return importlib.import_module("governance")


def load_rules(policies_dir: Path = POLICIES_DIR) -> tuple[Any, ...]:
    """Every policy of the pack in the order it runs: the rules, then the waiver policies."""
    governance = load_governance(policies_dir)
    try:
        waiver_rules = importlib.import_module("governance.waiver_rules").RULES
    except (ImportError, AttributeError):
        waiver_rules = ()
    return (*governance.RULES, *waiver_rules)


def _waivers_doc() -> str:
    """How waivers work (the `governance.waivers` docstring), under the waiver policies."""
    try:
        doc = importlib.import_module("governance.waivers").__doc__ or ""
    except ImportError:
        return ""
    return doc.strip()


def _cell(value: Any) -> str:
    return md_cell(" ".join(str(value).split()), limit=_CELL_LIMIT)


def _code(value: str) -> str:
    """An identifier as a code span (backticks inside would end it, so they are dropped)."""
    return f"`{value.replace('`', '')}`" if value else "—"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(", ", ": "), sort_keys=True)


def _environments() -> tuple[str, ...]:
    try:
        catalog = importlib.import_module("governance.catalog")
    except ImportError:
        return ENVIRONMENTS
    return tuple(getattr(catalog, "ENVIRONMENTS", ENVIRONMENTS))


def _strictest() -> str:
    """The environment a stack that names none is judged as (`profiles.STRICTEST`)."""
    try:
        profiles = importlib.import_module("governance.profiles")
    except ImportError:
        return "prod"
    return str(getattr(profiles, "STRICTEST", "prod"))


def config_example(rules: Sequence[Any]) -> str:
    """A `--policy-pack-config` example built from a real rule (one with a setting if any)."""
    tunable = [r for r in rules if getattr(r, "settings", ())]
    if tunable:
        rule, setting = tunable[0], tunable[0].settings[0]
        value = setting.defaults.get("prod")
        return _json({rule.id: {"enforcementLevel": "mandatory", setting.name: value}})
    return _json({rules[0].id: "advisory"}) if rules else "{}"


def domains(rules: Iterable[Any]) -> dict[str, list[Any]]:
    """Domain -> its rules, domains in order of first appearance (`other` for none)."""
    grouped: dict[str, list[Any]] = {}
    for rule in rules:
        grouped.setdefault(getattr(rule, "domain", "") or "other", []).append(rule)
    return grouped


def frameworks_cell(rule: Any) -> str:
    """`CIS AWS Foundations 1.4.0: 2.1.1<br>Checkov: CKV_AWS_145, CKV_AWS_19`."""
    by_framework: dict[str, list[str]] = {}
    for ref in getattr(rule, "frameworks", ()):
        name = f"{ref.framework} {ref.version}".strip() if ref.version else ref.framework
        by_framework.setdefault(name, []).append(ref.control)
    if not by_framework:
        return "—"
    return "<br>".join(
        f"{md_cell(name)}: {', '.join(_code(c) for c in controls)}"
        for name, controls in by_framework.items()
    )


def settings_cell(rule: Any, environments: Sequence[str]) -> str:
    """Each setting: its name, what it means, and its default in each environment."""
    parts = []
    for setting in getattr(rule, "settings", ()):
        defaults = [setting.defaults.get(env) for env in environments]
        if all(d == defaults[0] for d in defaults):
            values = f"{_code(_json(defaults[0]))} in every environment"
        else:
            values = "; ".join(
                f"{env} {_code(_json(d))}" for env, d in zip(environments, defaults, strict=True)
            )
        parts.append(f"{_code(setting.name)}: {_cell(setting.description)} — {values}")
    return "<br>".join(parts) if parts else "—"


def rule_row(rule: Any, environments: Sequence[str]) -> str:
    cells = [
        _code(rule.id),
        _cell(rule.title),
        _cell(rule.severity),
        *(_cell(rule.enforcement.get(env, "—")) for env in environments),
        _cell(rule.description),
        _cell(rule.remediation),
        frameworks_cell(rule),
        settings_cell(rule, environments),
    ]
    return "| " + " | ".join(cells) + " |"


def _domain_summary(domain: str, rules: Sequence[Any]) -> str:
    """The first line of the domain module's docstring, when the domain has its own module."""
    module = sys.modules.get(getattr(rules[0].validate, "__module__", "") or "")
    if module is None or module.__name__.rsplit(".", 1)[-1] != domain or not module.__doc__:
        return ""
    return " ".join(module.__doc__.strip().split("\n\n", 1)[0].split())


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def render(rules: Sequence[Any] | None = None) -> str:
    """The whole reference, deterministic (no dates), for these rules (default: the pack's)."""
    rules = load_rules() if rules is None else tuple(rules)
    environments = _environments()
    grouped = domains(rules)
    header = [*COLUMNS[:3], *environments, *COLUMNS[6:]]
    lines = [
        "# Policy reference",
        "",
        "Generated from the rules in `policies/governance` by `python -m estate.docgen.policy_docs`; "
        "do not edit by hand (a test fails when this file is stale).",
        "",
        f"The pack has {_plural(len(rules), 'rule')} in {_plural(len(grouped), 'domain')}. "
        "Each stack is judged with the profile of its environment (`ai-estate:environment`; a "
        f"stack that names none, or an unknown one, is judged as {_strictest()}): **mandatory** "
        "blocks the "
        "update, **advisory** reports without blocking, **disabled** skips the rule. "
        "`pulumi preview/up --policy-pack policies` and `estate check` run the same pack.",
        "",
        "The frameworks column names the public controls a rule implements. Checkov ids are "
        "checked against a recorded Checkov snapshot (`benchmarks/scanner_counts.json`); AWS "
        "Security Hub and CIS ids against their documentation, recorded with the title and "
        "source of each in `benchmarks/framework_ids.json` (tests fail when a rule cites an id "
        "that is not there).",
        "",
        "Override a rule's enforcement or settings with `--policy-pack-config FILE` (the same "
        "JSON for the Pulumi CLI and `estate check`); keys are rule ids, values a level or an "
        "object of `enforcementLevel` and settings:",
        "",
        "```json",
        config_example(rules),
        "```",
        "",
        "| domain | rules |",
        "|---|---|",
    ]
    lines += [f"| [{domain}](#{domain}) | {len(members)} |" for domain, members in grouped.items()]
    for domain, members in grouped.items():
        lines += ["", f"## {domain}", ""]
        summary = _domain_summary(domain, members)
        if summary:
            lines += [md_cell(summary, limit=_CELL_LIMIT).replace("<br>", " "), ""]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += [rule_row(rule, environments) for rule in members]
        notes = [r for r in members if getattr(r, "rationale", "")]
        if notes:
            lines += ["", "Why:", ""]
            lines += [f"- {_code(r.id)}: {_cell(r.rationale)}" for r in notes]
        if domain == "waivers" and _waivers_doc():
            lines += ["", _waivers_doc()]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m estate.docgen.policy_docs",
        description="Write the policy reference (docs/policies.md) from the pack's rules.",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--output", type=Path, default=DOC, help=f"default: {DOC}")
    args = parser.parse_args(argv)
    text = render()
    output: Path = args.output
    if args.check:
        current = output.read_text(encoding="utf-8") if output.is_file() else ""
        if current != text:
            print(f"{output}: stale; run `python -m estate.docgen.policy_docs`", file=sys.stderr)
            return 1
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
