"""A summary as a workflow's output shows it: its headline, and the summary the alerting path stored beside a file.

The workflows (one model, one SiteWise training, a fleet) show these; reading one needs neither the summary
engine's reader nor the alert's chart.
"""

from __future__ import annotations

from lookout_diagnostics.aws import s3
from lookout_diagnostics.domain.locations import S3Location
from lookout_diagnostics.domain.summary import DiagnosticsSummary
from lookout_diagnostics.models import Model


class Headline(Model):
    """A summary's figures a workflow's output shows."""

    severity: str
    rows: int
    anomalous: int
    machine_off: int
    anomaly_rate: float
    event_count: int
    longest_event_points: int
    top_sensors: list[str]


def stored_summary(location: S3Location) -> DiagnosticsSummary | None:
    """The summary stored at `location` (beside its file, by whichever path alerted it), or None: none is there,
    or the object is empty."""
    text = s3.read_json(location)
    return DiagnosticsSummary.model_validate_json(text) if text else None


def headline(summary: DiagnosticsSummary) -> Headline:
    return Headline(
        severity=summary.severity.value,
        rows=summary.rows,
        anomalous=summary.anomalous,
        machine_off=summary.machine_off,
        anomaly_rate=summary.anomaly_rate,
        event_count=summary.event_count,
        longest_event_points=summary.longest_event_points,
        top_sensors=[sensor.name for sensor in summary.top_sensors],
    )
