"""The training workflow: the real ASL from statemachine/, executed by moto's interpreter, with the real
Lambda handlers in-process, L4E answered by the fake (every request checked against botocore), no sleeping.
Each step runs under its function's role from template.yaml, the state machine's own calls under its role."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local.generator import GeneratorSpec, write_diagnostics_file
from tests.support.fake_lookout import FakeLookout, FakeModel, FakeModelVersion, listed_models
from tests.support.iam import current_runtime
from tests.support.stack import LOOKOUT_ROLE_ARN, EmulatedStack, announcement
from tests.support.state_machine import EmulatedStateMachine, ExecutionResult, states_entered
from tests.support.template import ROOT
from tests.support.workflow import create_training_workflow

SPEC = GeneratorSpec(
    rows=3000, sensors=8, components=2, episodes=2, episode_points=(10, 30), seed=3, machine_off_points=(20, 50)
)
INPUT = json.loads((ROOT / "events" / "training-input.json").read_text())
MODEL = INPUT["ModelName"]


@pytest.fixture
def machine(stack: EmulatedStack, lookout: FakeLookout) -> Iterator[EmulatedStateMachine]:
    with EmulatedStateMachine() as emulated:
        create_training_workflow(emulated)
        yield emulated


def put_diagnostics(version: FakeModelVersion | None) -> None:
    assert version is not None and version.diagnostics_object is not None
    bucket, key = version.diagnostics_object
    buffer = io.BytesIO()
    write_diagnostics_file(buffer, SPEC)
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())


def write_on_completion(model: FakeModel, version: FakeModelVersion | None) -> None:
    put_diagnostics(version)


def run(
    machine: EmulatedStateMachine, execution_input: dict[str, Any] | None = None, name: str = "train-1"
) -> ExecutionResult:
    return machine.run(INPUT if execution_input is None else execution_input, name=name)


def test_success_after_several_polls_gives_the_console_a_full_answer_and_one_alert(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack
) -> None:
    # Given L4E trains for 3 polls, then writes the diagnostics file
    lookout.train_on_create(
        MODEL, in_progress_polls=3, model_quality="QUALITY_THRESHOLD_MET", on_complete=write_on_completion
    )
    # When the console input from events/ starts an execution
    result = run(machine)
    # Then it succeeds after four polls at the requested interval
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert states_entered(result).count("DescribeModel") == 4
    assert machine.waits == [INPUT["PollIntervalSeconds"]] * 4
    # And the model L4E shows was created from the input, with the stack's role and diagnostics configuration
    model = boto3.client("lookoutequipment").describe_model(ModelName=MODEL)
    assert model["RoleArn"] == LOOKOUT_ROLE_ARN
    assert model["ModelDiagnosticsOutputConfiguration"] == {
        "S3OutputConfiguration": {"Bucket": stack.bucket, "Prefix": f"{MODEL}/"}
    }
    assert model["LabelsInputConfiguration"] == INPUT["LabelsInputConfiguration"]
    assert model["OffCondition"] == INPUT["OffCondition"]
    # (under the execution's name as ClientToken, so a retried CreateModel creates nothing more)
    [create] = lookout.calls_to("CreateModel")
    assert create.params["ClientToken"] == "train-1"
    # And the output tells a person what they got, where the diagnostics are, and the headline
    output = result.output
    assert output is not None
    assert (output["ModelName"], output["ModelVersion"], output["Status"]) == (MODEL, 1, "SUCCESS")
    assert output["ModelQuality"] == "QUALITY_THRESHOLD_MET"
    assert output["DiagnosticsObject"] == f"s3://{stack.bucket}/{MODEL}/{MODEL}/1/model_diagnostics_results.json.gz"
    assert output["SummaryObject"].endswith("model_diagnostics_results.summary.json")
    assert output["Summary"]["event_count"] == 2
    assert output["Alert"] == "ALERTED"
    # And exactly one alert went out, naming the model and version
    [alert] = stack.received_alerts()
    assert alert.subject.startswith(f"[WARNING] {MODEL} v1: 2 anomalous events")


def test_the_s3_trigger_seeing_the_same_file_sends_no_second_alert(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack
) -> None:
    # Given the diagnostics file lands (and its S3 event is handled) before the workflow finishes
    landed: list[dict[str, Any]] = []

    def land_and_notify(model: FakeModel, version: FakeModelVersion | None) -> None:
        put_diagnostics(version)
        assert version is not None and version.diagnostics_object is not None
        bucket, key = version.diagnostics_object
        event = announcement("s3-notification", bucket, key)
        landed.append(current_runtime().invoke("DiagnosticsFunction", event)["outcomes"][0])

    lookout.train_on_create(MODEL, in_progress_polls=1, on_complete=land_and_notify)
    # When the workflow completes
    result = run(machine)
    # Then the trigger alerted, the workflow reports a duplicate, and one alert went out in all
    assert result.status == "SUCCEEDED", result.cause
    assert [outcome["status"] for outcome in landed] == ["ALERTED"]
    assert result.output is not None and result.output["Alert"] == "DUPLICATE"
    assert result.output["Summary"]["event_count"] == 2  # read back from the summary beside the file
    assert len(stack.received_alerts()) == 1


def test_a_failed_training_alerts_with_the_reason_and_fails_with_a_named_error(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack
) -> None:
    lookout.train_on_create(
        MODEL, in_progress_polls=2, outcome="FAILED", failed_reason="Not enough data: the training range holds 41 days"
    )
    result = run(machine)
    assert result.status == "FAILED"
    assert result.error == "TrainingFailed"
    assert result.cause == "Not enough data: the training range holds 41 days"
    [alert] = stack.received_alerts()
    assert alert.attributes == {
        "event_type": "TRAINING_FAILED",
        "severity": "ERROR",
        "model_name": MODEL,
        "alert_id": alert.body["alert_id"],
    }
    assert alert.body["cause"] == "Not enough data: the training range holds 41 days"
    assert alert.body["execution_arn"] == result.execution_arn


def test_throttling_is_retried_with_backoff_then_succeeds(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack
) -> None:
    # Given L4E throttles DescribeModel longer than the SDK client inside moto retries
    lookout.train_on_create(MODEL, in_progress_polls=1, on_complete=write_on_completion)
    lookout.fail_next("DescribeModel", "ThrottlingException", times=2)
    # When the workflow runs
    result = run(machine)
    # Then the state machine's Retry backed off and the execution still succeeded
    assert result.status == "SUCCEEDED", result.cause
    assert machine.retry_intervals, "the Retry on LookoutEquipment.ThrottlingException did not run"
    assert len(stack.received_alerts()) == 1


def test_throttled_create_model_is_retried_without_creating_a_second_model(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack
) -> None:
    # Given CreateModel is applied by L4E but its answer is lost twice, then throttled for long
    lookout.train_on_create(MODEL, in_progress_polls=1, on_complete=write_on_completion)
    lookout.fail_next("CreateModel", "InternalServerException", times=2, after_applying=True)
    # When the workflow runs
    result = run(machine)
    # Then the same ClientToken made the retries harmless: one model, and success
    assert result.status == "SUCCEEDED", result.cause
    assert {call.params["ClientToken"] for call in lookout.calls_to("CreateModel")} == {"train-1"}
    assert listed_models() == {MODEL: "SUCCESS"}


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ValidationException", "LookoutRejectedRequest"),
        ("ConflictException", "ModelAlreadyExists"),
        ("AccessDeniedException", "AccessDenied"),
        ("ServiceQuotaExceededException", "QuotaExceeded"),
        ("ResourceNotFoundException", "DatasetNotFound"),
    ],
)
def test_refused_requests_end_in_an_alert_and_a_named_failure(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack, code: str, error: str
) -> None:
    lookout.fail_next("CreateModel", code, "refused for the test")
    result = run(machine)
    assert (result.status, result.error) == ("FAILED", error)
    assert "refused for the test" in (result.cause or "")
    [alert] = stack.received_alerts()
    assert alert.attributes["event_type"] == "WORKFLOW_FAILED"
    assert alert.body["error"] == error
    assert alert.body["advice"]


def test_invalid_input_is_refused_before_any_model_is_created(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack
) -> None:
    bad = INPUT | {
        "ModelDiagnosticsOutputConfiguration": {"S3OutputConfiguration": {"Bucket": "b-1", "Prefix": "x"}},
        "DatasetName": "pump data",
    }
    result = run(machine, bad)
    assert (result.status, result.error) == ("FAILED", "InvalidInput")
    assert "Prefix must be empty or end with '/'" in (result.cause or "")
    assert "DatasetName: String should match pattern" in (result.cause or "")
    assert listed_models() == {}
    [alert] = stack.received_alerts()
    assert alert.subject.startswith(f"[ERROR] {MODEL}: InvalidInput")


def test_exceeding_the_maximum_wait_is_its_own_failure(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack
) -> None:
    # Given a training that never ends and a wait of 3 polls
    lookout.train_on_create(MODEL, in_progress_polls=1000)
    result = run(machine, INPUT | {"PollIntervalSeconds": 60, "MaxWaitSeconds": 180})
    assert (result.status, result.error) == ("FAILED", "TrainingTimedOut")
    assert "still IN_PROGRESS after 180 seconds" in (result.cause or "")
    assert machine.waits == [60, 60, 60]
    [alert] = stack.received_alerts()
    assert alert.body["error"] == "TrainingTimedOut"


def test_a_late_diagnostics_file_is_waited_for(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the diagnostics file appears only after FinishTraining looked twice
    from handlers import training_finished

    attempts: list[int] = []
    real = training_finished.finish_training

    def late(version: Any, settings: Any) -> Any:
        attempts.append(1)
        if len(attempts) == 3:
            put_diagnostics(lookout.model(MODEL).versions[1])
        return real(version, settings)

    monkeypatch.setattr(training_finished, "finish_training", late)
    lookout.train_on_create(MODEL, in_progress_polls=1)
    result = run(machine)
    # Then the step was retried on DiagnosticsNotReadyError with growing intervals, and succeeded
    assert result.status == "SUCCEEDED", result.cause
    assert len(attempts) == 3
    assert machine.retry_intervals[:2] == [60, 90]
    assert len(stack.received_alerts()) == 1


def test_a_diagnostics_file_that_never_comes_ends_trained_with_its_alert_pending(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack
) -> None:
    # Given a training that succeeds but whose diagnostics file never lands
    lookout.train_on_create(MODEL, in_progress_polls=0)
    # When the workflow runs
    result = run(machine)
    # Then it waited for the file (bounded), and ends trained: the model is there, and the alert is
    # left to the S3 trigger (when the file lands) or the status poller's safety net, not sent as a failure
    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None
    assert (result.output["Alert"], result.output["Reason"]) == ("PENDING", "DiagnosticsNotReadyError")
    assert result.output["ModelVersion"] == 1
    assert stack.received_alerts() == []


def test_a_model_without_diagnostics_output_still_succeeds_and_says_how_to_get_diagnostics(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lookout_diagnostics import settings

    monkeypatch.delenv("DIAGNOSTICS_BUCKET")
    settings.get_settings.cache_clear()
    lookout.train_on_create(MODEL, in_progress_polls=0)
    result = run(machine)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None and result.output["DiagnosticsObject"] is None
    [alert] = stack.received_alerts()
    assert alert.attributes["event_type"] == "MODEL_VERSION_SUCCEEDED"
    assert alert.subject == f"[OK] {MODEL} v1: succeeded"
    [(_, text)] = stack.emailed_alerts()
    assert "No diagnostics file: the model has no ModelDiagnosticsOutputConfiguration" in text
