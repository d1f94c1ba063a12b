"""A diagnostics file landed in S3: summarise it and alert once.

Accepts S3 event notifications and EventBridge events from S3. Only a created object in the watched
bucket is summarised; other objects and other S3 events are IGNORED (lookout_diagnostics.usecases.alert_diagnostics).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from lookout_diagnostics.domain.locations import S3Location
from lookout_diagnostics.errors import MalformedEventError
from lookout_diagnostics.lambda_events import parse
from lookout_diagnostics.lambda_events.s3 import S3Notification, S3ObjectEvent
from lookout_diagnostics.settings import get_settings
from lookout_diagnostics.tracing import build_tracer
from lookout_diagnostics.usecases.alert_diagnostics import Announcement, ObjectResult, process_announced_object

logger = Logger()
tracer = build_tracer()  # Powertools' Tracer only when tracing is on: the X-Ray SDK loads with it
metrics = Metrics()

CORRELATION_ID = 'id || Records[0].responseElements."x-amz-request-id"'


@logger.inject_lambda_context(correlation_id_path=CORRELATION_ID)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    outcomes = [process_announced_object(announced, settings) for announced in announcements_in(event)]
    for outcome in outcomes:
        _count(outcome)
    return {"outcomes": [outcome.model_dump(mode="json", exclude={"summary"}) for outcome in outcomes]}


def announcements_in(event: Any) -> list[Announcement]:
    """The objects an S3 notification or an EventBridge event from S3 names (keys URL-decoded)."""
    if not isinstance(event, dict):
        raise MalformedEventError("the event is not a JSON object")
    if event.get("Event") == "s3:TestEvent":
        return []  # S3 sends it once when a notification configuration is saved: nothing landed
    try:
        if "Records" in event:
            return [
                Announcement(
                    location=S3Location.from_event(record.s3.bucket.name, record.s3.object.key),
                    raw_key=record.s3.object.key,
                    event_name=record.eventName,
                    created=record.eventName.startswith("ObjectCreated:"),
                    etag=record.s3.object.eTag,
                    version_id=record.s3.object.versionId,
                )
                for record in parse(event=event, model=S3Notification).Records
            ]
        if event.get("source") == "aws.s3":
            announced = parse(event=event, model=S3ObjectEvent)
            detail = announced.detail
            return [
                Announcement(
                    location=S3Location.from_event(detail.bucket.name, detail.object.key),
                    raw_key=detail.object.key,
                    event_name=announced.detail_type,
                    created=announced.detail_type == "Object Created",
                    etag=detail.object.etag,
                    version_id=detail.object.version_id,
                )
            ]
    except ValidationError as error:
        raise MalformedEventError(f"the event does not have the shape of an S3 event: {error}") from error
    raise MalformedEventError("neither an S3 notification nor an EventBridge event from S3")


def _count(outcome: ObjectResult) -> None:
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
