# AI Estate — every target bootstraps .venv from pyproject.toml first; nothing is installed by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ESTATE := $(VENV)/bin/estate
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
OUT := out
PYTEST_WORKERS ?= 2

.PHONY: venv demo test check lint bench docs screenshot clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

venv: $(STAMP)

## demo: validate, preview and policy-check every shipped stack offline, then summarise.
demo: venv
	@mkdir -p $(OUT)
	$(ESTATE) stacks
	$(ESTATE) validate --all
	@echo; echo "== estate preview --all (one row per stack; --tree for the resource trees)"
	$(ESTATE) preview --all
	@echo; echo "== estate check --all"
	$(ESTATE) check --all --json $(OUT)/check.json --sarif $(OUT)/check.sarif \
	  --junit $(OUT)/check.junit.xml --markdown $(OUT)/check.md
	@echo; echo "== estate readiness --all"
	$(ESTATE) readiness --all
	$(ESTATE) report --html $(OUT)/report.html
	@echo; echo "Reports: $(OUT)/check.json $(OUT)/check.sarif $(OUT)/check.junit.xml $(OUT)/check.md $(OUT)/report.html"

## test: the whole suite (unit, components, policies, engine, CLI, verify, infra).
test: venv
	$(PY) -m pytest -n $(PYTEST_WORKERS) -q

## check: lint, format, types and generated-file staleness (CI runs it before the tests; so does
## pre-commit, see .pre-commit-config.yaml).
check lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m estate.docgen.config_docs --check
	$(PY) -m estate.docgen.policy_docs --check
	$(PY) -m estate.docgen.pulumi_yaml --check

## bench: time `estate check --all` on the shipped stacks and on generated BU stacks.
bench: venv
	$(PY) benchmarks/bench_check.py --write benchmarks/RESULTS.md

## docs: regenerate docs/configuration.md, docs/policies.md and Pulumi.yaml's config: block
## (`make check` and the tests fail when they are stale).
docs: venv
	$(PY) -m estate.docgen.config_docs
	$(PY) -m estate.docgen.policy_docs
	$(PY) -m estate.docgen.pulumi_yaml

## screenshot: the README's picture of the HTML report, taken by its browser test (Chromium).
screenshot: venv
	ESTATE_UPDATE_SCREENSHOT=1 $(PY) -m pytest -q -p no:xdist tests/test_html_report.py

clean:
	rm -rf $(OUT) .pytest_cache .ruff_cache .mypy_cache
