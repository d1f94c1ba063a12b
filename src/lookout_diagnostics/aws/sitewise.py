"""AWS IoT SiteWise adapter: the reads identification, naming and polling need, with bounded paging.

Lists are followed for at most MAX_PAGES pages. boto3's paginators are not used: botocore's model makes
ListActions' nextToken required (its documentation says it is null after the last page), and a
paginator handed the same token twice raises; paging here stops at an empty page or a repeated token.
Assets and computation models are described once per SiteWiseClient (one invocation).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from lookout_diagnostics.aws.clients import client
from lookout_diagnostics.domain.sitewise import (
    INFERENCE_ACTION,
    TRAINING_ACTION,
    Action,
    Asset,
    ComputationModel,
    Execution,
    training_payload,
)
from lookout_diagnostics.errors import (
    ComputationModelNotFoundError,
    SiteWiseAccessDeniedError,
    SiteWiseRejectedRequestError,
    SiteWiseRequestError,
    SiteWiseUnavailableError,
)

logger = Logger(child=True)

# SiteWise's error codes, to the exceptions the training workflow names its failures by.
_REQUEST_ERRORS: dict[str, type[SiteWiseRequestError]] = {
    "InvalidRequestException": SiteWiseRejectedRequestError,
    "ConflictingOperationException": SiteWiseRejectedRequestError,
    "ResourceAlreadyExistsException": SiteWiseRejectedRequestError,
    "LimitExceededException": SiteWiseUnavailableError,
    "ResourceNotFoundException": ComputationModelNotFoundError,
    "AccessDeniedException": SiteWiseAccessDeniedError,
    "ThrottlingException": SiteWiseUnavailableError,
    "InternalFailureException": SiteWiseUnavailableError,
}

MAX_PAGES = 20
PAGE_SIZE = 250  # the service's maximum for these lists


class SiteWiseClient:
    """Implements lookout_diagnostics.domain.sitewise.SiteWiseReader against the real service."""

    def __init__(self) -> None:
        self._assets: dict[str, Asset | None] = {}
        self._models: dict[str, ComputationModel] = {}

    def computation_models(self, limit: int | None = None) -> list[ComputationModel]:
        """The anomaly-detection computation models (the first `limit`, if given), with their action
        definitions (one DescribeComputationModel each)."""
        summaries = _pages(
            "list_computation_models", "computationModelSummaries", {"computationModelType": "ANOMALY_DETECTION"}
        )
        return [self.computation_model(str(summary["id"])) for summary in summaries[:limit]]

    def computation_model(self, model_id: str) -> ComputationModel:
        if model_id not in self._models:
            described = client("iotsitewise").describe_computation_model(computationModelId=model_id)
            definitions = {d["actionType"]: d["actionDefinitionId"] for d in described.get("actionDefinitions", [])}
            self._models[model_id] = ComputationModel(
                id=described["computationModelId"],
                arn=described["computationModelArn"],
                name=described["computationModelName"],
                state=described["computationModelStatus"]["state"],
                training_definition_id=definitions.get(TRAINING_ACTION),
                inference_definition_id=definitions.get(INFERENCE_ACTION),
            )
        return self._models[model_id]

    def training_actions(self, model: ComputationModel, asset_id: str | None, limit: int) -> list[Action]:
        """The model's training actions (on one asset, if given), newest first, as DescribeAction reports them.

        At most `limit` are described (one DescribeAction each): the first listed. ListActions gives no
        time and its order is not documented; if it is not newest first, an old training's file may go
        unclaimed when a model has more training actions than the bound (the alert still goes, saying so)."""
        summaries = [
            summary
            for summary in _pages("list_actions", "actionSummaries", _on_model(model.id, asset_id))
            if summary.get("actionDefinitionId") == model.training_definition_id
        ]
        actions = [self.action(str(summary["actionId"])) for summary in summaries[:limit]]
        return sorted(actions, key=lambda action: action.executed_at, reverse=True)

    def executions(self, model_id: str, asset_id: str | None, action_type: str) -> list[Execution]:
        """A model's executions of one action type (on one asset, if given), as ListExecutions reports them."""
        request = _on_model(model_id, asset_id) | {"actionType": action_type}
        return [execution(item) for item in _pages("list_executions", "executionSummaries", request)]

    def start_training(
        self, model_id: str, asset_id: str, payload: str, client_token: str
    ) -> tuple[ComputationModel, str]:
        """ExecuteAction with the model's training action definition; (the model, the action id). SiteWise's
        refusals become typed exceptions; a model that cannot train is ComputationModelNotFoundError."""
        with typed_refusals():
            model = self.computation_model(model_id)
            if model.state != "ACTIVE" or model.training_definition_id is None:
                raise ComputationModelNotFoundError(
                    f"computation model {model.name} is {model.state}"
                    + ("" if model.training_definition_id else " and has no anomaly-detection training action")
                )
            action_id = _execute(model_id, asset_id, model.training_definition_id, payload, client_token)
        return model, action_id

    def create_computation_model(
        self, name: str, asset_model_id: str, inputs: list[str], result: str, client_token: str
    ) -> ComputationModel:
        """CreateComputationModel of type anomaly detection, bound to an asset model's properties named
        `inputs` and `result` (looked up with DescribeAssetModel). It is CREATING until SiteWise is done."""
        with typed_refusals():
            described = client("iotsitewise").describe_asset_model(assetModelId=asset_model_id)
            ids = {p["name"]: p["id"] for p in described.get("assetModelProperties", [])}
            missing = [prop for prop in [*inputs, result] if prop not in ids]
            if missing:
                raise SiteWiseRejectedRequestError(
                    f"asset model {described.get('assetModelName', asset_model_id)} has no property {missing[0]!r}"
                )

            def bound(prop: str) -> dict[str, Any]:
                return {"assetModelProperty": {"assetModelId": asset_model_id, "propertyId": ids[prop]}}

            created = client("iotsitewise").create_computation_model(
                computationModelName=name,
                computationModelConfiguration={
                    "anomalyDetection": {
                        "inputProperties": "${input_properties}",
                        "resultProperty": "${result_property}",
                    }
                },
                computationModelDataBinding={
                    "input_properties": {"list": [bound(prop) for prop in inputs]},
                    "result_property": bound(result),
                },
                clientToken=client_token,
            )
        return ComputationModel(
            id=created["computationModelId"],
            arn=created["computationModelArn"],
            name=name,
            state=created["computationModelStatus"]["state"],
        )

    def start_inference(self, model_id: str, asset_id: str, payload: str, client_token: str) -> str:
        """ExecuteAction with the model's inference action definition (inferenceMode START); the action id."""
        with typed_refusals():
            model = self.computation_model(model_id)
            if model.inference_definition_id is None:
                raise ComputationModelNotFoundError(f"computation model {model.name} has no inference action")
            return _execute(model_id, asset_id, model.inference_definition_id, payload, client_token)

    def describe_execution(self, execution_id: str) -> Execution:
        return execution(client("iotsitewise").describe_execution(executionId=execution_id))

    def asset(self, asset_id: str) -> Asset | None:
        """The asset's name and properties; None (logged) if it cannot be described: names are a courtesy,
        the alert goes without them."""
        if asset_id not in self._assets:
            try:
                described = client("iotsitewise").describe_asset(assetId=asset_id, excludeProperties=False)
            except (ClientError, BotoCoreError) as error:
                logger.warning("Asset not described", extra={"asset_id": asset_id, "error": str(error)})
                self._assets[asset_id] = None
                return None
            properties = {p["id"]: p["name"] for p in described.get("assetProperties", [])}
            for composite in described.get("assetCompositeModels", []):
                properties |= {p["id"]: p["name"] for p in composite.get("properties", [])}
            self._assets[asset_id] = Asset(id=asset_id, name=described["assetName"], properties=properties)
        return self._assets[asset_id]

    def action(self, action_id: str) -> Action:
        described = client("iotsitewise").describe_action(actionId=action_id)
        return Action(
            id=described["actionId"],
            definition_id=described["actionDefinitionId"],
            computation_model_id=described["targetResource"].get("computationModelId", ""),
            asset_id=(described.get("resolveTo") or {}).get("assetId"),
            executed_at=described["executionTime"],
            payload=training_payload(described["actionPayload"]["stringValue"]),
        )


