"""The project's models are built on first use: importing a handler builds none of them (the cold start)."""

from __future__ import annotations

import ast
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from lookout_diagnostics.lambda_events import parse

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted(f"handlers.{module.name}" for module in pkgutil.iter_modules([str(ROOT / "src" / "handlers")]))
# Imports every handler, then lists the project's model classes and those already built.
IMPORT_AND_LIST = """
import importlib, json, sys
from pydantic import BaseModel, TypeAdapter
for name in sys.argv[1:]:
    importlib.import_module(name)
def below(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from below(sub)
project = ("lookout_diagnostics", "handlers")
ours = {c for c in below(BaseModel) if c.__module__.split(".")[0] in project}
# and the classes pydantic makes for a generic base a model names (RootModel[T] is a class of its own, built then)
made = {base for c in ours for base in c.__mro__ if "[" in base.__name__ and issubclass(base, BaseModel)}
built = sorted(c.__qualname__ for c in ours | made if c.__pydantic_complete__)
# and the module-level TypeAdapters (the step unions, the fleet's plan)
adapters = {
    f"{name}.{attribute}": value.pydantic_complete
    for name, module in list(sys.modules.items()) if name.split(".")[0] in project
    for attribute, value in vars(module).items() if isinstance(value, TypeAdapter)
}
print(json.dumps({"models": len(ours), "built": built, "adapters": adapters}))
"""


def test_importing_every_handler_builds_none_of_the_projects_models() -> None:
    # Given a fresh interpreter, When it imports every handler
    environment = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}", "POWERTOOLS_TRACE_DISABLED": "true"}
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_AND_LIST, *HANDLERS], capture_output=True, text=True, env=environment, check=True
    )
    found = json.loads(done.stdout)
    # Then dozens of the project's models were defined and none was built, nor a generic base a model names,
    # nor a module-level TypeAdapter (each is built the first time it is used)
    assert found["models"] > 50
    assert found["built"] == []
    assert {"handlers.fleet.STEP", "handlers.sitewise_training.STEP"} <= set(found["adapters"])
    assert not any(found["adapters"].values()), found["adapters"]


def test_a_step_event_that_names_no_step_is_refused_as_a_step_event() -> None:
    # Given the fleet's and the SiteWise workflow's step unions
    from handlers import fleet, sitewise_training

    for step in (fleet.STEP, sitewise_training.STEP):
        # When an event names a step neither knows
        with pytest.raises(ValidationError) as refused:
            parse({"step": "unknown"}, step)
        # Then the refusal names the step event and the steps it takes, as the workflow's failure reports it
        assert str(refused.value).startswith("1 validation error for StepEvent")
        assert "does not match any of the expected tags" in str(refused.value)


def test_every_model_of_the_project_derives_from_the_deferred_base() -> None:
    # Given every class in src/ that derives from pydantic's BaseModel or RootModel by name
    direct = []
    for path in (ROOT / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(base).split("[")[0] for base in node.bases}
                if bases & {"BaseModel", "RootModel"} and path.name != "models.py":
                    direct.append(
                        (
                            path.name,
                            node.name,
                            any(
                                isinstance(item, ast.Assign) and "defer_build" in ast.unparse(item)
                                for item in node.body
                            ),
                        )
                    )
    # Then the only ones are root models that defer their build themselves
    assert all(defers for _, _, defers in direct), direct
