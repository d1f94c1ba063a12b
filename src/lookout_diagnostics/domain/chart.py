"""The chart of one summary: the anomaly score over time, each anomalous event shaded with its rank, the machine
off greyed, and the top sensors of the worst events beside it. A PNG, readable on a laptop and on a phone.

Pure: a summary in, PNG bytes out. matplotlib is imported here, when a chart is drawn, and nowhere else:
no other step's cold start pays for it.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from lookout_diagnostics.domain.summary import AnomalousEvent, DiagnosticsSummary

WIDTH_INCHES, HEIGHT_INCHES, DPI = 11.0, 6.0, 100  # 1100 x 600 pixels; type large enough to read on a phone
LABELLED_EVENTS = 10  # events shaded: all; events numbered: the worst 10 (2,000 numbers are no one's reading)
LISTED_EVENTS = 3  # the worst events whose sensors are listed beside the chart
SENSORS_PER_EVENT = 2
_EVENT = "#d62728"
_OFF = "#bdbdbd"
_MAX = "#1f3b73"
_MEAN = "#6baed6"


def draw_chart(summary: DiagnosticsSummary, title: str) -> bytes:
    """The summary's chart as PNG bytes. A summary without a timeline (version 1) is drawn from its events."""
    import matplotlib

    matplotlib.use("Agg")  # no display in Lambda or CI
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, layout="constrained")
    chart, side = figure.subplots(1, 2, width_ratios=[3.2, 1])
    # parse_math=False everywhere a name is written: a "$" in a sensor's or a model's name is not mathtext.
    figure.suptitle(_clip(title, 90), fontsize=19, fontweight="bold", ha="left", x=0.01, parse_math=False)

    bins = summary.timeline.bins if summary.timeline else []
    starts = [_moment(b.start) for b in bins]
    ends = [_moment(b.end) for b in bins]
    for start, end, b in zip(starts, ends, bins, strict=True):
        if b.machine_off and not (b.normal or b.anomalous):
            chart.axvspan(start, end, color=_OFF, alpha=0.5, linewidth=0)
    scored = [(s, e, b) for s, e, b in zip(starts, ends, bins, strict=True) if b.max_anomaly_score is not None]
    if scored:
        middles = [s + (e - s) / 2 for s, e, _ in scored]
        chart.plot(middles, [b.max_anomaly_score for _, _, b in scored], color=_MAX, linewidth=1.8, label="max score")
        chart.plot(
            middles, [b.mean_anomaly_score for _, _, b in scored], color=_MEAN, linewidth=1.2, label="mean score"
        )
    ranked = _ranked(summary.events)
    # An event of minutes on an axis of weeks would be a hairline: each is drawn at least 0.5% of the axis wide.
    least = (ends[-1] - starts[0]) * 0.005 if starts else None
    labelled: list[datetime] = []  # where the ranks are written: a worse event's label wins a crowded place
    for rank, event in ranked:
        start, end = _moment(event.start), _moment(event.end)
        if least is not None and end - start < least:
            middle = start + (end - start) / 2
            start, end = max(starts[0], middle - least / 2), min(ends[-1], middle + least / 2)
        chart.axvspan(start, end, color=_EVENT, alpha=0.28 if rank <= LABELLED_EVENTS else 0.15, linewidth=0)
        middle = start + (end - start) / 2
        if rank <= LABELLED_EVENTS and (least is None or all(abs(middle - at) > least * 6 for at in labelled)):
            labelled.append(middle)
            chart.annotate(
                f"#{rank}", xy=(start + (end - start) / 2, 1.0), xycoords=("data", "axes fraction"),
                xytext=(0, 2), textcoords="offset points", ha="center", va="bottom", fontsize=13,
                fontweight="bold", color=_EVENT,
            )  # fmt: skip
    chart.set_ylim(0, max(1.0, max((b.max_anomaly_score or 0.0 for b in bins), default=0.0) * 1.05))
    chart.set_ylabel("anomaly score", fontsize=14)
    chart.grid(True, axis="y", alpha=0.3)
    if starts:
        chart.set_xlim(starts[0], ends[-1])
        locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
        chart.xaxis.set_major_locator(locator)
        chart.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    chart.tick_params(labelsize=13)
    handles = _legend_handles(scored != [], summary, bins)
    if handles:
        side.legend(handles=handles, loc="lower left", fontsize=12, frameon=False, borderaxespad=0)
    if not bins:
        chart.text(0.5, 0.5, "no timeline in this summary", ha="center", va="center", transform=chart.transAxes,
                   parse_math=False)  # fmt: skip
    elif not summary.normal and not summary.anomalous:
        chart.text(0.5, 0.55, "machine off for every record:\nnothing was judged", ha="center", va="center",
                   fontsize=14, transform=chart.transAxes)  # fmt: skip
    elif not summary.anomalous:
        chart.text(0.99, 0.95, "no anomalous records", ha="right", va="top", fontsize=13, color="#2ca02c",
                   fontweight="bold", transform=chart.transAxes)  # fmt: skip

    side.axis("off")
    side.text(0, 1, _side_text(summary, ranked), va="top", ha="left", fontsize=13, family="DejaVu Sans",
              transform=side.transAxes, parse_math=False)  # fmt: skip

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _ranked(events: list[AnomalousEvent]) -> list[tuple[int, AnomalousEvent]]:
    """Events ranked as the alert ranks them: longest first, then highest score (1 = worst)."""
    order = sorted(events, key=lambda e: (-e.points, -(e.max_anomaly_score or 0.0), e.start))
    return [(rank, event) for rank, event in enumerate(order, start=1)]


