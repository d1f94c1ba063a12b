"""The in-process Lookout for Equipment: state, paging, faults, retries and service-model validation."""

from __future__ import annotations

import contextlib
import json
import typing
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.support import fake_lookout
from tests.support.botocore_fake import ContractViolation, python_regex, service_model
from tests.support.fake_lookout import SERVICE, FakeLookout

REGION = "eu-west-1"


def lookout_client(retries: int = 8, *, parameter_validation: bool = True) -> Any:
    """A client made the way production code makes it (boto3's default session, standard retries).

    botocore's max_attempts counts the retries after the first attempt.
    """
    config = Config(retries={"mode": "standard", "max_attempts": retries}, parameter_validation=parameter_validation)
    return boto3.client("lookoutequipment", config=config)


def all_model_names(client: Any, **filters: Any) -> list[str]:
    names: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = client.list_models(**filters, **token)
        names += [summary["ModelName"] for summary in page["ModelSummaries"]]
        if "NextToken" not in page:
            return names
        token = {"NextToken": page["NextToken"]}


# ---- state and operations -------------------------------------------------------------------------


def test_paging_through_list_models_returns_every_model_once(lookout: FakeLookout) -> None:
    # Given seven models and pages of three
    names = [f"pump-{index}" for index in range(7)]
    for name in names:
        lookout.add_model(name)
    lookout.default_page_size = 3

    # When a caller follows NextToken to the end
    listed = all_model_names(lookout_client())

    # Then every model comes back exactly once, over three pages
    assert sorted(listed) == names
    assert len(lookout.calls_to("ListModels")) == 3


def test_list_models_honours_max_results_and_filters(lookout: FakeLookout) -> None:
    # Given models of two families in different states
    lookout.add_model("pump-a")
    lookout.add_model("pump-b", status="IN_PROGRESS")
    lookout.add_model("pump-c")
    lookout.add_model("fan-a")

    # When listing successful pumps one per page
    listed = all_model_names(lookout_client(), ModelNameBeginsWith="pump", Status="SUCCESS", MaxResults=1)

    # Then only those come back, one request per model plus none extra
    assert listed == ["pump-a", "pump-c"]
    assert [call.params.get("MaxResults") for call in lookout.calls_to("ListModels")] == [1, 1]


def test_list_model_versions_is_newest_first_across_pages(lookout: FakeLookout) -> None:
    # Given a model with four versions, one of them failed
    lookout.add_model("pump")
    for version in (1, 2, 3, 4):
        lookout.add_version("pump", version, status="FAILED" if version == 3 else "SUCCESS")
    client = lookout_client()

    # When listing them two per page
    first = client.list_model_versions(ModelName="pump", MaxResults=2)
    second = client.list_model_versions(ModelName="pump", MaxResults=2, NextToken=first["NextToken"])
    succeeded = client.list_model_versions(ModelName="pump", Status="SUCCESS")

    # Then versions come newest first, the filter applies, and the last page has no token
    pages = first["ModelVersionSummaries"] + second["ModelVersionSummaries"]
    assert [summary["ModelVersion"] for summary in pages] == [4, 3, 2, 1]
    assert "NextToken" not in second
    assert [summary["ModelVersion"] for summary in succeeded["ModelVersionSummaries"]] == [4, 2, 1]


