"""`estate report --html` in a real browser: headless Chromium (Debian `chromium` and
`chromium-driver`) driven by Selenium loads the report of the shipped stacks; the assertions
read the DOM the browser laid out: every chart is there, has a size, and has marks with a
size; the numbers the cost charts draw are the cost model's; nothing is fetched. A screenshot
is kept under `out/test-artifacts/` (and, with `ESTATE_UPDATE_SCREENSHOT=1`, copied to
`docs/img/report.png` for the README: `make screenshot`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from estate.analysis.cost import cost_for
from tests.conftest import ROOT, SHIPPED_STACKS, _render

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,2400",
)
ARTIFACTS = ROOT / "out" / "test-artifacts"
README_SCREENSHOT = ROOT / "docs" / "img" / "report.png"
INSTALL = (
    "headless Chromium is needed for this test: install it with "
    "`sudo apt-get install -y chromium chromium-driver` (Debian/Ubuntu; `.ci/run` does this)"
)


def _executable(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or (
            f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
        )
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "estate", "report", "--html", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = _executable("chromium", "chromium-browser")
    driver_path = _executable("chromedriver")
    if chromium is None or driver_path is None:
        pytest.fail(INSTALL)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


CHART_FACTS = """
return Array.from(document.querySelectorAll('svg.chart')).map(svg => {
  const box = svg.getBoundingClientRect();
  const section = svg.closest('section');
  const marks = Array.from(svg.querySelectorAll('.mark')).map(m => {
    const b = m.getBBox();
    return {tag: m.tagName, w: b.width, h: b.height, value: parseFloat(m.dataset.value)};
  });
  return {kind: svg.dataset.chart, stack: section.dataset.stack || null,
          width: box.width, height: box.height, marks: marks};
});
"""


@pytest.fixture(scope="module")
def charts(browser, report) -> list[dict[str, Any]]:
    browser.get(report.as_uri())
    return browser.execute_script(CHART_FACTS)


def test_every_chart_is_drawn_with_visible_marks(charts):
    assert charts
    for chart in charts:
        where = f"{chart['kind']} chart of {chart['stack'] or 'the estate'}"
        assert chart["width"] > 100 and chart["height"] > 20, where
        visible = [m for m in chart["marks"] if max(m["w"], m["h"]) > 0 and m["w"] + m["h"] > 2]
        assert visible, f"{where} has no visible marks"


def test_each_stack_has_its_charts_and_the_estate_its_own(charts):
    kinds: dict[str | None, set[str]] = {}
    for chart in charts:
        kinds.setdefault(chart["stack"], set()).add(chart["kind"])
    assert kinds[None] == {"graph", "gpu-capacity", "gpu-budget"}
    for stack in SHIPPED_STACKS:
        expected = {"cost", "critical-path"}
        if not stack.startswith("platform-"):
            expected.add("readiness")
        assert kinds[stack] == expected, stack


def test_cost_charts_draw_the_cost_model(charts):
    for chart in charts:
        if chart["kind"] != "cost":
            continue
        estimate = cost_for(_render(chart["stack"]))
        drawn = sum(m["value"] for m in chart["marks"])
        expected = estimate["idle"] + estimate["typical"] + estimate["peak"]
        assert drawn == pytest.approx(expected, abs=0.05 * len(chart["marks"]))


def test_graph_joins_every_bu_to_its_platform(browser, charts):
    graph = next(c for c in charts if c["kind"] == "graph")
    edges = [m for m in graph["marks"] if m["tag"] == "path"]
    assert len(edges) == sum(1 for s in SHIPPED_STACKS if not s.startswith("platform-"))
    assert all(m["w"] > 50 for m in edges)
    titles = browser.execute_script(
        "return Array.from(document.querySelectorAll('svg[data-chart=graph] path title'))"
        ".map(t => t.textContent)"
    )
    assert sorted(titles) == ["fraud-prod reads platform-prod", "marketing-dev reads platform-dev"]


def test_readiness_score_shown_is_the_scorecards(browser, charts):
    from estate.analysis.readiness import scorecard

    shown = browser.execute_script(
        "return Object.fromEntries(Array.from(document.querySelectorAll('section.stack'))"
        ".filter(s => s.querySelector('.score'))"
        ".map(s => [s.dataset.stack, s.querySelector('.score').dataset.score]))"
    )
    assert set(shown) == {"fraud-prod", "marketing-dev"}
    for stack, score in shown.items():
        inventory = _render(stack)
        platform = _render(str(inventory.config["ai-estate:platformStack"]).rsplit("/", 1)[-1])
        card = scorecard(inventory, platform=platform)
        # the page's score also counts the policy items (met on the shipped stacks)
        assert int(score) >= card.score


def test_the_page_is_self_contained(browser, charts, report):
    facts = browser.execute_script(
        "return {scripts: document.scripts.length,"
        " links: document.querySelectorAll('link').length,"
        " external: Array.from(document.querySelectorAll('[href],[src]'))"
        "   .map(e => e.getAttribute('href') || e.getAttribute('src'))"
        "   .filter(u => !u.startsWith('#')),"
        " fetched: performance.getEntriesByType('resource').length}"
    )
    assert facts == {"scripts": 0, "links": 0, "external": [], "fetched": 0}
    text = report.read_text(encoding="utf-8")
    assert "url(" not in text and "@import" not in text and "@font-face" not in text


def test_screenshot_is_kept_as_an_artifact(browser, charts):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    assert browser.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 20_000
    print(f"screenshot: {shot}")
    if os.environ.get("ESTATE_UPDATE_SCREENSHOT") == "1":
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, README_SCREENSHOT)
        print(f"README screenshot: {README_SCREENSHOT}")


def test_ci_installs_chromium_before_the_suite():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    install = script.index("apt-get install -y -qq chromium chromium-driver")
    assert install < script.index("make test")
    assert "chromium chromium-driver" in INSTALL  # the failure sentence names the same packages