def _side_text(summary: DiagnosticsSummary, ranked: list[tuple[int, AnomalousEvent]]) -> str:
    lines = [
        f"{summary.severity.value}",
        f"{summary.event_count} anomalous event{'s' if summary.event_count != 1 else ''}",
        f"{summary.anomaly_rate:.1%} anomalous",
        f"{summary.rows:,} records ({summary.machine_off:,} off)",
        "",
    ]
    if ranked:
        lines.append("Worst events, top sensors:")
        for rank, event in ranked[:LISTED_EVENTS]:
            lines.append(f"#{rank} {event.start[5:16].replace('T', ' ')}, {event.points} pts")
            for sensor in event.top_sensors[:SENSORS_PER_EVENT]:
                lines.append(f"   {_middle(_short_name(sensor.name), 20)}  {sensor.mean_contribution:.2f}")
        if summary.event_count > len(ranked):
            lines.append(f"({summary.event_count - len(ranked):,} more events not kept)")
    elif summary.top_sensors:
        lines.append("Top sensors:")
        lines += [f"   {_middle(_short_name(s.name), 20)}  {s.mean_contribution:.2f}" for s in summary.top_sensors[:5]]
    return "\n".join(lines)


def _legend_handles(scored: bool, summary: DiagnosticsSummary, bins: list[Any]) -> list[Any]:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = []
    if scored:
        handles += [Line2D([], [], color=_MAX, label="max score"), Line2D([], [], color=_MEAN, label="mean score")]
    if summary.events:
        handles.append(Patch(color=_EVENT, alpha=0.4, label="anomalous event (#rank)"))
    if any(b.machine_off and not (b.normal or b.anomalous) for b in bins):
        handles.append(Patch(color=_OFF, alpha=0.6, label="machine off"))
    return handles


def _moment(text: str) -> datetime:
    """A moment on the timeline's scale (UTC, unzoned), within what matplotlib's dates can draw (a day inside
    the calendar's ends: a file at year 1 or 9999 is drawn at its edge, not refused)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            moment = moment.replace(tzinfo=None)
    return min(max(moment, _EARLIEST), _LATEST)


_EARLIEST, _LATEST = datetime(1, 1, 2), datetime(9999, 12, 30)


def _short_name(name: str) -> str:
    """The last part of a sensor's name: `component\\sensor` and `asset / property` read by their sensor."""
    return name.replace(" / ", "\\").rsplit("\\", 1)[-1] or name


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _middle(text: str, width: int) -> str:
    """Shortened in the middle: sensor names differ at their ends (bearing_temperature_de, _nde)."""
    return text if len(text) <= width else text[: width // 2 - 1] + "…" + text[-(width - width // 2) :]
