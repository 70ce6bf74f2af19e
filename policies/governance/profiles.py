"""Enforcement profiles: how strict the pack is for the stack it is judging.

The Pulumi CLI starts one pack process per stack and hands it the stack's configuration in
`PULUMI_CONFIG` (a JSON object of `"namespace:key": "string value"`). The estate's stacks declare
`ai-estate:environment` (dev | staging | prod); the profile of that environment picks each rule's
enforcement level and settings, so a dev stack is advised where a prod stack is blocked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .catalog import ENVIRONMENTS, Enforcement, Rule

ENVIRONMENT_KEYS: tuple[str, ...] = ("ai-estate:environment", "ai-estate:config:environment")
"""Where a stack declares its environment (the second is the CLI's legacy key spelling)."""

STRICTEST = "prod"
"""The environment assumed when a stack does not say (or says something we do not know).

The pack is also run against programs that are not ours — a team's hand-written stack, a
vendored example — which carry no `ai-estate:` config at all. Failing open there would let the
least-governed programs get the weakest checks, so an unknown environment is judged as prod.
"""


CONFIG_FILE_VARIABLE = "AI_ESTATE_PULUMI_CONFIG_FILE"
"""Where `estate check` puts the stack config instead: a file holding what `PULUMI_CONFIG`
would (an environment variable is capped by the OS, ~128 KB per string on Linux)."""


def stack_config(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The stack's config as the CLI passed it in `PULUMI_CONFIG` ({} when absent or garbled)."""
    env = os.environ if environ is None else environ
    raw = env.get("PULUMI_CONFIG") or ""
    if not raw.strip() and env.get(CONFIG_FILE_VARIABLE):
        try:
            with open(env[CONFIG_FILE_VARIABLE], encoding="utf-8") as handle:
                raw = handle.read()
        except OSError:
            return {}
    if not raw.strip():
        return {}
    try:
        config = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(config, dict):
        return {}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


def environment_from_config(config: Mapping[str, Any]) -> str:
    """The stack's environment from its config; `STRICTEST` when missing or unknown."""
    for key in ENVIRONMENT_KEYS:
        value = config.get(key)
        if isinstance(value, str):
            env = value.strip().strip('"').lower()
            if env in ENVIRONMENTS:
                return env
    return STRICTEST


@dataclass(frozen=True)
class Profile:
    """The enforcement level and settings of every rule for one environment."""

    environment: str

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ValueError(f"unknown environment {self.environment!r}; use one of {ENVIRONMENTS}")

    def enforcement(self, rule: Rule) -> Enforcement:
        """How a violation of `rule` is treated in this environment."""
        return rule.enforcement[self.environment]

    def settings(self, rule: Rule) -> dict[str, Any]:
        """The rule's settings in this environment (before any policy-config override)."""
        return {s.name: s.defaults[self.environment] for s in rule.settings}


def profile_for(config: Mapping[str, Any]) -> Profile:
    """The profile of a stack with this config (`"ns:key"` -> string value)."""
    return Profile(environment_from_config(config))


def current_profile(environ: Mapping[str, str] | None = None) -> Profile:
    """The profile of the stack this pack process was started for."""
    return profile_for(stack_config(environ))
