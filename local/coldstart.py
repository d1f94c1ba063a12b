"""Import time of every Lambda handler against its floor, the same dependencies without the project's code.

    python -m local.coldstart [--python out/runtime-venv/bin/python] [--runs 15] [--top 8] [--order-check]

A proxy for cold starts. The target: each handler imports in at most 1.25x its floor, the process that
imports exactly what that handler depends on from outside the project, and nothing of the project's.
Each floor is derived, not written down, so it cannot drift from the code: a fresh interpreter imports
the handler and reports what it loaded from outside the project, and the floor is built from that:
- every third-party module the handler loaded (boto3, botocore, pydantic, Powertools, the X-Ray SDK
  when the handler builds a Tracer, ...), imported by name in the order the handler loaded them;
- one small pydantic model, when the handler's import defines models of the project's: pydantic's
  first model costs more than its import (its field machinery loads then);
- the Powertools utilities the handler builds at import (its module-level Logger, Metrics, Tracer),
  built alike: Tracer patches lookout_diagnostics.tracing.PATCHED_MODULES, as the project's does.
Standard-library modules are left out: the ones the project's code alone needs count against it.

Tracing changes the floor: with it off the handlers build no Tracer and import no X-Ray SDK
(lookout_diagnostics.tracing). Both ways are measured; the target is judged on tracing on, what the
deployed functions run (Tracing: Active in template.yaml), and tracing off is shown.

Each measurement is a fresh interpreter that times one `import` (or one floor); a handler and its floor
are measured one after the other, in alternating order, round after round (with `import boto3` once a
round), so that drift on a noisy machine hits them alike, after one unmeasured round that writes the
bytecode caches. It prints the medians, and each handler's ratio to its floor and to `import boto3` as
the median of the rounds' ratios: on a shared machine that is now fast, now slow, a ratio of two
medians can set a fast run of one against a slow run of the other, a handler over the floor measured
beside it cannot; the spread of the rounds' ratios (first to third quartile) is printed beside it. With
--top, the packages that cost a handler most (self time summed per package, from `python -X importtime`).
Exits 1, naming them, if a handler is over the target with tracing on.

With --order-check, it also times each handler as deployed against the same handler from a copy of the
code whose handlers package does not import the AWS SDK first, in paired rounds: src/handlers/__init__.py
imports boto3 before anything else because the import measured shorter that way.

Two things make the figure a Lambda's rather than a laptop's:
- the environment variables Lambda's runtime sets (LAMBDA_TASK_ROOT and others): the X-Ray SDK
  behind Powertools' Tracer builds an X-Ray API client at import outside Lambda (about 100 ms) and
  a local sampler inside it, and Powertools traces only inside Lambda;
- `--python`: an interpreter with only the functions' dependencies (src/requirements.txt), as in
  the deployment package; `make bench-coldstart` builds one in out/runtime-venv. The development
  venv also holds moto, pytest and requests.
"""

from __future__ import annotations

import argparse
import json
import os
import pkgutil
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from lookout_diagnostics.tracing import PATCHED_MODULES

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src"
HANDLERS = SOURCE / "handlers"
PROJECT_PACKAGES = ("handlers", "lookout_diagnostics")
BASELINE = "boto3"
TARGET_RATIO = 1.25
Turn = TypeVar("Turn")
# How the floor builds each Powertools utility a handler holds at import, as the project builds it.
UTILITIES = {
    "Logger": "Logger()",
    "Metrics": "Metrics()",
    "Tracer": f"Tracer(patch_modules={list(PATCHED_MODULES)!r})",
}
_TIMER = "import time; t = time.perf_counter()\n{code}\nprint(time.perf_counter() - t)"
# Run in a fresh interpreter: import the handler named in argv[1], print what it loaded from outside the project.
_PROBE = """
import importlib, json, sys, sysconfig
from pathlib import Path

before = set(sys.modules)
handler = importlib.import_module(sys.argv[1])
project = set(sys.argv[2:])
sites = [Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")]

def third_party(name):
    path = getattr(sys.modules.get(name), "__file__", None)
    return name not in project and path is not None and any(Path(path).resolve().is_relative_to(s) for s in sites)

loaded = [name for name in sys.modules if name not in before]
packages = []
for name in loaded:
    top = name.partition(".")[0]
    if top not in packages and third_party(top):
        packages.append(top)
utilities = []
for value in vars(handler).values():
    kind = type(value)
    if kind.__module__.startswith("aws_lambda_powertools.") and kind.__name__ not in utilities:
        utilities.append(kind.__name__)
models = False
if "pydantic" in sys.modules:
    pending = [sys.modules["pydantic"].BaseModel]
    while pending and not models:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        models = model.__module__.partition(".")[0] in project
print(json.dumps({
    "packages": packages,
    "modules": [name for name in loaded if name.partition(".")[0] in packages],
    "utilities": utilities,
    "defines_models": models,
}))
"""


