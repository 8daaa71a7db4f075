# zairyu-sync — two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
DEMO_EMPLOYEES ?= 2000
BENCH_EMPLOYEES ?= 20000
STAMP := $(VENV)/.installed

.PHONY: setup browser demo test test-unit test-integration lint typecheck docs bench clean help

help:
	@echo "make demo   set up everything and run the DAG end to end on embedded defaults"
	@echo "make test   set up everything and run the whole test suite (lint, types, tests)"
	@echo "make lint   ruff + mypy only"
	@echo "make docs   regenerate docs/rules.md from the rule catalog"
	@echo "make clean  remove .venv and .demo"

# The virtualenv, installed from pyproject.toml ranges pinned by constraints.txt.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)

# Headless Chromium and a Japanese font for the report's browser test (Debian packages; needs root).
browser:
	@if ! command -v chromium >/dev/null || ! test -d /usr/share/fonts/opentype/ipafont-gothic; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium fonts-ipafont-gothic >/dev/null; \
	fi

demo: setup
	$(BIN)/zairyu-sync demo --employees $(DEMO_EMPLOYEES)

lint: setup
	$(BIN)/ruff check plugins dags tests
	$(BIN)/ruff format --check plugins dags tests
	$(BIN)/mypy

test: setup lint browser
	$(BIN)/python -m pytest

test-unit: setup
	$(BIN)/python -m pytest -m unit

test-integration: setup browser
	$(BIN)/python -m pytest -m "integration or dags"

docs: setup
	$(BIN)/zairyu-sync rules --format markdown --output docs/rules.md

bench: setup
	$(BIN)/zairyu-sync bench --employees $(BENCH_EMPLOYEES)

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
