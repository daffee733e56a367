# Two commands do everything on a fresh machine with Python 3.11+ and Node 20+:
#   make dev    set up and run the whole platform locally
#   make test   set up and run every test (unit, integration, infra, end-to-end)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTHON_READY := $(VENV)/.ready
NODE_READY := node_modules/.ready

# jsii (under aws-cdk-lib) warns loudly on Node 20; the project supports Node 20 and newer.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := true

.PHONY: dev test lint synth deploy clean

$(PYTHON_READY): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(NODE_READY): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

dev: $(PYTHON_READY)
	$(BIN)/cdp dev

test: $(PYTHON_READY) $(NODE_READY) lint
	$(BIN)/pytest

lint: $(PYTHON_READY)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

synth: $(PYTHON_READY) $(NODE_READY)
	npx cdk synth --quiet

deploy: $(PYTHON_READY) $(NODE_READY)
	npx cdk deploy --require-approval never

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .ruff_cache .mypy_cache .hypothesis
