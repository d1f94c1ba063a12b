"""The project's models are built on first use: importing a handler builds none of them (the cold start)."""

from __future__ import annotations

import ast
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted(f"handlers.{module.name}" for module in pkgutil.iter_modules([str(ROOT / "src" / "handlers")]))
# Imports every handler, then lists the project's model classes and those already built.
IMPORT_AND_LIST = """
import importlib, json, sys
from pydantic import BaseModel
for name in sys.argv[1:]:
    importlib.import_module(name)
def below(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from below(sub)
ours = {c for c in below(BaseModel) if c.__module__.split(".")[0] in ("lookout_diagnostics", "handlers")}
# and the classes pydantic made for them when a generic base was named (Root[T] is a class of its own)
made = {base for c in ours for base in c.__mro__ if "[" in base.__name__ and issubclass(base, BaseModel)}
# less the generic bases themselves (models.Root), built once, whatever the handler: they hold no field of their own
templates = {c for c in ours | made if c.__pydantic_generic_metadata__["parameters"]}
built = sorted(c.__qualname__ for c in (ours | made) - templates if c.__pydantic_complete__)
print(json.dumps({"models": len(ours), "built": built}))
"""


def test_importing_every_handler_builds_none_of_the_projects_models() -> None:
    # Given a fresh interpreter, When it imports every handler
    environment = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}", "POWERTOOLS_TRACE_DISABLED": "true"}
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_AND_LIST, *HANDLERS], capture_output=True, text=True, env=environment, check=True
    )
    found = json.loads(done.stdout)
    # Then dozens of the project's models were defined and none was built, nor a generic base a model names
    # (each is built the first time it is used)
    assert found["models"] > 50
    assert found["built"] == []


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
