# Every target installs what it needs first, so a fresh clone needs only Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The suite runs on every core (pytest-xdist); `make test PYTEST_ARGS=` runs it in one process.
PYTEST_ARGS ?= -n auto
# Flags for `channel-router up`, e.g. `make up ARGS="--port 8080"` (see `channel-router up --help`).
ARGS ?=

.PHONY: install up test pytest lint format typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Run the whole service on embedded defaults (API, worker, private Redis, SQLite, sandbox).
up: install
	$(BIN)/channel-router up $(ARGS)

## The whole test suite: lint, types, policy checks and pytest (what CI runs).
test: install lint typecheck
	$(BIN)/channel-router policy validate policies
	$(BIN)/channel-router policy test policies
	$(BIN)/pytest $(PYTEST_ARGS)

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
	$(BIN)/python bench/review.py
	$(BIN)/python bench/log.py

## Remove local state (the data directory, via `channel-router reset`) and everything installed.
clean:
	if $(BIN)/channel-router --help >/dev/null 2>&1; then $(BIN)/channel-router reset --yes; else rm -rf var; fi
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
