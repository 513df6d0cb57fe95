# Ikou — two commands on a fresh machine:
#   make run    set everything up and run the 20-domain rehearsal on the embedded stack
#   make test   set everything up and run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
export IKOU_HOME ?= $(CURDIR)/.ikou
export GX_ANALYTICS_ENABLED := false
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: run run-celery test venv deps ui up down bench lint lock gx clean-data help

help:
	@echo "make run   - set up, start the embedded stack, rehearse all 20 domains, print the table"
	@echo "make test  - set up and run the whole test suite"
	@echo "make ui    - start the stack and keep the Airflow UI up (Ctrl-C stops it)"
	@echo "make down  - stop the stack (its data stays in .ikou/)"
	@echo "make bench - benchmarks (bench/results/*.json)"
	@echo "make lint  - ruff, the layer contracts (import-linter) and mypy"

# The virtualenv from the locks: uv (pinned) resolves nothing, it installs exactly the runtime lock
# requirements.txt (what the worker image has) plus the development lock requirements-dev.txt
# (tests, browser driver, S3 test server, synth, linters), then the runtime package ikou and the
# development package ikou_dev (dev/: stack, bench, synth, train-dedupe) on top, both editable.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: requirements.txt requirements-dev.txt pyproject.toml dev/pyproject.toml | $(BIN)/python
	$(BIN)/uv pip sync --python $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e . -e dev
	$(BIN)/python -m ikou.mainframe.kernel || echo "warning: no C compiler: the decoder uses its numpy path"
	@touch $@

# Data Docs' browser assets (include/ikou/quality/offline.py): the npm packages GX's pages load,
# exactly as vendor/datadocs/package-lock.json pins them (npm ci, no install scripts), then only
# the files the pages need, with their licences, copied into the package's datadocs_vendor/.
DATADOCS := include/ikou/quality/datadocs_vendor/manifest.json
$(DATADOCS): vendor/datadocs/package.json vendor/datadocs/package-lock.json $(VENV)/.synced
	@command -v npm >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; } \
	  || { echo "npm is needed to install the Data Docs assets (Debian: apt-get install npm)"; exit 1; }
	cd vendor/datadocs && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	$(BIN)/python -m ikou.quality.offline collect

venv: $(VENV)/.synced $(DATADOCS)

# Debian packages: chromium for the browser tests (tests/browser: Playwright's Python API drives
# Debian's /usr/bin/chromium — Playwright never downloads a browser here). Installed with apt-get
# only when missing, and only where apt-get exists and we are root; otherwise the browser tests
# fail (they never skip).
deps:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "warning: chromium could not be installed; browser tests will fail"; \
	else \
	  echo "warning: chromium is missing and cannot be installed here (apt-get as root); browser tests will fail"; \
	fi

run: venv
	$(BIN)/ikou stack run

# the same job on CeleryExecutor: PostgreSQL metadata (ikou_airflow_celery), Redis broker
# (IKOU_REDIS_URL), two local workers; its own IKOU_HOME
run-celery: venv
	IKOU_EXECUTOR=celery IKOU_HOME=$(CURDIR)/.ikou-celery $(BIN)/ikou stack run

ui: venv
	$(BIN)/ikou stack ui

up: venv
	$(BIN)/ikou stack up

down: venv
	$(BIN)/ikou stack down

test: lint deps
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=25 $(PYTEST_ARGS)

# ruff (lint + format check), the layer contracts (import-linter, .importlinter) and mypy on the
# pipeline contract, the stages and the storage layer. `make test` runs it first.
lint: venv
	$(BIN)/ruff check include dev dags plugins tests scripts docker
	$(BIN)/ruff format --check include dev dags plugins tests scripts docker
	$(BIN)/lint-imports .importlinter
	$(BIN)/mypy

# Re-resolve the locks (needs the package registry): the runtime lock first, then the development
# lock constrained by it. Existing pins are kept unless requirements*.in ask otherwise.
lock: $(BIN)/python
	$(BIN)/uv pip compile requirements.in --python-version 3.11 -o requirements.txt
	$(BIN)/uv pip compile requirements-dev.in --python-version 3.11 -o requirements-dev.txt

gx: venv
	$(BIN)/ikou gx generate

bench: venv
	$(BIN)/ikou bench $(BENCH_ARGS)

clean-data:
	-$(BIN)/ikou stack down
	rm -rf $(IKOU_HOME)
