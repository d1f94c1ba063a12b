"""The cold-start benchmark's floors: derived from what a handler loads, fair to it, and judged without timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from local.coldstart import (
    CONFIGURATIONS,
    TARGET_RATIO,
    Configuration,
    Dependencies,
    Measurement,
    dependencies,
    environment,
    handler_modules,
    over_target,
    paired_difference,
    paired_ratio,
    paired_spread,
    sdk_imported_later,
)

TRACING_ON, TRACING_OFF = CONFIGURATIONS
HANDLER = "handlers.training_finished"
SMALL = Dependencies(
    packages=("boto3", "pydantic"),
    modules=("boto3", "boto3.session", "pydantic"),
    utilities=("Logger", "Tracer"),
    defines_models=True,
)


def test_the_deployed_configuration_is_the_judged_one() -> None:
    # Given the configurations measured
    # Then tracing on, as the deployed functions run (Tracing: Active), is judged, and tracing off is shown
    assert (TRACING_ON.judged, TRACING_OFF.judged) == (True, False)
    assert "POWERTOOLS_TRACE_DISABLED" not in environment(TRACING_ON)
    assert environment(TRACING_OFF)["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert "handlers.diagnostics_landed" in handler_modules()


def test_a_floor_imports_the_modules_defines_a_model_and_builds_the_utilities() -> None:
    # Given what a handler loaded from outside the project
    # When its floor is written
    code = SMALL.floor_code().splitlines()

    # Then it imports those modules in order, defines one model, and builds the utilities as the project does
    assert code[:3] == ["import boto3", "import boto3.session", "import pydantic"]
    assert "class Event(BaseModel):" in code
    assert code[-3:] == [
        "from aws_lambda_powertools import Logger, Tracer",
        "Logger()",
        "Tracer(patch_modules=['botocore'])",
    ]


def test_a_floor_without_models_or_tracer_has_neither() -> None:
    # Given a handler that defines no model and builds no Tracer (tracing off)
    dependencies = Dependencies(
        packages=("boto3",), modules=("boto3",), utilities=("Logger", "Metrics"), defines_models=False
    )

    # When its floor is written
    code = dependencies.floor_code()

    # Then it has no model and no Tracer
    assert "BaseModel" not in code
    assert "Tracer" not in code
    assert code.endswith("Logger()\nMetrics()")


def test_a_utility_the_floor_cannot_build_stops_the_benchmark() -> None:
    # Given a handler holding a Powertools utility the floor does not know how to build
    dependencies = Dependencies(packages=(), modules=(), utilities=("Idempotency",), defines_models=False)

    # When its floor is written
    # Then the benchmark stops, naming it, rather than leave it out of the floor
    with pytest.raises(SystemExit, match="Idempotency"):
        dependencies.floor_code()


def test_only_handlers_over_the_target_are_named() -> None:
    # Given two handlers' times and their floors' (seconds, as measured)
    within = Measurement("handlers.a", SMALL, handler_seconds=[0.2, 0.25, 0.3], floor_seconds=[0.2, 0.2, 0.21])
    over = Measurement("handlers.b", SMALL, handler_seconds=[0.3, 0.26, 0.31], floor_seconds=[0.2, 0.19, 0.2])

    # When they are judged
    named = over_target([within, over])

    # Then the one over TARGET_RATIO (the median of the rounds' ratios) is named with its ratio
    assert within.ratio == pytest.approx(1.25) and within.ratio <= TARGET_RATIO
    assert named == ["handlers.b (1.50x)"]


def test_a_ratio_pairs_the_times_of_one_round() -> None:
    # Given a handler and its floor measured back to back, the machine fast in two rounds and slow in one,
    # and slow for one more floor
    handler = [0.30, 0.60, 0.30, 0.30]
    floor = [0.25, 0.50, 0.25, 0.40]

    # When their ratio is taken
    # Then each round is compared with itself, so the slow rounds move it little (a ratio of medians says 0.92)
    assert paired_ratio(handler, floor) == pytest.approx(1.2)
    with pytest.raises(ValueError, match="one time of each per round"):
        paired_ratio(handler, floor[:2])


def test_the_spread_and_the_difference_pair_the_times_of_one_round_too() -> None:
    # Given a handler and its floor measured in four rounds, one of them slow for the floor
    handler = [0.30, 0.33, 0.36, 0.30]
    floor = [0.25, 0.30, 0.30, 0.40]

    # When the spread of the rounds' ratios and the median difference are taken
    low, high = paired_spread(handler, floor)

    # Then the quartiles bound the median ratio, and the difference is the median of each round's own
    assert low <= paired_ratio(handler, floor) <= high
    assert (low, high) == pytest.approx((0.8375, 1.2))
    assert paired_spread([0.3], [0.25]) == pytest.approx((1.2, 1.2))
    assert paired_difference(handler, floor) == pytest.approx(0.04)
    with pytest.raises(ValueError, match="one time of each per round"):
        paired_difference(handler, floor[:3])


@pytest.mark.parametrize(
    ("configuration", "tracing"), [(TRACING_ON, True), (TRACING_OFF, False)], ids=["tracing on", "tracing off"]
)
def test_a_derived_floor_loads_what_the_handler_loads_from_outside_the_project(
    configuration: Configuration, tracing: bool
) -> None:
    # Given what a fresh interpreter saw a handler load from outside the project
    found = dependencies(sys.executable, HANDLER, configuration)

    # When its floor runs in a fresh interpreter
    check = "import json, sys\n{floor}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", check.format(floor=found.floor_code())],
        env=environment(configuration),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))

    # Then the floor loads every one of those modules, and nothing of the project's
    assert set(found.modules) <= loaded
    assert not {name for name in loaded if name.partition(".")[0] in ("handlers", "lookout_diagnostics")}
    # and it holds what the handler depends on: boto3, pydantic with a model, Logger and Metrics, and the
    # Tracer with the X-Ray SDK only when tracing is on
    assert {"boto3", "pydantic", "aws_lambda_powertools"} <= set(found.packages)
    assert found.defines_models
    assert found.utilities == (("Logger", "Tracer", "Metrics") if tracing else ("Logger", "Metrics"))
    assert ("aws_xray_sdk" in found.packages) is tracing


def test_the_handlers_import_the_sdk_first_and_the_order_check_compares_a_copy_that_does_not(tmp_path: Path) -> None:
    # Given the code as deployed and the copy the order check compares it with
    later = sdk_imported_later(tmp_path)
    probe = (
        "import importlib, json, sys; importlib.import_module(sys.argv[1]); "
        "names = list(sys.modules); print(json.dumps([names.index('boto3'), names.index('pydantic')]))"
    )

    def boto3_and_pydantic(source: Path | None) -> list[int]:
        environment_ = environment(TRACING_OFF, *([source] if source else []))
        done = subprocess.run(
            [sys.executable, "-c", probe, HANDLER], capture_output=True, text=True, env=environment_, check=True
        )
        return list(json.loads(done.stdout))

    # When a handler is imported from each
    deployed, copy = boto3_and_pydantic(None), boto3_and_pydantic(later)

    # Then the deployed handler loads boto3 before pydantic, and the copy after it, where the adapters import it
    assert deployed[0] < deployed[1]
    assert copy[0] > copy[1]
    assert (later / "handlers" / "__init__.py").read_text() == ""
