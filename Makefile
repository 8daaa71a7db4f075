# zairyu-sync — two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
DEMO_EMPLOYEES ?= 2000
BENCH_EMPLOYEES ?= 20000
BENCH_RECONCILE_EMPLOYEES ?= 100000
BENCH_ISA_APPLICATIONS ?= 5000
# set to a PostgreSQL URL to add the PostgreSQL stages and the national/daily runs
BENCH_POSTGRES_URL ?=
BENCH_PG_ARGS = $(if $(BENCH_POSTGRES_URL),--postgres-url $(BENCH_POSTGRES_URL) --national-employees $(BENCH_EMPLOYEES) --shards 4 --workers 2 --daily-employees $(BENCH_EMPLOYEES))
TARGETS_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
STAMP := $(VENV)/.installed

.PHONY: setup browser demo test test-unit test-integration lint typecheck docs bench bench-targets clean help

help:
	@echo "make demo   set up everything and run the DAG end to end on embedded defaults"
	@echo "make test   set up everything and run the whole test suite (lint, types, tests)"
	@echo "make lint   ruff + mypy only"
	@echo "make docs   regenerate docs/rules.md from the rule catalog"
	@echo "make bench  quick benchmark (BENCH_EMPLOYEES=$(BENCH_EMPLOYEES); BENCH_POSTGRES_URL=... adds PostgreSQL)"
	@echo "make bench-targets  the benchmark at the sizes of docs/performance.md (PostgreSQL)"
	@echo "make clean  remove .venv and .demo"

# The virtualenv, installed from pyproject.toml ranges pinned by constraints.txt. Bytecode is
# compiled at install: where PYTHONDONTWRITEBYTECODE is set, every process (an Airflow task, a
# test's subprocess) would otherwise compile each module it imports, seconds per process.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -c constraints.txt -e ".[dev]"
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
	$(BIN)/zairyu-sync bench --employees $(BENCH_EMPLOYEES) \
		--reconcile-employees $(BENCH_RECONCILE_EMPLOYEES) \
		--isa-applications $(BENCH_ISA_APPLICATIONS) $(BENCH_PG_ARGS)

# The sizes of the performance targets (docs/performance.md); takes tens of minutes.
bench-targets: setup
	$(BIN)/zairyu-sync bench --employees 100000 --postgres-url $(TARGETS_POSTGRES_URL) \
		--reconcile-employees 1000000 --isa-applications 100000 \
		--national-employees 2600000 --shards 16 --workers 2 --daily-employees 100000 \
		--output bench/targets.json

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
