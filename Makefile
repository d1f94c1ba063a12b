# One target per gate; `make test` runs every gate and is what CI runs.
# `make demo` runs the main job locally against an in-process AWS emulation.

PYTHON ?= $(shell command -v python3.13 2>/dev/null || command -v python3)
VENV   := .venv
TOOLS  := .venv-tools
PY     := $(VENV)/bin/python
export AWS_DEFAULT_REGION ?= eu-west-1
export PYTHONPATH := $(CURDIR)/src:$(CURDIR)

.PHONY: demo test lint format types unit validate build clean

$(VENV)/.installed: requirements-dev.txt src/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
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
	$(TOOLS)/bin/sam validate --lint --template template.yaml
	$(TOOLS)/bin/cfn-lint template.yaml

build: $(TOOLS)/.installed
	PATH="$(dir $(shell command -v python3.13 2>/dev/null || echo /usr/bin/python3)):$$PATH" \
	  $(TOOLS)/bin/sam build --template template.yaml --build-dir .aws-sam/build

clean:
	rm -rf $(VENV) $(TOOLS) .aws-sam .pytest_cache .mypy_cache .ruff_cache
