"""The base of the in-process service fakes holds any json or rest-json service to its botocore model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.botocore_fake import ContractViolation, FakeService, ServiceError, service_model, shape_problems
from tests.support.fake_lookout import FakeLookout
from tests.support.fake_sitewise import FakeSiteWise


class FakeSageMakerModels(FakeService):
    """A second service, as small as can be: SageMaker's ListModels and DescribeModel."""

    service = "sagemaker"

    def __init__(self, names: list[str]) -> None:
        super().__init__(default_page_size=2)
        self.names = names
        self.handlers = {"ListModels": self._list_models, "DescribeModel": self._describe_model}

    def _list_models(self, params: dict[str, Any]) -> dict[str, Any]:
        summaries = [
            {"ModelName": name, "ModelArn": f"arn:aws:sagemaker:eu-west-1:123456789012:model/{name}", "CreationTime": 0}
            for name in self.names
        ]
        page, token = self.page("ListModels", summaries, params)
        return {"Models": page, **({"NextToken": token} if token else {})}

    def _describe_model(self, params: dict[str, Any]) -> dict[str, Any]:
        raise ServiceError("ValidationException", f"Could not find model {params['ModelName']}")


@pytest.fixture
def sagemaker(aws: None, retry_sleeps: list[float]) -> Iterator[FakeSageMakerModels]:
    with FakeSageMakerModels(["pump-1", "pump-2", "pump-3"]) as fake:
        yield fake


def test_a_second_service_is_answered_and_paged(sagemaker: FakeSageMakerModels) -> None:
    # Given a fake of another JSON-protocol service holding three models, two per page
    client = boto3.client("sagemaker")

    # When a caller pages through them with botocore's own paginator
    pages = list(client.get_paginator("list_models").paginate())

    # Then every model comes back once, over two pages, in the fake's order
    assert [model["ModelName"] for page in pages for model in page["Models"]] == ["pump-1", "pump-2", "pump-3"]
    assert len(pages) == 2


def test_a_second_services_contract_is_its_own(sagemaker: FakeSageMakerModels) -> None:
    # Given a client of that service
    client = boto3.client("sagemaker")

    # When it lists with a sort order SageMaker lacks, and the fake answers DescribeModel with an error
    # that SageMaker's model does not list for that operation
    with pytest.raises(ContractViolation) as bad_request:
        client.list_models(SortBy="Size")
    with pytest.raises(ContractViolation) as bad_error:
        client.describe_model(ModelName="valve")

    # Then both fail the test, naming that service's model, the member or the error
    assert str(bad_request.value).startswith("ListModels request breaks the sagemaker service model")
    assert "SortBy: 'Size' is not one of ModelSortKey" in str(bad_request.value)
    assert "ValidationException is not one of its errors" in str(bad_error.value)
    assert sagemaker.pop_violations() == [bad_request.value, bad_error.value]


def test_an_operation_the_fake_does_not_answer_is_named(sagemaker: FakeSageMakerModels) -> None:
    # Given a fake that answers two operations
    client = boto3.client("sagemaker")

    # When a caller uses a third
    # Then the test fails naming the service and the operation
    with pytest.raises(NotImplementedError, match="the fake sagemaker does not implement DeleteModel"):
        client.delete_model(ModelName="pump-1")


def test_map_keys_and_values_are_checked() -> None:
    # Given SNS's message attribute map (string keys, structures with a required DataType)
    shape = service_model("sns").shape_for("MessageAttributeMap")

    # When a value lacks DataType
    problems = shape_problems(shape, {"severity": {"StringValue": "high"}})

    # Then the problem names the key and the missing member
    assert problems == ["['severity'].DataType: required member of MessageAttributeValue is missing"]


# ---- the rest-json protocol -------------------------------------------------------------------------


def sitewise_client(retries: int = 8) -> Any:
    config = Config(retries={"mode": "standard", "max_attempts": retries})
    return boto3.client("iotsitewise", config=config)


