"""A diagnostics file landed in S3: summarise it and alert once.

Accepts S3 event notifications and EventBridge 'Object Created' events.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.exceptions import InvalidModelTypeError
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel, S3Model
from aws_lambda_powertools.utilities.typing import LambdaContext

from common.diagnostics_service import Outcome, process_diagnostics_object
from common.errors import MalformedEventError
from common.locations import S3Location
from common.settings import get_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()

CORRELATION_ID = 'id || Records[0].responseElements."x-amz-request-id"'


@logger.inject_lambda_context(correlation_id_path=CORRELATION_ID)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcomes = [process_diagnostics_object(location, get_settings()) for location in locations_in(event)]
    for outcome in outcomes:
        _count(outcome)
    return {"outcomes": [outcome.model_dump(mode="json", exclude={"summary"}) for outcome in outcomes]}


def locations_in(event: Any) -> list[S3Location]:
    """The objects an S3 notification or an EventBridge event announces (keys URL-decoded)."""
    if not isinstance(event, dict):
        raise MalformedEventError("the event is not a JSON object")
    try:
        if "Records" in event:
            records = parse(event=event, model=S3Model).Records
            created = [record.s3 for record in records if record.eventName.startswith("ObjectCreated:")]
            if any(s3.object is None for s3 in created):
                raise MalformedEventError("an S3 record names no object")
            return [S3Location.from_event(s3.bucket.name, s3.object.key) for s3 in created if s3.object]
        if event.get("detail-type") == "Object Created" and event.get("source") == "aws.s3":
            detail = parse(event=event, model=S3EventNotificationEventBridgeModel).detail
            return [S3Location.from_event(detail.bucket.name, detail.object.key)]
    except (ValidationError, InvalidModelTypeError) as error:
        raise MalformedEventError(f"the event does not have the shape of an S3 event: {error}") from error
    raise MalformedEventError("neither an S3 notification nor an EventBridge 'Object Created' event from S3")


def _count(outcome: Outcome) -> None:
    if outcome.status == "IGNORED":
        metrics.add_metric(name="IgnoredObjects", unit=MetricUnit.Count, value=1)
    elif outcome.status == "DUPLICATE":
        metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)
    elif outcome.event_type == "DIAGNOSTICS_UNREADABLE":
        metrics.add_metric(name="UnreadableFiles", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="DiagnosticsSummarised", unit=MetricUnit.Count, value=1)
        if outcome.summary is not None:
            metrics.add_metric(name="AnomalousEvents", unit=MetricUnit.Count, value=outcome.summary.event_count)
