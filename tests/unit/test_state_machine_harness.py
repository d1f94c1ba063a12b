"""The state machine harness: moto's ASL interpreter, Lambda tasks in-process, L4E answered by the fake.

The definitions here are small ones written for the harness, not the project's workflow.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.core.config import default_user_config
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from lookout_diagnostics.errors import DiagnosticsNotReadyError
from tests.support.fake_lookout import FakeLookout, FakeModel, FakeModelVersion
from tests.support.state_machine import (
    EmulatedStateMachine,
    SubstitutionError,
    definition_placeholders,
    states_entered,
    substitute,
    substituted_definition,
    template_substitution_keys,
)

REGION = "eu-west-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/lookout-equipment-access"
BUCKET = "diagnostics"


@pytest.fixture
def machine(aws: None) -> Iterator[EmulatedStateMachine]:
    """The harness, nested in the `aws` mock: request `lookout` before it so the fake is installed first."""
    with EmulatedStateMachine() as emulated:
        yield emulated


def asl(states: dict[str, Any], start_at: str) -> str:
    return json.dumps({"StartAt": start_at, "States": states})


def lookout_task(action: str, parameters: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": f"arn:aws:states:::aws-sdk:lookoutequipment:{action}",
        "Parameters": parameters,
    } | fields


# ---- Lambda tasks -----------------------------------------------------------------------------------


def test_a_lambda_task_runs_the_python_handler_in_process(machine: EmulatedStateMachine) -> None:
    # Given a handler behind a lambda:invoke task whose function ARN is a placeholder
    def prepare(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"ModelName": f"{event['equipment']}-model", "invokedAs": context.function_name}

    arn = machine.register_function("PrepareTrainingFunction", prepare)
    machine.create(
        asl(
            {
                "Prepare": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "${PrepareArn}", "Payload.$": "$"},
                    "ResultSelector": {"prepared.$": "$.Payload"},
                    "End": True,
                }
            },
            "Prepare",
        ),
        {"PrepareArn": arn},
    )

    # When the workflow runs
    result = machine.run({"equipment": "pump"})

    # Then the handler's answer is the task's result, and the handler saw the decoded event
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"prepared": {"ModelName": "pump-model", "invokedAs": "PrepareTrainingFunction"}}
    assert [(call.function_name, call.event) for call in machine.invocations] == [
        ("PrepareTrainingFunction", {"equipment": "pump"})
    ]


def test_our_exception_is_retried_and_caught_by_its_class_name(machine: EmulatedStateMachine) -> None:
    # Given a handler (a function ARN as Resource) that never finds the diagnostics file
    def locate(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise DiagnosticsNotReadyError(f"no diagnostics for {event['ModelName']} yet")

    arn = machine.register_function("LocateDiagnosticsFunction", locate)
    machine.create(
        asl(
            {
                "Locate": {
                    "Type": "Task",
                    "Resource": "${LocateArn}",
                    "Retry": [{"ErrorEquals": ["DiagnosticsNotReadyError"], "IntervalSeconds": 30, "MaxAttempts": 2}],
                    "Catch": [
                        {"ErrorEquals": ["DiagnosticsNotReadyError"], "ResultPath": "$.error", "Next": "NotReady"}
                    ],
                    "End": True,
                },
                "NotReady": {"Type": "Fail", "Error": "DiagnosticsNeverLanded", "CausePath": "$.error.Cause"},
            },
            "Locate",
        ),
        {"LocateArn": arn},
    )

    # When the workflow runs
    result = machine.run({"ModelName": "pump"})

    # Then each attempt failed with the class name, was retried twice, then caught with Lambda's error body
    assert states_entered(result) == ["Locate", "NotReady"]
    assert [event["lambdaFunctionFailedEventDetails"]["error"] for event in result.events("LambdaFunctionFailed")] == [
        "DiagnosticsNotReadyError"
    ] * 3
    assert machine.retry_intervals == [30, 60]
    assert result.status == "FAILED"
    assert result.error == "DiagnosticsNeverLanded"
    cause = json.loads(result.cause or "")
    assert cause["errorType"] == "DiagnosticsNotReadyError"
    assert cause["errorMessage"] == "no diagnostics for pump yet"
    assert isinstance(cause["stackTrace"], list)


def test_an_uncaught_exception_fails_the_execution_with_its_class_name(machine: EmulatedStateMachine) -> None:
    # Given a handler that breaks, with nothing to catch it
    def broken(event: dict[str, Any], context: Any) -> None:
        raise KeyError("ModelName")

    arn = machine.register_function("BrokenFunction", broken)
    machine.create(asl({"Call": {"Type": "Task", "Resource": arn, "End": True}}, "Call"))

    # When the workflow runs
    result = machine.run({})

    # Then the execution fails as in AWS: error = exception class, cause = Lambda's error body
    assert result.status == "FAILED"
    assert result.error == "KeyError"
    assert json.loads(result.cause or "")["errorMessage"] == "'ModelName'"


# ---- aws-sdk tasks answered by FakeLookout ------------------------------------------------------------


def test_lookout_throttling_is_retried_by_its_aws_name_without_sleeping(
    lookout: FakeLookout, machine: EmulatedStateMachine
) -> None:
    # Given a trained model whose next two DescribeModel calls are throttled
    lookout.add_model("pump")
    lookout.add_version("pump", 1)
    lookout.fail_next("DescribeModel", "ThrottlingException", times=2)
    retry = {"ErrorEquals": ["LookoutEquipment.ThrottlingException"], "IntervalSeconds": 5, "BackoffRate": 2}
    machine.create(
        asl(
            {
                "Describe": lookout_task(
                    "describeModel",
                    {"ModelName.$": "$.ModelName"},
                    ResultSelector={"Status.$": "$.Status", "ActiveModelVersion.$": "$.ActiveModelVersion"},
                    Retry=[retry | {"MaxAttempts": 3}],
                    End=True,
                )
            },
            "Describe",
        )
    )

    # When the workflow runs
    started = time.monotonic()
    result = machine.run({"ModelName": "pump"})
    elapsed = time.monotonic() - started

    # Then AWS's error name matched the Retry, the backoff was asked for but not slept
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"Status": "SUCCESS", "ActiveModelVersion": 1}
    assert [event["taskFailedEventDetails"]["error"] for event in result.events("TaskFailed")] == [
        "LookoutEquipment.ThrottlingException"
    ] * 2
    assert machine.retry_intervals == [5, 10]
    assert elapsed < 5  # 15 s of backoff were asked for
    assert len(lookout.calls_to("DescribeModel")) == 3


def test_a_service_error_is_caught_by_its_aws_name(lookout: FakeLookout, machine: EmulatedStateMachine) -> None:
    # Given a model that already exists under the name the workflow creates
    lookout.add_model("pump")
    create = {"ModelName.$": "$.ModelName", "DatasetName": "pump-data", "ClientToken.$": "$$.Execution.Name"}
    machine.create(
        asl(
            {
                "Create": lookout_task(
                    "createModel",
                    create,
                    Catch=[
                        {
                            "ErrorEquals": ["LookoutEquipment.ConflictException"],
                            "ResultPath": "$.error",
                            "Next": "Exists",
                        }
                    ],
                    End=True,
                ),
                "Exists": {"Type": "Fail", "Error": "ModelAlreadyExists", "CausePath": "$.error.Cause"},
            },
            "Create",
        )
    )

    # When the workflow runs
    result = machine.run({"ModelName": "pump"})

    # Then the fake's ConflictException reached the Catch under AWS's spelling
    assert states_entered(result) == ["Create", "Exists"]
    assert result.error == "ModelAlreadyExists"
    assert (result.cause or "").startswith("Model pump already exists (Service: LookoutEquipment, Status Code: 400")


def test_states_runtime_is_not_caught_by_states_all_as_in_aws(
    lookout: FakeLookout, machine: EmulatedStateMachine
) -> None:
    # Given a model still training, so DescribeModel has no ActiveModelVersion, selected anyway
    lookout.add_model("pump", status="IN_PROGRESS")
    machine.create(
        asl(
            {
                "Describe": lookout_task(
                    "describeModel",
                    {"ModelName": "pump"},
                    ResultSelector={"Version.$": "$.ActiveModelVersion"},
                    Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Handled"}],
                    End=True,
                ),
                "Handled": {"Type": "Succeed"},
            },
            "Describe",
        )
    )

    # When the workflow runs
    result = machine.run({})

    # Then the execution fails with States.Runtime, which AWS never lets States.ALL catch (moto would)
    assert result.status == "FAILED"
    assert result.error == "States.Runtime"
    assert "$.ActiveModelVersion" in (result.cause or "")


def test_a_polling_loop_follows_the_simulated_training_to_success(
    lookout: FakeLookout, machine: EmulatedStateMachine
) -> None:
    # Given a training that reports IN_PROGRESS three times, then writes its diagnostics file
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})

    def write_diagnostics(model: FakeModel, version: FakeModelVersion | None) -> None:
        assert version is not None and version.diagnostics_object is not None
        bucket, key = version.diagnostics_object
        s3.put_object(Bucket=bucket, Key=key, Body=b"rows")

    lookout.train_on_create("pump", in_progress_polls=3, on_complete=write_diagnostics)
    create = {
        "ModelName.$": "$.ModelName",
        "DatasetName": "pump-data",
        "ClientToken.$": "$$.Execution.Name",
        "RoleArn": ROLE_ARN,
        "ModelDiagnosticsOutputConfiguration": {"S3OutputConfiguration": {"Bucket": BUCKET, "Prefix": "models/"}},
    }
    machine.create(
        asl(
            {
                "Create": lookout_task("createModel", create, ResultPath=None, Next="Describe"),
                "Describe": lookout_task(
                    "describeModel",
                    {"ModelName.$": "$.ModelName"},
                    ResultSelector={"Status.$": "$.Status"},
                    ResultPath="$.model",
                    Next="Trained?",
                ),
                "Trained?": {
                    "Type": "Choice",
                    "Choices": [
                        {"Variable": "$.model.Status", "StringEquals": "IN_PROGRESS", "Next": "Wait"},
                        {"Variable": "$.model.Status", "StringEquals": "SUCCESS", "Next": "Version"},
                    ],
                    "Default": "TrainingFailed",
                },
                "Wait": {"Type": "Wait", "SecondsPath": "$.PollSeconds", "Next": "Describe"},
                "Version": lookout_task(
                    "describeModelVersion",
                    {"ModelName.$": "$.ModelName", "ModelVersion": 1},
                    ResultSelector={
                        "Uri.$": "States.Format('s3://{}/{}', $.ModelDiagnosticsResultsObject.Bucket, "
                        "$.ModelDiagnosticsResultsObject.Key)"
                    },
                    ResultPath="$.diagnostics",
                    End=True,
                ),
                "TrainingFailed": {"Type": "Fail", "Error": "TrainingFailed"},
            },
            "Create",
        )
    )

    # When the workflow runs with a one-hour polling interval
    started = time.monotonic()
    result = machine.run({"ModelName": "pump", "PollSeconds": 3600})

    # Then it polled four times, waited three hours on paper and not at all in fact, and found the file
    assert result.status == "SUCCEEDED", result.cause
    assert states_entered(result).count("Wait") == 3
    assert machine.waits == [3600] * 3
    assert time.monotonic() - started < 5
    uri = result.output["diagnostics"]["Uri"]
    assert uri == f"s3://{BUCKET}/models/pump/1/model_diagnostics_results.json.gz"
    assert s3.get_object(Bucket=BUCKET, Key=uri.split("/", 3)[3])["Body"].read() == b"rows"
    assert lookout.calls_to("CreateModel")[0].params["ClientToken"] == result.execution_arn.rsplit(":", 1)[1]


def test_a_failed_training_reaches_the_fail_state_with_its_reason(
    lookout: FakeLookout, machine: EmulatedStateMachine
) -> None:
    # Given a training that fails at the first poll
    lookout.train_on_create(in_progress_polls=0, outcome="FAILED", failed_reason="Not enough data")
    create = {"ModelName": "pump", "DatasetName": "pump-data", "ClientToken": "token-1"}
    machine.create(
        asl(
            {
                "Create": lookout_task("createModel", create, ResultPath=None, Next="Describe"),
                "Describe": lookout_task("describeModel", {"ModelName": "pump"}, ResultPath="$.model", Next="Failed?"),
                "Failed?": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.model.Status", "StringEquals": "FAILED", "Next": "TrainingFailed"}],
                    "Default": "Done",
                },
                "TrainingFailed": {"Type": "Fail", "ErrorPath": "$.model.Status", "CausePath": "$.model.FailedReason"},
                "Done": {"Type": "Succeed"},
            },
            "Create",
        )
    )

    # When the workflow runs
    result = machine.run({})

    # Then the Fail state reports the model's status and reason (ErrorPath and CausePath work in moto)
    assert result.status == "FAILED"
    assert (result.error, result.cause) == ("FAILED", "Not enough data")


# ---- lifecycle ----------------------------------------------------------------------------------------


def test_a_run_past_its_timeout_is_stopped_and_reported(machine: EmulatedStateMachine) -> None:
    # Given a workflow that polls forever
    machine.create(asl({"Wait": {"Type": "Wait", "Seconds": 60, "Next": "Wait"}}, "Wait"))

    # When it is waited for briefly
    # Then the wait gives up and stops it, saying how far it went
    with pytest.raises(TimeoutError, match=r"still running after 0\.2 s, stopped; the harness has seen [0-9]+ Wait"):
        machine.run({}, timeout_s=0.2)
    assert machine.waits[:3] == [60, 60, 60]


def test_an_execution_stopped_in_the_middle_of_a_state_is_aborted_as_in_aws(machine: EmulatedStateMachine) -> None:
    # Given a task whose handler stops its own execution, then fails: the stop arrives while moto's
    # thread is inside the state, the point at which leaving the harness can catch a running execution
    def stop_then_fail(event: dict[str, Any], context: Any) -> None:
        boto3.client("stepfunctions").stop_execution(executionArn=event["execution"], error="Operator.Stop")
        raise RuntimeError("the handler was still running")

    arn = machine.register_function("StoppedFunction", stop_then_fail)
    payload = {"execution.$": "$$.Execution.Id"}
    machine.create(
        asl(
            {
                "Call": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": arn, "Payload": payload},
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handled"}],
                    "End": True,
                },
                "Handled": {"Type": "Succeed"},
            },
            "Call",
        )
    )

    # When it runs
    result = machine.run({})

    # Then, as in AWS, StopExecution decides how it ended, whatever the state did after it: ABORTED
    # (moto's interpreter let the task's error replace the stop and reported FAILED)
    assert result.status == "ABORTED", (result.error, result.cause)
    assert [event["type"] for event in result.history][-1] == "ExecutionAborted"
    assert result.events("ExecutionFailed") == []
    assert states_entered(result) == ["Call"]


def test_leaving_the_harness_stops_what_runs_and_restores_moto(aws: None) -> None:
    # Given an execution left running inside an already started mock
    with EmulatedStateMachine() as machine:
        machine.create(asl({"Wait": {"Type": "Wait", "Seconds": 60, "Next": "Wait"}}, "Wait"))
        arn = machine.start({})

    # When the harness has been left
    # Then the execution was stopped (its executor thread ended, or leaving would have failed),
    # and moto is configured as before, so its API answers from its non-executing backend again
    execution = stepfunctions_parser_backends["123456789012"][REGION].describe_execution(arn)
    assert execution.status == "ABORTED"
    assert default_user_config["stepfunctions"] == {"execute_state_machine": False}
    assert default_user_config["lambda"] == {"use_docker": True}


def test_the_harness_starts_its_own_mock_when_none_runs() -> None:
    # Given no mock at all, and a fake installed after the harness started one
    with EmulatedStateMachine() as machine, FakeLookout() as lookout:
        lookout.add_model("pump")
        machine.create(asl({"Describe": lookout_task("describeModel", {"ModelName": "pump"}, End=True)}, "Describe"))

        # When a workflow calls L4E, twice (moto 5.2.1 cannot start a second execution unaided)
        first, second = machine.run({}), machine.run({})

    # Then the fake answered moto's executor thread both times
    assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED")
    assert first.output["ModelName"] == "pump"
    assert first.output["CreatedAt"].endswith("Z")  # timestamps as AWS writes them, not datetime objects


# ---- substitutions ------------------------------------------------------------------------------------


def test_a_placeholder_without_a_value_is_refused(machine: EmulatedStateMachine) -> None:
    # Given a definition with two placeholders
    definition = asl({"Call": {"Type": "Task", "Resource": "${FunctionArn}", "Next": "Wait"},
                      "Wait": {"Type": "Wait", "Seconds": 1, "Comment": "${Unset}", "End": True}}, "Call")  # fmt: skip

    # When only one gets a value, or a value matches no placeholder
    # Then the definition is refused before anything runs
    with pytest.raises(SubstitutionError, match=r"no value for \$\{Unset\}"):
        machine.create(definition, {"FunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:f"})
    with pytest.raises(SubstitutionError, match="value 'Extra' is used by no placeholder"):
        substitute(definition, {"FunctionArn": "arn", "Unset": "x", "Extra": "y"})
    assert definition_placeholders(definition) == {"FunctionArn", "Unset"}


def test_a_value_that_breaks_the_json_is_refused() -> None:
    # Given a placeholder inside a JSON string
    definition = asl({"Done": {"Type": "Pass", "Comment": "${Text}", "End": True}}, "Done")

    # When its value holds a quote
    # Then the result is refused as not JSON (CloudFormation substitutes text, as the harness does)
    with pytest.raises(SubstitutionError, match="not JSON"):
        substitute(definition, {"Text": 'say "hi"'})


def test_an_asl_file_is_substituted_and_the_template_keys_are_read(tmp_path: Any) -> None:
    # Given an ASL file and a template whose state machine substitutes its placeholder
    path = tmp_path / "workflow.asl.json"
    path.write_text(asl({"Call": {"Type": "Task", "Resource": "${FunctionArn}", "End": True}}, "Call"))
    template = {
        "Resources": {
            "Workflow": {
                "Type": "AWS::Serverless::StateMachine",
                "Properties": {"DefinitionSubstitutions": {"FunctionArn": {"Fn::GetAtt": ["Function", "Arn"]}}},
            },
            "Function": {"Type": "AWS::Serverless::Function", "Properties": {}},
        }
    }

    # When both are read
    substituted = json.loads(substituted_definition(path, {"FunctionArn": "arn:aws:lambda:eu-west-1:1:function:f"}))

    # Then the keys match the placeholders and the value is in place
    assert template_substitution_keys(template) == definition_placeholders(path.read_text()) == {"FunctionArn"}
    assert template_substitution_keys(template, "Workflow") == {"FunctionArn"}
    assert substituted["States"]["Call"]["Resource"] == "arn:aws:lambda:eu-west-1:1:function:f"
