# Everything a fresh machine needs is here: `make demo` and `make test` create the venv and install first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint notebooks demo sandbox bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# reinstall whenever pyproject.toml changes
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,parquet]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check bulkio tests benchmarks

test: lint
	$(BIN)/pytest

# run every notebook in notebooks/ top to bottom against a sandbox (make test runs them too)
notebooks: $(STAMP)
	$(BIN)/pytest tests/test_notebooks.py

demo: $(STAMP)
	$(BIN)/bulkio demo

sandbox: $(STAMP)
	$(BIN)/bulkio sandbox

# ROWS=1000000 make bench for the big figures; results go to benchmarks/results.json
ROWS ?= 100000
bench: $(STAMP)
	$(BIN)/python -m benchmarks --rows $(ROWS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis *.egg-info
