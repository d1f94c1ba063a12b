"""The alert a person reads: subject, plain-text body, JSON body and filterable attributes.

Pure: it turns a summary (or the reason a file could not be read) into an SNS message
that fits SNS's limits whatever the file held.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from lookout_diagnostics.domain.alert_keys import Outcome
from lookout_diagnostics.domain.chat_card import chat_card
from lookout_diagnostics.domain.failures import Failure
from lookout_diagnostics.domain.locations import S3Location
from lookout_diagnostics.domain.services import Service, service_of
from lookout_diagnostics.models import Model

# Named in signatures only. A handler imports what its own alerts read: a failure's alert loads no summary, no
# comparison and no fleet (docs/performance.md, "Cold start").
if TYPE_CHECKING:
    from lookout_diagnostics.domain.comparison import SummaryChange
    from lookout_diagnostics.domain.fleet import AssetRow, FleetDigestEvent, FleetEnding
    from lookout_diagnostics.domain.identity import Identification, ModelIdentity
    from lookout_diagnostics.domain.outcomes import OutcomeEvent
    from lookout_diagnostics.domain.summary import AnomalousEvent, DiagnosticsSummary, SensorContribution

SUBJECT_MAX = 99  # SNS allows 100 characters; ASCII only, no line breaks
MESSAGE_MAX_BYTES = 250_000  # SNS allows 262,144 bytes for the message and its attributes together
TEXT_EVENTS = 10
NAME_MAX = 200  # sensor names are the file's: keep one absurd name from filling the alert
NO_MODEL = "(none)"


class EventType(StrEnum):
    DIAGNOSTICS_SUMMARY = "DIAGNOSTICS_SUMMARY"
    DIAGNOSTICS_UNREADABLE = "DIAGNOSTICS_UNREADABLE"
    MODEL_VERSION_SUCCEEDED = "MODEL_VERSION_SUCCEEDED"  # a version whose diagnostics this stack does not summarise
    MODEL_VERSION_FAILED = "MODEL_VERSION_FAILED"
    MODEL_VERSION_CANCELED = "MODEL_VERSION_CANCELED"
    RETRAINING_NOT_PROMOTED = "RETRAINING_NOT_PROMOTED"
    TRAINING_FAILED = "TRAINING_FAILED"
    WORKFLOW_FAILED = "WORKFLOW_FAILED"
    DIAGNOSTICS_NOT_CONFIGURED = "DIAGNOSTICS_NOT_CONFIGURED"
    COMPUTATION_MODEL_FAILED = "COMPUTATION_MODEL_FAILED"  # AWS IoT SiteWise
    FLEET_DIGEST = "FLEET_DIGEST"  # one fleet workflow's assets, in one table


AlertSeverity = Literal["OK", "WARNING", "CRITICAL", "ERROR"]
# Protocols that get the JSON body; everything else (email, default) gets the text.
JSON_PROTOCOLS = ("sqs", "lambda", "http", "https", "email-json", "firehose")


class Alert(Model):
    event_type: EventType
    severity: AlertSeverity
    model_name: str
    subject: str
    text: str
    body: dict[str, Any]
    # Stable for what the alert is about (alert_keys.stable_id of its ledger key): a repeat that
    # the at-least-once parts of AWS let through carries the same id, so a subscriber can drop it.
    alert_id: str | None = None
    # The AWS IoT SiteWise asset the alert is about, where it is known (a computation model runs on many).
    asset_id: str | None = None

    def identified(self, alert_id: str) -> Alert:
        """The alert with its id, in the JSON body, the text's last line and the message attributes."""
        return self.model_copy(
            update={
                "alert_id": alert_id,
                "body": {"alert_id": alert_id} | self.body,
                "text": f"{self.text}\n\nAlert id: {alert_id}",
            }
        )

    def attributes(self) -> dict[str, dict[str, str]]:
        """SNS message attributes subscribers filter on."""
        attributes = {
            "event_type": {"DataType": "String", "StringValue": self.event_type.value},
            "severity": {"DataType": "String", "StringValue": self.severity},
            "model_name": {"DataType": "String", "StringValue": self.model_name},
        }
        if self.alert_id is not None:
            attributes["alert_id"] = {"DataType": "String", "StringValue": self.alert_id}
        return attributes

    def message(self, chat_cards: bool = True) -> str:
        """The SNS message with one body per protocol (MessageStructure='json'); `https` gets the chat card
        (domain/chat_card.py) unless `chat_cards` is off."""
        body = json.dumps(self.body, separators=(",", ":"), ensure_ascii=False)
        structure = {"default": self.text, "email": self.text, "sms": self.subject}
        structure.update(dict.fromkeys(JSON_PROTOCOLS, body))
        if chat_cards:
            structure["https"] = chat_card(self).to_json()
        return json.dumps(structure, ensure_ascii=False)

    def size_bytes(self) -> int:
        """What SNS counts against its 256 KB, with the https body either way (a card, or the JSON body again:
        ChatCardsOverHttps), so that an alert fitted here fits whichever the stack sends."""
        attributes = sum(len(k) + len(v["StringValue"].encode()) + 6 for k, v in self.attributes().items())
        message = max(len(self.message(chat_cards).encode()) for chat_cards in (True, False))
        return message + len(self.subject) + attributes


