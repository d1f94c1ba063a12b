# One target per gate; `make test` runs every gate and is what CI runs.
# `make demo` runs the main job locally against an in-process AWS emulation.

PYTHON ?= $(shell command -v python3.13 2>/dev/null || command -v python3)
VENV   := .venv
TOOLS  := .venv-tools
PY     := $(VENV)/bin/python
export AWS_DEFAULT_REGION ?= eu-west-1
export PYTHONPATH := $(CURDIR)/src:$(CURDIR)

.PHONY: demo test lint format types unit validate build clean

$(VENV)/.installed: requirements-dev.txt src/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --editable .
	touch $@

$(TOOLS)/.installed: requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	touch $@

demo: $(VENV)/.installed
	$(PY) -m local.run

test: lint types unit validate build

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests local
	$(VENV)/bin/ruff format --check src tests local

format: $(VENV)/.installed
	$(VENV)/bin/ruff format src tests local
	$(VENV)/bin/ruff check --fix src tests local

types: $(VENV)/.installed
	$(VENV)/bin/mypy src local

unit: $(VENV)/.installed
	$(VENV)/bin/pytest

validate: $(TOOLS)/.installed
	SAM_CLI_TELEMETRY=0 $(TOOLS)/bin/sam validate --lint --template template.yaml
	$(TOOLS)/bin/cfn-lint template.yaml

# sam build (no container) needs the runtime's interpreter, python3.13, on PATH. The pyenv
# shim only resolves it inside this directory (.python-version), and SAM runs pip elsewhere,
# so the real interpreter's directory goes first. For arm64 SAM fetches aarch64 wheels.
build: $(TOOLS)/.installed
	PY313_BIN="$$(python3.13 -c 'import os, sys; print(os.path.dirname(os.path.realpath(sys.executable)))')" && \
	  PATH="$$PY313_BIN:$$PATH" SAM_CLI_TELEMETRY=0 \
	  $(TOOLS)/bin/sam build --template template.yaml --build-dir .aws-sam/build

clean:
	rm -rf $(VENV) $(TOOLS) .aws-sam .pytest_cache .mypy_cache .ruff_cache
