"""Import time of every Lambda handler against `import boto3` alone: a proxy for cold starts.

    python -m local.coldstart [--python out/runtime-venv/bin/python] [--runs 9] [--top 8]

Every module in src/handlers/ is found by itself, so a new handler is measured without a change
here. Each measurement is a fresh interpreter that times one `import`; the modules take turns
(boto3, handler 1, handler 2, ..., boto3, ...) so that drift on a noisy machine hits them alike,
after one unmeasured round that writes the bytecode caches. It prints the median of each and its
ratio to boto3's against the target (at most 1.5x), and with --top the packages that cost a
handler most (self time summed per package, from `python -X importtime`). Exits 1 if a handler is
over the target. One more row, not judged, gives the scale: the floor every handler here imports
before any code of the project's (boto3 for its AWS calls, pydantic with one model built, and
Powertools' Logger, Metrics and Tracer as the handlers build them).

Two things make the figure a Lambda's rather than a laptop's:
- the environment variables Lambda's runtime sets (LAMBDA_TASK_ROOT and others): the X-Ray SDK
  behind Powertools' Tracer builds an X-Ray API client at import outside Lambda (about 100 ms) and
  a local sampler inside it;
- `--python`: an interpreter with only the functions' dependencies (src/requirements.txt), as in
  the deployment package; `make bench-coldstart` builds one in out/runtime-venv. The development
  venv also holds moto, pytest and requests, and the Tracer patches requests when it is there.
"""

from __future__ import annotations

import argparse
import os
import pkgutil
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = ROOT / "src" / "handlers"
BASELINE = "boto3"
TARGET_RATIO = 1.5
# Not judged, shown for scale: what every handler here imports before any code of ours. pydantic's
# first model costs more than its import (its field machinery loads then), so one is built.
FLOOR = "(floor: boto3, pydantic, powertools)"
FLOOR_CODE = (
    "import boto3\n"
    "from aws_lambda_powertools import Logger, Metrics, Tracer\n"
    "from pydantic import BaseModel\n"
    "class Event(BaseModel):\n"
    "    id: str\n"
    "Logger(); Metrics(); Tracer(patch_modules=['botocore'])"
)
_TIMER = "import time; t = time.perf_counter()\n{code}\nprint(time.perf_counter() - t)"


def handler_modules() -> list[str]:
    return sorted(f"handlers.{module.name}" for module in pkgutil.iter_modules([str(HANDLERS)]))


def _environment() -> dict[str, str]:
    """What Lambda's python3.13 runtime sets that changes what an import does, and the code's path."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    environment = {name: value for name, value in os.environ.items() if name in keep}
    environment |= {
        "PYTHONPATH": str(ROOT / "src"),
        "LAMBDA_TASK_ROOT": str(ROOT / "src"),
        "AWS_LAMBDA_FUNCTION_NAME": "coldstart",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1769",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    return environment


def _code(target: str) -> str:
    return FLOOR_CODE if target == FLOOR else f"import {target}"


def import_seconds(python: str, target: str) -> float:
    """Seconds to import `target` (a module, or the floor) in a fresh interpreter."""
    done = subprocess.run(
        [python, "-c", _TIMER.format(code=_code(target))],
        capture_output=True,
        text=True,
        env=_environment(),
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"importing {target} failed:\n{done.stderr}")
    return float(done.stdout)


def heaviest_imports(python: str, module: str, top: int) -> list[tuple[str, float]]:
    """The packages that cost importing `module` most: self time summed per top-level package (one run)."""
    done = subprocess.run(
        [python, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        env=_environment(),
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.coldstart", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh processes per target; the median is kept")
    parser.add_argument("--top", type=int, default=0, help="show each handler's N heaviest imported packages")
    parser.add_argument("--python", default=sys.executable, help="the interpreter (and so the packages) to measure")
    arguments = parser.parse_args(argv)
    python = arguments.python

    handlers = handler_modules()
    targets = [BASELINE, FLOOR, *handlers]
    for target in targets:  # writes the bytecode caches; not measured
        import_seconds(python, target)
    seconds: dict[str, list[float]] = {target: [] for target in targets}
    for _ in range(arguments.runs):
        for target in targets:
            seconds[target].append(import_seconds(python, target))
    medians = {target: statistics.median(values) for target, values in seconds.items()}

    print(f"{python}: {arguments.runs} fresh processes per module, Lambda's environment, median import time\n")
    print(f"{'module':<40} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'x boto3':>8}  target <= {TARGET_RATIO}x")
    over = []
    for target in targets:
        ratio = medians[target] / medians[BASELINE]
        verdict = "" if target in (BASELINE, FLOOR) else ("ok" if ratio <= TARGET_RATIO else "OVER")
        if verdict == "OVER":
            over.append(target)
        print(
            f"{target:<40} {medians[target] * 1e3:>10.0f} {min(seconds[target]) * 1e3:>8.0f} "
            f"{max(seconds[target]) * 1e3:>8.0f} {ratio:>8.2f}  {verdict}"
        )
    for handler in handlers if arguments.top else []:
        heaviest = ", ".join(
            f"{name} {cost * 1e3:.0f}" for name, cost in heaviest_imports(python, handler, arguments.top)
        )
        print(f"\n{handler}, ms of import by package (one run): {heaviest}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
