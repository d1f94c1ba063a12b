"""AWS IoT SiteWise native anomaly detection, as this stack reads it: pure rules, no I/O.

A computation model of type ANOMALY_DETECTION is trained by an ExecuteAction call with its
``AWS/ANOMALY_DETECTION_TRAINING`` action definition, run per asset (``resolveTo``). The call returns an
action id; the work itself is an execution (RUNNING, then COMPLETED or FAILED) that SiteWise announces to
nobody. A training whose payload has ``modelEvaluationConfiguration.resultDestination`` writes its
evaluation results under that bucket and prefix.

What is documented and what is inferred (docs/service-facts.md):
- documented: the operations, the payload keys, the execution states, and an example key
  ``Evaluation/asset[<asset id>]/<epoch seconds>-evaluation_results.jsonl``;
- inferred: whether that example's ``Evaluation/`` is the user's prefix (the asset segment is read
  wherever it stands, and not required), that the action id and the execution id differ (an action is
  linked to its execution by model, asset, action type and time), and that a diagnostic's name is
  ``<asset id>\\<property id>``, as in the inference results.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import ConfigDict, Field

from lookout_diagnostics.domain.alert_keys import Outcome, outcome_key, stable_id
from lookout_diagnostics.domain.identity import Identification, ModelIdentity
from lookout_diagnostics.domain.locations import S3Location
from lookout_diagnostics.domain.outcomes import OutcomeEvent
from lookout_diagnostics.domain.services import Service
from lookout_diagnostics.models import Model

TRAINING_ACTION = "AWS/ANOMALY_DETECTION_TRAINING"
INFERENCE_ACTION = "AWS/ANOMALY_DETECTION_INFERENCE"
TERMINAL_STATES = frozenset({"COMPLETED", "FAILED"})

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_ASSET_IN_KEY = re.compile(rf"asset\[({_UUID})\]")
_SENSOR_ID = re.compile(rf"^({_UUID})\\({_UUID})$")

# Bounds on the calls one identification or one naming may make.
MAX_MODELS_SEARCHED = 20
MAX_ACTIONS_DESCRIBED = 20
MAX_ASSETS_DESCRIBED = 10
# How much earlier than its execution's start SiteWise may record an action's time (clock skew; inferred).
ACTION_TO_EXECUTION_SKEW = timedelta(minutes=5)


class ComputationModel(Model):
    model_config = ConfigDict(frozen=True)

    id: str
    arn: str
    name: str
    state: str
    training_definition_id: str | None = None
    inference_definition_id: str | None = None


class Asset(Model):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    properties: dict[str, str]  # property id -> property name


class Action(Model):
    """One ExecuteAction call, as DescribeAction reports it."""

    model_config = ConfigDict(frozen=True)

    id: str
    definition_id: str
    computation_model_id: str
    asset_id: str | None
    executed_at: datetime
    payload: dict[str, Any]

    @property
    def evaluation_destination(self) -> S3Location | None:
        """Where the training writes its evaluation results (the key is the prefix), if it does."""
        evaluation = self.payload.get("modelEvaluationConfiguration")
        destination = evaluation.get("resultDestination") if isinstance(evaluation, dict) else None
        if not isinstance(destination, dict) or not isinstance(destination.get("bucketName"), str):
            return None
        prefix = destination.get("prefix")
        return S3Location(bucket=destination["bucketName"], key=prefix if isinstance(prefix, str) else "")

    @property
    def trains_model(self) -> bool:
        """A console (or workflow) training, not the retraining scheduler's start or stop."""
        return self.payload.get("trainingMode") == "TRAIN_MODEL"


class Execution(Model):
    """One execution, as ListExecutions and DescribeExecution report it."""

    model_config = ConfigDict(frozen=True)

    id: str
    action_type: str | None
    computation_model_id: str | None
    asset_id: str | None
    model_version: str
    state: str
    started_at: datetime
    ended_at: datetime | None = None
    details: dict[str, str] = Field(default_factory=dict)
    result: dict[str, str] = Field(default_factory=dict)

    @property
    def ended(self) -> datetime:
        """When it ended; a terminal execution without an end time is taken to have ended when it started."""
        return self.ended_at or self.started_at

    @property
    def version(self) -> int | None:
        """The computation model's version it ran (targetResourceVersion), as a number."""
        return int(self.model_version) if self.model_version.isdigit() else None


