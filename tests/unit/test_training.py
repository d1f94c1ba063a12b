"""The training workflow's input: what is accepted, what the stack fills in, what is refused and why."""

from __future__ import annotations

from typing import Any

import pytest

from lookout_diagnostics.domain.failures import describe_failure
from lookout_diagnostics.domain.training import MAX_POLLS, plan_training
from lookout_diagnostics.errors import InvalidTrainingInputError
from lookout_diagnostics.settings import Settings
from lookout_diagnostics.usecases.workflow_failure import ExecutionState

SETTINGS = Settings.model_validate(
    {
        "ALERT_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:alerts",
        "LEDGER_TABLE_NAME": "ledger",
        "DIAGNOSTICS_BUCKET": "stack-diagnostics",
        "LOOKOUT_ROLE_ARN": "arn:aws:iam::123456789012:role/lookout",
    }
)


def plan(**given: Any) -> dict[str, Any]:
    request = {"ModelName": "pump-7", "DatasetName": "pump-data"} | given
    return plan_training(request, "exec-42", SETTINGS).model_dump()


def test_minimal_input_gets_the_stacks_role_diagnostics_prefix_and_a_stable_client_token() -> None:
    # Given the two required fields only, When the input is planned
    result = plan()
    # Then CreateModel gets the stack's role, its bucket under the model's prefix, and the execution's name
    assert result["CreateModel"] == {
        "ModelName": "pump-7",
        "DatasetName": "pump-data",
        "ClientToken": "exec-42",
        "RoleArn": "arn:aws:iam::123456789012:role/lookout",
        "ModelDiagnosticsOutputConfiguration": {
            "S3OutputConfiguration": {"Bucket": "stack-diagnostics", "Prefix": "pump-7/"}
        },
    }
    assert (result["PollIntervalSeconds"], result["MaxWaitSeconds"], result["MaxPolls"]) == (300, 172800, 576)


def test_every_create_model_field_passes_through_and_times_become_utc() -> None:
    # Given every optional CreateModel field, times in several zones, When the input is planned
    result = plan(
        DatasetSchema={"InlineDataSchema": "{}"},
        LabelsInputConfiguration={"S3InputConfiguration": {"Bucket": "labels-bucket", "Prefix": "pump-7/"}},
        TrainingDataStartTime="2023-01-01T00:00:00+01:00",
        TrainingDataEndTime="2023-09-01T00:00:00Z",
        EvaluationDataStartTime="2023-09-01T00:00:00",
        EvaluationDataEndTime="2023-12-01T00:00:00",
        RoleArn="arn:aws:iam::123456789012:role/other",
        DataPreProcessingConfiguration={"TargetSamplingRate": "PT5M"},
        ServerSideKmsKeyId="alias/l4e",
        Tags=[{"Key": "site", "Value": "north"}],
        OffCondition="component\\motor_speed < 10",
        ModelDiagnosticsOutputConfiguration={"S3OutputConfiguration": {"Bucket": "stack-diagnostics", "Prefix": "d/"}},
        PollIntervalSeconds=600,
        MaxWaitSeconds=3600,
    )
    request = result["CreateModel"]
    # Then each is passed through as given, and times become UTC as L4E expects
    assert request["TrainingDataStartTime"] == "2022-12-31T23:00:00Z"
    assert request["EvaluationDataStartTime"] == "2023-09-01T00:00:00Z"
    assert request["RoleArn"] == "arn:aws:iam::123456789012:role/other"
    assert request["ModelDiagnosticsOutputConfiguration"]["S3OutputConfiguration"] == {
        "Bucket": "stack-diagnostics",
        "Prefix": "d/",
    }
    assert request["Tags"] == [{"Key": "site", "Value": "north"}]
    assert request["OffCondition"] == "component\\motor_speed < 10"
    assert "PollIntervalSeconds" not in request
    assert result["MaxPolls"] == 6