def test_describe_model_version_returns_the_diagnostics_object_and_metrics(lookout: FakeLookout) -> None:
    # Given a version whose diagnostics file is in (moto's) S3
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="diagnostics", CreateBucketConfiguration={"LocationConstraint": REGION})
    key = "pump/run-1/model_diagnostics_results.json.gz"
    s3.put_object(Bucket="diagnostics", Key=key, Body=b"gzipped rows")
    trained_at = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    metrics = {"labeled_ranges": [], "unknown_event_metrics": {"num_identified": 2}}
    lookout.add_model("pump", diagnostics_bucket="diagnostics", diagnostics_prefix="pump/")
    lookout.add_version(
        "pump",
        1,
        model_metrics=metrics,
        model_quality="CANNOT_DETERMINE_QUALITY",
        diagnostics_object=("diagnostics", key),
        created_at=trained_at,
    )

    # When the version is described and its diagnostics object fetched
    version = lookout_client().describe_model_version(ModelName="pump", ModelVersion=1)
    results = version["ModelDiagnosticsResultsObject"]
    body = s3.get_object(Bucket=results["Bucket"], Key=results["Key"])["Body"].read()

    # Then the response carries what was set, in the service's wire types
    assert body == b"gzipped rows"
    assert json.loads(version["ModelMetrics"]) == metrics
    assert version["ModelQuality"] == "CANNOT_DETERMINE_QUALITY"
    assert version["CreatedAt"] == trained_at
    assert version["ModelDiagnosticsOutputConfiguration"] == {
        "S3OutputConfiguration": {"Bucket": "diagnostics", "Prefix": "pump/"}
    }


def test_describe_model_reports_the_active_version_and_latest_retraining(lookout: FakeLookout) -> None:
    # Given a trained model whose later retraining was not promoted
    lookout.add_model("pump")
    lookout.add_version("pump", 1, model_quality="QUALITY_THRESHOLD_MET")
    lookout.add_version(
        "pump", 2, source_type="RETRAINING", model_quality="POOR_QUALITY_DETECTED",
        auto_promotion_result="MODEL_NOT_PROMOTED",
    )  # fmt: skip

    # When the model is described
    model = lookout_client().describe_model(ModelName="pump")

    # Then version 1 stays active and version 2 is the latest retraining
    assert model["ActiveModelVersion"] == 1
    assert model["ModelQuality"] == "QUALITY_THRESHOLD_MET"
    assert model["LatestScheduledRetrainingModelVersion"] == 2
    assert model["LatestScheduledRetrainingStatus"] == "SUCCESS"


def test_an_unknown_model_is_resource_not_found(lookout: FakeLookout) -> None:
    # Given no model at all
    client = lookout_client()

    # When it is described, or its versions listed
    with pytest.raises(ClientError) as described:
        client.describe_model(ModelName="missing")
    with pytest.raises(ClientError) as listed:
        client.list_model_versions(ModelName="missing")

    # Then both fail as AWS does
    assert described.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert listed.value.response["Error"]["Code"] == "ResourceNotFoundException"


# ---- faults and botocore's retries ----------------------------------------------------------------


def test_throttling_twice_then_success_is_retried_by_botocore(lookout: FakeLookout, retry_sleeps: list[float]) -> None:
    # Given a model, and the next two ListModels calls throttled
    lookout.add_model("pump")
    lookout.fail_next("ListModels", "ThrottlingException", times=2)

    # When production-like code lists the models once
    response = lookout_client().list_models()

    # Then botocore retried twice, backing off without really sleeping, and the call succeeded
    assert [summary["ModelName"] for summary in response["ModelSummaries"]] == ["pump"]
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(lookout.calls_to("ListModels")) == 3
    assert len(retry_sleeps) == 2


