"""The in-process AWS IoT SiteWise: assets, computation models, actions, simulated executions, paging,
faults, retries and service-model validation, all through real boto3 clients."""

from __future__ import annotations

import contextlib
import json
import typing
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.support import fake_sitewise
from tests.support.botocore_fake import ContractViolation, python_regex, service_model
from tests.support.fake_sitewise import (
    FAILURE_MESSAGE_KEY,
    INFERENCE_ACTION,
    SERVICE,
    TRAINING_ACTION,
    FakeAsset,
    FakeComputationModel,
    FakeExecution,
    FakeSiteWise,
    listed_computation_models,
)

REGION = "eu-west-1"
EVALUATION_BUCKET = "evaluations"
TRAINING_PAYLOAD: dict[str, Any] = {
    "trainingMode": "TRAIN_MODEL",
    "exportDataStartTime": 1704067200,
    "exportDataEndTime": 1711929600,
    "targetSamplingRate": "PT5M",
    "modelEvaluationConfiguration": {
        "dataStartTime": 1711929600,
        "dataEndTime": 1714521600,
        "resultDestination": {"bucketName": EVALUATION_BUCKET, "prefix": "pump-1/"},
    },
}


def sitewise_client(retries: int = 8, *, parameter_validation: bool = True) -> Any:
    """A client made the way production code makes it (boto3's default session, standard retries)."""
    config = Config(retries={"mode": "standard", "max_attempts": retries}, parameter_validation=parameter_validation)
    return boto3.client("iotsitewise", config=config)


def pump_fleet(sitewise: FakeSiteWise, assets: int = 1) -> tuple[FakeComputationModel, list[FakeAsset]]:
    """A pump asset model (two inputs, a STRING result), `assets` pumps, and its anomaly model."""
    pumps = sitewise.add_asset_model("pump", ["pressure", "flow", "anomaly"], data_types={"anomaly": "STRING"})
    fleet = [sitewise.add_asset(f"pump-{number}", pumps) for number in range(1, assets + 1)]
    model = sitewise.add_computation_model("pump-anomalies", asset_model=pumps, result_property="anomaly")
    return model, fleet


def execute_training(
    client: Any,
    model: FakeComputationModel,
    asset: FakeAsset,
    payload: dict[str, Any] | None = None,
    **overrides: Any,
) -> str:
    request = {
        "targetResource": {"computationModelId": model.id},
        "actionDefinitionId": model.training_definition.id,
        "actionPayload": {"stringValue": json.dumps(payload or TRAINING_PAYLOAD)},
        "resolveTo": {"assetId": asset.id},
        **overrides,
    }
    return str(client.execute_action(**request)["actionId"])


def executions_of(client: Any, model: FakeComputationModel, **filters: Any) -> list[dict[str, Any]]:
    summaries: list[dict[str, Any]] = client.list_executions(
        targetResourceType="COMPUTATION_MODEL", targetResourceId=model.id, **filters
    )["executionSummaries"]
    return summaries


def states_of(client: Any, execution_id: str, polls: int) -> list[str]:
    return [client.describe_execution(executionId=execution_id)["executionStatus"]["state"] for _ in range(polls)]


# ---- simulated executions ---------------------------------------------------------------------------


def test_a_training_runs_for_the_planned_polls_then_completes_and_writes_its_evaluation(
    sitewise: FakeSiteWise,
) -> None:
    # Given a training planned to stay RUNNING for two polls, whose completion writes the evaluation
    # file where the payload says
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=EVALUATION_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    completed: list[tuple[str, dict[str, Any]]] = []

    def write_evaluation(execution: FakeExecution, payload: dict[str, Any]) -> None:
        destination = payload["modelEvaluationConfiguration"]["resultDestination"]
        completed.append((execution.state, payload))
        s3.put_object(Bucket=destination["bucketName"], Key=f"{destination['prefix']}evaluation.json", Body=b"{}")

    model, [pump] = pump_fleet(sitewise)
    sitewise.plan_executions("pump-anomalies", running_polls=2, on_complete=write_evaluation)
    client = sitewise_client()

    # When a training is executed, its execution found through ListExecutions, and polled
    action_id = execute_training(client, model, pump)
    [summary] = executions_of(client, model, resolveToResourceType="ASSET", resolveToResourceId=pump.id)
    first_two = states_of(client, summary["executionId"], 2)
    listed_in_between = executions_of(client, model)[0]["executionStatus"]["state"]
    last_two = states_of(client, summary["executionId"], 2)
    described = client.describe_execution(executionId=summary["executionId"])

    # Then the execution (not the action's id) ran for two polls (listing did not advance it), then
    # completed with an end time, and the callback got the payload and wrote the file
    assert summary["executionId"] != action_id
    assert (summary["actionType"], summary["targetResourceVersion"]) == (TRAINING_ACTION, "1")
    assert summary["resolveTo"] == {"assetId": pump.id}
    assert "executionEndTime" not in summary
    assert [*first_two, listed_in_between, *last_two] == ["RUNNING", "RUNNING", "RUNNING", "COMPLETED", "COMPLETED"]
    assert described["executionEndTime"] >= described["executionStartTime"]
    assert completed == [("COMPLETED", TRAINING_PAYLOAD)]
    assert s3.get_object(Bucket=EVALUATION_BUCKET, Key="pump-1/evaluation.json")["Body"].read() == b"{}"


