"""The AWS IoT SiteWise training workflow: the real ASL from statemachine/, executed by moto's interpreter, with the
real handler in-process under its role from template.yaml, SiteWise answered by the fake (every request checked
against botocore), no sleeping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.fake_sitewise import (
    INFERENCE_ACTION,
    TRAINING_ACTION,
    FakeAsset,
    FakeComputationModel,
    FakeExecution,
    FakeSiteWise,
)
from tests.support.iam import current_runtime
from tests.support.sitewise_files import evaluation_key, put_evaluation_results
from tests.support.stack import EmulatedStack, announcement
from tests.support.state_machine import EmulatedStateMachine, ExecutionResult, states_entered
from tests.support.template import ROOT
from tests.support.workflow import create_sitewise_training_workflow

SAMPLE = json.loads((ROOT / "events" / "sitewise-training-input.json").read_text())
PROPERTIES = ["Bearing temperature", "Outlet flow", "Motor current"]


@pytest.fixture
def machine(stack: EmulatedStack, sitewise: FakeSiteWise) -> Iterator[EmulatedStateMachine]:
    with EmulatedStateMachine() as emulated:
        create_sitewise_training_workflow(emulated)
        yield emulated


@pytest.fixture
def pump(sitewise: FakeSiteWise) -> tuple[FakeComputationModel, FakeAsset]:
    pumps = sitewise.add_asset_model("pump", PROPERTIES)
    return sitewise.add_computation_model("pump-anomalies", asset_model=pumps), sitewise.add_asset("Pump 7", pumps)


def console_input(pump: tuple[FakeComputationModel, FakeAsset], **changes: Any) -> dict[str, Any]:
    """The sample input from events/, for this computation model and asset."""
    model, asset = pump
    return SAMPLE | {"ComputationModelId": model.id, "AssetId": asset.id} | changes


def write_evaluation(asset: FakeAsset, announce: bool = False) -> Any:
    """What SiteWise does when the training completes: evaluation results at the payload's destination."""

    def on_complete(execution: FakeExecution, payload: dict[str, Any]) -> None:
        destination = payload["modelEvaluationConfiguration"]["resultDestination"]
        key = evaluation_key(destination["prefix"], asset)
        put_evaluation_results(destination["bucketName"], key, asset)
        if announce:
            event = announcement("eventbridge-evaluation-created", destination["bucketName"], key)
            current_runtime().invoke("DiagnosticsFunction", event)

    return on_complete


def run(machine: EmulatedStateMachine, execution_input: dict[str, Any], name: str = "train-1") -> ExecutionResult:
    return machine.run(execution_input, name=name)


def test_a_training_that_completes_ends_in_one_readable_alert_and_a_full_answer(
    machine: EmulatedStateMachine,
    sitewise: FakeSiteWise,
    stack: EmulatedStack,
    pump: tuple[FakeComputationModel, FakeAsset],
) -> None:
    # Given SiteWise runs the training for 3 checks, then writes its evaluation results, which S3 announces
    model, asset = pump
    sitewise.plan_executions("pump-anomalies", running_polls=3, on_complete=write_evaluation(asset, announce=True))

    # When the console input starts an execution
    result = run(machine, console_input(pump))

    # Then it succeeds after following the execution, at the requested interval
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert states_entered(result).count("CheckTraining") >= 4
    assert set(machine.waits) == {SAMPLE["PollIntervalSeconds"]}
    # And one alert names the model on its asset, with readable sensors (the trigger sent it; the workflow saw it)
    [alert] = stack.received_alerts()
    assert alert.subject.startswith(("[WARNING] pump-anomalies on Pump 7: ", "[CRITICAL] pump-anomalies on Pump 7: "))
    assert alert.body["summary"]["top_sensors"][0]["name"].startswith("Pump 7 / ")
    # And the output tells a person what they got
    output = result.output
    assert output is not None
    [execution] = sitewise.executions
    assert (output["ComputationModelName"], output["AssetId"], output["ExecutionId"], output["Status"]) == (
        "pump-anomalies",
        asset.id,
        execution.id,
        "COMPLETED",
    )
    assert output["EvaluationObject"].endswith("1793606400-evaluation_results.jsonl")
    assert output["Summary"]["top_sensors"][0].startswith("Pump 7 / ")
    assert output["Alert"] == "DUPLICATE"
    # And the training wrote under a prefix of its own, derived from the execution
    [action] = sitewise.actions
    payload = json.loads(action.payload)
    assert payload["modelEvaluationConfiguration"]["resultDestination"] == {
        "bucketName": stack.bucket,
        "prefix": f"sitewise/{model.id}/train-1/",
    }
    assert payload["targetSamplingRate"] == "PT1M"


