# One target per gate; `make test` runs every gate and is what CI runs.
# `make demo` runs the main job locally against an in-process AWS emulation.

PYTHON ?= $(shell command -v python3.13 2>/dev/null || command -v python3)
VENV   := .venv
TOOLS  := .venv-tools
CHECKOV := .venv-checkov
PY     := $(VENV)/bin/python
export AWS_DEFAULT_REGION ?= eu-west-1
export PYTHONPATH := $(CURDIR)/src:$(CURDIR)

.PHONY: demo demo-fleet test lint format types unit validate build clean template-snapshot

$(VENV)/.installed: requirements-dev.txt src/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --editable .
	touch $@

$(TOOLS)/.installed: requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	touch $@

# checkov's pins conflict with the SAM CLI's: it gets an environment of its own.
$(CHECKOV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV)
	$(CHECKOV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

# Node tools for the gates (asl-validator), exactly as locked; no install scripts run.
node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

# SERVICE=lookout-for-equipment shows Lookout for Equipment instead of AWS IoT SiteWise.
demo: $(VENV)/.installed
	$(PY) -m local.run $(if $(SERVICE),--service $(SERVICE))

# A fleet: five assets trained in one execution (events/fleet-input.json), one digest.
demo-fleet: $(VENV)/.installed
	$(PY) -m local.run --fleet

test: lint types unit validate build

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests local
	$(VENV)/bin/ruff format --check src tests local

format: $(VENV)/.installed
	$(VENV)/bin/ruff format src tests local
	$(VENV)/bin/ruff check --fix src tests local

types: $(VENV)/.installed
	$(VENV)/bin/mypy src local tests/support

# The infrastructure tests run asl-validator, checkov and the SAM CLI too: install them so they never skip here.
unit: $(VENV)/.installed $(TOOLS)/.installed node_modules/.installed $(CHECKOV)/.installed
	$(VENV)/bin/pytest

# Neither sam nor cfn-lint reads a DefinitionUri file: asl-validator checks the state machine's.
# checkov scans the template offline: --skip-download fetches no policies or guidelines, and
# CKV_SKIP_PACKAGE_UPDATE_CHECK stops its look-up of a newer version. Every finding it accepts is
# skipped, with the reason, in the resource's Metadata (checkov: skip:).
validate: $(TOOLS)/.installed $(CHECKOV)/.installed node_modules/.installed
	SAM_CLI_TELEMETRY=0 $(TOOLS)/bin/sam validate --lint --template template.yaml
	$(TOOLS)/bin/cfn-lint template.yaml
	node_modules/.bin/asl-validator --json-path statemachine/train_model.asl.json \
	  --json-path statemachine/train_sitewise_model.asl.json --json-path statemachine/train_fleet.asl.json
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true $(CHECKOV)/bin/checkov -f template.yaml --framework cloudformation \
	  --skip-download --compact --quiet

# sam build (no container) needs the runtime's interpreter, python3.13, on PATH. The pyenv
# shim only resolves it inside this directory (.python-version), and SAM runs pip elsewhere,
# so the real interpreter's directory goes first. For arm64 SAM fetches aarch64 wheels.
build: $(TOOLS)/.installed
	PY313_BIN="$$(python3.13 -c 'import os, sys; print(os.path.dirname(os.path.realpath(sys.executable)))')" && \
	  PATH="$$PY313_BIN:$$PATH" SAM_CLI_TELEMETRY=0 \
	  $(TOOLS)/bin/sam build --template template.yaml --build-dir .aws-sam/build

# After an intended change to what template.yaml deploys: record it, then review the difference
# (git diff tests/infrastructure/template_snapshot.json). A test compares the record with the template.
template-snapshot: $(VENV)/.installed
	$(PY) -m tests.support.template_snapshot

clean:
	rm -rf $(VENV) $(TOOLS) $(CHECKOV) node_modules .aws-sam .pytest_cache .mypy_cache .ruff_cache

# Benchmarks: commands, not tests, and not part of `make test` (docs/performance.md).
# `make bench` summarises L4E's largest evaluation file (1.5 M rows x 30 sensors, generated once into
# out/bench/) with the project, DuckDB and a naive loop, at 1 CPU and at all CPUs, three rounds, and prints
# the ratios against the targets (docs/performance.md): BENCH_ARGS=--quick for a small file,
# BENCH_ARGS="--sensors 100 --worst-case" for the worst case.
# `make bench-coldstart` times each handler's import against its floor (the same third-party imports,
# without the project's code) and `import boto3`, tracing on and off, in an environment holding only
# the functions' runtime dependencies, as the deployment package does. It fails over 1.25x the floor.
# COLDSTART_ARGS=--order-check also times each handler with the AWS SDK imported later (src/handlers/__init__.py).
.PHONY: bench bench-coldstart
RUNTIME := out/runtime-venv
BENCH_ARGS ?=
COLDSTART_ARGS ?=

$(RUNTIME)/.installed: src/requirements.txt
	$(PYTHON) -m venv $(RUNTIME)
	$(RUNTIME)/bin/pip install --quiet --disable-pip-version-check -r src/requirements.txt
	touch $@

bench: $(VENV)/.installed
	$(PY) -m local.benchmark $(BENCH_ARGS)

bench-coldstart: $(VENV)/.installed $(RUNTIME)/.installed
	$(PY) -m local.coldstart --python $(RUNTIME)/bin/python $(COLDSTART_ARGS)
