# Every target installs what it needs first, so a fresh clone needs only Python 3.11 to 3.13.
# Another interpreter: `make test PYTHON=python3.13` (the environment is re-created for it).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Optional dependency groups to install: dev (everything), or test (engine and policy tests).
EXTRAS ?= dev
# One stamp per Python version and extras, so changing either re-runs the install.
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
STAMP  := $(VENV)/.installed-python$(PYTHON_VERSION)-$(EXTRAS)
# The suite runs on every core (pytest-xdist); `make test PYTEST_ARGS=` runs it in one process.
PYTEST_ARGS ?= -n auto
# Flags for `channel-router up`, e.g. `make up ARGS="--port 8080"` (see `channel-router up --help`).
ARGS ?=

.PHONY: install up test test-engine pytest lint format typecheck bench clean

$(STAMP): pyproject.toml tools/install.py tools/durable_rules_wheel.py
	@$(PYTHON) tools/check_python.py
	@$(PYTHON) tools/install.py --venv $(VENV) --extras $(EXTRAS)
	@touch $(STAMP)

install: $(STAMP)

## Run the whole service on embedded defaults (API, worker, private Redis, SQLite, sandbox).
up: install
	$(BIN)/channel-router up $(ARGS)

## The whole test suite: lint, types, policy checks and pytest (what CI runs).
test: install lint typecheck
	$(BIN)/channel-router policy validate policies
	$(BIN)/channel-router policy test policies
	$(BIN)/pytest $(PYTEST_ARGS)

## The policy checks and the engine's tests only (CI runs these on Python 3.13 with EXTRAS=test).
test-engine: install
	$(BIN)/channel-router policy validate policies
	$(BIN)/channel-router policy test policies
	$(BIN)/pytest $(PYTEST_ARGS) tests/engine tests/tools

pytest: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/http.py
	$(BIN)/python bench/asgi.py
	$(BIN)/python bench/review.py
	$(BIN)/python bench/log.py
	$(BIN)/python bench/execute.py

## Remove local state (the data directory, via `channel-router reset`) and everything installed.
clean:
	if $(BIN)/channel-router --help >/dev/null 2>&1; then $(BIN)/channel-router reset --yes; else rm -rf var; fi
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
