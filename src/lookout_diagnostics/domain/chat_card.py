"""An alert as a chat card: what Amazon Q Developer in chat applications (formerly AWS Chatbot) shows in Slack,
Microsoft Teams and Amazon Chime when an SNS message follows its custom-notification schema.

The chat service subscribes to the alert topic with the `https` protocol, so the card is the message's `https`
body (docs/contracts.md, "The chat card"). One card per alert, every alert type: a title with the severity and
the model, a markdown description with the key figures (and, for a summary, the worst events), links to the
chart and the summary, and one thread per model. Kept well under the size at which the service was seen to
drop cards (about 3,000 characters): CARD_MAX_CHARS.

Pure: an alert's fields in, a card out.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal, Protocol

from pydantic import Field

from lookout_diagnostics.domain.locations import S3Location
from lookout_diagnostics.models import Model


class Alert(Protocol):
    """What a card is made of: an alert (lookout_diagnostics.domain.alerts.Alert), as far as a card reads it."""

    @property
    def event_type(self) -> Enum: ...
    @property
    def severity(self) -> str: ...
    @property
    def model_name(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def body(self) -> dict[str, Any]: ...
    @property
    def alert_id(self) -> str | None: ...
    @property
    def asset_id(self) -> str | None: ...


CARD_MAX_CHARS = 2400  # the whole card as JSON; the service dropped ~3,000-character cards in one public report
TITLE_MAX = 200
CARD_EVENTS = 3
CARD_FLEET_ROWS = 5


class CardContent(Model):
    textType: Literal["client-markdown"] = "client-markdown"
    title: str
    description: str
    nextSteps: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)


class CardMetadata(Model):
    threadId: str
    summary: str
    eventType: str
    relatedResources: list[str] = Field(default_factory=list)
    additionalContext: dict[str, str] = Field(default_factory=dict)


class ChatCard(Model):
    version: Literal["1.0"] = "1.0"
    source: Literal["custom"] = "custom"
    id: str | None = None
    content: CardContent
    metadata: CardMetadata

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)


def chat_card(alert: Alert) -> ChatCard:
    """The alert as a card, within CARD_MAX_CHARS: the description's last lines (the least severe events or
    rows) are dropped first; its links stay."""
    body = alert.body
    lines, steps = _described(alert)
    links = _links(body)
    context = {"alert_id": alert.alert_id, "severity": alert.severity, "model": alert.model_name}
    card = ChatCard(
        id=alert.alert_id,
        content=CardContent(
            title=_clip(alert.subject, TITLE_MAX),
            description="\n".join(lines + links),
            nextSteps=steps,
            keywords=[alert.severity, alert.event_type.value, *_service(body)],
        ),
        metadata=CardMetadata(
            threadId=_thread(alert),
            summary=_clip(alert.subject, TITLE_MAX),
            eventType=alert.event_type.value,
            relatedResources=_resources(body),
            additionalContext={key: str(value) for key, value in context.items() if value},
        ),
    )
    while len(card.to_json()) > CARD_MAX_CHARS and len(lines) > 1:
        lines = lines[:-1]
        content = card.content.model_copy(update={"description": "\n".join(lines + links)})
        card = card.model_copy(update={"content": content})
    # Still too long (keys of up to 1,024 bytes make long links): related resources go, then the links one by
    # one from the last, then the title and summary are cut. The card always ends within CARD_MAX_CHARS.
    if len(card.to_json()) > CARD_MAX_CHARS:
        card = card.model_copy(update={"metadata": card.metadata.model_copy(update={"relatedResources": []})})
    while len(card.to_json()) > CARD_MAX_CHARS and links:
        links = links[:-1] if len(links) > 2 else []
        content = card.content.model_copy(update={"description": "\n".join(lines + links)})
        card = card.model_copy(update={"content": content})
    while len(card.to_json()) > CARD_MAX_CHARS:
        over = len(card.to_json()) - CARD_MAX_CHARS
        description = card.content.description
        cut = _clip(description, max(1, len(description) - over - 1))
        content = card.content.model_copy(update={"description": cut, "title": _clip(card.content.title, 80)})
        metadata = card.metadata.model_copy(update={"summary": _clip(card.metadata.summary, 80)})
        card = card.model_copy(update={"content": content, "metadata": metadata})
    return card


def _described(alert: Alert) -> tuple[list[str], list[str]]:
    """The description's lines (markdown, without the links) and the next steps, by what the alert is about."""
    body = alert.body
    if body.get("summary"):
        steps = ["Open the chart: the worst events are numbered", "Check the top sensors of event #1 on the asset"]
        change = _change_lines(body["change"]) if body.get("change") else []
        lines = _summary_lines(body["summary"])
        return [*lines[:3], *change, *lines[3:]], steps
    if alert.event_type.value == "FLEET_DIGEST":
        ended = body.get("execution_status") not in (None, "RUNNING")
        return _fleet_lines(body), ["Open the table for every asset"] + (
            ["Redrive the fleet's execution to finish it"] if ended else []
        )
    if body.get("advice"):
        advice = _clip(str(body["advice"]), 300)
        return [
            f"**{_markdown(str(body.get('error', alert.event_type.value)))}**: "
            f"{_markdown(_clip(str(body.get('cause', '')), 300))}",
            "",
            f"*What to do:* {_markdown(advice)}",
        ], [advice]
    text = [line for line in alert.text.splitlines() if line.strip() and not line.startswith("Alert id:")]
    return [_markdown(line) for line in text[:12]], []


