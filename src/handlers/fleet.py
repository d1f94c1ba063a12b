"""The fleet workflow's steps, one function: prepare the plan, or send the digest.

The state machine (statemachine/train_fleet.asl.json) names the step in each task's payload; between the
two, its Distributed Map runs each asset as a child execution of the single-asset workflow.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ConfigDict, Field, TypeAdapter

from lookout_diagnostics.domain.fleet import FleetEnding, FleetPlan
from lookout_diagnostics.lambda_events import parse
from lookout_diagnostics.models import DEFERRED, Model
from lookout_diagnostics.settings import Settings, get_settings
from lookout_diagnostics.tracing import build_tracer
from lookout_diagnostics.usecases.fleet import digest_ended_fleet, digest_fleet, prepare_fleet

logger = Logger()
tracer = build_tracer()  # Powertools' Tracer only when tracing is on: the X-Ray SDK loads with it
metrics = Metrics()


class PrepareStep(Model):
    step: Literal["prepare"]
    input: Any
    execution_arn: str


class DigestStep(Model):
    step: Literal["digest"]
    fleet: FleetPlan
    execution_arn: str
    started_at: datetime


# The step the state machine names in the payload.
STEP: TypeAdapter[PrepareStep | DigestStep] = TypeAdapter(
    Annotated[PrepareStep | DigestStep, Field(discriminator="step")], config=DEFERRED | ConfigDict(title="StepEvent")
)


class ExecutionStatusDetail(Model):
    executionArn: str
    status: str
    startDate: int  # epoch milliseconds
    input: str | None = None
    error: str | None = None
    cause: str | None = None


class ExecutionStatusChange(Model):
    """Step Functions' "Step Functions Execution Status Change" event (EventBridge): a fleet execution ended
    before its digest step (the FleetEnded rule in template.yaml)."""

    detail_type: Literal["Step Functions Execution Status Change"] = Field(alias="detail-type")
    source: Literal["aws.states"]
    detail: ExecutionStatusDetail


@logger.inject_lambda_context(correlation_id_path="execution_arn")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    if "detail-type" in event:
        return _fleet_ended(parse(event=event, model=ExecutionStatusChange).detail, settings)
    request = parse(event=event, model=STEP)
    match request:
        case PrepareStep():
            plan = prepare_fleet(request.input, request.execution_arn, settings)
            logger.info("Fleet planned", extra=plan.model_dump(mode="json", include={"Assets", "ToTrain", "Invalid"}))
            metrics.add_metric(name="FleetAssetsPlanned", unit=MetricUnit.Count, value=plan.Assets)
            return plan.model_dump(mode="json")
        case DigestStep():
            digest = digest_fleet(request.fleet, request.execution_arn, request.started_at.timestamp(), settings)
            logger.info("Fleet digest", extra={"counts": digest.Counts, "alert": digest.Alert})
            metrics.add_metric(name="FleetDigestsSent", unit=MetricUnit.Count, value=int(digest.Alert == "ALERTED"))
            return digest.model_dump(mode="json")


def _fleet_ended(detail: ExecutionStatusDetail, settings: Settings) -> dict[str, Any]:
    fleet_name = json.loads(detail.input or "{}").get("FleetName") if detail.input else None
    if not isinstance(fleet_name, str):
        logger.warning("Fleet ended without a fleet name in its input", extra={"execution_arn": detail.executionArn})
        return {"Digest": "NONE", "Reason": "the execution's input names no FleetName: nothing was planned"}
    ended = FleetEnding(
        execution_arn=detail.executionArn,
        fleet_name=fleet_name,
        status=detail.status,
        error=detail.error,
        cause=detail.cause,
        started_at=detail.startDate / 1000,
    )
    digest = digest_ended_fleet(ended, settings)
    if digest is None:
        logger.info("Fleet ended before its plan", extra={"execution_arn": detail.executionArn})
        return {"Digest": "NONE", "Reason": "the execution ended before its plan was written: nothing ran"}
    logger.info("Fleet ended: digest", extra={"counts": digest.Counts, "alert": digest.Alert})
    return digest.model_dump(mode="json")
