"""Workflow step: validate the console input and create the model (CreateModel, idempotent)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from lookout_diagnostics.lambda_events import parse
from lookout_diagnostics.models import Model
from lookout_diagnostics.settings import get_settings
from lookout_diagnostics.tracing import build_tracer
from lookout_diagnostics.usecases.start_training import start_training

logger = Logger()
tracer = build_tracer()  # Powertools' Tracer only when tracing is on: the X-Ray SDK loads with it


class StartEvent(Model):
    input: Any
    execution_name: str


@logger.inject_lambda_context(correlation_id_path="execution_name")
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=StartEvent)
    started = start_training(request.input, request.execution_name, get_settings())
    logger.info("Model created", extra={"model_arn": started.ModelArn, "status": started.Status})
    return started.model_dump(mode="json")