def test_internal_server_error_surfaces_when_retries_are_exhausted(lookout: FakeLookout) -> None:
    # Given a model and more server errors than the client will attempt
    lookout.add_model("pump")
    lookout.fail_next("DescribeModel", "InternalServerException", "try again", times=5)

    # When the model is described by a client that retries twice
    with pytest.raises(ClientError) as raised:
        lookout_client(retries=2).describe_model(ModelName="pump")

    # Then the error reaches the caller with its code, status and message after three calls
    error = raised.value.response
    assert error["Error"] == {"Code": "InternalServerException", "Message": "try again"}
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert error["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(lookout.calls_to("DescribeModel")) == 3


def test_an_error_the_operation_cannot_return_is_refused() -> None:
    # Given a fake
    fake = FakeLookout()

    # When a test scripts an error ListModels never returns
    # Then it is told so at once
    with pytest.raises(ValueError, match="ListModels cannot return ResourceNotFoundException"):
        fake.fail_next("ListModels", "ResourceNotFoundException")


# ---- validation against the service model ---------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "rule"),
    [
        ({"Status": "DONE"}, "Status: 'DONE' is not one of ModelStatus"),
        ({"MaxResults": 501}, "MaxResults: value 501 is above the maximum 500"),
        ({"ModelNameBeginsWith": "pump models"}, "ModelNameBeginsWith: 'pump models' does not match the pattern"),
        ({"NextToken": "made-up"}, "NextToken: 'made-up' was not returned by an earlier ListModels response"),
    ],
)
def test_an_invalid_request_fails_the_test(lookout: FakeLookout, params: dict[str, Any], rule: str) -> None:
    # Given a client (botocore itself checks neither enums, nor maximums, nor patterns)
    client = lookout_client()

    # When code under test sends a request AWS would reject
    with pytest.raises(ContractViolation) as raised:
        client.list_models(**params)

    # Then it fails as an assertion naming the operation, the member and the rule, not as a ClientError
    assert isinstance(raised.value, AssertionError)
    assert str(raised.value).startswith("ListModels request breaks the lookoutequipment service model")
    assert rule in str(raised.value)
    assert lookout.pop_violations() == [raised.value]


def test_a_request_below_a_minimum_is_caught_even_without_botocore_validation(lookout: FakeLookout) -> None:
    # Given a client that skips botocore's own parameter validation
    client = lookout_client(parameter_validation=False)

    # When it asks for pages of zero
    with pytest.raises(ContractViolation, match="MaxResults: value 0 is below the minimum 1"):
        client.list_models(MaxResults=0)

    # Then the fake recorded it
    assert len(lookout.pop_violations()) == 1


@pytest.mark.parametrize(
    ("version_settings", "rule"),
    [
        ({"status": "DONE"}, "Status: 'DONE' is not one of ModelVersionStatus"),
        ({"model_quality": "GOOD"}, "ModelQuality: 'GOOD' is not one of ModelQuality"),
        ({"diagnostics_object": ("diagnostics", "pump/")}, "ModelDiagnosticsResultsObject.Key: 'pump/'"),
        ({"model_metrics": ""}, "ModelMetrics: length 0 is below the minimum 1"),
    ],
)
def test_an_invalid_scripted_response_is_caught(
    lookout: FakeLookout, version_settings: dict[str, Any], rule: str
) -> None:
    # Given a version scripted with a value the service can never return
    lookout.add_model("pump")
    lookout.add_version("pump", 1, activate=False, **version_settings)

    # When it is described
    with pytest.raises(ContractViolation) as raised:
        lookout_client().describe_model_version(ModelName="pump", ModelVersion=1)

    # Then the response is refused, naming the member and the rule
    assert str(raised.value).startswith("DescribeModelVersion response breaks")
    assert rule in str(raised.value)
    assert lookout.pop_violations() == [raised.value]


def test_a_swallowed_violation_still_fails_when_the_fake_is_left(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given code under test that swallows every exception
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)

    def careless_listing() -> None:
        with contextlib.suppress(Exception):
            lookout_client().list_models(Status="DONE")

    # When it runs inside the fake
    # Then leaving the fake fails with the violation
    with pytest.raises(AssertionError, match="Status: 'DONE' is not one of ModelStatus"), mock_aws(), FakeLookout():
        careless_listing()


def test_every_pattern_of_the_service_model_compiles() -> None:
    # Given every pattern of the lookoutequipment model
    model = service_model(SERVICE)
    patterns = {p for p in (model.shape_for(name).metadata.get("pattern") for name in model.shape_names) if p}

    # When each is translated for Python
    compiled = [python_regex(pattern) for pattern in patterns]

    # Then all compile, and the translated ones behave as in Java
    assert len(compiled) == len(patterns)
    assert python_regex(model.shape_for("S3Key").metadata["pattern"]).search("a/b.json.gz")
    assert not python_regex(model.shape_for("S3Key").metadata["pattern"]).search("a/b/")
    assert not python_regex(model.shape_for("NextToken").metadata["pattern"]).fullmatch("é")


