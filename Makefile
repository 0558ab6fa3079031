# The two commands of the quick start are `make demo` and `make test`.
# Everything else here is what they are made of.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
DEMO_DB ?= var/demo.sqlite3

.PHONY: demo test lint bench lock services clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"

# The stamp files make a second `make` skip the install unless a lock file changed.
$(VENV)/.runtime: requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev: requirements-dev.lock $(VENV)/.runtime
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@

demo: $(VENV)/.runtime
	mkdir -p $(dir $(DEMO_DB))
	OPENAMR_DATABASE_URL=$${OPENAMR_DATABASE_URL:-sqlite:///$(DEMO_DB)} \
		$(BIN)/openamr demo --serve --port $(PORT)

test: $(VENV)/.dev services
	$(BIN)/ruff check openamr tests bench
	$(BIN)/ruff format --check openamr tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/bandit -c pyproject.toml -q -r openamr
	$(BIN)/pytest

# Starts the PostgreSQL server the tests use when it is not running, and makes sure
# Debian's Chromium is there for the browser tests.
services:
	@scripts/ensure-services
	@scripts/ensure-browser

bench: $(VENV)/.dev services
	$(BIN)/python -m bench

lock: | $(BIN)/python
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements-dev.lock

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
