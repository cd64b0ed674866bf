# Regionshift: `make drill` and `make test` each set up everything they need on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.13 is the Lambda runtime; use it for the tools too (pyenv's copy when not on PATH).
PYTHON313 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) $(shell command -v python3.13 2>/dev/null))
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
SAM_ENV := AWS_DEFAULT_REGION=us-west-2 SAM_CLI_TELEMETRY=0
SCENARIO ?= primary-outage

.PHONY: help setup drill chaos bench bench-quick test validate lint typecheck unit integration pytest package-check build clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -n "$(PYTHON313)" || { echo "python3.13 not found (install it, or set PYTHON313=/path/to/python3.13)"; exit 1; }
	$(PYTHON313) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,emulator]'
	touch $@

# The SAM CLI pins its own boto3: it gets a virtualenv of its own.
$(SAM_VENV)/.installed:
	@test -n "$(PYTHON313)" || { echo "python3.13 not found"; exit 1; }
	$(PYTHON313) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==1.170.0
	touch $@

setup: $(VENV)/.installed $(SAM_VENV)/.installed ## Create both virtualenvs

drill: $(VENV)/.installed ## Run a failover drill on the embedded emulator (SCENARIO=name)
	$(VENV)/bin/regionshift drill --scenario $(SCENARIO)

chaos: $(VENV)/.installed ## Run every scenario and check the invariants after each (table)
	$(VENV)/bin/regionshift chaos

bench: $(VENV)/.installed ## Benchmark: cold starts, critical path, polling slack, RTO model, memory
	$(VENV)/bin/regionshift bench

bench-quick: $(VENV)/.installed ## The benchmark in seconds (part of make test)
	$(VENV)/bin/regionshift bench --quick

validate: $(VENV)/.installed $(SAM_VENV)/.installed ## sam validate (--lint and plain), cfn-lint, statelint
	$(SAM_ENV) $(SAM) validate --lint
	$(SAM_ENV) $(SAM) validate
	$(VENV)/bin/cfn-lint template.yaml detector.yaml
	$(VENV)/bin/statelint --ignore=URI,FLOAT statemachine/failover.asl.json statemachine/manual.asl.json

lint: $(VENV)/.installed ## ruff (lint and format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

package-check: $(VENV)/.installed ## Build the wheel; install it in a clean virtualenv; run the CLI from there
	PYTHON=$(PYTHON313) tests/package/check_wheel.sh

unit: $(VENV)/.installed ## Fast unit tests: steps, models, rules, template (seconds, no emulator run)
	$(VENV)/bin/pytest tests/unit

integration: $(VENV)/.installed ## Emulator tests: every scenario and invariant, catch paths, IAM, limits; operator CLI and server mode
	$(VENV)/bin/pytest tests/integration tests/operator

pytest: $(VENV)/.installed ## The whole pytest suite (unit, integration, operator), on two workers
	$(VENV)/bin/pytest -n 2 --dist loadgroup

# The pytest suite runs every scenario and checks every invariant after each (what `make chaos` prints
# as a table), so make test does not run the library twice.
test: validate build lint package-check pytest bench-quick ## Every check: validation, build, lint, the package, the test suite, the benchmark

build: $(VENV)/.installed $(SAM_VENV)/.installed ## sam build (pure Python, no Docker) with plans/example.yaml as the packaged plan
	$(VENV)/bin/regionshift plan package plans/example.yaml
	PATH="$(dir $(PYTHON313)):$$PATH" $(SAM_ENV) $(SAM) build

clean: ## Remove virtualenvs and build output
	rm -rf $(VENV) $(SAM_VENV) .aws-sam build