WITH_KMS_KEY = SETTINGS.model_copy(
    update={"diagnostics_kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
)


def test_the_stacks_kms_key_encrypts_the_diagnostics_of_models_the_workflow_trains() -> None:
    # Given a stack deployed with DiagnosticsKmsKeyArn
    # When a minimal input is planned, and one naming the stack's bucket with its own prefix
    minimal = plan_training({"ModelName": "pump-7", "DatasetName": "d"}, "exec-1", WITH_KMS_KEY).CreateModel
    given = {"S3OutputConfiguration": {"Bucket": "stack-diagnostics", "Prefix": "d/"}}
    own = plan_training(
        {"ModelName": "pump-7", "DatasetName": "d", "ModelDiagnosticsOutputConfiguration": given},
        "exec-2",
        WITH_KMS_KEY,
    ).CreateModel

    # Then L4E is told to write both with the stack's key
    assert minimal["ModelDiagnosticsOutputConfiguration"]["KmsKeyId"] == WITH_KMS_KEY.diagnostics_kms_key_arn
    assert own["ModelDiagnosticsOutputConfiguration"]["KmsKeyId"] == WITH_KMS_KEY.diagnostics_kms_key_arn


def test_a_kms_key_given_in_the_input_is_kept_and_no_key_is_set_without_one() -> None:
    # Given an input that names its own key, and a stack without a key
    own_key = {"S3OutputConfiguration": {"Bucket": "stack-diagnostics"}, "KmsKeyId": "alias/mine"}
    given = {"ModelName": "pump-7", "DatasetName": "d", "ModelDiagnosticsOutputConfiguration": own_key}

    # When each is planned
    kept = plan_training(given, "exec-1", WITH_KMS_KEY).CreateModel
    without = plan(ModelName="pump-7")["CreateModel"]

    # Then the input's key stands, and a stack without a key sets none
    assert kept["ModelDiagnosticsOutputConfiguration"]["KmsKeyId"] == "alias/mine"
    assert "KmsKeyId" not in without["ModelDiagnosticsOutputConfiguration"]


def test_diagnostics_to_a_bucket_the_stack_does_not_watch_are_refused() -> None:
    # Given an input asking L4E to write diagnostics where the stack neither listens nor may read
    given = {"S3OutputConfiguration": {"Bucket": "someone-elses-bucket", "Prefix": "p/"}}

    # When it is planned
    with pytest.raises(InvalidTrainingInputError) as refused:
        plan(ModelDiagnosticsOutputConfiguration=given)

    # Then it is refused before any model exists, saying which bucket to use
    assert "must be this stack's diagnostics bucket 'stack-diagnostics'" in str(refused.value)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"ModelName": None}, "ModelName"),
        ({"ModelName": "pump 7!"}, "ModelName: String should match pattern"),
        ({"DatasetName": ""}, "DatasetName"),
        (
            {"ModelDiagnosticsOutputConfiguration": {"S3OutputConfiguration": {"Bucket": "b-1", "Prefix": "no-slash"}}},
            "Prefix must be empty or end with '/'",
        ),
        (
            {"ModelDiagnosticsOutputConfiguration": {"S3OutputConfiguration": {"Bucket": "Bad_Bucket", "Prefix": ""}}},
            "Bucket",
        ),
        (
            {"TrainingDataStartTime": "2023-09-01T00:00:00", "TrainingDataEndTime": "2023-01-01T00:00:00"},
            "TrainingDataStartTime must be before TrainingDataEndTime",
        ),
        ({"EvaluationDataStartTime": "yesterday"}, "EvaluationDataStartTime"),
        ({"PollIntervalSeconds": 5}, "PollIntervalSeconds"),
        ({"PollIntervalSeconds": 60, "MaxWaitSeconds": 60 * (MAX_POLLS + 1)}, "raise PollIntervalSeconds"),
        ({"ModelNmae": "typo"}, "ModelNmae: Extra inputs are not permitted"),
        ({"RoleArn": "not-an-arn"}, "RoleArn"),
    ],
    ids=[
        "missing-model-name",
        "bad-model-name",
        "empty-dataset",
        "prefix-without-slash",
        "bad-bucket",
        "training-dates-out-of-order",
        "bad-date",
        "poll-too-fast",
        "too-many-polls",
        "misspelt-field",
        "bad-role",
    ],
)
def test_bad_input_is_refused_with_what_to_fix(given: dict[str, Any], message: str) -> None:
    # Given an input with one bad field
    request = {"ModelName": "pump-7", "DatasetName": "pump-data"} | given
    request = {k: v for k, v in request.items() if v is not None}
    # When it is planned
    with pytest.raises(InvalidTrainingInputError) as caught:
        plan_training(request, "exec-42", SETTINGS)
    # Then it is refused, naming what to fix
    assert message in str(caught.value)


def test_input_that_is_not_an_object_is_refused() -> None:
    # Given a console input that is a list, When it is planned, Then it is refused as not an object
    with pytest.raises(InvalidTrainingInputError, match="Input should be a valid dictionary"):
        plan_training(["pump-7"], "exec-42", SETTINGS)


def test_failures_are_named_and_explained() -> None:
    # Given an L4E conflict, a refused input (as Lambda reports it) and an error nobody expected
    # When each is described, Then each is a named failure with its cause in words and what to do
    conflict = describe_failure("LookoutEquipment.ConflictException", "Model pump-7 already exists")
    assert conflict.Error == "ModelAlreadyExists"
    assert "choose another ModelName" in conflict.Advice
    lambda_error = describe_failure(
        "InvalidTrainingInputError", '{"errorMessage": "ModelName: Field required", "errorType": "X"}'
    )
    assert (lambda_error.Error, lambda_error.Cause) == ("InvalidInput", "ModelName: Field required")
    assert describe_failure("States.Runtime", "boom").Error == "WorkflowError"


# ---- the failure step: what it reads of the execution's state ------------------------------------------
def test_a_failed_training_is_told_by_lookouts_reason_when_it_could_be_read() -> None:
    # Given the state of an execution whose training failed, with DescribeModel's answer, and one without it
    state = ExecutionState.model_validate(
        {"ModelName": "pump-7", "training": {"ModelArn": "arn:m"}, "failed": {"FailedReason": "Not enough data"}}
    )
    # When the failure is described
    with_reason = describe_failure(
        "TrainingFailed", "L4E reported FAILED", state.failed.FailedReason if state.failed else None
    )
    without = describe_failure("TrainingFailed", "L4E reported FAILED", None)
    other = describe_failure("TrainingTimedOut", "still IN_PROGRESS", "Not enough data")
    # Then L4E's reason is the cause of a failed training only
    assert (with_reason.Error, with_reason.Cause) == ("TrainingFailed", "Not enough data")
    assert without.Cause == "L4E reported FAILED"
    assert other.Cause == "still IN_PROGRESS"


@pytest.mark.parametrize(
    "state",
    ["not an object", None, {"ModelName": 7, "training": "x", "failed": {"FailedReason": 5}}, {"ModelName": {"a": 1}}],
    ids=["a-string", "null", "wrong-types", "name-an-object"],
)
def test_whatever_the_state_holds_the_failure_step_reads_what_is_usable(state: object) -> None:
    # Given an execution state that holds nothing usable (the input itself was invalid, say)
    # When the failure step reads it
    read = ExecutionState.model_validate(state)
    # Then what is unusable is absent, and the failure is still reported
    assert read.ModelName is None
    assert read.training is None or read.training.ModelArn is None
    assert read.failed is None or read.failed.FailedReason is None