class SiteWiseReader(Protocol):
    """What identification and naming need from SiteWise (implemented by lookout_diagnostics.aws.sitewise)."""

    def computation_models(self, limit: int | None = None) -> list[ComputationModel]: ...

    def training_actions(self, model: ComputationModel, asset_id: str | None, limit: int) -> list[Action]: ...

    def executions(self, model_id: str, asset_id: str | None, action_type: str) -> list[Execution]: ...

    def asset(self, asset_id: str) -> Asset | None: ...


def asset_in_key(key: str) -> str | None:
    """The asset id an evaluation key names in an ``asset[<id>]`` segment, if it has one."""
    match = _ASSET_IN_KEY.search(key)
    return match[1] if match else None


def training_payload(payload_text: str) -> dict[str, Any]:
    """An action's payload as a dict; {} if it is not a JSON object (it is never trusted to be one)."""
    try:
        payload = json.loads(payload_text)
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def identify_evaluation(location: S3Location, reader: SiteWiseReader) -> Identification:
    """Find the training action whose evaluation destination holds this file, and its execution.

    The deepest destination prefix wins; among its actions, the latest. Bounded: at most
    MAX_MODELS_SEARCHED models and MAX_ACTIONS_DESCRIBED actions are read.
    """
    asset_id = asset_in_key(location.key)
    best: tuple[int, datetime, ComputationModel, Action] | None = None
    described = 0
    for model in reader.computation_models(MAX_MODELS_SEARCHED):
        if model.training_definition_id is None or described >= MAX_ACTIONS_DESCRIBED:
            continue
        actions = reader.training_actions(model, asset_id, MAX_ACTIONS_DESCRIBED - described)
        described += len(actions)
        for action in actions:
            destination = action.evaluation_destination
            if (
                destination is None
                or destination.bucket != location.bucket
                or not location.key.startswith(destination.key)
                or (asset_id is not None and action.asset_id not in (None, asset_id))
            ):
                continue
            rank = (len(destination.key), action.executed_at, model, action)
            if best is None or rank[:2] > best[:2]:
                best = rank
    if best is None:
        return Identification(
            identity=None, note="no AWS IoT SiteWise training writes its evaluation results to this location"
        )
    _, _, model, action = best
    resolved_asset = action.asset_id or asset_id
    execution = execution_for(action, reader.executions(model.id, resolved_asset, TRAINING_ACTION))
    asset = reader.asset(resolved_asset) if resolved_asset else None
    identity = ModelIdentity(
        service=Service.IOT_SITEWISE,
        model_name=model.name,
        model_arn=model.arn,
        model_version=execution.version if execution else None,
        version_status=execution.state if execution else None,
        source_type="TRAINING",
        asset_id=resolved_asset,
        asset_name=asset.name if asset else None,
        execution_id=execution.id if execution else None,
        confirmed=execution is not None,
    )
    where = f" on asset {asset.name}" if asset else ""
    note = f"the training action {action.id} of {model.name}{where} writes its evaluation results here" + (
        f"; execution {execution.id} is {execution.state}" if execution else "; its execution was not found"
    )
    return Identification(identity=identity, note=note)


def execution_for(action: Action, executions: Iterable[Execution]) -> Execution | None:
    """The execution an action started: the earliest of its model, asset and type to start after it."""
    after = [
        execution
        for execution in executions
        if execution.started_at >= action.executed_at - ACTION_TO_EXECUTION_SKEW
        and execution.computation_model_id in (None, action.computation_model_id)
        and (action.asset_id is None or execution.asset_id in (None, action.asset_id))
    ]
    return min(after, key=lambda execution: execution.started_at, default=None)


def sensor_ids(raw_name: str) -> tuple[str, str] | None:
    """(asset id, property id) of a diagnostic named ``<asset id>\\<property id>``; None for another name."""
    match = _SENSOR_ID.match(raw_name)
    return (match[1], match[2]) if match else None


def readable_names(raw_names: Iterable[str], reader: SiteWiseReader) -> dict[str, str]:
    """``<asset name> / <property name>`` for each name made of SiteWise ids; others are left out.

    At most MAX_ASSETS_DESCRIBED assets are described; a name whose asset (or property) is not found, or
    cannot be described, stays as it is.
    """
    wanted: dict[str, list[tuple[str, str]]] = {}
    for raw in raw_names:
        ids = sensor_ids(raw)
        if ids is not None:
            wanted.setdefault(ids[0], []).append((raw, ids[1]))
    names: dict[str, str] = {}
    for asset_id in list(wanted)[:MAX_ASSETS_DESCRIBED]:
        asset = reader.asset(asset_id)
        if asset is None:
            continue
        for raw, property_id in wanted[asset_id]:
            if property_id in asset.properties:
                names[raw] = f"{asset.name} / {asset.properties[property_id]}"
    return names