def test_a_failed_execution_says_why(sitewise: FakeSiteWise) -> None:
    # Given any training fails at its first poll
    model, [pump] = pump_fleet(sitewise)
    sitewise.plan_executions(running_polls=0, outcome="FAILED", failure_reason="Not enough data to train")
    client = sitewise_client()
    execute_training(client, model, pump)
    [summary] = executions_of(client, model)

    # When it is described
    described = client.describe_execution(executionId=summary["executionId"])

    # Then it failed, ended, and both string maps carry the reason (keys inferred)
    assert described["executionStatus"] == {"state": "FAILED"}
    assert "executionEndTime" in described
    assert described["executionDetails"] == {FAILURE_MESSAGE_KEY: "Not enough data to train"}
    assert described["executionResult"] == {FAILURE_MESSAGE_KEY: "Not enough data to train"}


def test_the_most_specific_plan_applies_and_an_unplanned_execution_keeps_running(sitewise: FakeSiteWise) -> None:
    # Given a plan for inference only; training has none
    model, [pump] = pump_fleet(sitewise)
    sitewise.plan_executions("pump-anomalies", action_type=INFERENCE_ACTION, running_polls=0)
    client = sitewise_client()

    # When a training and an inference start are executed and polled
    execute_training(client, model, pump)
    client.execute_action(
        targetResource={"computationModelId": model.id},
        actionDefinitionId=model.inference_definition.id,
        actionPayload={"stringValue": json.dumps({"inferenceMode": "START"})},
        resolveTo={"assetId": pump.id},
    )
    training = executions_of(client, model, actionType=TRAINING_ACTION)[0]["executionId"]
    inference = executions_of(client, model, actionType=INFERENCE_ACTION)[0]["executionId"]

    # Then only the inference ends; the training stays RUNNING until the test changes it
    assert states_of(client, inference, 1) == ["COMPLETED"]
    assert states_of(client, training, 3) == ["RUNNING"] * 3
    sitewise.execution(training).end("COMPLETED")
    assert states_of(client, training, 1) == ["COMPLETED"]


def test_a_failing_on_complete_callback_fails_the_test() -> None:
    # Given a completion callback that breaks
    def broken(execution: FakeExecution, payload: dict[str, Any]) -> None:
        raise RuntimeError("cannot write the evaluation file")

    # When an execution completes under code that swallows every error
    # Then leaving the fake fails with the callback's error
    with (
        pytest.raises(AssertionError, match="a callback of the fake iotsitewise failed"),
        mock_aws(),
        FakeSiteWise() as sitewise,
    ):
        model, [pump] = pump_fleet(sitewise)
        sitewise.plan_executions(running_polls=0, on_complete=broken)
        client = sitewise_client(retries=0)
        execute_training(client, model, pump)
        with contextlib.suppress(Exception):
            client.describe_execution(executionId=sitewise.executions[0].id)