def _on_model(model_id: str, asset_id: str | None) -> dict[str, Any]:
    """ListActions' and ListExecutions' filter: a computation model's, on one asset if given."""
    request: dict[str, Any] = {"targetResourceType": "COMPUTATION_MODEL", "targetResourceId": model_id}
    if asset_id is not None:
        request |= {"resolveToResourceType": "ASSET", "resolveToResourceId": asset_id}
    return request


def _execute(model_id: str, asset_id: str, definition_id: str, payload: str, client_token: str) -> str:
    """ExecuteAction of one of a computation model's action definitions on an asset; the action id."""
    response = client("iotsitewise").execute_action(
        targetResource={"computationModelId": model_id},
        resolveTo={"assetId": asset_id},
        actionDefinitionId=definition_id,
        actionPayload={"stringValue": payload},
        clientToken=client_token,
    )
    return str(response["actionId"])


@contextmanager
def typed_refusals() -> Iterator[None]:
    """SiteWise's refusals (after the SDK's retries) as the typed exceptions the training workflow names its
    failures and retries by: throttling and internal failures become SiteWiseUnavailableError."""
    try:
        yield
    except ClientError as error:
        code = error.response["Error"]["Code"]
        message = error.response["Error"].get("Message", code)
        raise _REQUEST_ERRORS.get(code, SiteWiseRequestError)(f"{code}: {message}") from error


def execution(item: dict[str, Any]) -> Execution:
    """An execution from a ListExecutions summary or a DescribeExecution answer."""
    return Execution(
        id=item["executionId"],
        action_type=item.get("actionType"),
        computation_model_id=item["targetResource"].get("computationModelId"),
        asset_id=(item.get("resolveTo") or {}).get("assetId"),
        model_version=item["targetResourceVersion"],
        state=item["executionStatus"]["state"],
        started_at=item["executionStartTime"],
        ended_at=item.get("executionEndTime"),
        details=item.get("executionDetails") or {},
        result=item.get("executionResult") or {},
    )


def _pages(operation: str, items_key: str, request: dict[str, Any]) -> list[dict[str, Any]]:
    call = getattr(client("iotsitewise"), operation)
    items: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(MAX_PAGES):
        page = call(**request, maxResults=PAGE_SIZE, **({"nextToken": token} if token else {}))
        found = page.get(items_key, [])
        items.extend(found)
        next_token = page.get("nextToken")
        if not found or not next_token or next_token == token:
            break
        token = next_token
    return items
