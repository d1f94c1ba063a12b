"""The command-line tools the infrastructure tests run, each installed by the Makefile into the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.template import ROOT

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
ASL_VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"
SAM_PYTHON = ROOT / ".venv-tools" / "bin" / "python"  # the SAM CLI's interpreter, to run its own code

_INSTALLED_BY = {
    CHECKOV: ".venv-checkov is absent: run `make validate` (make unit installs it too)",
    ASL_VALIDATOR: "node_modules is absent: run `npm ci` (make unit and make validate install it)",
    SAM_PYTHON: ".venv-tools is absent: run `make validate` (make unit installs it too)",
}


def installed(tool: Path) -> Path:
    """The tool's path; the test is skipped where it is absent, and fails in CI, where make installs it."""
    if not tool.exists():
        reason = _INSTALLED_BY[tool]
        if os.environ.get("CI"):
            pytest.fail(f"{tool.name} is not installed in CI: {reason}")
        pytest.skip(reason)
    return tool