def _summary_lines(summary: dict[str, Any]) -> list[str]:
    count = summary["event_count"]
    lines = [
        f"**{summary['severity']}** · {count} anomalous event{'s' if count != 1 else ''} · "
        f"{summary['anomaly_rate']:.1%} anomalous · longest {summary['longest_event_points']} points",
        f"*Why:* {_markdown(str(summary.get('severity_reason', '')))}",
        f"*Records:* {summary['rows']:,} ({summary['machine_off']:,} machine off)",
    ]
    events = sorted(summary.get("events", []), key=lambda e: (-e["points"], -(e["max_anomaly_score"] or 0)))
    if events:
        lines += ["", "**Worst events**"]
        for rank, event in enumerate(events[:CARD_EVENTS], start=1):
            sensors = ", ".join(_sensor(sensor) for sensor in event["top_sensors"][:2])
            score = event["max_anomaly_score"]
            said = f", max score {score:.2f}" if score is not None else ""
            when = event["start"][:16].replace("T", " ")
            lines.append(f"{rank}. `{when}` {event['points']} points{said}: {sensors}")
    top = summary.get("top_sensors", [])[:3]
    if top:
        lines += ["", "*Top sensors:* " + ", ".join(_sensor(sensor) for sensor in top)]
    return lines


def _change_lines(change: dict[str, Any]) -> list[str]:
    (rate_before, rate_now), (events_before, events_now) = change["anomaly_rate"], change["event_count"]
    lines = [
        f"*Since {_markdown(change['previous'])}:* anomaly rate {rate_before:.2%} → {rate_now:.2%}, "
        f"events {events_before} → {events_now}" + (" (**a large change**)" if change["large"] else "")
    ]
    if change.get("auto_promotion_result"):
        lines.append(f"*Promotion:* {_markdown(str(change['auto_promotion_result']))}")
    return lines


def _sensor(sensor: dict[str, Any]) -> str:
    return f"{_markdown(_clip(str(sensor['name']), 40))} ({sensor['mean_contribution']:.2f})"


def _fleet_lines(body: dict[str, Any]) -> list[str]:
    n = body.get("counts", {})
    lines = [
        f"**{n.get('assets', 0)} assets**: {n.get('trained', 0)} trained, {n.get('reported', 0)} reported, "
        f"{n.get('failed', 0)} failed, {n.get('invalid', 0)} invalid, {n.get('not_run', 0)} not run",
        f"*Severity:* {n.get('critical', 0)} critical, {n.get('warning', 0)} warning",
        "",
        "**Worst assets**",
    ]
    for row in body.get("assets", [])[:CARD_FLEET_ROWS]:
        detail = (
            f"{row.get('severity') or '-'}, {row.get('anomalous_events') or 0} events, {row.get('top_sensor') or '-'}"
            if row.get("outcome") in ("TRAINED", "REPORTED")
            else _clip(str(row.get("reason") or ""), 80)
        )
        lines.append(f"- {_markdown(_clip(row['asset'], 40))}: **{row['outcome']}** ({_markdown(detail)})")
    return lines


def _links(body: dict[str, Any]) -> list[str]:
    """["", "[Chart](...) · [Summary](...)"]: one line; `chat_card` drops its links from the last when short of room."""
    links = []
    for field, label in (("chart_object", "Chart"), ("summary_object", "Summary"), ("table_object", "Table")):
        uri = body.get(field)
        if isinstance(uri, str) and uri.startswith("s3://"):
            links.append(f"[{label}]({S3Location.from_uri(uri).console_url})")
    arn = body.get("execution_arn")
    if isinstance(arn, str) and arn.startswith("arn:"):
        region = arn.split(":")[3]
        links.append(
            f"[Execution](https://{region}.console.aws.amazon.com/states/home?region={region}"
            f"#/v2/executions/details/{arn})"
        )
    return ["", *links] if links else []


def _thread(alert: Alert) -> str:
    """One thread per model (per computation model on an asset; per fleet for a digest)."""
    return f"{alert.model_name}#{alert.asset_id}" if alert.asset_id else alert.model_name


def _resources(body: dict[str, Any]) -> list[str]:
    model = body.get("model") or body.get("outcome") or {}
    found = [
        model.get("model_arn"),
        body.get("execution_arn"),
        body.get("diagnostics_object"),
        body.get("table_object"),
    ]
    return [str(value) for value in found if isinstance(value, str) and value][:5]


def _service(body: dict[str, Any]) -> list[str]:
    model = body.get("model") or body.get("outcome") or {}
    service = model.get("service") or body.get("service")
    return [str(service)] if service else []


def _markdown(line: str) -> str:
    """Text (a sensor's name, a reason) safe in a card: what markdown renders as formatting is escaped, what
    Slack reads as a link or a mention (<...>) is written as entities, and a line break is a space."""
    return " ".join(line.splitlines()).translate(_ESCAPES)


_ESCAPES = str.maketrans({**{c: f"\\{c}" for c in "\\*_`[]"}, "&": "&amp;", "<": "&lt;", ">": "&gt;"})


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
