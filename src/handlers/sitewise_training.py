"""The AWS IoT SiteWise training workflow's steps, one function: start, check, finish, or report a failure.

The state machine (statemachine/train_sitewise_model.asl.json) names the step in each task's payload.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ConfigDict, Field, TypeAdapter

from lookout_diagnostics.lambda_events import parse
from lookout_diagnostics.models import DEFERRED, Model
from lookout_diagnostics.settings import get_settings
from lookout_diagnostics.tracing import build_tracer
from lookout_diagnostics.usecases.train_sitewise import (
    SiteWiseExecutionState,
    SiteWiseTrainingStatus,
    StartedSiteWiseTraining,
    check_sitewise_training,
    finish_sitewise_training,
    report_sitewise_failure,
    start_sitewise_training,
)

logger = Logger()
tracer = build_tracer()  # Powertools' Tracer only when tracing is on: the X-Ray SDK loads with it
metrics = Metrics()


class StartStep(Model):
    step: Literal["start"]
    input: Any
    execution_arn: str


class CheckStep(Model):
    step: Literal["check"]
    training: StartedSiteWiseTraining
    status: SiteWiseTrainingStatus | None = None


class FinishStep(Model):
    step: Literal["finish"]
    training: StartedSiteWiseTraining
    status: SiteWiseTrainingStatus


class CaughtError(Model):
    Error: str
    Cause: str = ""


class FailStep(Model):
    step: Literal["fail"]
    state: SiteWiseExecutionState
    error: CaughtError
    execution_arn: str


# The step the state machine names in the payload.
STEP: TypeAdapter[StartStep | CheckStep | FinishStep | FailStep] = TypeAdapter(
    Annotated[StartStep | CheckStep | FinishStep | FailStep, Field(discriminator="step")],
    config=DEFERRED | ConfigDict(title="StepEvent"),
)


@logger.inject_lambda_context(correlation_id_path="step")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=STEP)
    settings = get_settings()
    match request:
        case StartStep():
            started = start_sitewise_training(request.input, request.execution_arn, settings)
            logger.info("Training started", extra={"action_id": started.ActionId})
            return started.model_dump(mode="json")
        case CheckStep():
            return check_sitewise_training(request.training, request.status).model_dump(mode="json")
        case FinishStep():
            result = finish_sitewise_training(request.training, request.status, settings)
            metrics.add_metric(name="TrainingsSucceeded", unit=MetricUnit.Count, value=1)
            return result.model_dump(mode="json")
        case FailStep():
            failure = report_sitewise_failure(
                request.state, request.error.Error, request.error.Cause, request.execution_arn, settings
            )
            metrics.add_metric(name="WorkflowFailures", unit=MetricUnit.Count, value=1)
            logger.warning("Training workflow failed", extra={"error": failure.Error, "cause": failure.Cause})
            return failure.model_dump(mode="json")
