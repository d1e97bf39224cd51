# Everyday commands, one word each (CONTRIBUTING.md). Every target uses the project's .venv;
# a target that needs it creates it first (`make install`). `make help` lists them.
#
#   make test-fast ARGS="-k bundles -x"      extra pytest arguments
#   make test-pg PG_HOST=… PG_PORT=… PG_USER=…
#   make demo PORT=8080

VENV := .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
ARGS ?=
PORT ?= 8000
PG_HOST ?= 127.0.0.1
PG_PORT ?= 5432
PG_USER ?= postgres
# Fast: everything but the browser tests and the harness (selected by their markers).
FAST_MARKERS := not browser and not harness

.DEFAULT_GOAL := help
.PHONY: help install hooks test-fast test test-pg lint fmt types imports migrations check ci \
	harness demo

help: ## list the targets
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { printf "  make %-11s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

$(PYTHON):
	@$(MAKE) --no-print-directory install

install: ## the venv and pip install -e '.[test]' (README command 2, without the test run)
	python3 -m venv $(VENV)
	$(BIN)/pip install -e '.[test]'

hooks: | $(PYTHON) ## install the dev extra (pre-commit) and the git pre-commit hook
	$(BIN)/pip install -e '.[test,dev]'
	$(BIN)/pre-commit install

test-fast: | $(PYTHON) ## everything but the browser tests and the harness (~2 min, SQLite)
	$(PYTHON) -m pytest -m "$(FAST_MARKERS)" $(ARGS)

test: | $(PYTHON) ## the whole suite, exactly README command 2's test run
	$(PYTHON) -m pytest $(ARGS)

# Like .ci/run: a fresh database, dropped afterwards with the test database pytest-django made.
test-pg: | $(PYTHON) ## the whole suite on a fresh PostgreSQL database (127.0.0.1:5432, user postgres)
	@set -eu; \
	db="tongban_make_$$$$"; \
	psql_admin() { PGOPTIONS="--client-min-messages=warning" psql -h "$(PG_HOST)" -p "$(PG_PORT)" -U "$(PG_USER)" -d postgres -qc "$$1" >/dev/null; }; \
	trap 'psql_admin "DROP DATABASE IF EXISTS $$db" 2>/dev/null || true; psql_admin "DROP DATABASE IF EXISTS test_$$db" 2>/dev/null || true' EXIT; \
	psql_admin "DROP DATABASE IF EXISTS $$db"; \
	psql_admin "CREATE DATABASE $$db"; \
	echo "tests on PostgreSQL (database: postgresql://$(PG_HOST):$(PG_PORT)/$$db)"; \
	DATABASE_URL="postgres://$(PG_USER)@$(PG_HOST):$(PG_PORT)/$$db" $(PYTHON) -m pytest $(ARGS)

lint: | $(PYTHON) ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Fix first (a fix may leave code unformatted), then format; fail if something is left to fix.
fmt: | $(PYTHON) ## ruff check --fix and ruff format
	$(BIN)/ruff check --fix . || status=$$?; $(BIN)/ruff format .; exit $${status:-0}

types: | $(PYTHON) ## mypy src
	$(BIN)/mypy src

imports: | $(PYTHON) ## the layer contract (lint-imports, pyproject.toml)
	$(BIN)/lint-imports

migrations: | $(PYTHON) ## no model change without its migration
	DJANGO_SETTINGS_MODULE=tongban.config.settings.test $(PYTHON) -m django makemigrations --check --dry-run

check: lint types imports migrations ## lint, types, imports and migrations (.ci/run's static checks)

# `bash .ci/run`, as CI runs it.
ci: ## .ci/run: install, static and security checks, both test runs, the harness
	bash .ci/run

harness: | $(PYTHON) ## the reliability harness (needs PostgreSQL; harness/README.md)
	PYTHON="$(abspath $(PYTHON))" harness/run_all.sh

demo: | $(PYTHON) ## tongban demo on 127.0.0.1:8000 (PORT=…)
	$(BIN)/tongban demo --port $(PORT)
