# Two commands: `make run` serves the app on SQLite, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install system-deps lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/hcp db upgrade
	$(BIN)/hcp serve

system-deps:
	@bash scripts/system-deps.sh

lint: install
	$(BIN)/ruff check .

test: install system-deps lint
	$(BIN)/pytest

bench: install
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
