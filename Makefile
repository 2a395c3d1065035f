# Every target makes the virtual environment on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INSPECTOR := .tools/node_modules/.bin/mcp-inspector

.PHONY: demo serve test lint bench snapshot clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

$(INSPECTOR):
	npm install --silent --no-audit --no-fund --prefix .tools @modelcontextprotocol/inspector@2.12

demo: $(STAMP)
	$(BIN)/python examples/demo.py

serve: $(STAMP)
	$(BIN)/toggl-groups-mcp --sandbox

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(STAMP) $(INSPECTOR) lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench

snapshot: $(STAMP)
	UPDATE_SNAPSHOT=1 $(BIN)/pytest -q tests/test_metadata.py

clean:
	rm -rf $(VENV) .tools
