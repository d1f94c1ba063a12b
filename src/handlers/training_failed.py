"""Workflow step: the workflow cannot go on; alert once with what to fix, and name the failure."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lookout_diagnostics.lambda_events import parse
from lookout_diagnostics.models import Model
from lookout_diagnostics.settings import get_settings
from lookout_diagnostics.tracing import build_tracer
from lookout_diagnostics.usecases.workflow_failure import ExecutionState, report_failure

logger = Logger()
tracer = build_tracer()  # Powertools' Tracer only when tracing is on: the X-Ray SDK loads with it
metrics = Metrics()


class CaughtError(Model):
    Error: str
    Cause: str = ""


class FailedEvent(Model):
    input: ExecutionState
    error: CaughtError
    execution_arn: str


@logger.inject_lambda_context(correlation_id_path="execution_arn")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    failed = parse(event=event, model=FailedEvent)
    failure = report_failure(failed.input, failed.error.Error, failed.error.Cause, failed.execution_arn, get_settings())
    metrics.add_metric(name="WorkflowFailures", unit=MetricUnit.Count, value=1)
    logger.warning("Training workflow failed", extra={"error": failure.Error, "cause": failure.Cause})
    return failure.model_dump(mode="json")
