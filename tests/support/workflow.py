"""The stack's training workflow in the emulation: the real ASL, its Lambda steps routed to the real handlers."""

from __future__ import annotations

from collections.abc import Callable

from lookout_diagnostics.settings import get_settings
from tests.support.state_machine import EmulatedStateMachine, LambdaHandler
from tests.support.template import ROOT, STATE_MACHINE_NAMES

TRAINING_DEFINITION = ROOT / "statemachine" / "train_model.asl.json"


def create_training_workflow(machine: EmulatedStateMachine) -> str:
    """The training state machine from statemachine/, each step under its function's role when IAM is enforced."""
    from handlers import start_training, training_failed, training_finished

    handlers: dict[str, LambdaHandler] = {
        "StartTrainingFunction": start_training.lambda_handler,
        "TrainingFinishedFunction": training_finished.lambda_handler,
        "TrainingFailedFunction": training_failed.lambda_handler,
    }
    arns = {f"{name}Arn": machine.register_function(name, handler) for name, handler in handlers.items()}
    return machine.create(
        TRAINING_DEFINITION, arns, name="lookout-diagnostics-training", identity="TrainingStateMachine"
    )


SITEWISE_TRAINING_DEFINITION = ROOT / "statemachine" / "train_sitewise_model.asl.json"


def create_sitewise_training_workflow(machine: EmulatedStateMachine) -> str:
    """The AWS IoT SiteWise training state machine, its one function under its role when IAM is enforced."""
    from handlers import sitewise_training

    arn = machine.register_function("SiteWiseTrainingFunction", sitewise_training.lambda_handler)
    return machine.create(
        SITEWISE_TRAINING_DEFINITION,
        {"SiteWiseTrainingFunctionArn": arn},
        name="lookout-diagnostics-sitewise-training",
        identity="SiteWiseTrainingStateMachine",
    )


FLEET_DEFINITION = ROOT / "statemachine" / "train_fleet.asl.json"


def create_fleet_workflow(
    machine: EmulatedStateMachine, service_workflow: str, bucket: str, setenv: Callable[[str, str], None]
) -> str:
    """The fleet state machine, named as template.yaml names it (`<stack>-fleet`), over a single-asset workflow
    already created in the same harness (its ARN), each under its role when IAM is enforced. The fleet's
    function is told the single-asset workflow's ARN as template.yaml tells it."""
    from handlers import fleet

    arn = machine.register_function("FleetFunction", fleet.lambda_handler)
    variable = (
        "TRAINING_STATE_MACHINE_ARN" if "sitewise" not in service_workflow else "SITEWISE_TRAINING_STATE_MACHINE_ARN"
    )
    setenv(variable, service_workflow)  # a test's monkeypatch.setenv: undone after the test
    get_settings.cache_clear()
    return machine.create(
        FLEET_DEFINITION,
        {"FleetFunctionArn": arn, "FleetBucket": bucket},
        name=STATE_MACHINE_NAMES["FleetStateMachine"],
        identity="FleetStateMachine",
    )