# ---- training outcomes, as the status poller announces them ------------------------------------------


def action_of(execution: Execution, actions: Iterable[Action]) -> Action | None:
    """The TRAIN_MODEL ExecuteAction an execution ran: one of its asset taken within the skew of its start
    (the closest). None when none is that close: then the execution is taken for a scheduled retraining,
    which is alerted rather than left to an S3 trigger that may never hear of it."""
    near = [
        action
        for action in actions
        if abs(action.executed_at - execution.started_at) <= ACTION_TO_EXECUTION_SKEW
        and action.trains_model
        and (execution.asset_id is None or action.asset_id in (None, execution.asset_id))
    ]
    return min(near, key=lambda action: abs(action.executed_at - execution.started_at), default=None)


def evaluation_destination_in(action: Action | None, watched_bucket: str | None) -> S3Location | None:
    """Where the training writes its evaluation results, if that is in the watched bucket."""
    destination = action.evaluation_destination if action else None
    return destination if destination is not None and destination.bucket == watched_bucket else None


def failure_reason(execution: Execution) -> str | None:
    """Why an execution failed, from its details or result (the keys are not documented: any value will do)."""
    for values in (execution.details, execution.result):
        for key in ("errorMessage", "failureReason", "reason", "error", "message"):
            if values.get(key):
                return values[key]
    return None


def outcome_of(execution: Execution) -> Outcome:
    return Outcome.SUCCEEDED if execution.state == "COMPLETED" else Outcome.FAILED


def execution_outcome_key(model_arn: str, execution: Execution) -> str:
    """The once-only key of a terminal execution's outcome (its alert's; its event's id is the key's hash)."""
    return outcome_key(model_arn, None, outcome_of(execution), execution.id)


def execution_outcome(
    model: ComputationModel, execution: Execution, asset: Asset | None, action: Action | None
) -> OutcomeEvent:
    """A terminal training execution as alerts and EventBridge events describe it.

    An execution no ExecuteAction of a TRAIN_MODEL payload started is taken for one the retraining
    scheduler started (inferred: the scheduler's executions have no action of their own).
    """
    outcome = outcome_of(execution)
    succeeded = outcome is Outcome.SUCCEEDED
    destination = action.evaluation_destination if action else None
    return OutcomeEvent(
        event_id=stable_id(execution_outcome_key(model.arn, execution)),
        outcome=outcome,
        model_name=model.name,
        model_arn=model.arn,
        model_version=execution.version,
        status=execution.state,
        source_type="TRAINING" if action is not None and action.trains_model else "RETRAINING",
        failed_reason=None if succeeded else failure_reason(execution),
        diagnostics_object=destination.uri if destination and succeeded else None,
        service=Service.IOT_SITEWISE,
        asset_id=execution.asset_id,
        asset_name=asset.name if asset else None,
        execution_id=execution.id,
    )


def computation_model_failed(model: ComputationModel) -> OutcomeEvent:
    """A computation model in state FAILED: it trains nothing until it is fixed."""
    return OutcomeEvent(
        event_id=stable_id(outcome_key(model.arn, None, Outcome.COMPUTATION_MODEL_FAILED)),
        outcome=Outcome.COMPUTATION_MODEL_FAILED,
        model_name=model.name,
        model_arn=model.arn,
        model_version=None,
        status=model.state,
        service=Service.IOT_SITEWISE,
    )


def newly_ended(executions: Iterable[Execution], ended_after: datetime) -> list[Execution]:
    """The executions that ended after `ended_after`, oldest end first: what a poll announces.

    A poll announces what ended since the previous one (less ACTION_TO_EXECUTION_SKEW, so that an end
    SiteWise records late is not passed over; the ledger drops what is listed twice). A terminal execution
    without an end time is taken to have ended when it started.
    """
    return sorted(
        (e for e in executions if e.state in TERMINAL_STATES and e.ended > ended_after), key=lambda e: e.ended
    )


def missing_results_note(destination: S3Location, grace: timedelta) -> str:
    """Why the poller alerts a completed training itself: its evaluation results never landed."""
    return (
        f"Its evaluation results were not under {destination.uri} {grace.total_seconds() / 60:.0f} min after it "
        "completed: check that AWS IoT SiteWise may write to the bucket (docs/operations.md). If they land "
        "later, the S3 trigger alerts them."
    )
