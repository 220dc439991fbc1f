# The two commands of the README: `make run` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/xinqiao serve

demo: $(STAMP)
	$(BIN)/xinqiao demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/triage_eval.py
	$(BIN)/python bench/triage_speed.py
	$(BIN)/python bench/nlu_eval.py
	$(BIN)/python bench/conversation_eval.py
	$(BIN)/python bench/web_chat.py
	$(BIN)/python bench/fault_lock.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