def test_an_added_execution_can_be_scripted_between_calls(sitewise: FakeSiteWise) -> None:
    # Given a training the retraining scheduler started (not the code under test), with its action
    model, [pump] = pump_fleet(sitewise)
    started = datetime(2024, 3, 1, 6, 0, tzinfo=UTC)
    execution = sitewise.add_execution(model, pump, state="RUNNING", started_at=started, payload=TRAINING_PAYLOAD)
    client = sitewise_client()

    # When it is described, ended by the test, and described again
    before = client.describe_execution(executionId=execution.id)
    execution.end("COMPLETED", details={"modelVersion": "2"}, at=started + timedelta(hours=1))
    after = client.describe_execution(executionId=execution.id)
    [action] = client.list_actions(targetResourceType="COMPUTATION_MODEL", targetResourceId=model.id)["actionSummaries"]

    # Then each answer reflects the state of the moment, and its action holds the payload
    assert (before["executionStatus"]["state"], before["executionStartTime"]) == ("RUNNING", started)
    assert "executionEndTime" not in before
    assert after["executionStatus"]["state"] == "COMPLETED"
    assert after["executionEndTime"] == started + timedelta(hours=1)
    assert after["executionDetails"] == {"modelVersion": "2"}
    described = client.describe_action(actionId=action["actionId"])
    assert json.loads(described["actionPayload"]["stringValue"]) == TRAINING_PAYLOAD
    assert described["executionTime"] == started


# ---- ExecuteAction ----------------------------------------------------------------------------------


def test_a_retried_execute_action_with_the_same_client_token_creates_nothing(
    sitewise: FakeSiteWise, retry_sleeps: list[float]
) -> None:
    # Given a service that carries the first ExecuteAction out and loses its answer
    model, [pump] = pump_fleet(sitewise)
    sitewise.fail_next("ExecuteAction", "InternalFailureException", after_applying=True)
    client = sitewise_client()
    token = "train-pump-1-2024-03-01-000000000000"

    # When the action is executed (botocore retries the 500 with the same body), then sent again
    first = execute_training(client, model, pump, clientToken=token)
    again = execute_training(client, model, pump, clientToken=token)

    # Then every attempt answered the same action, and one action and one execution exist
    assert len(sitewise.calls_to("ExecuteAction")) == 3
    assert first == again
    assert len(executions_of(client, model)) == 1
    assert len(sitewise.actions) == 1


def test_a_client_token_reused_for_another_request_is_a_conflict(sitewise: FakeSiteWise) -> None:
    # Given a training executed with a token
    model, [pump] = pump_fleet(sitewise)
    client = sitewise_client()
    token = "train-pump-1-2024-03-01-000000000000"
    execute_training(client, model, pump, clientToken=token)

    # When the token comes back with another payload
    with pytest.raises(ClientError) as raised:
        execute_training(client, model, pump, {"trainingMode": "TRAIN_MODEL"}, clientToken=token)

    # Then it is ConflictingOperationException (inferred) and nothing new exists
    assert raised.value.response["Error"]["Code"] == "ConflictingOperationException"
    assert raised.value.response["resourceId"] == model.id
    assert len(executions_of(client, model)) == 1


@pytest.mark.parametrize(
    ("overrides", "code", "message"),
    [
        ({"actionDefinitionId": "0b4c3a5e-1111-4222-8333-444455556666"}, "InvalidRequestException", "not one of"),
        ({"resolveTo": {"assetId": "0b4c3a5e-1111-4222-8333-444455556666"}}, "ResourceNotFoundException", "Asset"),
        (
            {"targetResource": {"computationModelId": "0b4c3a5e-1111-4222-8333-444455556666"}},
            "ResourceNotFoundException",
            "Computation model",
        ),
        ({"actionPayload": {"stringValue": "[1, 2]"}}, "InvalidRequestException", "JSON object"),
        ({"actionPayload": {"stringValue": "train now"}}, "InvalidRequestException", "JSON object"),
        ({"resolveTo": None}, "InvalidRequestException", "resolveTo must name an asset"),
    ],
    ids=[
        "unknown definition",
        "unknown asset",
        "unknown model",
        "payload not an object",
        "payload not JSON",
        "no asset",
    ],
)
def test_execute_action_refuses_what_the_service_refuses(
    sitewise: FakeSiteWise, overrides: dict[str, Any], code: str, message: str
) -> None:
    # Given a computation model and its asset
    model, [pump] = pump_fleet(sitewise)
    client = sitewise_client()
    request = {
        "targetResource": {"computationModelId": model.id},
        "actionDefinitionId": model.training_definition.id,
        "actionPayload": {"stringValue": json.dumps(TRAINING_PAYLOAD)},
        "resolveTo": {"assetId": pump.id},
        **overrides,
    }

    # When ExecuteAction is sent something SiteWise answers with an error
    with pytest.raises(ClientError) as raised:
        client.execute_action(**{name: value for name, value in request.items() if value is not None})

    # Then the service error comes back, not a contract violation, and nothing was started
    assert raised.value.response["Error"]["Code"] == code
    assert message in raised.value.response["Error"]["Message"]
    assert sitewise.executions == []


