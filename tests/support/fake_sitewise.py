"""An in-process AWS IoT SiteWise (boto3 ``iotsitewise``) with native anomaly detection, for tests and the
local run.

moto has no SiteWise backend. FakeSiteWise answers the service's requests from in-memory asset models,
assets, anomaly-detection computation models, actions and executions; tests/support/botocore_fake.py
decodes the rest-json requests, holds every request and response to botocore's model of the service
and lets botocore retry as it would against AWS.

Install it after ``mock_aws()`` has started and before the clients are created::

    with mock_aws(), FakeSiteWise() as sitewise, skip_retry_sleeps():
        pumps = sitewise.add_asset_model("pump", ["pressure", "flow"])
        sitewise.add_asset("pump-1", pumps)
        sitewise.add_computation_model("pump-anomalies", asset_model=pumps)
        ...  # code under test calls boto3.client("iotsitewise", ...)

What is documented (AWS IoT SiteWise API reference and user guide, "anomaly detection"):

- A computation model of type ANOMALY_DETECTION has the configuration ``anomalyDetection
  {inputProperties: "${input_properties}", resultProperty: "${result_property}"}`` and a data binding
  of those variables to asset model properties (or asset properties); its action definitions carry
  the action types ``AWS/ANOMALY_DETECTION_TRAINING`` and ``AWS/ANOMALY_DETECTION_INFERENCE``.
- ExecuteAction (HTTP 202) runs one of them on a target resource (here the computation model),
  resolved to an asset with ``resolveTo``; the JSON payload travels as ``actionPayload.stringValue``
  (a flat string without control characters). Training payload keys: ``trainingMode``,
  ``exportDataStartTime``, ``exportDataEndTime``, ``targetSamplingRate``,
  ``modelEvaluationConfiguration {dataStartTime, dataEndTime, resultDestination {bucketName, prefix}}``,
  ``modelMetricsDestination``; inference payload: ``inferenceMode`` START or STOP.
- ExecuteAction answers with an ``actionId`` only; an execution is found with ListExecutions
  (targetResourceType/targetResourceId, optionally resolveTo and actionType) and followed with
  DescribeExecution until its state is COMPLETED or FAILED. SiteWise sends no event when an execution
  ends: callers poll.

What is inferred (the documentation does not say), and how the fake behaves:

- Whether an execution's id equals the action's id is not documented: here they are different
  UUIDs, so code under test must link them through ListExecutions (same computation model, asset,
  action type; executionStartTime at the action's executionTime).
- clientToken: the same token with the same request again is a retry and answers the same actionId,
  creating nothing; the same token with another request is ConflictingOperationException naming the
  earlier action's computation model (resourceId, resourceArn).
- An unknown actionDefinitionId, a payload that is not a JSON object, an inference payload whose
  ``inferenceMode`` is neither START nor STOP, a missing ``resolveTo`` on a computation model bound to
  an asset model, or an asset of another asset model: InvalidRequestException. An unknown
  computation model or asset: ResourceNotFoundException. ExecuteAction does not check the model's
  state, nor refuse a second training while one runs (not documented).
- A FAILED execution says why in both string maps as ``{"errorMessage": reason}``
  (FAILURE_MESSAGE_KEY; the real keys are not documented). The model's pattern for those values
  (``^[a-zA-Z0-9 _\\-#$*!@]+$``) allows no full stop or colon, so reasons are plain words.
- Listings are newest first; ids are UUIDv5 of names and a counter, so runs are repeatable.
- ListActions' output requires ``nextToken`` in the service model (its documentation says "null if
  there are no additional results"): the fake honours the model, so its last page carries a token
  that leads to an empty page with the same token again. botocore's paginator then raises
  PaginationError ("The same next token was received twice"); code under test must stop on an empty
  page. (Leaving the token out would break the model, which the fake's validation refuses.)

Executions are simulated like FakeLookout.train_on_create: a plan decides how many DescribeExecution
answers still say RUNNING and how the execution ends; ``on_complete(execution, payload)`` runs at that
moment, e.g. to put the evaluation file into (moto's) S3 at the payload's
``modelEvaluationConfiguration.resultDestination``::

    sitewise.plan_executions("pump-anomalies", running_polls=2, on_complete=write_evaluation_file)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

import boto3

from tests.support.botocore_fake import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    FakeService,
    ServiceError,
    present,
    python_regex,
    service_model,
)

SERVICE = "iotsitewise"

# The service model's enums, as types (a test checks them against botocore's model).
ExecutionState = Literal["RUNNING", "COMPLETED", "FAILED"]
ComputationModelState = Literal["CREATING", "ACTIVE", "UPDATING", "DELETING", "FAILED"]
ComputationModelType = Literal["ANOMALY_DETECTION"]
AssetState = Literal["CREATING", "ACTIVE", "UPDATING", "DELETING", "FAILED"]
AssetModelState = Literal["CREATING", "ACTIVE", "UPDATING", "PROPAGATING", "DELETING", "FAILED"]
PropertyDataType = Literal["STRING", "INTEGER", "DOUBLE", "BOOLEAN", "STRUCT", "VIDEO", "ANNOTATION", "JSON"]
TargetResourceType = Literal["ASSET", "COMPUTATION_MODEL"]
ResolveToResourceType = Literal["ASSET"]
ExecutionOutcome = Literal["COMPLETED", "FAILED"]

DEFAULT_PAGE_SIZE = 50
TRAINING_ACTION = "AWS/ANOMALY_DETECTION_TRAINING"
INFERENCE_ACTION = "AWS/ANOMALY_DETECTION_INFERENCE"
# Inferred: the names of the two action definitions (only their types are documented).
ACTION_NAMES = {TRAINING_ACTION: "AnomalyDetectionTraining", INFERENCE_ACTION: "AnomalyDetectionInference"}
INPUT_PROPERTIES_VARIABLE = "input_properties"
RESULT_PROPERTY_VARIABLE = "result_property"
# Inferred: the key under which a FAILED execution's executionDetails and executionResult give the reason.
FAILURE_MESSAGE_KEY = "errorMessage"
DEFAULT_FAILURE_REASON = "Anomaly detection execution failed"
INFERENCE_MODES = ("START", "STOP")

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://iotsitewise.amazonaws.com/fake")


def _uuid(*names: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(names)))


# --------------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeProperty:
    """A property of an asset model, and of each asset of it (same id and name)."""

    id: str
    name: str
    data_type: PropertyDataType


@dataclass
class FakeAssetModel:
    id: str
    arn: str
    name: str
    properties: list[FakeProperty]
    created_at: datetime
    state: AssetModelState = "ACTIVE"

    def property(self, name: str) -> FakeProperty:
        for found in self.properties:
            if found.name == name:
                return found
        raise KeyError(f"asset model {self.name} has no property {name}")


@dataclass
class FakeAsset:
    id: str
    arn: str
    name: str
    asset_model: FakeAssetModel
    created_at: datetime
    state: AssetState = "ACTIVE"

    @property
    def properties(self) -> list[FakeProperty]:
        return self.asset_model.properties


@dataclass(frozen=True)
class FakeActionDefinition:
    id: str
    name: str
    action_type: str


@dataclass
class FakeComputationModel:
    """An anomaly-detection computation model; mutate it between calls (e.g. state)."""

    id: str
    arn: str
    name: str
    asset_model: FakeAssetModel | None
    input_properties: list[str]
    result_property: str | None
    state: ComputationModelState
    created_at: datetime
    updated_at: datetime
    action_definitions: list[FakeActionDefinition]
    version: str = "1"
    description: str | None = None
    create_request: dict[str, Any] | None = None  # what CreateComputationModel was asked, for a retry

    def definition(self, action_type: str) -> FakeActionDefinition:
        for definition in self.action_definitions:
            if definition.action_type == action_type:
                return definition
        raise KeyError(f"computation model {self.name} has no {action_type} action")

    @property
    def training_definition(self) -> FakeActionDefinition:
        return self.definition(TRAINING_ACTION)

    @property
    def inference_definition(self) -> FakeActionDefinition:
        return self.definition(INFERENCE_ACTION)

    def data_binding(self) -> dict[str, Any]:
        """computationModelDataBinding: the variables bound to the asset model's properties
        (empty for a model without an asset model)."""
        if self.asset_model is None:
            return {}
        model = self.asset_model

        def bound(name: str) -> dict[str, Any]:
            return {"assetModelProperty": {"assetModelId": model.id, "propertyId": model.property(name).id}}

        binding: dict[str, Any] = {INPUT_PROPERTIES_VARIABLE: {"list": [bound(n) for n in self.input_properties]}}
        if self.result_property is not None:
            binding[RESULT_PROPERTY_VARIABLE] = bound(self.result_property)
        return binding


@dataclass
class FakeExecution:
    """One execution of an action; mutate it between calls to script progress (state, ended_at...)."""

    id: str
    computation_model: FakeComputationModel
    asset: FakeAsset | None
    action_type: str
    state: ExecutionState
    started_at: datetime
    ended_at: datetime | None = None
    details: dict[str, str] | None = None  # executionDetails
    result: dict[str, str] | None = None  # executionResult
    action_id: str | None = None  # the ExecuteAction that started it, if any
    target_resource_version: str = "1"

    def end(
        self,
        state: ExecutionOutcome,
        *,
        failure_reason: str | None = None,
        details: Mapping[str, str] | None = None,
        at: datetime | None = None,
    ) -> None:
        """End the execution as SiteWise would: COMPLETED (with `details`, if any) or FAILED with a reason."""
        self.state, self.ended_at = state, at or datetime.now(UTC)
        if state == "FAILED":
            reason = failure_reason or DEFAULT_FAILURE_REASON
            self.details = {**(details or {}), FAILURE_MESSAGE_KEY: reason}
            self.result = {FAILURE_MESSAGE_KEY: reason}
        elif details is not None:
            self.details = dict(details)


@dataclass
class FakeAction:
    """One ExecuteAction (or an action added with add_execution(payload=...)), and the execution it started."""

    id: str
    computation_model: FakeComputationModel
    definition: FakeActionDefinition
    payload: str  # actionPayload.stringValue
    executed_at: datetime
    asset: FakeAsset | None
    execution: FakeExecution
    client_token: str | None = None
    request: dict[str, Any] | None = None  # the ExecuteAction request (wire form), for retries

    def payload_json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.payload)
        return loaded


ExecutionCallback = Callable[[FakeExecution, dict[str, Any]], None]


@dataclass(frozen=True)
class ExecutionPlan:
    """How a simulated execution goes: see FakeSiteWise.plan_executions."""

    running_polls: int
    outcome: ExecutionOutcome
    failure_reason: str | None
    details: Mapping[str, str] | None
    on_complete: ExecutionCallback | None


@dataclass
class _Simulation:
    plan: ExecutionPlan
    polls_left: int
    payload: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# The fake service
# --------------------------------------------------------------------------------------------------


class FakeSiteWise(FakeService):
    """A stateful in-memory AWS IoT SiteWise answering boto3 clients through botocore's events."""

    service = SERVICE

    def __init__(
        self,
        *,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        default_page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        super().__init__(region=region, account_id=account_id, default_page_size=default_page_size)
        self._asset_models: dict[str, FakeAssetModel] = {}
        self._assets: dict[str, FakeAsset] = {}
        self._computation_models: dict[str, FakeComputationModel] = {}
        self._actions: list[FakeAction] = []
        self._executions: list[FakeExecution] = []
        self._tokens: dict[str, FakeAction] = {}
        self._plans: dict[tuple[str | None, str | None], ExecutionPlan] = {}
        self._simulations: dict[str, _Simulation] = {}
        self._sequence = 0
        # DescribeComputationModel answers that still say CREATING for a model CreateComputationModel made
        # (inferred: creating takes a while; the documentation does not say how long).
        self.creation_polls = 1
        self._creating: dict[str, int] = {}
        self.handlers = {
            "CreateComputationModel": self._create_computation_model,
            "DescribeAssetModel": self._describe_asset_model,
            "DescribeAsset": self._describe_asset,
            "ListComputationModels": self._list_computation_models,
            "DescribeComputationModel": self._describe_computation_model,
            "ExecuteAction": self._execute_action,
            "DescribeAction": self._describe_action,
            "ListActions": self._list_actions,
            "DescribeExecution": self._describe_execution,
            "ListExecutions": self._list_executions,
        }

    # ---- setting up state ------------------------------------------------------------------------

    def add_asset_model(
        self,
        name: str,
        properties: Sequence[str],
        *,
        data_types: Mapping[str, PropertyDataType] | None = None,
        created_at: datetime | None = None,
    ) -> FakeAssetModel:
        """An asset model whose measurement properties are DOUBLE unless `data_types` says otherwise
        (anomaly detection reads DOUBLE or INTEGER inputs and writes a STRING result property)."""
        if name in self._asset_models:
            raise ValueError(f"asset model {name} already exists")
        types = dict(data_types or {})
        if unknown := set(types) - set(properties):
            raise ValueError(f"data_types names properties the model lacks: {sorted(unknown)}")
        model_id = _uuid("asset-model", name)
        model = FakeAssetModel(
            id=model_id,
            arn=self._arn("asset-model", model_id),
            name=name,
            properties=[
                FakeProperty(_uuid("asset-model", name, "property", prop), prop, types.get(prop, "DOUBLE"))
                for prop in properties
            ],
            created_at=created_at or datetime.now(UTC),
        )
        self._asset_models[name] = model
        return model

    def add_asset(
        self, name: str, asset_model: FakeAssetModel | str, *, created_at: datetime | None = None
    ) -> FakeAsset:
        """An asset of a model: its properties have the model's property ids and names."""
        if name in self._assets:
            raise ValueError(f"asset {name} already exists")
        model = self.asset_model(asset_model) if isinstance(asset_model, str) else asset_model
        asset_id = _uuid("asset", name)
        asset = FakeAsset(asset_id, self._arn("asset", asset_id), name, model, created_at or datetime.now(UTC))
        self._assets[name] = asset
        return asset

    def add_computation_model(
        self,
        name: str,
        *,
        asset_model: FakeAssetModel | str | None = None,
        input_properties: Sequence[str] | None = None,
        result_property: str | None = None,
        state: ComputationModelState = "ACTIVE",
        created_at: datetime | None = None,
    ) -> FakeComputationModel:
        """An ANOMALY_DETECTION computation model, with its training and inference action definitions.

        Bound to `asset_model`'s properties: `input_properties` (its DOUBLE and INTEGER properties other
        than `result_property` unless given) and `result_property` (unbound when None). Without an asset
        model, its data binding is empty.
        """
        if name in self._computation_models:
            raise ValueError(f"computation model {name} already exists")
        model = self.asset_model(asset_model) if isinstance(asset_model, str) else asset_model
        if model is None:
            inputs = list(input_properties or [])
            if result_property is not None:
                raise ValueError("a result property needs an asset model")
        else:
            inputs = (
                list(input_properties)
                if input_properties is not None
                else [
                    p.name
                    for p in model.properties
                    if p.data_type in ("DOUBLE", "INTEGER") and p.name != result_property
                ]
            )
            for prop in [*inputs, *([result_property] if result_property else [])]:
                model.property(prop)  # KeyError for a property the asset model lacks
        model_id = _uuid("computation-model", name)
        now = created_at or datetime.now(UTC)
        computation_model = FakeComputationModel(
            id=model_id,
            arn=self._arn("computation-model", model_id),
            name=name,
            asset_model=model,
            input_properties=inputs,
            result_property=result_property,
            state=state,
            created_at=now,
            updated_at=now,
            action_definitions=[
                FakeActionDefinition(_uuid("computation-model", name, "action", kind), ACTION_NAMES[kind], kind)
                for kind in (TRAINING_ACTION, INFERENCE_ACTION)
            ],
        )
        self._computation_models[name] = computation_model
        return computation_model

    def add_execution(
        self,
        computation_model: FakeComputationModel | str,
        asset: FakeAsset | str | None,
        *,
        action_type: str = TRAINING_ACTION,
        state: ExecutionState = "COMPLETED",
        started_at: datetime | None = None,
        ended_at: datetime | None = None,
        details: Mapping[str, str] | None = None,
        result: Mapping[str, str] | None = None,
        failure_reason: str | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> FakeExecution:
        """An execution that did not come from the code under test (e.g. one the retraining scheduler
        started). A RUNNING one has no end; an ended one ends at `ended_at` (now unless given); a FAILED
        one gets `failure_reason` (DEFAULT_FAILURE_REASON unless given) as ExecuteAction's would. With
        `payload`, an action with that payload is added too, as if ExecuteAction had run."""
        model = self.computation_model(computation_model) if isinstance(computation_model, str) else computation_model
        target = self.asset(asset) if isinstance(asset, str) else asset
        if state == "RUNNING" and (ended_at or failure_reason):
            raise ValueError("a RUNNING execution has no end and no failure reason")
        if state != "FAILED" and failure_reason is not None:
            raise ValueError("only a FAILED execution has a failure reason")
        _check_map_value(failure_reason)
        start = started_at or datetime.now(UTC)
        execution = self._new_execution(model, target, action_type, start)
        if state != "RUNNING":
            execution.end(state, failure_reason=failure_reason, details=details, at=ended_at or datetime.now(UTC))
        elif details is not None:
            execution.details = dict(details)
        if result is not None:
            execution.result = dict(result)
        if payload is not None:
            action = FakeAction(
                id=self._next_id("action", model.name),
                computation_model=model,
                definition=model.definition(action_type),
                payload=json.dumps(payload, separators=(",", ":")),
                executed_at=start,
                asset=target,
                execution=execution,
            )
            execution.action_id = action.id
            self._actions.append(action)
        return execution

    def plan_executions(
        self,
        computation_model: str | None = None,
        *,
        action_type: str | None = None,
        running_polls: int = 2,
        outcome: ExecutionOutcome = "COMPLETED",
        failure_reason: str | None = None,
        details: Mapping[str, str] | None = None,
        on_complete: ExecutionCallback | None = None,
    ) -> ExecutionPlan:
        """Plan the executions that ExecuteAction starts on `computation_model` (a name; any when None),
        of `action_type` (any when None); the most specific plan applies.

        The execution is RUNNING after ExecuteAction. It advances only when DescribeExecution asks for
        it (ListExecutions does not advance it, nor does a throttled call): the first `running_polls`
        answers still say RUNNING, the next one finds it ended (executionEndTime set), COMPLETED (with
        `details` as executionDetails, if given) or FAILED with `failure_reason` in executionDetails
        and executionResult under FAILURE_MESSAGE_KEY.

        `on_complete(execution, payload)` runs at that moment, before the answer that reports the end,
        with the action's payload as a dict, e.g. to write the evaluation file to
        ``payload["modelEvaluationConfiguration"]["resultDestination"]``. Its exceptions are kept in
        `callback_errors` and fail the test when the fake is left. An execution without a plan stays
        RUNNING until the test changes it.
        """
        if running_polls < 0:
            raise ValueError("running_polls cannot be negative")
        if outcome == "COMPLETED" and failure_reason is not None:
            raise ValueError("a completed execution has no failure_reason")
        _check_map_value(failure_reason)
        for value in (details or {}).values():
            _check_map_value(value)
        plan = ExecutionPlan(running_polls, outcome, failure_reason, details, on_complete)
        self._plans[(computation_model, action_type)] = plan
        return plan

    def asset_model(self, name: str) -> FakeAssetModel:
        return self._asset_models[name]

    def asset(self, name: str) -> FakeAsset:
        return self._assets[name]

    def computation_model(self, name: str) -> FakeComputationModel:
        return self._computation_models[name]

    def execution(self, execution_id: str) -> FakeExecution:
        for execution in self._executions:
            if execution.id == execution_id:
                return execution
        raise KeyError(f"no execution {execution_id}")

    def action(self, action_id: str) -> FakeAction:
        for action in self._actions:
            if action.id == action_id:
                return action
        raise KeyError(f"no action {action_id}")

    @property
    def executions(self) -> list[FakeExecution]:
        """Every execution, oldest first."""
        return list(self._executions)

    @property
    def actions(self) -> list[FakeAction]:
        """Every action, oldest first."""
        return list(self._actions)

    # ---- operations: assets ----------------------------------------------------------------------

    def _describe_asset_model(self, params: dict[str, Any]) -> dict[str, Any]:
        model = _find(self._asset_models.values(), params["assetModelId"], "Asset model")
        properties = [] if params.get("excludeProperties") else model.properties
        return {
            "assetModelId": model.id,
            "assetModelArn": model.arn,
            "assetModelName": model.name,
            "assetModelDescription": f"Asset model {model.name}",
            "assetModelProperties": [
                {"id": p.id, "name": p.name, "dataType": p.data_type, "type": {"measurement": {}}} for p in properties
            ],
            "assetModelHierarchies": [],
            "assetModelCreationDate": model.created_at,
            "assetModelLastUpdateDate": model.created_at,
            "assetModelStatus": {"state": model.state},
        }

    def _describe_asset(self, params: dict[str, Any]) -> dict[str, Any]:
        asset = _find(self._assets.values(), params["assetId"], "Asset")
        properties = [] if params.get("excludeProperties") else asset.properties
        return {
            "assetId": asset.id,
            "assetArn": asset.arn,
            "assetName": asset.name,
            "assetModelId": asset.asset_model.id,
            "assetProperties": [{"id": p.id, "name": p.name, "dataType": p.data_type} for p in properties],
            "assetHierarchies": [],
            "assetCreationDate": asset.created_at,
            "assetLastUpdateDate": asset.created_at,
            "assetStatus": {"state": asset.state},
        }

    # ---- operations: computation models ----------------------------------------------------------

    def _list_computation_models(self, params: dict[str, Any]) -> dict[str, Any]:
        # Every model here is of the one type the service has, ANOMALY_DETECTION.
        summaries = [
            {
                "id": model.id,
                "arn": model.arn,
                "name": model.name,
                "type": "ANOMALY_DETECTION",
                "creationDate": model.created_at,
                "lastUpdateDate": model.updated_at,
                "status": {"state": model.state},
                "version": model.version,
            }
            for model in self._computation_models.values()
        ]
        page, token = self.page("ListComputationModels", summaries, params, token="nextToken", size="maxResults")
        return present({"computationModelSummaries": page, "nextToken": token})

    def _create_computation_model(self, params: dict[str, Any]) -> dict[str, Any]:
        """An anomaly-detection model bound to one asset model's properties (the only form simulated). The
        same request again (a retry with its clientToken) answers the same model; another request under an
        existing name is ResourceAlreadyExistsException."""
        name = params["computationModelName"]
        existing = self._computation_models.get(name)
        if existing is not None:
            if existing.create_request == params and params.get("clientToken"):
                return self._created(existing)
            raise ServiceError(
                "ResourceAlreadyExistsException",
                f"Computation model {name} already exists",
                members={"resourceId": existing.id, "resourceArn": existing.arn},
            )
        configuration = params["computationModelConfiguration"].get("anomalyDetection")
        if configuration is None:
            raise NotImplementedError("the fake iotsitewise creates anomaly-detection computation models only")
        variables = {key: value.removeprefix("${").removesuffix("}") for key, value in configuration.items()}
        binding = params["computationModelDataBinding"]
        try:
            inputs = [item["assetModelProperty"] for item in binding[variables["inputProperties"]]["list"]]
            result = binding[variables["resultProperty"]]["assetModelProperty"]
        except (KeyError, TypeError) as error:
            raise ServiceError("InvalidRequestException", f"Data binding does not bind {error}") from error
        asset_models = {bound["assetModelId"] for bound in [*inputs, result]}
        if len(asset_models) != 1:
            raise ServiceError("InvalidRequestException", "Bind the properties of one asset model")
        asset_model = _find(self._asset_models.values(), asset_models.pop(), "Asset model")
        names = {prop.id: prop.name for prop in asset_model.properties}
        unknown = [bound["propertyId"] for bound in [*inputs, result] if bound["propertyId"] not in names]
        if unknown:
            raise ServiceError(
                "ResourceNotFoundException", f"Asset model {asset_model.id} has no property {unknown[0]}"
            )
        model = self.add_computation_model(
            name,
            asset_model=asset_model,
            input_properties=[names[bound["propertyId"]] for bound in inputs],
            result_property=names[result["propertyId"]],
            state="CREATING",
        )
        model.create_request = params
        self._creating[model.id] = self.creation_polls
        return self._created(model)

    @staticmethod
    def _created(model: FakeComputationModel) -> dict[str, Any]:
        return {
            "computationModelId": model.id,
            "computationModelArn": model.arn,
            "computationModelStatus": {"state": model.state},
        }

    def _describe_computation_model(self, params: dict[str, Any]) -> dict[str, Any]:
        model = _find(self._computation_models.values(), params["computationModelId"], "Computation model")
        if model.id in self._creating:  # a model CreateComputationModel made becomes ACTIVE after a while
            if self._creating[model.id] > 0:
                self._creating[model.id] -= 1
            else:
                del self._creating[model.id]
                model.state = "ACTIVE"
        if params.get("computationModelVersion", model.version) != model.version:
            raise ServiceError(
                "ResourceNotFoundException",
                f"Computation model {model.id} has no version {params['computationModelVersion']}",
            )
        return present(
            {
                "computationModelId": model.id,
                "computationModelArn": model.arn,
                "computationModelName": model.name,
                "computationModelDescription": model.description,
                "computationModelConfiguration": {
                    "anomalyDetection": {
                        "inputProperties": "${" + INPUT_PROPERTIES_VARIABLE + "}",
                        "resultProperty": "${" + RESULT_PROPERTY_VARIABLE + "}",
                    }
                },
                "computationModelDataBinding": model.data_binding(),
                "computationModelCreationDate": model.created_at,
                "computationModelLastUpdateDate": model.updated_at,
                "computationModelStatus": {"state": model.state},
                "computationModelVersion": model.version,
                "actionDefinitions": [
                    {"actionDefinitionId": d.id, "actionName": d.name, "actionType": d.action_type}
                    for d in model.action_definitions
                ],
            }
        )

    # ---- operations: actions ---------------------------------------------------------------------

    def _execute_action(self, params: dict[str, Any]) -> dict[str, Any]:
        target = params["targetResource"]
        if "computationModelId" not in target:
            raise NotImplementedError("the fake iotsitewise executes actions on computation models only")
        token = params.get("clientToken")
        earlier = self._tokens.get(token) if token is not None else None
        if earlier is not None:
            if earlier.request == params:
                return {"actionId": earlier.id}  # a retry: nothing new
            raise ServiceError(
                "ConflictingOperationException",
                f"Client token {token} was already used by another request",
                members={"resourceId": earlier.computation_model.id, "resourceArn": earlier.computation_model.arn},
            )
        model = _find(self._computation_models.values(), target["computationModelId"], "Computation model")
        definition = next((d for d in model.action_definitions if d.id == params["actionDefinitionId"]), None)
        if definition is None:
            raise ServiceError(
                "InvalidRequestException",
                f"Action definition {params['actionDefinitionId']} is not one of computation model {model.id}",
            )
        payload = _payload(params["actionPayload"]["stringValue"])
        if definition.action_type == INFERENCE_ACTION and payload.get("inferenceMode") not in INFERENCE_MODES:
            raise ServiceError("InvalidRequestException", f"inferenceMode must be one of {list(INFERENCE_MODES)}")
        asset = self._resolved_asset(model, params.get("resolveTo"))
        now = datetime.now(UTC)
        execution = self._new_execution(model, asset, definition.action_type, now)
        action = FakeAction(
            id=self._next_id("action", model.name),
            computation_model=model,
            definition=definition,
            payload=params["actionPayload"]["stringValue"],
            executed_at=now,
            asset=asset,
            execution=execution,
            client_token=token,
            request=params,
        )
        execution.action_id = action.id
        self._actions.append(action)
        if token is not None:
            self._tokens[token] = action
        plan = self._plan_for(model.name, definition.action_type)
        if plan is not None:
            self._simulations[execution.id] = _Simulation(plan, plan.running_polls, payload)
        return {"actionId": action.id}

    def _describe_action(self, params: dict[str, Any]) -> dict[str, Any]:
        action = next((a for a in self._actions if a.id == params["actionId"]), None)
        if action is None:
            raise ServiceError("ResourceNotFoundException", f"Action {params['actionId']} does not exist")
        return present(
            {
                "actionId": action.id,
                "targetResource": {"computationModelId": action.computation_model.id},
                "actionDefinitionId": action.definition.id,
                "actionPayload": {"stringValue": action.payload},
                "executionTime": action.executed_at,
                "resolveTo": {"assetId": action.asset.id} if action.asset else None,
            }
        )

    def _list_actions(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_list_filters(params)
        actions = [
            action
            for action in _newest_first(self._actions, lambda a: a.executed_at)
            if _matches(params, {"computationModelId": action.computation_model.id}, action.asset)
        ]
        summaries = [
            present(
                {
                    "actionId": action.id,
                    "actionDefinitionId": action.definition.id,
                    "targetResource": {"computationModelId": action.computation_model.id},
                    "resolveTo": {"assetId": action.asset.id} if action.asset else None,
                }
            )
            for action in actions
        ]
        # The model requires nextToken in every answer (see the module's documentation).
        page, token = self.page(
            "ListActions",
            summaries,
            params,
            token="nextToken",
            size="maxResults",
            always_token=True,
        )
        return present({"actionSummaries": page, "nextToken": token})

    # ---- operations: executions ------------------------------------------------------------------

    def _describe_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        execution = next((e for e in self._executions if e.id == params["executionId"]), None)
        if execution is None:
            raise ServiceError("ResourceNotFoundException", f"Execution {params['executionId']} does not exist")
        self._advance(execution)
        return present(
            {
                **_execution_summary(execution),
                "executionResult": execution.result,
                "executionDetails": execution.details,
            }
        )

    def _list_executions(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_list_filters(params)
        summaries = [
            _execution_summary(execution)
            for execution in _newest_first(self._executions, lambda e: e.started_at)
            if _matches(params, {"computationModelId": execution.computation_model.id}, execution.asset)
            and params.get("actionType", execution.action_type) == execution.action_type
        ]
        page, token = self.page("ListExecutions", summaries, params, token="nextToken", size="maxResults")
        return present({"executionSummaries": page, "nextToken": token})

    # ---- execution simulation --------------------------------------------------------------------

    def _plan_for(self, model_name: str, action_type: str) -> ExecutionPlan | None:
        for key in ((model_name, action_type), (model_name, None), (None, action_type), (None, None)):
            if key in self._plans:
                return self._plans[key]
        return None

    def _advance(self, execution: FakeExecution) -> None:
        simulation = self._simulations.get(execution.id)
        if simulation is None:
            return
        if simulation.polls_left > 0:
            simulation.polls_left -= 1
            return
        del self._simulations[execution.id]
        plan = simulation.plan
        execution.end(plan.outcome, failure_reason=plan.failure_reason, details=plan.details)
        if plan.on_complete is not None:
            try:
                plan.on_complete(execution, simulation.payload)
            except Exception as error:
                self.callback_errors.append(error)
                raise

    # ---- helpers ---------------------------------------------------------------------------------

    def _arn(self, kind: str, resource_id: str) -> str:
        return f"arn:aws:{SERVICE}:{self.region}:{self.account_id}:{kind}/{resource_id}"

    def _next_id(self, kind: str, *names: str) -> str:
        self._sequence += 1
        return _uuid(kind, *names, str(self._sequence))

    def _new_execution(
        self, model: FakeComputationModel, asset: FakeAsset | None, action_type: str, started_at: datetime
    ) -> FakeExecution:
        execution = FakeExecution(
            id=self._next_id("execution", model.name, asset.name if asset else ""),
            computation_model=model,
            asset=asset,
            action_type=action_type,
            state="RUNNING",
            started_at=started_at,
            target_resource_version=model.version,
        )
        self._executions.append(execution)
        return execution

    def _resolved_asset(self, model: FakeComputationModel, resolve_to: dict[str, Any] | None) -> FakeAsset | None:
        if resolve_to is None:
            if model.asset_model is not None:
                raise ServiceError(
                    "InvalidRequestException",
                    f"Computation model {model.id} is bound to an asset model: resolveTo must name an asset",
                )
            return None
        asset = _find(self._assets.values(), resolve_to["assetId"], "Asset")
        if model.asset_model is not None and asset.asset_model is not model.asset_model:
            raise ServiceError(
                "InvalidRequestException", f"Asset {asset.id} is not of asset model {model.asset_model.id}"
            )
        return asset

    def _check_list_filters(self, params: dict[str, Any]) -> None:
        """ListActions and ListExecutions: the target must exist; resolveTo comes as a pair (inferred)."""
        if ("resolveToResourceType" in params) != ("resolveToResourceId" in params):
            raise ServiceError("InvalidRequestException", "resolveToResourceType and resolveToResourceId go together")
        if params["targetResourceType"] == "COMPUTATION_MODEL":
            _find(self._computation_models.values(), params["targetResourceId"], "Computation model")
        else:
            _find(self._assets.values(), params["targetResourceId"], "Asset")


class _Identified(Protocol):
    id: str


_T = TypeVar("_T", bound=_Identified)
_Item = TypeVar("_Item")


def _find(items: Iterable[_T], resource_id: str, what: str) -> _T:
    for item in items:
        if item.id == resource_id:
            return item
    raise ServiceError("ResourceNotFoundException", f"{what} {resource_id} does not exist")


def _payload(text: str) -> dict[str, Any]:
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise ServiceError("InvalidRequestException", "actionPayload.stringValue must be a JSON object")
    return payload


def _matches(params: dict[str, Any], target: dict[str, str], asset: FakeAsset | None) -> bool:
    key = "computationModelId" if params["targetResourceType"] == "COMPUTATION_MODEL" else "assetId"
    if target.get(key) != params["targetResourceId"]:
        return False
    return "resolveToResourceId" not in params or (asset is not None and asset.id == params["resolveToResourceId"])


def _newest_first(items: list[_Item], started: Callable[[_Item], datetime]) -> list[_Item]:
    # Reversed first: of two started at the same time, the later added comes first.
    return sorted(reversed(items), key=started, reverse=True)


def _execution_summary(execution: FakeExecution) -> dict[str, Any]:
    return present(
        {
            "executionId": execution.id,
            "actionType": execution.action_type,
            "targetResource": {"computationModelId": execution.computation_model.id},
            "targetResourceVersion": execution.target_resource_version,
            "resolveTo": {"assetId": execution.asset.id} if execution.asset else None,
            "executionStartTime": execution.started_at,
            "executionEndTime": execution.ended_at,
            "executionStatus": {"state": execution.state},
        }
    )


def _check_map_value(value: str | None) -> None:
    """A value for executionDetails or executionResult must match the model's pattern."""
    pattern = service_model(SERVICE).shape_for("ExecutionDetailsValue").metadata["pattern"]
    if value is not None and not python_regex(pattern).search(value):
        raise ValueError(f"{value!r} does not match the pattern {pattern!r} of execution details values")


def listed_computation_models() -> dict[str, str]:
    """What a user listing the account's computation models sees: each one's name and state (one page
    is enough for the tests' few models)."""
    summaries = boto3.client(SERVICE).list_computation_models()["computationModelSummaries"]
    return {summary["name"]: summary["status"]["state"] for summary in summaries}