@dataclass(frozen=True)
class Configuration:
    """A way the functions can run: what it adds to Lambda's environment, and whether the target judges it."""

    name: str
    environment: Mapping[str, str]
    judged: bool


CONFIGURATIONS = (
    Configuration("tracing on (as deployed: Tracing: Active)", {}, judged=True),
    Configuration("tracing off (POWERTOOLS_TRACE_DISABLED=true)", {"POWERTOOLS_TRACE_DISABLED": "true"}, judged=False),
)


@dataclass(frozen=True)
class Dependencies:
    """What a handler imports from outside the project, as a process that imported it saw."""

    packages: tuple[str, ...]  # third-party top-level packages, in the order they loaded
    modules: tuple[str, ...]  # every module of those packages that loaded, in order
    utilities: tuple[str, ...]  # the Powertools utilities the handler builds at import: Logger, Metrics, Tracer
    defines_models: bool  # whether the import defines pydantic models of the project's

    def floor_code(self) -> str:
        """The floor: these modules imported, one pydantic model defined if the handler defines any, these
        utilities built; none of the project's code."""
        unknown = sorted(set(self.utilities) - set(UTILITIES))
        if unknown:
            raise SystemExit(f"no floor for the Powertools utilities {unknown}: add how to build them to UTILITIES")
        lines = [f"import {module}" for module in self.modules]
        if self.defines_models:
            lines += ["from pydantic import BaseModel", "class Event(BaseModel):", "    id: str"]
        if self.utilities:
            lines.append(f"from aws_lambda_powertools import {', '.join(self.utilities)}")
            lines += [UTILITIES[utility] for utility in self.utilities]
        return "\n".join(lines)

    def describe(self) -> str:
        model = ", one pydantic model defined" if self.defines_models else ""
        built = f"; builds {', '.join(self.utilities)}" if self.utilities else ""
        return f"imports {', '.join(self.packages)} ({len(self.modules)} modules){model}{built}"


@dataclass
class Measurement:
    """A handler's import times and its floor's, taken in turns in one configuration."""

    handler: str
    dependencies: Dependencies
    handler_seconds: list[float] = field(default_factory=list)
    floor_seconds: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """The handler over its floor: the median of the rounds' ratios."""
        return paired_ratio(self.handler_seconds, self.floor_seconds)


def paired_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """The median of the ratios of times taken in the same round."""
    return statistics.median(top / bottom for top, bottom in _rounds(numerators, denominators))


def paired_spread(numerators: Sequence[float], denominators: Sequence[float]) -> tuple[float, float]:
    """The first and third quartiles of the ratios of times taken in the same round."""
    ratios = [top / bottom for top, bottom in _rounds(numerators, denominators)]
    if len(ratios) < 2:
        return ratios[0], ratios[0]
    first, _, third = statistics.quantiles(ratios, n=4)
    return first, third


def paired_difference(firsts: Sequence[float], seconds: Sequence[float]) -> float:
    """The median of the differences of times taken in the same round."""
    return statistics.median(first - second for first, second in _rounds(firsts, seconds))


def _rounds(firsts: Sequence[float], seconds: Sequence[float]) -> list[tuple[float, float]]:
    """The two times of each round, side by side."""
    if len(firsts) != len(seconds) or not firsts:
        raise ValueError("one time of each per round, and at least one round")
    return list(zip(firsts, seconds, strict=True))


def handler_modules() -> list[str]:
    return sorted(f"handlers.{module.name}" for module in pkgutil.iter_modules([str(HANDLERS)]))


