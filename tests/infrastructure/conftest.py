"""The template as each infrastructure test reads it: short tags in their long form, one copy per module."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.template import fresh_template


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return fresh_template()


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = template["Resources"]
    return found