@pytest.mark.parametrize(
    ("literal", "shape"),
    [
        (fake_lookout.ModelStatus, "ModelStatus"),
        (fake_lookout.ModelVersionStatus, "ModelVersionStatus"),
        (fake_lookout.ModelVersionSourceType, "ModelVersionSourceType"),
        (fake_lookout.ModelQuality, "ModelQuality"),
        (fake_lookout.AutoPromotionResult, "AutoPromotionResult"),
        (fake_lookout.RetrainingSchedulerStatus, "RetrainingSchedulerStatus"),
    ],
)
def test_the_typed_enums_are_the_service_models(literal: Any, shape: str) -> None:
    # Given one of the fake's Literal types and the model's enum of the same name
    # When both are compared
    # Then they hold the same values
    assert set(typing.get_args(literal)) == set(service_model(SERVICE).shape_for(shape).enum)


# ---- installation ---------------------------------------------------------------------------------


def test_it_answers_first_inside_mock_aws_and_not_after_uninstall(lookout: FakeLookout) -> None:
    # Given a client created while the fake is installed
    lookout.add_model("pump")
    client = lookout_client(retries=0)

    # When the fake is uninstalled and the client used again
    answered = client.list_models()["ModelSummaries"]
    lookout.uninstall()
    with pytest.raises(ClientError) as unanswered:
        client.list_models()

    # Then the fake answered before moto, and afterwards moto's catch-all does
    assert [summary["ModelName"] for summary in answered] == ["pump"]
    assert unanswered.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert len(lookout.calls) == 1


# ---- CreateModel and the training simulation --------------------------------------------------------

ROLE_ARN = "arn:aws:iam::123456789012:role/lookout-equipment-access"


def create_request(**overrides: Any) -> dict[str, Any]:
    """A CreateModel request as the training workflow sends it; an override of None leaves a member out."""
    request = {
        "ModelName": "pump",
        "DatasetName": "pump-data",
        "ClientToken": "train-pump-1",
        "RoleArn": ROLE_ARN,
        "TrainingDataStartTime": datetime(2023, 1, 1, tzinfo=UTC),
        "TrainingDataEndTime": datetime(2023, 9, 1, tzinfo=UTC),
        "EvaluationDataStartTime": datetime(2023, 9, 1, tzinfo=UTC),
        "EvaluationDataEndTime": datetime(2023, 12, 1, tzinfo=UTC),
        "DataPreProcessingConfiguration": {"TargetSamplingRate": "PT5M"},
        "OffCondition": "component\\speed < 10",
        "ModelDiagnosticsOutputConfiguration": {
            "S3OutputConfiguration": {"Bucket": "diagnostics", "Prefix": "models/"},
            "KmsKeyId": "alias/diagnostics",
        },
        **overrides,
    }
    return {name: value for name, value in request.items() if value is not None}


def statuses_of(client: Any, name: str, polls: int) -> list[str]:
    return [client.describe_model(ModelName=name)["Status"] for _ in range(polls)]


def test_create_model_starts_training_and_describe_returns_the_request(lookout: FakeLookout) -> None:
    # Given a client
    client = lookout_client()

    # When a model is created
    created = client.create_model(**create_request(ServerSideKmsKeyId="1234abcd-12ab-34cd-56ef-1234567890ab"))
    described = client.describe_model(ModelName="pump")

    # Then it trains, and DescribeModel returns what CreateModel was given, in the service's shapes
    assert created["Status"] == "IN_PROGRESS"
    assert created["ModelArn"] == described["ModelArn"]
    assert described["Status"] == "IN_PROGRESS"
    assert "ActiveModelVersion" not in described
    assert described["RoleArn"] == ROLE_ARN
    assert described["TrainingDataStartTime"] == datetime(2023, 1, 1, tzinfo=UTC)
    assert described["EvaluationDataEndTime"] == datetime(2023, 12, 1, tzinfo=UTC)
    assert described["DataPreProcessingConfiguration"] == {"TargetSamplingRate": "PT5M"}
    assert described["OffCondition"] == "component\\speed < 10"
    assert (
        described["ServerSideKmsKeyId"] == "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    assert described["ModelDiagnosticsOutputConfiguration"] == {
        "S3OutputConfiguration": {"Bucket": "diagnostics", "Prefix": "models/"},
        "KmsKeyId": "alias/diagnostics",
    }
    assert "TrainingExecutionStartTime" in described
    assert "TrainingExecutionEndTime" not in described