def test_the_workflow_alerts_when_the_trigger_has_not(
    machine: EmulatedStateMachine,
    sitewise: FakeSiteWise,
    stack: EmulatedStack,
    pump: tuple[FakeComputationModel, FakeAsset],
) -> None:
    # Given results S3 has not announced (yet)
    _, asset = pump
    sitewise.plan_executions("pump-anomalies", running_polls=1, on_complete=write_evaluation(asset))

    # When the workflow finishes
    result = run(machine, console_input(pump))

    # Then the workflow's own step sends the one alert
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output["Alert"] == "ALERTED"
    [alert] = stack.received_alerts()
    assert alert.body["model"]["asset_name"] == "Pump 7"


def test_a_failed_training_ends_in_one_alert_with_its_reason_shared_with_the_poller(
    machine: EmulatedStateMachine,
    sitewise: FakeSiteWise,
    stack: EmulatedStack,
    pump: tuple[FakeComputationModel, FakeAsset],
) -> None:
    # Given a stack whose status poller has run, and SiteWise failing the training
    scheduled = json.loads((ROOT / "events" / "scheduled-poll.json").read_text())
    current_runtime().invoke("StatusPollerFunction", scheduled)
    sitewise.plan_executions("pump-anomalies", running_polls=1, outcome="FAILED", failure_reason="Not enough data")

    # When the workflow runs, and the status poller runs afterwards (it sees the same failed execution)
    result = run(machine, console_input(pump))
    report = current_runtime().invoke("StatusPollerFunction", scheduled)

    # Then the execution fails as TrainingFailed with SiteWise's reason, and one alert says so
    assert (result.status, result.error) == ("FAILED", "TrainingFailed")
    assert result.cause == "Not enough data"
    [alert] = stack.received_alerts()
    assert alert.subject.startswith("[ERROR] pump-anomalies: TrainingFailed: Not enough data")
    assert "could not train the model" in alert.body["advice"]
    # ... and the poller, which saw the execution end, put its event but found the alert sent (same key)
    assert (report["sitewise"]["outcomes"], report["sitewise"]["alerts_sent"]) == (1, 0)


def test_a_throttled_start_is_retried_and_trains_once(
    machine: EmulatedStateMachine,
    sitewise: FakeSiteWise,
    stack: EmulatedStack,
    pump: tuple[FakeComputationModel, FakeAsset],
) -> None:
    # Given ExecuteAction is applied but its answer lost twice, then SiteWise throttles for longer than the SDK retries
    _, asset = pump
    sitewise.plan_executions("pump-anomalies", running_polls=1, on_complete=write_evaluation(asset))
    sitewise.fail_next("ExecuteAction", "InternalFailureException", times=2, after_applying=True)

    # When the workflow runs
    result = run(machine, console_input(pump))

    # Then the client token made the retries harmless: one training, one alert
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert len(sitewise.executions) == 1
    assert len(stack.received_alerts()) == 1


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"TrainingEndTime": "2025-01-01T00:00:00Z"}, "TrainingStartTime must be before TrainingEndTime"),
        ({"AssetId": "pump 7"}, "AssetId: String should match pattern"),
        ({"TargetSamplingRate": "PT2M"}, "TargetSamplingRate: Input should be"),
        (
            {"EvaluationStartTime": "2027-01-01T00:00:00Z", "EvaluationEndTime": "2027-02-01T00:00:00Z"},
            "the evaluation window must overlap or touch the training window",
        ),
    ],
    ids=["empty window", "bad asset id", "unknown rate", "evaluation elsewhere"],
)
def test_invalid_input_is_refused_before_anything_is_trained(
    machine: EmulatedStateMachine,
    sitewise: FakeSiteWise,
    stack: EmulatedStack,
    pump: tuple[FakeComputationModel, FakeAsset],
    changes: dict[str, Any],
    problem: str,
) -> None:
    # Given a console input with a mistake
    # When the workflow runs
    result = run(machine, console_input(pump, **changes))

    # Then it fails as InvalidInput saying what to fix, trains nothing, and alerts once
    assert (result.status, result.error) == ("FAILED", "InvalidInput")
    assert problem in (result.cause or "")
    assert sitewise.executions == []
    [alert] = stack.received_alerts()
    assert alert.body["error"] == "InvalidInput"


def test_an_unknown_computation_model_is_named(
    machine: EmulatedStateMachine, stack: EmulatedStack, pump: tuple[FakeComputationModel, FakeAsset]
) -> None:
    # Given a computation model id nobody created
    # When the workflow runs
    result = run(machine, console_input(pump, ComputationModelId="0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"))

    # Then it fails as ComputationModelNotFound, with what to check
    assert (result.status, result.error) == ("FAILED", "ComputationModelNotFound")
    [alert] = stack.received_alerts()
    assert "ComputationModelId and AssetId" in alert.body["advice"]


def test_a_training_longer_than_the_wait_times_out_and_says_training_goes_on(
    machine: EmulatedStateMachine,
    sitewise: FakeSiteWise,
    stack: EmulatedStack,
    pump: tuple[FakeComputationModel, FakeAsset],
) -> None:
    # Given a training that runs for longer than the input waits (2 checks)
    sitewise.plan_executions("pump-anomalies", running_polls=10)

    # When the workflow runs
    result = run(machine, console_input(pump, PollIntervalSeconds=300, MaxWaitSeconds=600))

    # Then it ends TrainingTimedOut after two checks, saying the training goes on
    assert (result.status, result.error) == ("FAILED", "TrainingTimedOut")
    assert states_entered(result).count("CheckTraining") == 2
    [alert] = stack.received_alerts()
    assert "the status poller announces its end" in alert.body["advice"]