def test_an_inference_needs_a_documented_mode(sitewise: FakeSiteWise) -> None:
    # Given a computation model and its asset
    model, [pump] = pump_fleet(sitewise)

    # When an inference is executed with a mode the documentation does not list
    with pytest.raises(ClientError) as raised:
        sitewise_client().execute_action(
            targetResource={"computationModelId": model.id},
            actionDefinitionId=model.inference_definition.id,
            actionPayload={"stringValue": json.dumps({"inferenceMode": "RESTART"})},
            resolveTo={"assetId": pump.id},
        )

    # Then it is refused
    assert raised.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "inferenceMode" in raised.value.response["Error"]["Message"]


# ---- listing and paging -----------------------------------------------------------------------------


def test_list_executions_pages_newest_first(sitewise: FakeSiteWise) -> None:
    # Given five executions started an hour apart
    model, [pump] = pump_fleet(sitewise)
    start = datetime(2024, 3, 1, tzinfo=UTC)
    added = [sitewise.add_execution(model, pump, started_at=start + timedelta(hours=hour)) for hour in range(5)]
    client = sitewise_client()

    # When a caller follows nextToken two at a time
    pages = []
    token: dict[str, str] = {}
    while True:
        page = client.list_executions(
            targetResourceType="COMPUTATION_MODEL", targetResourceId=model.id, maxResults=2, **token
        )
        pages.append(page)
        if "nextToken" not in page:
            break
        token = {"nextToken": page["nextToken"]}

    # Then every execution comes once, newest first, over three pages
    listed = [summary["executionId"] for page in pages for summary in page["executionSummaries"]]
    assert listed == [execution.id for execution in reversed(added)]
    assert len(pages) == 3


def test_list_executions_filters_by_asset_and_action_type(sitewise: FakeSiteWise) -> None:
    # Given trainings and inferences on two pumps
    model, [pump_1, pump_2] = pump_fleet(sitewise, assets=2)
    for pump in (pump_1, pump_2):
        for action_type in (TRAINING_ACTION, INFERENCE_ACTION):
            sitewise.add_execution(model, pump, action_type=action_type)
    client = sitewise_client()

    # When the trainings of pump 2 are listed
    listed = executions_of(
        client, model, resolveToResourceType="ASSET", resolveToResourceId=pump_2.id, actionType=TRAINING_ACTION
    )

    # Then only that one comes back
    assert [(s["resolveTo"]["assetId"], s["actionType"]) for s in listed] == [(pump_2.id, TRAINING_ACTION)]
    assert len(executions_of(client, model)) == 4


def test_listing_the_executions_of_an_unknown_model_is_resource_not_found(sitewise: FakeSiteWise) -> None:
    # Given no computation model at all
    client = sitewise_client()

    # When its executions are listed
    with pytest.raises(ClientError) as raised:
        client.list_executions(
            targetResourceType="COMPUTATION_MODEL", targetResourceId="0b4c3a5e-1111-4222-8333-444455556666"
        )

    # Then it fails as a missing resource (inferred)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_list_computation_models_pages_and_filters(sitewise: FakeSiteWise) -> None:
    # Given three computation models, one of them still being created
    sitewise.add_computation_model("pump-anomalies")
    sitewise.add_computation_model("fan-anomalies", state="CREATING")
    sitewise.add_computation_model("valve-anomalies")
    client = sitewise_client()

    # When botocore's paginator lists them two per page, filtered on the one type there is
    pages = list(
        client.get_paginator("list_computation_models").paginate(
            computationModelType="ANOMALY_DETECTION", PaginationConfig={"PageSize": 2}
        )
    )

    # Then every model comes once, over two pages, and a user sees each one's state
    names = [summary["name"] for page in pages for summary in page["computationModelSummaries"]]
    assert names == ["pump-anomalies", "fan-anomalies", "valve-anomalies"]
    assert len(pages) == 2
    assert [call.params.get("maxResults") for call in sitewise.calls_to("ListComputationModels")] == [2, 2]
    assert listed_computation_models() == {
        "pump-anomalies": "ACTIVE",
        "fan-anomalies": "CREATING",
        "valve-anomalies": "ACTIVE",
    }