def summary_alert(
    summary: DiagnosticsSummary,
    identification: Identification,
    diagnostics: S3Location,
    summary_object: S3Location | None,
    note: str | None = None,
    chart_object: S3Location | None = None,
    change: SummaryChange | None = None,
) -> Alert:
    identity = identification.identity
    model_name = identity.model_name if identity else NO_MODEL
    named = who(identity)
    outcome = (
        f"{summary.event_count} anomalous event{'s' if summary.event_count != 1 else ''}, "
        f"{summary.anomaly_rate:.1%} anomalous"
    )
    if change is not None and change.large:
        outcome += f"; vs {change.subject_line()}"
    alert = _alert(
        EventType.DIAGNOSTICS_SUMMARY,
        summary.severity.value,
        model_name,
        f"{named}: {outcome}",
        _with_note(
            summary_text(
                summary,
                identification,
                summary_object.uri if summary_object else None,
                chart_object=chart_object,
                change=change,
            ),
            note,
        ),
        model=identity.model_dump(mode="json") if identity else None,
        model_lookup=identification.note,
        diagnostics_object=diagnostics.uri,
        summary_object=summary_object.uri if summary_object else None,
        chart_object=chart_object.uri if chart_object else None,
        change=change.model_dump(mode="json") if change else None,
        # The timeline (up to 120 bins) is the summary object's and the chart's: not repeated in every body.
        summary=_shortened_names(summary).model_dump(mode="json", exclude={"timeline"}),
        note=note,
    )
    return _fit(alert, summary, identification, summary_object, chart_object, change)


def _alert(
    event_type: EventType, severity: AlertSeverity, model_name: str, headline: str, text: str, /, **fields: Any
) -> Alert:
    """An alert whose subject is "[SEVERITY] headline" and whose JSON body opens with what every alert
    carries (alert_version, event_type, severity), then `fields` in the order given."""
    return Alert(
        event_type=event_type,
        severity=severity,
        model_name=model_name,
        subject=_subject(severity, headline),
        text=text,
        body={"alert_version": 1, "event_type": event_type.value, "severity": severity, **fields},
        asset_id=_asset_of(fields),
    )


def _asset_of(fields: dict[str, Any]) -> str | None:
    """The SiteWise asset an alert's fields name (its model's identity, its outcome, or the field itself)."""
    for name in ("model", "outcome"):
        value = fields.get(name)
        if isinstance(value, dict) and value.get("asset_id"):
            return str(value["asset_id"])
    asset = fields.get("asset_id")
    return str(asset) if asset else None


def _with_note(text: str, note: str | None) -> str:
    return f"{text}\n\nNote:     {note}" if note else text


