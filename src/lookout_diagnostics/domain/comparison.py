"""What changed since the model's previous version: the summary made now against the one stored for the version
before (L4E: the previous successful version; AWS IoT SiteWise: the previous training on the same asset).

Pure: two summaries in, the change out, with the service's own promotion decision and prior metrics where it
gives them (L4E's AutoPromotionResult and PriorModelMetrics).
"""

from __future__ import annotations

from lookout_diagnostics.domain.identity import MetricsFigures, ModelIdentity
from lookout_diagnostics.domain.summary import DiagnosticsSummary
from lookout_diagnostics.models import Model

# A change is large (and said in the subject) when the anomaly rate at least doubles or halves by at least half a
# percentage point, the event count at least doubles or halves by at least 3 events, or the severity changes.
RATE_FACTOR, RATE_POINTS = 2.0, 0.005
EVENT_FACTOR, EVENT_COUNT = 2.0, 3


class SummaryChange(Model):
    """The alert's `change` (JSON) and its "Since ..." lines (text)."""

    previous: str  # "v2", or "execution <id>"
    previous_summary_object: str
    anomaly_rate: tuple[float, float]  # before, now
    event_count: tuple[int, int]
    longest_event_points: tuple[int, int]
    severity: tuple[str, str]
    sensors_entered: list[str]  # top sensors now that were not before
    sensors_left: list[str]  # top sensors before that are not now
    large: bool
    auto_promotion_result: str | None = None
    auto_promotion_result_reason: str | None = None
    prior_metrics: MetricsFigures | None = None

    def subject_line(self) -> str:
        """The one line the subject gains when the change is large."""
        before, now = self.anomaly_rate
        return f"{self.previous} {before:.1%}->{now:.1%} anomalous"

    def text_lines(self) -> list[str]:
        (rate_before, rate_now), (events_before, events_now) = self.anomaly_rate, self.event_count
        (longest_before, longest_now), (severity_before, severity_now) = self.longest_event_points, self.severity
        lines = [
            f"Since {self.previous}{' (a large change)' if self.large else ''}:",
            f"  anomaly rate {rate_before:.2%} -> {rate_now:.2%}; events {events_before} -> {events_now}; "
            f"longest event {longest_before} -> {longest_now} points; severity {severity_before} -> {severity_now}",
        ]
        if self.sensors_entered or self.sensors_left:
            lines.append(
                f"  top sensors entered: {', '.join(self.sensors_entered) or 'none'}; "
                f"left: {', '.join(self.sensors_left) or 'none'}"
            )
        if self.auto_promotion_result:
            reason = f" ({self.auto_promotion_result_reason})" if self.auto_promotion_result_reason else ""
            lines.append(f"  promotion: {self.auto_promotion_result}{reason}")
        if self.prior_metrics is not None:
            prior = self.prior_metrics
            lines.append(
                f"  the prior version's metrics: labelled events {prior.labeled_events}, identified "
                f"{prior.labeled_events_identified}; predicted ranges {prior.predicted_ranges}"
            )
        lines.append(f"  its summary: {self.previous_summary_object}")
        return lines


def compare(
    now: DiagnosticsSummary,
    before: DiagnosticsSummary,
    previous: str,
    previous_summary_object: str,
    identity: ModelIdentity | None = None,
) -> SummaryChange:
    top_now = [sensor.name for sensor in now.top_sensors]
    top_before = [sensor.name for sensor in before.top_sensors]
    return SummaryChange(
        previous=previous,
        previous_summary_object=previous_summary_object,
        anomaly_rate=(before.anomaly_rate, now.anomaly_rate),
        event_count=(before.event_count, now.event_count),
        longest_event_points=(before.longest_event_points, now.longest_event_points),
        severity=(before.severity.value, now.severity.value),
        sensors_entered=[name for name in top_now if name not in top_before],
        sensors_left=[name for name in top_before if name not in top_now],
        large=_large(before, now),
        auto_promotion_result=identity.auto_promotion_result if identity else None,
        auto_promotion_result_reason=identity.auto_promotion_result_reason if identity else None,
        prior_metrics=identity.prior_metrics if identity else None,
    )


def _large(before: DiagnosticsSummary, now: DiagnosticsSummary) -> bool:
    if before.severity != now.severity:
        return True
    low, high = sorted((before.anomaly_rate, now.anomaly_rate))
    if high - low >= RATE_POINTS and (low == 0 or high / low >= RATE_FACTOR):
        return True
    fewer, more = sorted((before.event_count, now.event_count))
    return more - fewer >= EVENT_COUNT and (fewer == 0 or more / fewer >= EVENT_FACTOR)