def test_list_actions_always_carries_the_next_token_its_model_requires(sitewise: FakeSiteWise) -> None:
    # Given two trainings executed on a pump
    model, [pump] = pump_fleet(sitewise)
    client = sitewise_client()
    first, second = execute_training(client, model, pump), execute_training(client, model, pump)
    listing = {"targetResourceType": "COMPUTATION_MODEL", "targetResourceId": model.id}

    # When they are listed, and the last page's token followed
    page = client.list_actions(**listing)
    after = client.list_actions(**listing, nextToken=page["nextToken"])

    # Then the last page has a token, and it leads to an empty page with the same token
    assert [summary["actionId"] for summary in page["actionSummaries"]] == [second, first]
    assert page["actionSummaries"][0]["actionDefinitionId"] == model.training_definition.id
    assert after["actionSummaries"] == []
    assert after["nextToken"] == page["nextToken"]


# ---- describing -------------------------------------------------------------------------------------


def test_describe_asset_returns_the_names_of_its_property_ids(sitewise: FakeSiteWise) -> None:
    # Given a pump of a model with two DOUBLE inputs and a STRING result
    _, [pump] = pump_fleet(sitewise)
    client = sitewise_client()

    # When the asset and its model are described
    asset = client.describe_asset(assetId=pump.id)
    asset_model = client.describe_asset_model(assetModelId=asset["assetModelId"])

    # Then each property id maps to its name, the same ids in asset and asset model
    names = {prop["id"]: prop["name"] for prop in asset["assetProperties"]}
    assert names == {pump.asset_model.property(name).id: name for name in ("pressure", "flow", "anomaly")}
    assert {prop["id"]: prop["name"] for prop in asset_model["assetModelProperties"]} == names
    assert asset["assetName"] == "pump-1"
    assert asset["assetArn"] == f"arn:aws:iotsitewise:{REGION}:123456789012:asset/{pump.id}"
    assert asset["assetStatus"] == {"state": "ACTIVE"}
    assert {prop["name"]: prop["dataType"] for prop in asset["assetProperties"]}["anomaly"] == "STRING"


def test_describe_computation_model_binds_its_variables_and_lists_its_actions(sitewise: FakeSiteWise) -> None:
    # Given an anomaly model bound to the pump model's properties
    model, [pump] = pump_fleet(sitewise)

    # When it is described
    described = sitewise_client().describe_computation_model(computationModelId=model.id)

    # Then its configuration, binding and two action definitions are there, with their own ids
    assert described["computationModelConfiguration"] == {
        "anomalyDetection": {"inputProperties": "${input_properties}", "resultProperty": "${result_property}"}
    }
    binding = described["computationModelDataBinding"]
    inputs = [item["assetModelProperty"]["propertyId"] for item in binding["input_properties"]["list"]]
    assert inputs == [pump.asset_model.property("pressure").id, pump.asset_model.property("flow").id]
    assert binding["result_property"]["assetModelProperty"]["propertyId"] == pump.asset_model.property("anomaly").id
    assert {d["actionType"]: d["actionDefinitionId"] for d in described["actionDefinitions"]} == {
        TRAINING_ACTION: model.training_definition.id,
        INFERENCE_ACTION: model.inference_definition.id,
    }
    assert (described["computationModelVersion"], described["computationModelStatus"]) == ("1", {"state": "ACTIVE"})


def test_ids_are_repeatable_uuids() -> None:
    # Given two fakes set up alike
    first, second = FakeSiteWise(), FakeSiteWise()

    # When each gets the same model
    models = [fake.add_computation_model("pump-anomalies") for fake in (first, second)]

    # Then the ids are the same, and are UUIDs as the model's ID pattern wants
    assert models[0].id == models[1].id
    assert models[0].training_definition.id != models[0].inference_definition.id
    assert python_regex(service_model(SERVICE).shape_for("ID").metadata["pattern"]).search(models[0].id)


# ---- faults, retries and validation -----------------------------------------------------------------


def test_an_injected_throttling_is_retried_by_botocore(sitewise: FakeSiteWise, retry_sleeps: list[float]) -> None:
    # Given a model with one execution, and ListExecutions throttled twice
    model, [pump] = pump_fleet(sitewise)
    sitewise.add_execution(model, pump)
    sitewise.fail_next("ListExecutions", "ThrottlingException", times=2)

    # When the executions are listed once
    response = sitewise_client().list_executions(targetResourceType="COMPUTATION_MODEL", targetResourceId=model.id)

    # Then botocore retried twice without sleeping, and the call succeeded
    assert len(response["executionSummaries"]) == 1
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(retry_sleeps) == 2


