"""One stored diagnostics file in, one alert out: the use case the three paths share.

`alert_diagnostics` reads top to bottom inside the once-only gate, keyed by the stored object version
(lookout_diagnostics.domain.alert_keys): find the model, stream the summary, write it beside the file, send the alert.
Anything that fails before the alert went out gives the claim back and raises, so the caller's retry
(Lambda's, the workflow's, or the next poll) takes over and nothing is lost.
"""

from __future__ import annotations

from typing import Literal, assert_never

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ConfigDict, ValidationError

from lookout_diagnostics.aws import ledger, s3
from lookout_diagnostics.domain.alert_keys import diagnostics_location_key, stable_id
from lookout_diagnostics.domain.alerts import summary_alert, unreadable_alert, who
from lookout_diagnostics.domain.chart import draw_chart
from lookout_diagnostics.domain.comparison import SummaryChange, compare
from lookout_diagnostics.domain.identity import Identification
from lookout_diagnostics.domain.locations import S3Location, StoredObject
from lookout_diagnostics.domain.services import Service
from lookout_diagnostics.domain.summary import DiagnosticsSummary, sensor_names, summarise_stream, with_readable_names
from lookout_diagnostics.errors import DiagnosticsFileError, DiagnosticsObjectMissingError, InvalidLocationError
from lookout_diagnostics.models import Model
from lookout_diagnostics.settings import Settings
from lookout_diagnostics.usecases.once import claimed, send
from lookout_diagnostics.usecases.services import DetectionService

logger = Logger(child=True)


class ObjectResult(Model):
    """What became of one diagnostics object: alerted now, alerted before, or not for this stack."""

    diagnostics_object: str
    status: Literal["ALERTED", "DUPLICATE", "IGNORED"]
    detail: str
    alert_key: str | None = None
    alert_id: str | None = None
    event_type: str | None = None
    severity: str | None = None
    model_name: str | None = None
    message_id: str | None = None
    summary_object: str | None = None
    summary: DiagnosticsSummary | None = None


class Announcement(Model):
    """An object an S3 event names (a notification record or an EventBridge event), and what befell it."""

    model_config = ConfigDict(frozen=True)

    location: S3Location  # the key URL-decoded
    raw_key: str  # the key as the event wrote it
    event_name: str  # "ObjectCreated:Put", "Object Created", "ObjectRemoved:Delete", "Object Deleted", ...
    created: bool
    etag: str | None = None
    version_id: str | None = None


def process_announced_object(announcement: Announcement, settings: Settings) -> ObjectResult:
    """The S3 trigger's use case: a created diagnostics file in the watched bucket is alerted, the rest ignored.

    The bucket is checked here. The EventBridge rule matches the watched bucket alone, but a classic S3
    notification, a replayed or a hand-made event can name any bucket: one the function may not read
    and that no model of this stack writes to. It is ignored, unread, rather than retried and dead-lettered.
    """
    location = announcement.location
    if not announcement.created:
        return _ignored(location, f"not an object creation ({announcement.event_name})")
    if settings.diagnostics_bucket is not None and location.bucket != settings.diagnostics_bucket:
        return _ignored(location, "not the watched bucket")
    if location.service is None:
        return _ignored(location, "not a diagnostics file (name does not match)")
    if not settings.serves(location.service):
        return _ignored(location, f"{location.service.display_name} is not enabled in this stack")
    stored = _announced_version(announcement)
    if stored is None:
        return _ignored(location, "overwritten since it was announced: the new object's own event alerts it")
    return alert_diagnostics(stored, settings)


def alert_diagnostics(
    stored: StoredObject, settings: Settings, note: str | None = None, identification: Identification | None = None
) -> ObjectResult:
    """Summarise one stored diagnostics file and alert it once, whichever path asks.

    `identification`: the model version, when the caller already knows it (the poller's safety net);
    otherwise the service that wrote it (known from its name) is asked whose file it is.
    """
    location = stored.location
    if location.service is None:
        raise InvalidLocationError(f"{location.uri} is not named as a diagnostics file of a service this stack serves")
    service = detection_service(location.service)
    with claimed(settings, stored.alert_key) as claim:
        if claim.already_done:
            logger.info("Alert already sent for this object", extra={"alert_key": claim.key})
            return ObjectResult(
                diagnostics_object=location.uri, status="DUPLICATE", detail="alert already sent", alert_key=claim.key
            )
        identification = identification or _identify(location, service)
        summary: DiagnosticsSummary | None = None
        summary_object: S3Location | None = None
        try:
            with s3.open_stream(stored) as stream:
                summary = summarise_stream(stream, source=location.uri, thresholds=settings)
            summary = with_readable_names(summary, _readable_names(summary, service))
        except DiagnosticsFileError as error:
            logger.warning("Diagnostics file unreadable", extra={"reason": error.reason, "line": error.line})
            alert = unreadable_alert(error.reason, error.line, identification, location, note)
        else:
            summary_object = location.summary_location()
            s3.put_json(summary_object, summary.model_dump_json(indent=2))
            chart_object = _chart(summary, identification, summary_object)
            change = _change(summary, identification, location, service)
            alert = summary_alert(summary, identification, location, summary_object, note, chart_object, change)
        message_id = send(settings, claim, alert)
        ledger.record(settings.ledger_table_name, diagnostics_location_key(location.bucket, location.key), message_id)
    logger.info(
        "Alert sent",
        extra={"alert_key": claim.key, "event_type": alert.event_type, "severity": alert.severity}
        | ({"rows": summary.rows} if summary else {}),
    )
    return ObjectResult(
        diagnostics_object=location.uri,
        status="ALERTED",
        detail=alert.subject,
        alert_key=claim.key,
        alert_id=stable_id(claim.key),
        event_type=alert.event_type.value,
        severity=alert.severity,
        model_name=alert.model_name,
        message_id=message_id,
        summary_object=summary_object.uri if summary_object else None,
        summary=summary,
    )


