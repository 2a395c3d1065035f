# Every target makes the virtual environment on first use; `make test` and `make screenshot` also
# install what the browser tests need (the npm tools under .tools/ and Debian's Chromium), and
# `make test` installs Debian's redis-server for the shared rate-limit tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The npm tools, installed together into the git-ignored .tools/ at exact versions: the MCP
# Inspector CLI, the official MCP Apps host bridge (ext-apps, with its peers client, core and
# zod) that esbuild bundles into the browser tests' host page, the MCP Bundle CLI (mcpb) that
# validates and packs bundle/ (`make bundle`), and the Vercel AI SDK (ai, @ai-sdk/mcp) whose MCP
# client tests/e2e/test_vercel_ai.py drives. The stamp's name carries a checksum of this list, so
# changing a pin installs again.
NPM_TOOLS := \
	@modelcontextprotocol/inspector@2.12.0 \
	@anthropic-ai/mcpb@2.1.2 \
	@modelcontextprotocol/ext-apps@2.0.4 \
	@modelcontextprotocol/client@2.3.1 \
	@modelcontextprotocol/core@2.3.1 \
	zod@4.6.7 \
	esbuild@0.28.2 \
	ai@7.0.185 \
	@ai-sdk/mcp@2.0.99
TOOLS_STAMP := .tools/.installed-$(shell echo '$(NPM_TOOLS)' | cksum | cut -d' ' -f1)

# The browser tests drive Debian's Chromium through Playwright (never Playwright's own download).
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
APT_CHROMIUM := env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium

# The Redis tests start their own throwaway redis-server on a free loopback port (never 6379), so a
# system service the package may start is harmless.
REDIS_SERVER := /usr/bin/redis-server
APT_REDIS := env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server

.PHONY: demo serve test lint bench snapshot screenshot tools bundle clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

$(TOOLS_STAMP):
	rm -f .tools/.installed-*
	npm install --silent --no-audit --no-fund --save-exact --prefix .tools $(NPM_TOOLS)
	touch $@

# Only when the file is missing; a stale package list makes the first try fail, so update then.
$(CHROMIUM):
	$(SUDO) $(APT_CHROMIUM) || { $(SUDO) apt-get update && $(SUDO) $(APT_CHROMIUM); }

$(REDIS_SERVER):
	$(SUDO) $(APT_REDIS) || { $(SUDO) apt-get update && $(SUDO) $(APT_REDIS); }

tools: $(TOOLS_STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

serve: $(STAMP)
	$(BIN)/toggl-groups-mcp --sandbox

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(STAMP) $(TOOLS_STAMP) $(CHROMIUM) $(REDIS_SERVER) lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench

snapshot: $(STAMP)
	UPDATE_SNAPSHOT=1 $(BIN)/pytest -q tests/test_metadata.py tests/test_startup.py

# docs/access-review-{light,dark}.png: the access-review view on the demo data, in the test host.
screenshot: $(STAMP) $(TOOLS_STAMP) $(CHROMIUM)
	$(BIN)/python -m tests.e2e.apphost.screenshot

# dist/toggl-groups-mcp-<version>.mcpb: the MCP Bundle for one-click install in desktop hosts,
# staged from bundle/ and the package in a temporary folder, validated and packed by the pinned
# mcpb CLI (bundle/build.py says what goes in).
bundle: $(STAMP) $(TOOLS_STAMP)
	$(BIN)/python bundle/build.py --out dist

clean:
	rm -rf $(VENV) .tools