def test_a_repeated_create_model_with_the_same_client_token_creates_nothing(lookout: FakeLookout) -> None:
    # Given a model created once
    client = lookout_client()
    first = client.create_model(**create_request())

    # When the very same request is sent again (a retry)
    again = client.create_model(**create_request())

    # Then the same model answers and no second one exists
    assert again == {**first, "ResponseMetadata": again["ResponseMetadata"]}
    assert [summary["ModelName"] for summary in client.list_models()["ModelSummaries"]] == ["pump"]


@pytest.mark.parametrize(
    "overrides",
    [{"ClientToken": "train-pump-2"}, {"DatasetName": "other-data"}],
    ids=["another token", "same token, other request"],
)
def test_create_model_on_an_existing_name_is_a_conflict(lookout: FakeLookout, overrides: dict[str, Any]) -> None:
    # Given a model created once
    client = lookout_client()
    client.create_model(**create_request())

    # When the name is created again by another request
    with pytest.raises(ClientError) as raised:
        client.create_model(**create_request(**overrides))

    # Then it is a ConflictException, as in AWS
    assert raised.value.response["Error"]["Code"] == "ConflictException"


def test_a_lost_create_model_answer_is_survived_thanks_to_the_client_token(
    lookout: FakeLookout, retry_sleeps: list[float]
) -> None:
    # Given a service that creates the model and then answers with a server error
    lookout.fail_next("CreateModel", "InternalServerException", after_applying=True)

    # When a client without an explicit token creates the model (botocore generates one and retries)
    created = lookout_client().create_model(**create_request(ClientToken=None))

    # Then the retry carried the same token: one model, and the call succeeded
    calls = lookout.calls_to("CreateModel")
    assert len(calls) == 2
    assert calls[0].params["ClientToken"] == calls[1].params["ClientToken"]
    assert created["ResponseMetadata"]["RetryAttempts"] == 1
    assert created["Status"] == "IN_PROGRESS"


def test_a_throttled_create_model_creates_nothing(lookout: FakeLookout) -> None:
    # Given CreateModel throttled once, and a client that does not retry
    lookout.fail_next("CreateModel", "ThrottlingException")

    # When the model is created
    with pytest.raises(ClientError) as raised:
        lookout_client(retries=0).create_model(**create_request())

    # Then the error is the throttling one and no model exists
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert lookout_client().list_models()["ModelSummaries"] == []


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        (
            {
                "ModelDiagnosticsOutputConfiguration": {
                    "S3OutputConfiguration": {"Bucket": "diagnostics", "Prefix": "m"}
                }
            },
            "ModelDiagnosticsOutputConfiguration.S3OutputConfiguration.Prefix: 'm' does not match the pattern",
        ),
        ({"ModelName": "pump model"}, "ModelName: 'pump model' does not match the pattern"),
        ({"DataPreProcessingConfiguration": {"TargetSamplingRate": "PT2M"}}, "'PT2M' is not one of TargetSamplingRate"),
    ],
)
def test_an_invalid_create_model_request_fails_the_test(
    lookout: FakeLookout, overrides: dict[str, Any], rule: str
) -> None:
    # Given a client (botocore itself checks no pattern and no enum)
    client = lookout_client()

    # When CreateModel is sent something AWS would reject
    with pytest.raises(ContractViolation) as raised:
        client.create_model(**create_request(**overrides))

    # Then the test fails naming the member and the rule
    assert str(raised.value).startswith("CreateModel request breaks")
    assert rule in str(raised.value)
    assert lookout.pop_violations() == [raised.value]


