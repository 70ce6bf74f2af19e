"""Policy-pack tests: make `governance` importable exactly as the pack process sees it.

The Pulumi CLI runs `policies/__main__.py` with `policies/` first on `sys.path`, so the rules
are the top-level package `governance`; the repo root is added for `estate` and `components`.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
POLICIES_DIR = ROOT / "policies"

for path in (str(POLICIES_DIR), str(ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)
