"""The base of the in-process service fakes holds any JSON-protocol service to its botocore model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.support.botocore_fake import ContractViolation, FakeService, ServiceError, service_model, shape_problems


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