@pytest.mark.parametrize(
    ("fake_settings", "overrides", "code", "message"),
    [
        ({}, {"RoleArn": None}, "ValidationException", "RoleArn is required"),
        ({}, {"TrainingDataEndTime": datetime(2022, 1, 1, tzinfo=UTC)}, "ValidationException", "must be before"),
        ({"require_datasets": True}, {}, "ResourceNotFoundException", "Dataset pump-data does not exist"),
    ],
    ids=["diagnostics without role", "training range reversed", "unknown dataset"],
)
def test_create_model_refuses_what_the_service_refuses(
    fake_settings: dict[str, Any], overrides: dict[str, Any], code: str, message: str
) -> None:
    # Given a fake (perhaps requiring known datasets) and a request AWS answers with an error
    request = create_request(**overrides)

    # When it is sent
    with mock_aws(), FakeLookout(region=REGION, **fake_settings), pytest.raises(ClientError) as raised:
        lookout_client().create_model(**request)

    # Then the service error comes back, not a contract violation
    assert raised.value.response["Error"]["Code"] == code
    assert message in raised.value.response["Error"]["Message"]


def test_training_succeeds_after_the_planned_polls_and_points_at_its_diagnostics(lookout: FakeLookout) -> None:
    # Given a training planned to report IN_PROGRESS twice, whose completion writes the diagnostics file
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="diagnostics", CreateBucketConfiguration={"LocationConstraint": REGION})
    completed: list[tuple[str, int | None]] = []

    def write_diagnostics(model: fake_lookout.FakeModel, version: fake_lookout.FakeModelVersion | None) -> None:
        assert version is not None and version.diagnostics_object is not None
        completed.append((model.name, version.version))
        s3.put_object(Bucket=version.diagnostics_object[0], Key=version.diagnostics_object[1], Body=b"rows")

    lookout.train_on_create(
        "pump", in_progress_polls=2, model_quality="QUALITY_THRESHOLD_MET", on_complete=write_diagnostics
    )
    client = lookout_client()
    client.create_model(**create_request())

    # When the model is polled until it is done, and its version described
    statuses = statuses_of(client, "pump", 4)
    model = client.describe_model(ModelName="pump")
    version = client.describe_model_version(ModelName="pump", ModelVersion=model["ActiveModelVersion"])
    results = version["ModelDiagnosticsResultsObject"]

    # Then the third poll saw SUCCESS, version 1 is active, and its diagnostics object exists
    assert statuses == ["IN_PROGRESS", "IN_PROGRESS", "SUCCESS", "SUCCESS"]
    assert completed == [("pump", 1)]
    assert model["ActiveModelVersion"] == 1
    assert model["ModelQuality"] == "QUALITY_THRESHOLD_MET"
    assert json.loads(model["ModelMetrics"]) == fake_lookout.DEFAULT_TRAINING_METRICS
    assert model["TrainingExecutionEndTime"] >= model["TrainingExecutionStartTime"]
    assert results == {"Bucket": "diagnostics", "Key": "models/pump/1/model_diagnostics_results.json.gz"}
    assert s3.get_object(Bucket=results["Bucket"], Key=results["Key"])["Body"].read() == b"rows"
    assert version["Status"] == "SUCCESS"
    assert version["SourceType"] == "TRAINING"
    assert version["TrainingDataStartTime"] == datetime(2023, 1, 1, tzinfo=UTC)


def test_a_failed_training_has_a_reason_and_no_version(lookout: FakeLookout) -> None:
    # Given any created model fails at its first poll
    outcomes: list[tuple[str, Any]] = []
    lookout.train_on_create(
        in_progress_polls=0,
        outcome="FAILED",
        failed_reason="Not enough data",
        on_complete=lambda model, version: outcomes.append((model.status, version)),
    )
    client = lookout_client()
    client.create_model(**create_request(ModelDiagnosticsOutputConfiguration=None, RoleArn=None))

    # When it is polled
    model = client.describe_model(ModelName="pump")

    # Then it failed with the reason and has no version
    assert (model["Status"], model["FailedReason"]) == ("FAILED", "Not enough data")
    assert "ActiveModelVersion" not in model
    assert outcomes == [("FAILED", None)]
    assert client.list_model_versions(ModelName="pump")["ModelVersionSummaries"] == []