def test_a_check_throttled_beyond_the_sdks_retries_is_retried_by_the_workflow(
    machine: EmulatedStateMachine,
    sitewise: FakeSiteWise,
    stack: EmulatedStack,
    pump: tuple[FakeComputationModel, FakeAsset],
) -> None:
    # Given SiteWise throttling ListExecutions for longer than the SDK retries (9 attempts)
    _, asset = pump
    sitewise.plan_executions("pump-anomalies", running_polls=1, on_complete=write_evaluation(asset))
    sitewise.fail_next("ListExecutions", "ThrottlingException", times=9)

    # When the workflow runs
    result = run(machine, console_input(pump))

    # Then the state machine's own retry took over, and the training ended in its one alert
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert machine.retry_intervals, "the Retry on SiteWiseUnavailableError did not run"
    assert len(stack.received_alerts()) == 1


def test_a_computation_model_the_workflow_creates_is_trained_once_active(
    machine: EmulatedStateMachine, sitewise: FakeSiteWise, stack: EmulatedStack
) -> None:
    # Given an asset model and asset, and no computation model yet; SiteWise takes two checks to create it
    pumps = sitewise.add_asset_model("pump", [*PROPERTIES, "Anomaly result"], data_types={"Anomaly result": "STRING"})
    asset = sitewise.add_asset("Pump 7", pumps)
    sitewise.creation_polls = 2
    sitewise.plan_executions(None, running_polls=1, on_complete=write_evaluation(asset))
    new_model = {
        "Name": "pump-anomalies",
        "AssetModelId": pumps.id,
        "InputProperties": PROPERTIES,
        "ResultProperty": "Anomaly result",
    }
    execution_input = {k: v for k, v in SAMPLE.items() if k != "ComputationModelId"}

    # When the console input names the model to create instead of an existing one
    result = run(machine, execution_input | {"AssetId": asset.id, "NewComputationModel": new_model})

    # Then the model is created bound to those properties, trained once ACTIVE, and the training alerted once
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    model = sitewise.computation_model("pump-anomalies")
    assert (model.state, model.input_properties, model.result_property) == ("ACTIVE", PROPERTIES, "Anomaly result")
    assert len(sitewise.actions) == 1
    [alert] = stack.received_alerts()
    assert alert.subject.startswith(("[WARNING] pump-anomalies on Pump 7: ", "[CRITICAL] pump-anomalies on Pump 7: "))
    assert result.output["EvaluationObject"].startswith(f"s3://{stack.bucket}/sitewise/pump-anomalies/train-1/")


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"ComputationModelId": None}, "give ComputationModelId, or NewComputationModel to create one, not both"),
        (
            {
                "NewComputationModel": {
                    "Name": "x",
                    "AssetModelId": "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
                    "InputProperties": ["Outlet flow"],
                    "ResultProperty": "r",
                }
            },
            "give ComputationModelId, or NewComputationModel to create one, not both",
        ),
    ],
    ids=["neither", "both"],
)
def test_the_model_is_named_one_way_or_the_other(
    machine: EmulatedStateMachine,
    stack: EmulatedStack,
    pump: tuple[FakeComputationModel, FakeAsset],
    changes: dict[str, Any],
    problem: str,
) -> None:
    # Given an input naming neither a computation model nor one to create, or both
    execution_input = {k: v for k, v in console_input(pump, **changes).items() if v is not None}

    # When the workflow runs
    result = run(machine, execution_input)

    # Then it is refused as InvalidInput saying so
    assert (result.status, result.error) == ("FAILED", "InvalidInput")
    assert problem in (result.cause or "")


def test_inference_starts_after_the_training_when_the_input_asks(
    machine: EmulatedStateMachine,
    sitewise: FakeSiteWise,
    stack: EmulatedStack,
    pump: tuple[FakeComputationModel, FakeAsset],
) -> None:
    # Given a training that completes with its results
    _, asset = pump
    sitewise.plan_executions(
        "pump-anomalies", action_type=TRAINING_ACTION, running_polls=1, on_complete=write_evaluation(asset)
    )

    # When the input asks for inference every 10 minutes afterwards
    result = run(machine, console_input(pump, StartInference=True, DataUploadFrequency="PT10M"))

    # Then the model's inference action was started once on the asset, after the training, and the output says so
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    training, inference = sitewise.actions
    assert (training.definition.action_type, inference.definition.action_type) == (TRAINING_ACTION, INFERENCE_ACTION)
    assert json.loads(inference.payload) == {"inferenceMode": "START", "dataUploadFrequency": "PT10M"}
    assert inference.asset is not None and inference.asset.id == asset.id
    assert result.output["InferenceActionId"] == inference.id
    assert len(stack.received_alerts()) == 1