def test_a_request_breaking_a_pattern_fails_the_test(sitewise: FakeSiteWise) -> None:
    # Given a client that skips botocore's own validation (which checks no pattern anyway)
    client = sitewise_client(parameter_validation=False)

    # When a computation model id is not a UUID
    with pytest.raises(ContractViolation) as raised:
        client.describe_computation_model(computationModelId="pump-anomalies")

    # Then the test fails naming the service, the member and the rule
    assert str(raised.value).startswith("DescribeComputationModel request breaks the iotsitewise service model")
    assert "computationModelId: 'pump-anomalies' does not match the pattern" in str(raised.value)
    assert sitewise.pop_violations() == [raised.value]


def test_a_failure_reason_the_model_cannot_carry_is_refused_at_once(sitewise: FakeSiteWise) -> None:
    # Given the model's pattern for execution details values (no full stop, no colon)
    # When a test plans a failure whose reason has one
    # Then it is told so when planning, not at the poll
    with pytest.raises(ValueError, match="does not match the pattern"):
        sitewise.plan_executions(outcome="FAILED", failure_reason="Not enough data.")


def test_every_pattern_of_the_service_model_compiles() -> None:
    # Given every pattern of the iotsitewise model
    model = service_model(SERVICE)
    patterns = {p for p in (model.shape_for(name).metadata.get("pattern") for name in model.shape_names) if p}

    # When each is translated for Python
    compiled = [python_regex(pattern) for pattern in patterns]

    # Then all compile
    assert len(compiled) == len(patterns)


@pytest.mark.parametrize(
    ("literal", "shape"),
    [
        (fake_sitewise.ExecutionState, "ExecutionState"),
        (fake_sitewise.ComputationModelState, "ComputationModelState"),
        (fake_sitewise.ComputationModelType, "ComputationModelType"),
        (fake_sitewise.AssetState, "AssetState"),
        (fake_sitewise.AssetModelState, "AssetModelState"),
        (fake_sitewise.PropertyDataType, "PropertyDataType"),
        (fake_sitewise.TargetResourceType, "TargetResourceType"),
        (fake_sitewise.ResolveToResourceType, "ResolveToResourceType"),
    ],
)
def test_the_typed_enums_are_the_service_models(literal: Any, shape: str) -> None:
    # Given one of the fake's Literal types and the model's enum of the same name
    # When both are compared
    # Then they hold the same values
    assert set(typing.get_args(literal)) == set(service_model(SERVICE).shape_for(shape).enum)


def test_a_created_computation_model_is_creating_then_active_and_a_retry_creates_nothing(
    sitewise: FakeSiteWise,
) -> None:
    # Given an asset model, and a fake that takes one describe to create a model
    pumps = sitewise.add_asset_model("pump", ["Flow", "Pressure", "Result"], data_types={"Result": "STRING"})
    client = boto3.client("iotsitewise")

    def bound(name: str) -> dict[str, Any]:
        return {"assetModelProperty": {"assetModelId": pumps.id, "propertyId": pumps.property(name).id}}

    request = {
        "computationModelName": "pump-anomalies",
        "computationModelConfiguration": {
            "anomalyDetection": {"inputProperties": "${input_properties}", "resultProperty": "${result_property}"}
        },
        "computationModelDataBinding": {
            "input_properties": {"list": [bound("Flow"), bound("Pressure")]},
            "result_property": bound("Result"),
        },
        "clientToken": "7f1c2e3d-4b5f-4a6e-8c9d-0e1f2a3b4c5d",
    }

    # When it is created, created again with the same request, described twice, and created once more differently
    created = client.create_computation_model(**request)
    again = client.create_computation_model(**request)
    states = [
        client.describe_computation_model(computationModelId=created["computationModelId"])["computationModelStatus"][
            "state"
        ]
        for _ in range(2)
    ]
    with pytest.raises(client.exceptions.ResourceAlreadyExistsException):
        client.create_computation_model(**(request | {"clientToken": "8f1c2e3d-4b5f-4a6e-8c9d-0e1f2a3b4c5d"}))

    # Then one model exists, CREATING then ACTIVE, bound to the properties asked for
    assert created["computationModelStatus"]["state"] == "CREATING"
    assert again["computationModelId"] == created["computationModelId"]
    assert states == ["CREATING", "ACTIVE"]
    model = sitewise.computation_model("pump-anomalies")
    assert (model.input_properties, model.result_property) == (["Flow", "Pressure"], "Result")