def test_only_answered_describe_model_calls_advance_the_training(lookout: FakeLookout) -> None:
    # Given a training planned to report IN_PROGRESS once, and a throttled DescribeModel
    lookout.train_on_create("pump", in_progress_polls=1)
    client = lookout_client(retries=0)
    client.create_model(**create_request(ModelDiagnosticsOutputConfiguration=None))
    lookout.fail_next("DescribeModel", "ThrottlingException")

    # When the model is listed, described while throttled, and then described twice
    client.list_models()
    with pytest.raises(ClientError):
        client.describe_model(ModelName="pump")
    statuses = statuses_of(client, "pump", 2)

    # Then neither the listing nor the throttled call counted as a poll
    assert statuses == ["IN_PROGRESS", "SUCCESS"]
    # and without a diagnostics configuration the version has no diagnostics object
    assert "ModelDiagnosticsResultsObject" not in client.describe_model_version(ModelName="pump", ModelVersion=1)


def test_a_model_without_a_plan_keeps_training(lookout: FakeLookout) -> None:
    # Given a plan for another model only
    lookout.train_on_create("fan", in_progress_polls=0)
    client = lookout_client()
    client.create_model(**create_request())

    # When the model is polled
    # Then it stays IN_PROGRESS until the test changes it
    assert statuses_of(client, "pump", 3) == ["IN_PROGRESS"] * 3


def test_a_failing_on_complete_callback_fails_the_test() -> None:
    # Given a completion callback that breaks
    def broken(model: fake_lookout.FakeModel, version: fake_lookout.FakeModelVersion | None) -> None:
        raise RuntimeError("cannot write the file")

    # When training completes under code that swallows every error
    # Then leaving the fake fails with the callback's error
    with (
        pytest.raises(AssertionError, match="a callback of the fake lookoutequipment failed"),
        mock_aws(),
        FakeLookout() as fake,
    ):
        fake.train_on_create(in_progress_polls=0, on_complete=broken)
        client = lookout_client(retries=0)
        client.create_model(**create_request(ModelDiagnosticsOutputConfiguration=None))
        with contextlib.suppress(Exception):
            client.describe_model(ModelName="pump")


# ---- UpdateModel ------------------------------------------------------------------------------------


def diagnostics_configuration(bucket: str = "stack-diagnostics", prefix: str = "pump/") -> dict[str, Any]:
    return {"S3OutputConfiguration": {"Bucket": bucket, "Prefix": prefix}}


def test_update_model_sets_the_diagnostics_output_that_list_and_describe_report(lookout: FakeLookout) -> None:
    # Given a model without a diagnostics output configuration
    lookout.add_model("pump")
    client = lookout_client()

    # When UpdateModel gives it one, with a role
    response = client.update_model(
        ModelName="pump", ModelDiagnosticsOutputConfiguration=diagnostics_configuration(), RoleArn=ROLE_ARN
    )

    # Then the answer is empty, and ListModels and DescribeModel report the configuration and role
    assert set(response) == {"ResponseMetadata"}
    [summary] = client.list_models()["ModelSummaries"]
    described = client.describe_model(ModelName="pump")
    assert summary["ModelDiagnosticsOutputConfiguration"] == diagnostics_configuration()
    assert described["ModelDiagnosticsOutputConfiguration"] == diagnostics_configuration()
    assert described["RoleArn"] == ROLE_ARN