def environment(configuration: Configuration, source: Path = SOURCE) -> dict[str, str]:
    """What Lambda's python3.13 runtime sets that changes what an import does, the code's path, and the
    configuration's own variables."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    variables = {name: value for name, value in os.environ.items() if name in keep}
    variables |= {
        "PYTHONPATH": str(source),
        "LAMBDA_TASK_ROOT": str(source),
        "AWS_LAMBDA_FUNCTION_NAME": "coldstart",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1769",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    return variables | dict(configuration.environment)


def _run(python: str, arguments: Sequence[str], configuration: Configuration, what: str, source: Path = SOURCE) -> str:
    done = subprocess.run(
        [python, *arguments], capture_output=True, text=True, env=environment(configuration, source), check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{what} failed ({configuration.name}):\n{done.stderr}")
    return done.stdout


def dependencies(python: str, handler: str, configuration: Configuration) -> Dependencies:
    """What `handler` loads from outside the project, read in a fresh interpreter."""
    found = json.loads(_run(python, ["-c", _PROBE, handler, *PROJECT_PACKAGES], configuration, f"importing {handler}"))
    return Dependencies(
        packages=tuple(found["packages"]),
        modules=tuple(found["modules"]),
        utilities=tuple(found["utilities"]),
        defines_models=bool(found["defines_models"]),
    )


def seconds_to_run(python: str, code: str, configuration: Configuration, what: str, source: Path = SOURCE) -> float:
    """Seconds `code` (an import, or a floor) takes in a fresh interpreter."""
    return float(_run(python, ["-c", _TIMER.format(code=code)], configuration, what, source))


def over_target(measurements: Sequence[Measurement]) -> list[str]:
    """The handlers over the target, each with its ratio."""
    return [f"{each.handler} ({each.ratio:.2f}x)" for each in measurements if each.ratio > TARGET_RATIO]


def heaviest_imports(
    python: str, module: str, top: int, configuration: Configuration = CONFIGURATIONS[0]
) -> list[tuple[str, float]]:
    """The packages that cost importing `module` most: self time summed per top-level package (one run)."""
    done = subprocess.run(
        [python, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        env=environment(configuration),
        check=False,
    )
    totals: dict[str, float] = {}
    for line in done.stderr.splitlines():
        # "import time: self [us] | cumulative | imported package"
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the header, or not an importtime line
        package = fields[2].strip().split(".")[0]
        totals[package] = totals.get(package, 0.0) + int(fields[0]) / 1e6
    return sorted(totals.items(), key=lambda item: -item[1])[:top]


def measure(python: str, handlers: Sequence[str], runs: int) -> tuple[list[float], dict[str, list[Measurement]]]:
    """`import boto3`'s times, and each configuration's measurements: one unmeasured round, then `runs` rounds."""
    by_configuration = {
        configuration.name: [Measurement(handler, dependencies(python, handler, configuration)) for handler in handlers]
        for configuration in CONFIGURATIONS
    }
    baseline: list[float] = []
    for round_ in range(runs + 1):
        boto3 = seconds_to_run(python, f"import {BASELINE}", CONFIGURATIONS[0], f"importing {BASELINE}")
        for configuration in CONFIGURATIONS:
            for each in by_configuration[configuration.name]:
                turns = [
                    (each.dependencies.floor_code(), f"the floor of {each.handler}", each.floor_seconds),
                    (f"import {each.handler}", f"importing {each.handler}", each.handler_seconds),
                ]
                for code, what, times in _alternated(turns, round_):
                    seconds = seconds_to_run(python, code, configuration, what)
                    if round_:  # the first round writes the bytecode caches
                        times.append(seconds)
        if round_:
            baseline.append(boto3)
    return baseline, by_configuration


def _alternated(turns: list[Turn], round_: int) -> list[Turn]:
    """The round's turns, in one order in odd rounds and the other in even ones, so that drift hits both alike."""
    return turns if round_ % 2 else turns[::-1]


def sdk_imported_later(scratch: Path) -> Path:
    """A copy of the code in `scratch` whose handlers package imports nothing: the order the handlers had
    before it imported boto3 first. Returns the copy's source directory."""
    later = scratch / "src"
    shutil.copytree(SOURCE, later, ignore=shutil.ignore_patterns("__pycache__"))
    (later / "handlers" / "__init__.py").write_text("")
    return later


