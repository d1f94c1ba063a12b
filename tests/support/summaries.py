"""A summary and the identities an alert names, made by hand: the alert and chat-card tests share them."""

from __future__ import annotations

from lookout_diagnostics.domain.identity import Identification, MetricsFigures, ModelIdentity
from lookout_diagnostics.domain.locations import S3Location
from lookout_diagnostics.domain.summary import AnomalousEvent, DiagnosticsSummary, SensorContribution, Severity

FILE = S3Location(bucket="plant-a", key="diag/pump-7/model_diagnostics_results.json.gz")
IDENTIFIED = Identification(
    identity=ModelIdentity(
        model_name="pump-7",
        model_arn="arn:aws:lookoutequipment:eu-west-1:123456789012:model/pump-7/abc",
        model_version=3,
        model_quality="QUALITY_THRESHOLD_MET",
        metrics=MetricsFigures(labeled_events=4, labeled_events_identified=3, predicted_ranges=6),
        confirmed=True,
    ),
    note="DescribeModelVersion of pump-7 version 3 names this file",
)
UNKNOWN = Identification(identity=None, note="no Lookout for Equipment model writes diagnostics to this location")


def summary(events: int = 2, sensor_name: str = "motor\\bearing temp", sensors: int = 5) -> DiagnosticsSummary:
    top = [SensorContribution(name=f"{sensor_name} {i}", mean_contribution=0.5 / (i + 1)) for i in range(sensors)]
    return DiagnosticsSummary(
        source=FILE.uri,
        rows=20_160,
        normal=18_000,
        anomalous=160,
        machine_off=2_000,
        anomaly_rate=160 / 18_160,
        first_timestamp="2024-01-01T00:00:00.000000",
        last_timestamp="2024-01-14T23:59:00.000000",
        max_anomaly_score=0.97,
        in_time_order=True,
        out_of_order_rows=0,
        duplicate_timestamps=0,
        event_count=events,
        longest_event_points=120,
        events=[
            AnomalousEvent(
                start=f"2024-01-{i % 28 + 1:02d}T10:00:00.000000",
                end=f"2024-01-{i % 28 + 1:02d}T12:00:00.000000",
                points=10 + i,
                max_anomaly_score=0.9,
                top_sensors=top,
            )
            for i in range(events)
        ],
        events_truncated=False,
        top_sensors=top,
        severity=Severity.WARNING,
        severity_reason="longest event 120 points >= warning threshold 10",
    )
