# Developer entry points. `.ci/run` runs `make test`, exactly as a developer does.
#   make lab    set everything up and start JupyterLab on examples/
#   make test   set everything up and run lint + the whole test suite
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PORT ?= 8888
# the frontend build (jupyter-builder) and the UI tests (jupyter lab) use the venv's tools
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help install lab pipeline lint format test test-python test-js test-ui bench chromium clean lock

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==26.3"

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# Python first: the frontend build needs jupyter-builder from the venv
$(VENV)/.python-deps: $(BIN)/activate pyproject.toml requirements-lock.txt
	SKIP_JUPYTER_BUILDER=1 $(PY) -m pip install --quiet -c requirements-lock.txt -e ".[test,lint]"
	@touch $@

jupyter_mlops/labextension/package.json: $(VENV)/.python-deps node_modules/.package-lock.json $(shell find labextension -type f 2>/dev/null) tsconfig.json
	npm run build:prod

$(VENV)/.installed: $(VENV)/.python-deps jupyter_mlops/labextension/package.json
	$(BIN)/jupyter-builder develop --overwrite . >/dev/null
	@touch $@

install: $(VENV)/.installed ## create .venv, install pinned Python + npm deps, build the labextension

lab: install ## start JupyterLab on examples/ with the extension (MLflow store: examples/mlflow.db)
	cd examples && ../$(BIN)/jupyter lab --ServerApp.port=$(PORT) $(if $(filter 0,$(shell id -u)),--allow-root,)

pipeline: install ## run examples/pipeline/exported: a learning-rate sweep on 2 workers (store: examples/mlflow.db)
	cd examples && ../$(BIN)/jupyter mlops run pipeline/exported --grid train.learning_rate=0.05,0.1,0.3 --workers 2 --sort accuracy

lint: install ## ruff, ruff format --check, mypy --strict, eslint, prettier --check
	$(BIN)/ruff check jupyter_mlops tests bench
	$(BIN)/ruff format --check jupyter_mlops tests bench
	$(BIN)/mypy
	npm run --silent lint

format: install ## apply ruff format, ruff --fix and prettier
	$(BIN)/ruff check --fix jupyter_mlops tests bench
	$(BIN)/ruff format jupyter_mlops tests bench
	npm run --silent lint:fix

chromium: ## Debian's Chromium for the Galata tests (never playwright install)
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# two workers (pytest-xdist; tests of one xdist_group on one worker), then the tests marked
# `serial` alone: load tests and fault injection measure a machine they must not share.
# A failed test runs once more (pytest-rerunfailures) and is reported as a rerun (R; the
# summary lists it): real kernels and servers on a loaded 2-core machine, as Jupyter's own
# CI reruns what failed. A rerun in the log is a bug to find, as a failure would be.
PYTEST_RERUNS ?= --reruns 1 --reruns-delay 1 -raR
test-python: install
	$(BIN)/pytest -n 2 --dist loadgroup -m "not serial" $(PYTEST_RERUNS) --durations 15 tests/python
	$(BIN)/pytest -m serial $(PYTEST_RERUNS) tests/python

test-js: install
	npm run --silent test

test-ui: install chromium
	npm run --silent test:ui

test: lint test-python test-js test-ui ## lint + pytest + jest + Galata

bench: install ## ratio benchmarks: ours vs the baseline a user would otherwise use
	$(PY) bench/run_all.py

lock: $(BIN)/activate ## refresh requirements-lock.txt from the current .venv
	$(PY) -m pip freeze --exclude-editable | grep -v '^jupyter-mlops' > requirements-lock.txt

clean: ## remove build outputs (keeps .venv and node_modules)
	rm -rf lib jupyter_mlops/labextension tsconfig.tsbuildinfo $(VENV)/.installed $(VENV)/.python-deps
