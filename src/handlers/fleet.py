"""The fleet workflow's steps, one function: prepare the plan, or send the digest.

The state machine (statemachine/train_fleet.asl.json) names the step in each task's payload; between the
two, its Distributed Map runs each asset as a child execution of the single-asset workflow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field, RootModel

from lookout_diagnostics.domain.fleet import FleetPlan
from lookout_diagnostics.lambda_events import parse
from lookout_diagnostics.settings import get_settings
from lookout_diagnostics.usecases.fleet import digest_fleet, prepare_fleet

logger = Logger()
# botocore alone: the AWS calls patch_all would trace here, without probing a dozen other libraries at import.
tracer = Tracer(patch_modules=["botocore"])
metrics = Metrics()


class PrepareStep(BaseModel):
    step: Literal["prepare"]
    input: Any
    execution_arn: str


class DigestStep(BaseModel):
    step: Literal["digest"]
    fleet: FleetPlan
    execution_arn: str
    started_at: datetime


class StepEvent(RootModel[Annotated[PrepareStep | DigestStep, Field(discriminator="step")]]):
    pass


@logger.inject_lambda_context(correlation_id_path="execution_arn")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=StepEvent).root
    settings = get_settings()
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
