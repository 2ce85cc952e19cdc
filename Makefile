# Two commands for a fresh machine: `make demo` and `make test` (see README).
# `make test` runs the suite beside a throw-away PostgreSQL cluster (scripts/with-postgres.sh)
# so the case store tests run on PostgreSQL as well as SQLite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install demo test lint bench

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

demo: install
	$(VENV)/bin/voc demo

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	bash scripts/browser-deps.sh
	bash scripts/with-postgres.sh $(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .

bench: install
	$(PY) benchmarks/pipeline.py
