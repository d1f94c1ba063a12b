"""Workflow step: a model version finished training; summarise its diagnostics and alert once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lookout_diagnostics.domain.identity import DescribedModelVersion
from lookout_diagnostics.lambda_events import parse
from lookout_diagnostics.models import Model
from lookout_diagnostics.settings import get_settings
from lookout_diagnostics.tracing import build_tracer
from lookout_diagnostics.usecases.train import finish_training

logger = Logger()
tracer = build_tracer()  # Powertools' Tracer only when tracing is on: the X-Ray SDK loads with it
metrics = Metrics()


class FinishedEvent(Model):
    version: DescribedModelVersion


@logger.inject_lambda_context(correlation_id_path="version.ModelArn")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    finished = parse(event=event, model=FinishedEvent)
    result = finish_training(finished.version, get_settings())
    metrics.add_metric(name="TrainingsSucceeded", unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")