def test_update_model_leaves_versions_trained_before_unchanged(lookout: FakeLookout) -> None:
    # Given a model writing to an old prefix, with a version trained there
    lookout.add_model("pump", diagnostics_bucket="old-diagnostics", diagnostics_prefix="old/")
    lookout.add_version("pump", 1, diagnostics_object=("old-diagnostics", "old/1/model_diagnostics_results.json.gz"))
    client = lookout_client()

    # When UpdateModel points the model elsewhere (the role stored on the model is used), and it trains again
    client.update_model(ModelName="pump", ModelDiagnosticsOutputConfiguration=diagnostics_configuration())
    lookout.add_version("pump", 2)
    old = client.describe_model_version(ModelName="pump", ModelVersion=1)
    new = client.describe_model_version(ModelName="pump", ModelVersion=2)

    # Then version 1 keeps the old configuration and its object; only version 2 has the new one
    assert old["ModelDiagnosticsOutputConfiguration"] == diagnostics_configuration("old-diagnostics", "old/")
    assert old["ModelDiagnosticsResultsObject"]["Bucket"] == "old-diagnostics"
    assert lookout.model("pump").versions[1].diagnostics_output == fake_lookout.DiagnosticsOutput(
        "old-diagnostics", "old/"
    )
    assert new["ModelDiagnosticsOutputConfiguration"] == diagnostics_configuration()


def test_a_training_under_way_keeps_the_configuration_it_started_with(lookout: FakeLookout) -> None:
    # Given a model training with diagnostics to models/
    lookout.train_on_create("pump", in_progress_polls=1)
    client = lookout_client()
    client.create_model(**create_request())
    client.describe_model(ModelName="pump")

    # When UpdateModel changes the configuration before the training ends
    client.update_model(ModelName="pump", ModelDiagnosticsOutputConfiguration=diagnostics_configuration())
    client.describe_model(ModelName="pump")
    version = client.describe_model_version(ModelName="pump", ModelVersion=1)

    # Then the version trained under the configuration of its start (inferred behaviour)
    assert version["ModelDiagnosticsOutputConfiguration"]["S3OutputConfiguration"]["Prefix"] == "models/"
    assert version["ModelDiagnosticsResultsObject"]["Key"].startswith("models/")


def test_an_update_model_prefix_without_a_trailing_slash_fails_the_test(lookout: FakeLookout) -> None:
    # Given a model
    lookout.add_model("pump")

    # When UpdateModel is sent a prefix L4E rejects (botocore itself checks no pattern)
    with pytest.raises(ContractViolation) as raised:
        lookout_client().update_model(
            ModelName="pump", ModelDiagnosticsOutputConfiguration=diagnostics_configuration(prefix="pump")
        )

    # Then the test fails naming the member and the rule, and the model is unchanged
    assert str(raised.value).startswith("UpdateModel request breaks")
    assert "ModelDiagnosticsOutputConfiguration.S3OutputConfiguration.Prefix: 'pump' does not match" in str(
        raised.value
    )
    assert lookout.pop_violations() == [raised.value]
    assert lookout.model("pump").diagnostics_output is None


def test_update_model_of_an_unknown_model_is_resource_not_found(lookout: FakeLookout) -> None:
    # Given no model at all
    client = lookout_client()

    # When one is updated
    with pytest.raises(ClientError) as raised:
        client.update_model(
            ModelName="missing", ModelDiagnosticsOutputConfiguration=diagnostics_configuration(), RoleArn=ROLE_ARN
        )

    # Then it fails as AWS does
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_update_model_with_diagnostics_but_no_role_anywhere_is_refused(lookout: FakeLookout) -> None:
    # Given a model created without a role
    client = lookout_client()
    client.create_model(**create_request(ModelDiagnosticsOutputConfiguration=None, RoleArn=None))

    # When UpdateModel gives it diagnostics output without a role
    with pytest.raises(ClientError) as raised:
        client.update_model(ModelName="pump", ModelDiagnosticsOutputConfiguration=diagnostics_configuration())

    # Then it is a ValidationException and nothing changed
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "RoleArn is required" in raised.value.response["Error"]["Message"]
    assert "ModelDiagnosticsOutputConfiguration" not in client.describe_model(ModelName="pump")
