"""One diagnostics object in, one alert out: the use case every trigger shares.

Once the alert is claimed (common.alert_once): find the model, stream the summary, write it
beside the file, and compose the alert. Anything that fails before publishing gives the claim
back and raises, so the caller's retry (or dead-letter queue) takes over and nothing is lost.
"""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict

from common.alert_once import deliver_once
from common.alerts import Alert, summary_alert, unreadable_alert
from common.aws import s3
from common.aws.lookout import LookoutClient
from common.diagnostics import DiagnosticsSummary, summarise_stream
from common.errors import DiagnosticsFileError
from common.locations import S3Location
from common.model_identity import Identification, LookoutReader, identify
from common.settings import Settings

logger = Logger(child=True)


class Outcome(BaseModel):
    diagnostics_object: str
    status: Literal["ALERTED", "DUPLICATE", "IGNORED"]
    detail: str
    alert_key: str | None = None
    event_type: str | None = None
    severity: str | None = None
    model_name: str | None = None
    message_id: str | None = None
    summary_object: str | None = None
    summary: DiagnosticsSummary | None = None


class Announcement(BaseModel):
    """An object an S3 event names (a notification record or an EventBridge event), and what befell it."""

    model_config = ConfigDict(frozen=True)

    location: S3Location
    event_name: str  # "ObjectCreated:Put", "Object Created", "ObjectRemoved:Delete", "Object Deleted", ...
    created: bool


def alert_key(stored: s3.StoredObject) -> str:
    """One alert per stored object version: the same bytes never alert twice."""
    return f"diagnostics#{stored.location.bucket}#{stored.location.key}#{stored.etag}"


def process_announced_object(
    announcement: Announcement, settings: Settings, lookout: LookoutReader | None = None
) -> Outcome:
    """The S3 trigger's use case: a created object in the watched bucket is processed, anything else ignored.

    The bucket is checked here, for announcements only. The EventBridge rule matches the watched bucket
    alone, but a classic S3 notification, a replayed or a hand-made event can name any bucket: one the
    function may not read (its policy names the watched bucket only) and that no model of this stack
    writes to. Reading it would fail, retry and dead-letter; it is ignored instead, unread. An object
    Lookout for Equipment itself names (the workflow's FinishTraining) is not an announcement: it goes
    straight to process_diagnostics_object, wherever the model was told to write.
    """
    location = announcement.location
    if not announcement.created:
        detail = f"not an object creation ({announcement.event_name})"
    elif settings.diagnostics_bucket is not None and location.bucket != settings.diagnostics_bucket:
        detail = "not the watched bucket"
    else:
        return process_diagnostics_object(location, settings, lookout)
    logger.info("Object ignored", extra={"diagnostics_object": location.uri, "reason": detail})
    return Outcome(diagnostics_object=location.uri, status="IGNORED", detail=detail)


def process_diagnostics_object(
    location: S3Location, settings: Settings, lookout: LookoutReader | None = None
) -> Outcome:
    if not location.is_diagnostics_file:
        return Outcome(
            diagnostics_object=location.uri, status="IGNORED", detail="not a diagnostics file (name does not match)"
        )
    stored = s3.head(location)
    key = alert_key(stored)
    results: list[tuple[DiagnosticsSummary | None, S3Location | None]] = []

    def compose() -> Alert:
        identification = _identify(location, lookout or LookoutClient())
        summary, summary_object, alert = _summarise(stored, identification, settings)
        results.append((summary, summary_object))
        return alert

    delivery = deliver_once(settings, key, compose)
    if delivery.alert is None:
        logger.info("Alert already sent for this object", extra={"alert_key": key})
        return Outcome(diagnostics_object=location.uri, status="DUPLICATE", detail="alert already sent", alert_key=key)
    alert = delivery.alert
    summary, summary_object = results[0]
    logger.info(
        "Alert sent",
        extra={"alert_key": key, "event_type": alert.event_type, "severity": alert.severity, "rows": summary.rows}
        if summary
        else {"alert_key": key, "event_type": alert.event_type},
    )
    return Outcome(
        diagnostics_object=location.uri,
        status="ALERTED",
        detail=alert.subject,
        alert_key=key,
        event_type=alert.event_type.value,
        severity=alert.severity,
        model_name=alert.model_name,
        message_id=delivery.message_id,
        summary_object=summary_object.uri if summary_object else None,
        summary=summary,
    )


def _identify(location: S3Location, lookout: LookoutReader) -> Identification:
    """Ask L4E whose file this is; if L4E cannot answer, still alert, and say why."""
    try:
        return identify(location, lookout)
    except (ClientError, BotoCoreError) as error:
        logger.warning("Model lookup failed", extra={"error": str(error)})
        return Identification(identity=None, note=f"Lookout for Equipment could not be asked: {error}")


def _summarise(
    stored: s3.StoredObject, identification: Identification, settings: Settings
) -> tuple[DiagnosticsSummary | None, S3Location | None, Alert]:
    location = stored.location
    try:
        with s3.open_stream(stored) as stream:
            summary = summarise_stream(stream, source=location.uri, thresholds=settings)
    except DiagnosticsFileError as error:
        logger.warning("Diagnostics file unreadable", extra={"reason": error.reason, "line": error.line})
        return None, None, unreadable_alert(error.reason, error.line, identification, location)
    summary_object = location.summary_location()
    s3.put_json(summary_object, summary.model_dump_json(indent=2))
    return summary, summary_object, summary_alert(summary, identification, location, summary_object)