def test_a_rest_json_request_is_decoded_from_its_uri_labels_and_query_string(sitewise: FakeSiteWise) -> None:
    # Given SiteWise (rest-json) with an asset and a computation model
    pumps = sitewise.add_asset_model("pump", ["pressure"])
    asset = sitewise.add_asset("pump-1", pumps)
    model = sitewise.add_computation_model("pump-anomalies", asset_model=pumps)
    client = sitewise_client()

    # When a caller sends a request with a URI label and a boolean query member, and one with
    # string and integer query members
    described = client.describe_asset(assetId=asset.id, excludeProperties=True)
    client.list_executions(targetResourceType="COMPUTATION_MODEL", targetResourceId=model.id, maxResults=3)

    # Then the fake routed each by method and URI template and decoded the members in their wire types
    assert described["assetName"] == "pump-1"
    assert described["assetProperties"] == []
    assert [(call.operation, call.params) for call in sitewise.calls] == [
        ("DescribeAsset", {"assetId": asset.id, "excludeProperties": True}),
        (
            "ListExecutions",
            {"targetResourceType": "COMPUTATION_MODEL", "targetResourceId": model.id, "maxResults": 3},
        ),
    ]


def test_a_rest_json_answer_carries_the_operations_response_code(sitewise: FakeSiteWise) -> None:
    # Given a computation model and its asset
    pumps = sitewise.add_asset_model("pump", ["pressure"])
    asset = sitewise.add_asset("pump-1", pumps)
    model = sitewise.add_computation_model("pump-anomalies", asset_model=pumps)
    client = sitewise_client()

    # When an action is executed (the model says HTTP 202) and then described (no code: 200)
    executed = client.execute_action(
        targetResource={"computationModelId": model.id},
        actionDefinitionId=model.training_definition.id,
        actionPayload={"stringValue": json.dumps({"trainingMode": "TRAIN_MODEL"})},
        resolveTo={"assetId": asset.id},
    )
    described = client.describe_action(actionId=executed["actionId"])

    # Then each answer has its operation's status, a JSON body botocore parsed, and the JSON body of
    # the request was decoded
    assert executed["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert described["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert described["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/json"
    assert described["actionPayload"] == {"stringValue": '{"trainingMode": "TRAIN_MODEL"}'}
    assert sitewise.calls_to("ExecuteAction")[0].params["resolveTo"] == {"assetId": asset.id}


def test_a_rest_json_throttling_is_429_and_retried_by_botocore(
    sitewise: FakeSiteWise, retry_sleeps: list[float]
) -> None:
    # Given an asset, DescribeAsset throttled twice, then once more for a client that does not retry
    asset = sitewise.add_asset("pump-1", sitewise.add_asset_model("pump", ["pressure"]))
    sitewise.fail_next("DescribeAsset", "ThrottlingException", times=2)

    # When a retrying client describes it, and a client without retries after a third throttling
    described = sitewise_client().describe_asset(assetId=asset.id)
    sitewise.fail_next("DescribeAsset", "ThrottlingException", "slow down")
    with pytest.raises(ClientError) as raised:
        sitewise_client(retries=0).describe_asset(assetId=asset.id)

    # Then botocore retried the 429s without sleeping, and the error came with its code (read from
    # x-amzn-ErrorType), its message member and the error shape's HTTP status
    assert described["assetName"] == "pump-1"
    assert described["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(retry_sleeps) == 2
    error = raised.value.response
    assert error["Error"] == {"Code": "ThrottlingException", "Message": "slow down"}
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "ThrottlingException"


def test_a_service_error_has_the_status_and_members_of_its_shape(sitewise: FakeSiteWise) -> None:
    # Given a computation model and an asset
    pumps = sitewise.add_asset_model("pump", ["pressure"])
    asset = sitewise.add_asset("pump-1", pumps)
    model = sitewise.add_computation_model("pump-anomalies", asset_model=pumps)
    client = sitewise_client(retries=0)
    request = {
        "targetResource": {"computationModelId": model.id},
        "actionDefinitionId": model.training_definition.id,
        "resolveTo": {"assetId": asset.id},
        "clientToken": "train-pump-1-2024-03-01-000000000000",
    }

    # When an unknown asset is described, and a client token is reused for another request
    with pytest.raises(ClientError) as missing:
        client.describe_asset(assetId="9b2f3c1e-0000-4000-8000-000000000001")
    client.execute_action(**request, actionPayload={"stringValue": "{}"})
    with pytest.raises(ClientError) as conflict:
        client.execute_action(**request, actionPayload={"stringValue": '{"trainingMode": "TRAIN_MODEL"}'})

    # Then each has its shape's status (404, 409), and the conflict its required members
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert conflict.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert conflict.value.response["resourceId"] == model.id
    assert conflict.value.response["resourceArn"] == model.arn


@pytest.mark.parametrize(
    ("fake", "code", "status"),
    [
        (FakeSiteWise, "ThrottlingException", 429),
        (FakeSiteWise, "ResourceNotFoundException", 404),
        (FakeSiteWise, "InternalFailureException", 500),
        (FakeLookout, "InternalServerException", 500),
        (FakeLookout, "ThrottlingException", 400),
    ],
)
def test_an_errors_default_status_is_the_error_shapes(fake: type[FakeService], code: str, status: int) -> None:
    # Given a fake of a service whose model gives statuses (SiteWise) or marks faults only (L4E)
    # When the default status of one of its errors is asked
    # Then it is the model's httpStatusCode, else 500 for a fault, else 400
    assert fake().error_status(code) == status


class FakeGreengrassArtifacts(FakeService):
    """Greengrass v2's GetComponentVersionArtifact: a URI label, a greedy label, a query member, a header."""

    service = "greengrassv2"

    def __init__(self) -> None:
        super().__init__()
        self.handlers = {"GetComponentVersionArtifact": self._artifact}

    def _artifact(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"preSignedUrl": f"https://artifacts.example.com/{params['artifactName']}"}


class FakeLambdaLayers(FakeService):
    """Two Lambda operations on one path, told apart by a literal query key of one's requestUri."""

    service = "lambda"

    def __init__(self) -> None:
        super().__init__()
        self.handlers = {
            "ListLayers": lambda params: {"Layers": []},
            "GetLayerVersionByArn": lambda params: {"LayerVersionArn": params["Arn"], "Version": 3},
        }


def test_greedy_labels_query_members_and_headers_are_decoded(aws: None) -> None:
    # Given a rest-json operation with a greedy label and a header member
    arn = "arn:aws:greengrass:eu-west-1:123456789012:components:pump.Sensor:versions:1.0.0"

    # When an artifact whose name holds slashes and spaces is asked for
    with FakeGreengrassArtifacts() as fake:
        answer = boto3.client("greengrassv2").get_component_version_artifact(
            arn=arn, artifactName="bin/pump reader.zip", s3EndpointType="REGIONAL", iotEndpointType="fips"
        )

    # Then every member was decoded from its location
    assert fake.calls[0].params == {
        "arn": arn,
        "artifactName": "bin/pump reader.zip",
        "s3EndpointType": "REGIONAL",
        "iotEndpointType": "fips",
    }
    assert answer["preSignedUrl"] == "https://artifacts.example.com/bin/pump reader.zip"


def test_a_literal_query_key_of_the_request_uri_selects_the_operation(aws: None) -> None:
    # Given Lambda's ListLayers (GET /2018-10-31/layers) and GetLayerVersionByArn (same path, ?find=LayerVersion)
    arn = "arn:aws:lambda:eu-west-1:123456789012:layer:pandas:3"

    # When both are called
    with FakeLambdaLayers() as fake:
        client = boto3.client("lambda")
        client.list_layers(MaxItems=5)
        version = client.get_layer_version_by_arn(Arn=arn)

    # Then each request reached its own operation, the literal query key not taken for a member
    assert [(call.operation, call.params) for call in fake.calls] == [
        ("ListLayers", {"MaxItems": 5}),
        ("GetLayerVersionByArn", {"Arn": arn}),
    ]
    assert version["Version"] == 3


def test_a_rest_json_request_breaking_a_pattern_fails_naming_the_service(sitewise: FakeSiteWise) -> None:
    # Given a client that skips botocore's own validation
    client = boto3.client("iotsitewise", config=Config(parameter_validation=False))

    # When a URI label is not a UUID
    with pytest.raises(ContractViolation) as raised:
        client.describe_execution(executionId="execution-1")

    # Then the violation names the service model, the member and the pattern
    assert str(raised.value).startswith("DescribeExecution request breaks the iotsitewise service model")
    assert "executionId: 'execution-1' does not match the pattern" in str(raised.value)
    assert sitewise.pop_violations() == [raised.value]