def unreadable_alert(
    reason: str, line: int | None, identification: Identification, diagnostics: S3Location, note: str | None = None
) -> Alert:
    identity = identification.identity
    where = f" (line {line})" if line is not None else ""
    text = "\n".join(
        [
            f"{_service_name(diagnostics.uri)} diagnostics: the file could not be summarised",
            "",
            f"Model:   {who(identity)}",
            f"File:    {diagnostics.uri}",
            f"Reason:  {reason}{where}",
            f"Lookup:  {identification.note}",
            "",
            "Nothing was summarised. Check the file (for example: aws s3 cp <file> - | gunzip | head);",
            "this alert is sent once per file and the file is not retried.",
        ]
    )
    return _alert(
        EventType.DIAGNOSTICS_UNREADABLE,
        "ERROR",
        identity.model_name if identity else NO_MODEL,
        f"{who(identity)}: diagnostics unreadable: {reason}",
        _with_note(text, note),
        model=identity.model_dump(mode="json") if identity else None,
        model_lookup=identification.note,
        diagnostics_object=diagnostics.uri,
        reason=reason,
        line=line,
        note=note,
    )


def who(identity: ModelIdentity | None) -> str:
    """The model as alerts name it: `pump-7 v3`, `pump-anomalies on Pump 7`, `Unknown model`."""
    if identity is None:
        return "Unknown model"
    if identity.service is Service.IOT_SITEWISE:
        asset = identity.asset_name or identity.asset_id
        return f"{identity.model_name} on {asset}" if asset else identity.model_name
    version = f" v{identity.model_version}" if identity.model_version is not None else " (version unconfirmed)"
    return f"{identity.model_name}{version}"


def _service_name(source: str) -> str:
    """Whose diagnostics a file holds, from its name ("Lookout for Equipment", "AWS IoT SiteWise")."""
    service = service_of(source)
    return service.display_name if service else "Anomaly detection"


def _subject(severity: str, text: str) -> str:
    subject = f"[{severity}] {text}"
    subject = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in subject)
    return subject if len(subject) <= SUBJECT_MAX else subject[: SUBJECT_MAX - 3] + "..."


def summary_text(
    summary: DiagnosticsSummary,
    identification: Identification | None,
    summary_uri: str | None = None,
    event_lines: int = TEXT_EVENTS,
    *,
    chart_object: S3Location | None = None,
    change: SummaryChange | None = None,
) -> str:
    """The summary as a person reads it (the alert's email body, and the command line's output)."""
    identity = identification.identity if identification else None
    lines = [f"{_service_name(summary.source)} diagnostics: {summary.severity.value}", ""]
    if identification is not None and identity is None:
        lines.append(f"Model:    none identified ({identification.note})")
    elif identification is not None and identity is not None:
        if identity.service is Service.IOT_SITEWISE:
            execution = f", execution {identity.execution_id}" if identity.execution_id else ""
            lines.append(f"Model:    {who(identity)}{execution}")
        else:
            lines.append(f"Model:    {who(identity)}, quality {identity.model_quality or 'unknown'}")
        if not identity.confirmed:
            lines.append(f"          ({identification.note})")
    lines += [
        f"Why:      {summary.severity_reason}",
        "",
        f"Records:  {summary.rows:,} from {_when(summary.first_timestamp)} to {_when(summary.last_timestamp)}",
        f"          normal {summary.normal:,}, anomalous {summary.anomalous:,} ({summary.anomaly_rate:.2%}), "
        f"machine off {summary.machine_off:,}",
        f"Events:   {summary.event_count:,} anomalous events, longest {summary.longest_event_points:,} points, "
        f"max anomaly score {_score(summary.max_anomaly_score)}",
    ]
    if not summary.in_time_order:
        lines.append(
            f"Warning:  {summary.out_of_order_rows:,} records are out of time order; events may be split wrongly"
        )
    if summary.events:
        worst = sorted(summary.events, key=lambda e: (e.points, e.max_anomaly_score or 0), reverse=True)
        lines += ["", f"Worst events (of {summary.event_count:,}):"]
        lines += [_event_line(rank, event) for rank, event in enumerate(worst[:event_lines], 1)]
    if summary.top_sensors:
        lines += ["", "Top sensors over all anomalous records (mean contribution):"]
        lines += [f"  {_name(s.name)}  {s.mean_contribution:.3f}" for s in summary.top_sensors]
    metrics = identity.metrics if identity else None
    if metrics is not None:
        lines += [
            "",
            f"Model metrics (from {identity.service.display_name if identity else 'the'}'s evaluation):",
            f"  labelled events {_figure(metrics.labeled_events)}, identified "
            f"{_figure(metrics.labeled_events_identified)}; predicted ranges {_figure(metrics.predicted_ranges)}",
        ]
    if change is not None:
        lines += ["", *change.text_lines()]
    lines += ["", f"Diagnostics file: {summary.source}"]
    if summary_uri is not None:
        lines.append(f"Summary JSON:     {summary_uri}")
    if chart_object is not None:
        lines.append(f"Chart:            {chart_object.console_url}")
    return "\n".join(lines)


