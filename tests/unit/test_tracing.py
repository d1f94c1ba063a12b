"""Tracing: the handlers load the X-Ray SDK only when tracing is on, and then trace with Powertools' Tracer."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lookout_diagnostics.tracing import UNTRACED, Untraced, build_tracer, tracing_enabled

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted(f"handlers.{module.name}" for module in pkgutil.iter_modules([str(ROOT / "src" / "handlers")]))
# Imports every handler, then tells what loaded and what each handler's tracer is.
IMPORT_EVERY_HANDLER = """
import importlib, json, sys
from aws_lambda_powertools import Tracer
tracers = {}
for name in sys.argv[1:]:
    tracer = importlib.import_module(name).tracer
    tracers[name] = {"class": type(tracer).__module__ + "." + type(tracer).__qualname__,
                     "powertools": isinstance(tracer, Tracer)}
xray = sorted(name for name in sys.modules if name.partition(".")[0] == "aws_xray_sdk")
print(json.dumps({"xray": xray, "tracers": tracers}))
"""
LAMBDA = {
    "LAMBDA_TASK_ROOT": str(ROOT / "src"),
    "AWS_LAMBDA_FUNCTION_NAME": "tracing-test",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_REGION": "eu-west-1",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "POWERTOOLS_SERVICE_NAME": "lookout-diagnostics",
    "POWERTOOLS_METRICS_NAMESPACE": "LookoutDiagnostics",
}


def import_every_handler(environment: dict[str, str]) -> dict[str, Any]:
    """A fresh interpreter, with only `environment` and the project's path, imports every handler."""
    clean = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_HANDLER, *HANDLERS],
        env=clean | environment,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def test_the_handlers_are_all_found() -> None:
    # A check over no handler checks nothing
    assert {"handlers.diagnostics_landed", "handlers.status_poller", "handlers.fleet"} <= set(HANDLERS)
    assert "handlers.__init__" not in HANDLERS


def test_with_tracing_off_no_handler_imports_the_xray_sdk() -> None:
    # Given Lambda's environment with tracing disabled, as the tests and the local run have it
    environment = LAMBDA | {"POWERTOOLS_TRACE_DISABLED": "true"}

    # When a fresh interpreter imports every handler
    found = import_every_handler(environment)

    # Then the X-Ray SDK never loaded, and every handler holds the stand-in
    assert found["xray"] == []
    assert {tracer["class"] for tracer in found["tracers"].values()} == {"lookout_diagnostics.tracing.Untraced"}
    assert set(found["tracers"]) == set(HANDLERS)


def test_with_tracing_on_every_handler_traces_with_powertools_tracer() -> None:
    # Given Lambda's environment with nothing disabling tracing, as the deployed functions (Tracing: Active) have it
    environment = dict(LAMBDA)

    # When a fresh interpreter imports every handler
    found = import_every_handler(environment)

    # Then each handler's tracer is Powertools' own Tracer, and the X-Ray SDK behind it loaded
    assert all(tracer["powertools"] for tracer in found["tracers"].values()), found["tracers"]
    assert set(found["tracers"]) == set(HANDLERS)
    assert "aws_xray_sdk.core" in found["xray"]


@pytest.mark.parametrize(
    ("variables", "enabled"),
    [
        ({"LAMBDA_TASK_ROOT": "/var/task"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "false"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}, False),
        ({}, False),
    ],
    ids=["in Lambda", "disabled in Lambda", "not disabled in Lambda", "under SAM local", "outside Lambda"],
)
def test_tracing_is_on_where_powertools_would_trace(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], enabled: bool
) -> None:
    # Given an environment
    for name in ("LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED", "AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)

    # When the project asks whether to trace
    # Then it answers as Powertools' Tracer decides
    assert tracing_enabled() is enabled


def test_with_tracing_off_the_tracer_is_the_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given tracing disabled in Lambda's environment
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")

    # When a handler builds its tracer
    tracer = build_tracer()

    # Then it is the stand-in
    assert tracer is UNTRACED


def test_the_stand_in_decorates_without_changing_anything() -> None:
    # Given the stand-in, and a handler and a method to decorate at import
    untraced = Untraced()

    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        untraced.put_annotation("Asset", "pump-7")
        untraced.put_metadata("event", event, namespace="lookout-diagnostics")
        return {"echo": event}

    def method(value: int) -> int:
        return value + 1

    # When they are decorated
    decorated_handler = untraced.capture_lambda_handler(handler)
    decorated_method = untraced.capture_method(method)

    # Then they are the functions themselves, and they work
    assert decorated_handler is handler
    assert decorated_method is method
    assert decorated_handler({"id": "1"}, None) == {"echo": {"id": "1"}}
    assert decorated_method(1) == 2