def order_check(python: str, handlers: Sequence[str], runs: int) -> list[tuple[str, float, int]]:
    """Each handler as deployed against the same handler from a copy of the code whose handlers package does
    not import the AWS SDK first (boto3 then loads where the project's adapters import it, after Powertools,
    pydantic and the domain's modules), tracing on, in paired rounds after one unmeasured round: the median
    of the rounds' differences (seconds, positive when the copy's import is longer), and in how many rounds
    the copy's was longer."""
    configuration = CONFIGURATIONS[0]
    found = []
    with tempfile.TemporaryDirectory() as scratch:
        later = sdk_imported_later(Path(scratch))
        for handler in handlers:
            deployed: list[float] = []
            sdk_later: list[float] = []
            for round_ in range(runs + 1):
                turns = [(SOURCE, deployed), (later, sdk_later)]
                for source, times in _alternated(turns, round_):
                    seconds = seconds_to_run(python, f"import {handler}", configuration, f"importing {handler}", source)
                    if round_:  # the first round writes the bytecode caches
                        times.append(seconds)
            longer = sum(copy > as_deployed for copy, as_deployed in zip(sdk_later, deployed, strict=True))
            found.append((handler, paired_difference(sdk_later, deployed), longer))
    return found


def report(baseline: Sequence[float], by_configuration: Mapping[str, Sequence[Measurement]]) -> list[str]:
    """The tables, the floors, and the handlers over the target in the judged configuration."""
    boto3 = statistics.median(baseline)
    over: list[str] = []
    for configuration in CONFIGURATIONS:
        measurements = by_configuration[configuration.name]
        judged = f"judged: each handler <= {TARGET_RATIO}x its floor" if configuration.judged else "not judged"
        print(f"\n{configuration.name}, {judged}\n")
        print(
            f"{'module':<32} {'median ms':>9} {'floor ms':>9} {'x floor':>8} {'quartiles':>11} {'x boto3':>8} "
            f"{'floor x boto3':>14}"
        )
        print(f"{'import ' + BASELINE:<32} {boto3 * 1e3:>9.0f} {'':>9} {'':>8} {'':>11} {1:>8.2f}")
        for each in measurements:
            handler, floor = statistics.median(each.handler_seconds), statistics.median(each.floor_seconds)
            verdict = ("ok" if each.ratio <= TARGET_RATIO else "OVER") if configuration.judged else ""
            low, high = paired_spread(each.handler_seconds, each.floor_seconds)
            print(
                f"{each.handler:<32} {handler * 1e3:>9.0f} {floor * 1e3:>9.0f} {each.ratio:>8.2f} "
                f"{f'{low:.2f}-{high:.2f}':>11} "
                f"{paired_ratio(each.handler_seconds, baseline):>8.2f} "
                f"{paired_ratio(each.floor_seconds, baseline):>14.2f}  {verdict}"
            )
        floors: dict[str, list[str]] = {}
        for each in measurements:
            floors.setdefault(each.dependencies.describe(), []).append(each.handler.removeprefix("handlers."))
        for description, handlers in floors.items():
            print(f"  floor of {', '.join(handlers)}: {description}")
        if configuration.judged:
            over += over_target(measurements)
    return over


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.coldstart", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per target; the median is kept")
    parser.add_argument("--top", type=int, default=0, help="show each handler's N heaviest imported packages")
    parser.add_argument("--python", default=sys.executable, help="the interpreter (and so the packages) to measure")
    parser.add_argument(
        "--order-check", action="store_true", help="also time each handler with the AWS SDK imported later"
    )
    arguments = parser.parse_args(argv)
    python = arguments.python

    handlers = handler_modules()
    baseline, by_configuration = measure(python, handlers, arguments.runs)
    print(
        f"{python}: {arguments.runs} fresh processes per module, Lambda's environment; median import time, "
        "and ratios as the median of the rounds' ratios"
    )
    over = report(baseline, by_configuration)
    for handler in handlers if arguments.top else []:
        heaviest = ", ".join(
            f"{name} {cost * 1e3:.0f}" for name, cost in heaviest_imports(python, handler, arguments.top)
        )
        print(f"\n{handler}, ms of import by package (one run, tracing on): {heaviest}")
    if arguments.order_check:
        print("\nimport order, tracing on: each handler as deployed (the SDK first) and with the SDK imported later")
        for handler, difference, longer in order_check(python, handlers, arguments.runs):
            print(
                f"{handler:<32} the SDK later: {difference * 1e3:+.1f} ms (median of the rounds' differences), "
                f"longer in {longer} of {arguments.runs} rounds"
            )
    if over:
        print(f"\nOVER the target of {TARGET_RATIO}x the floor: {', '.join(over)}")
        return 1
    print(f"\nevery handler within {TARGET_RATIO}x its floor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