def _event_line(rank: int, event: AnomalousEvent) -> str:
    sensors = ", ".join(f"{_name(s.name)} ({s.mean_contribution:.2f})" for s in event.top_sensors[:3])
    return (
        f"  {rank}. {_when(event.start)} -> {_when(event.end)}  {event.points:,} points, "
        f"max score {_score(event.max_anomaly_score)}; top: {sensors or '-'}"
    )


def _when(timestamp: str | None) -> str:
    """L4E's '2024-01-05T08:43:00.000000' as a person writes it: '2024-01-05 08:43:00'."""
    if timestamp is None:
        return "n/a"
    return timestamp.replace("T", " ", 1).removesuffix(".000000")


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _figure(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def _name(name: str) -> str:
    return name if len(name) <= NAME_MAX else name[: NAME_MAX - 3] + "..."


def _shortened_names(summary: DiagnosticsSummary) -> DiagnosticsSummary:
    def short(sensors: list[SensorContribution]) -> list[SensorContribution]:
        return [s.model_copy(update={"name": _name(s.name)}) for s in sensors]

    return summary.model_copy(
        update={
            "top_sensors": short(summary.top_sensors),
            "events": [e.model_copy(update={"top_sensors": short(e.top_sensors)}) for e in summary.events],
        }
    )


def _fit(
    alert: Alert,
    summary: DiagnosticsSummary,
    identification: Identification,
    summary_object: S3Location | None,
    chart_object: S3Location | None = None,
    change: SummaryChange | None = None,
) -> Alert:
    note = alert.body.get("note")
    """Drop events from the message until it fits; the summary object keeps them all."""
    kept = len(summary.events)
    while alert.size_bytes() > MESSAGE_MAX_BYTES and kept > 0:
        kept //= 2
        body_summary = alert.body["summary"]
        events = body_summary["events"]
        worst = sorted(
            range(len(events)),
            key=lambda i: (events[i]["points"], events[i]["max_anomaly_score"] or 0),
            reverse=True,
        )[:kept]
        body_summary["events"] = [events[i] for i in sorted(worst)]
        body_summary["events_truncated"] = True
        alert = alert.model_copy(
            update={
                "body": alert.body,
                "text": _with_note(
                    summary_text(
                        summary,
                        identification,
                        summary_object.uri if summary_object else None,
                        min(kept, TEXT_EVENTS),
                        chart_object=chart_object,
                        change=change,
                    ),
                    note,
                ),
            }
        )
    return alert


_OUTCOMES: dict[Outcome, tuple[EventType, AlertSeverity, str]] = {
    Outcome.SUCCEEDED: (EventType.MODEL_VERSION_SUCCEEDED, "OK", "succeeded"),
    Outcome.FAILED: (EventType.MODEL_VERSION_FAILED, "ERROR", "failed"),
    Outcome.CANCELED: (EventType.MODEL_VERSION_CANCELED, "WARNING", "canceled"),
    Outcome.NOT_PROMOTED: (EventType.RETRAINING_NOT_PROMOTED, "WARNING", "retraining not promoted"),
    Outcome.TRAINING_FAILED: (EventType.TRAINING_FAILED, "ERROR", "training failed"),
    Outcome.COMPUTATION_MODEL_FAILED: (EventType.COMPUTATION_MODEL_FAILED, "ERROR", "computation model failed"),
}
# How a SiteWise training execution's outcome is said (the event types are L4E's: a training's outcome).
_SITEWISE_SAID = {Outcome.SUCCEEDED: "training completed", Outcome.FAILED: "training failed"}


def outcome_alert(event: OutcomeEvent, diagnostics_note: str | None = None) -> Alert:
    """A model version reached a terminal outcome (seen by the poller or the training workflow); for AWS IoT
    SiteWise, a training execution ended, or a computation model failed."""
    event_type, severity, said = _OUTCOMES[event.outcome]
    if event.service is Service.IOT_SITEWISE:
        headline, lines, arn_line = _sitewise_outcome(event, _SITEWISE_SAID.get(event.outcome, said))
    else:
        headline, lines, arn_line = _lookout_outcome(event, said, severity)
    if diagnostics_note:
        lines += ["", diagnostics_note]
    return _alert(
        event_type,
        severity,
        event.model_name,
        headline,
        "\n".join([*lines, "", arn_line]),
        outcome=event.model_dump(mode="json"),
        note=diagnostics_note,
    )


def _lookout_outcome(event: OutcomeEvent, said: str, severity: str) -> tuple[str, list[str], str]:
    """An L4E version's outcome: the subject's headline, the text's lines, its ARN line."""
    version = event.model_name + (f" v{event.model_version}" if event.model_version is not None else "")
    reason = event.failed_reason or event.auto_promotion_result_reason
    lines = [
        f"Lookout for Equipment: {version} {said}",
        "",
        f"Model:    {event.model_name}",
        f"Version:  {event.model_version if event.model_version is not None else 'none'}"
        f" ({(event.source_type or 'TRAINING').lower()}), status {event.status}",
    ]
    if event.model_quality:
        lines.append(f"Quality:  {event.model_quality}")
    if event.auto_promotion_result:
        lines.append(f"Promotion: {event.auto_promotion_result}")
    if reason:
        lines.append(f"Reason:   {reason}")
    if event.metrics is not None:
        lines.append(
            f"Metrics:  labelled events {_figure(event.metrics.labeled_events)}, identified "
            f"{_figure(event.metrics.labeled_events_identified)}; predicted ranges "
            f"{_figure(event.metrics.predicted_ranges)}"
        )
    detail = f": {reason}" if reason and severity != "OK" else ""
    return f"{version}: {said}{detail}", lines, f"Model ARN: {event.model_arn}"


def _sitewise_outcome(event: OutcomeEvent, said: str) -> tuple[str, list[str], str]:
    """A SiteWise execution's (or computation model's) outcome: the headline, the lines, the ARN line."""
    asset = event.asset_name or event.asset_id
    named = f"{event.model_name} on {asset}" if asset else event.model_name
    lines = [f"AWS IoT SiteWise: {named} {said}", "", f"Computation model: {event.model_name}"]
    if asset:
        lines.append(f"Asset:     {asset}" + (f" ({event.asset_id})" if event.asset_name else ""))
    if event.execution_id:
        lines.append(f"Execution: {event.execution_id} ({(event.source_type or 'TRAINING').lower()}), {event.status}")
    else:
        lines.append(f"State:     {event.status}")
    if event.failed_reason:
        lines.append(f"Reason:    {event.failed_reason}")
    if event.diagnostics_object:
        lines.append(f"Evaluation results: {event.diagnostics_object}")
    detail = f": {event.failed_reason}" if event.failed_reason else ""
    return f"{named}: {said}{detail}", lines, f"Computation model ARN: {event.model_arn}"


def diagnostics_not_configured_alert(model_name: str, model_arn: str) -> Alert:
    """A model that writes no pointwise diagnostics: said once per model."""
    text = "\n".join(
        [
            f"Lookout for Equipment model {model_name} writes no pointwise diagnostics.",
            "",
            "Its versions cannot be summarised. To fix it for the versions trained from now on, run",
            f"  lookout-diagnostics enable-diagnostics --model {model_name} --dry-run",
            "and then without --dry-run, or deploy the stack with EnableDiagnosticsOnModels=true.",
            "",
            f"Model ARN: {model_arn}",
        ]
    )
    return _alert(
        EventType.DIAGNOSTICS_NOT_CONFIGURED,
        "WARNING",
        model_name,
        f"{model_name}: no diagnostics output configured",
        text,
        model_name=model_name,
        model_arn=model_arn,
    )


def workflow_failure_alert(
    model_name: str | None, error: str, cause: str, advice: str, execution_arn: str | None, asset_id: str | None = None
) -> Alert:
    """The training workflow ended without a model: what happened and what to do about it."""
    event_type = EventType.TRAINING_FAILED if error == Failure.TRAINING_FAILED else EventType.WORKFLOW_FAILED
    named = model_name or "Training workflow"
    lines = [
        f"Lookout for Equipment training workflow failed: {error}",
        "",
        f"Model:     {model_name or 'not created'}",
        f"Reason:    {cause}",
        f"What to do: {advice}",
    ]
    if execution_arn:
        region = execution_arn.split(":")[3]
        lines += [
            "",
            f"Execution: {execution_arn}",
            f"Console:   https://{region}.console.aws.amazon.com/states/home?region={region}"
            f"#/v2/executions/details/{execution_arn}",
        ]
    return _alert(
        event_type,
        "ERROR",
        model_name or NO_MODEL,
        f"{named}: {error}: {cause}",
        "\n".join(lines),
        model_name=model_name,
        error=error,
        cause=cause,
        advice=advice,
        execution_arn=execution_arn,
        **({"asset_id": asset_id} if asset_id else {}),
    )


def fleet_digest_alert(
    digest: FleetDigestEvent, rows: list[AssetRow], table_link: str, headline: str, ended: FleetEnding | None = None
) -> Alert:
    """One alert for a whole fleet: counts, then the table worst first (the first rows; the whole table is
    linked), within SNS's limits however many assets the fleet has."""
    from lookout_diagnostics.domain.fleet import DIGEST_TABLE_ROWS, table_text

    counts = digest.counts
    region = digest.execution_arn.split(":")[3]
    lines = [
        f"Fleet training digest ({digest.service.display_name}): {digest.fleet_name}",
        "",
        f"Assets:    {counts.assets}: {counts.trained} trained now, {counts.reported} reported from an earlier run, "
        f"{counts.exists} existing models, {counts.failed} failed, {counts.invalid} invalid, {counts.not_run} not run",
        f"Severity:  {counts.critical} critical, {counts.warning} warning",
        f"Execution: https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{digest.execution_arn}",
        f"Table:     {table_link}",
        *([f"Ended:     {ended.sentence()}"] if ended else []),
        "",
        table_text(rows),
    ]
    if len(rows) > DIGEST_TABLE_ROWS:
        lines.append(f"... and {len(rows) - DIGEST_TABLE_ROWS} more assets: the whole table is at {table_link}")
    alert = _alert(
        EventType.FLEET_DIGEST,
        digest.severity,  # type: ignore[arg-type]
        f"fleet:{digest.fleet_name}",
        headline,
        "\n".join(lines),
        **digest.model_dump(mode="json", exclude={"schema_version", "event_id"}),
    )
    while alert.size_bytes() > MESSAGE_MAX_BYTES and alert.body["assets"]:
        alert.body["assets"] = alert.body["assets"][: len(alert.body["assets"]) // 2]
    return alert