def _announced_version(announcement: Announcement) -> StoredObject | None:
    """The stored version the event announced, under the key it means (decoded, or as written).

    A versioned bucket's event names its version: that version is read, whatever was stored since.
    Otherwise the event's ETag pins the bytes: an object overwritten since the event is not the one
    announced (None), and the overwrite's own event alerts it. DiagnosticsObjectMissingError if no key
    holds the object.
    """
    overwritten = False
    for candidate in announcement.location.candidates_from_event(announcement.raw_key):
        try:
            stored = s3.head(candidate, announcement.version_id)
        except DiagnosticsObjectMissingError:
            continue
        if announcement.etag is None or stored.etag == announcement.etag:
            return stored
        overwritten = True
    if overwritten:
        return None
    raise DiagnosticsObjectMissingError(f"{announcement.location.uri} does not exist")


def _chart(
    summary: DiagnosticsSummary, identification: Identification, summary_object: S3Location
) -> S3Location | None:
    """The summary's chart, beside it. One that cannot be drawn or stored costs the alert its link, not the alert."""
    chart_object = summary_object.chart_location()
    try:
        png = draw_chart(summary, f"{who(identification.identity)}: {summary.severity.value}")
        s3.put_bytes(chart_object, png, "image/png")
    except Exception as error:
        logger.warning("Chart not drawn", extra={"error": f"{type(error).__name__}: {error}"})
        return None
    return chart_object


def _change(
    summary: DiagnosticsSummary, identification: Identification, location: S3Location, service: DetectionService
) -> SummaryChange | None:
    """What changed since the model's previous version, when its summary is stored; an alert without it if the
    service or S3 cannot be asked."""
    identity = identification.identity
    if identity is None:
        return None
    try:
        previous = service.previous_summary(identity, location)
    except (ClientError, BotoCoreError, ValidationError) as error:
        logger.warning("Previous summary not read", extra={"error": f"{type(error).__name__}: {error}"})
        return None
    if previous is None:
        return None
    return compare(summary, previous.summary, previous.label, previous.location.uri, identity)


def detection_service(service: Service) -> DetectionService:
    """The service's implementation (usecases/services.py), its module imported with the first file of the
    service a process reads."""
    match service:
        case Service.IOT_SITEWISE:
            from lookout_diagnostics.usecases.sitewise_service import IoTSiteWise

            return IoTSiteWise()
        case Service.LOOKOUT_FOR_EQUIPMENT:
            from lookout_diagnostics.usecases.lookout_service import LookoutForEquipment

            return LookoutForEquipment()
        case _:  # pragma: no cover - a new service without its implementation fails type checking here
            assert_never(service)


def _ignored(location: S3Location, detail: str) -> ObjectResult:
    logger.info("Object ignored", extra={"diagnostics_object": location.uri, "reason": detail})
    return ObjectResult(diagnostics_object=location.uri, status="IGNORED", detail=detail)


def _identify(location: S3Location, service: DetectionService) -> Identification:
    """Ask the service whose file this is; if it cannot answer, still alert, and say why."""
    try:
        return service.identify(location)
    except (ClientError, BotoCoreError) as error:
        logger.warning("Model lookup failed", extra={"error": str(error)})
        return Identification(identity=None, note=f"{service.service.display_name} could not be asked: {error}")


def _readable_names(summary: DiagnosticsSummary, service: DetectionService) -> dict[str, str]:
    """Readable sensor names where the service has them; the names as written if it cannot answer."""
    try:
        return service.readable_names(sensor_names(summary))
    except (ClientError, BotoCoreError) as error:
        logger.warning("Sensor names could not be resolved", extra={"error": str(error)})
        return {}
