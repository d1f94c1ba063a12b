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

from local import fake_lookout
from local.fake_lookout import ContractViolation, FakeLookout, service_model

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
    model = service_model()
    patterns = {p for p in (model.shape_for(name).metadata.get("pattern") for name in model.shape_names) if p}

    # When each is translated for Python
    compiled = [fake_lookout.python_regex(pattern) for pattern in patterns]

    # Then all compile, and the translated ones behave as in Java
    assert len(compiled) == len(patterns)
    assert fake_lookout.python_regex(model.shape_for("S3Key").metadata["pattern"]).search("a/b.json.gz")
    assert not fake_lookout.python_regex(model.shape_for("S3Key").metadata["pattern"]).search("a/b/")
    assert not fake_lookout.python_regex(model.shape_for("NextToken").metadata["pattern"]).fullmatch("é")


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
    assert set(typing.get_args(literal)) == set(service_model().shape_for(shape).enum)


def test_the_typed_error_codes_are_the_service_models() -> None:
    # Given the fake's error codes and the model's error shapes
    # When both are compared
    # Then they hold the same names
    assert set(typing.get_args(fake_lookout.ErrorCode)) == {shape.name for shape in service_model().error_shapes}


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
