"""A training workflow's success: the trained version alerted once, with its diagnostics' summary where it has one.

The workflow's start is usecases/start_training.py and its failure usecases/workflow_failure.py: each handler
imports only its own step's code.
"""

from __future__ import annotations

from typing import Literal

from lookout_diagnostics.aws import s3
from lookout_diagnostics.domain.alert_keys import Outcome
from lookout_diagnostics.domain.alerts import outcome_alert
from lookout_diagnostics.domain.identity import (
    DescribedModelVersion,
    MetricsFigures,
    described_version,
    parse_model_metrics,
)
from lookout_diagnostics.domain.locations import StoredObject
from lookout_diagnostics.domain.outcomes import success_report, version_outcomes, written_for
from lookout_diagnostics.errors import DiagnosticsNotReadyError, DiagnosticsObjectMissingError
from lookout_diagnostics.models import Model
from lookout_diagnostics.settings import Settings
from lookout_diagnostics.usecases.alert_diagnostics import alert_diagnostics
from lookout_diagnostics.usecases.headlines import Headline, headline, stored_summary
from lookout_diagnostics.usecases.once import send_once


class TrainingResult(Model):
    """The workflow's output, as the console shows it."""

    ModelName: str
    ModelArn: str
    ModelVersion: int
    Status: str
    ModelQuality: str | None
    Metrics: MetricsFigures | None
    DiagnosticsObject: str | None
    SummaryObject: str | None
    Summary: Headline | None
    # PENDING only from the state machine (AlertPending): the S3 trigger or the poller owns the alert.
    Alert: Literal["ALERTED", "DUPLICATE", "PENDING"]


def finish_training(described: DescribedModelVersion, settings: Settings) -> TrainingResult:
    """Alert the new version's success once, through the path every other one shares.

    A version whose diagnostics this stack reads is alerted by its file's summary (the S3 trigger may
    have sent it already: DUPLICATE). Any other success is an outcome alert saying why there is no
    summary. A file not in S3 yet (DiagnosticsNotReadyError) and a claim another path holds
    (AlertInProgressError) end the workflow with the alert PENDING: the S3 trigger or the status
    poller's safety net owns it from there.
    """
    version = described_version(described)
    [succeeded] = [
        event for event in version_outcomes(version, described.ModelArn) if event.outcome is Outcome.SUCCEEDED
    ]
    report = success_report(version, settings.diagnostics_bucket)
    diagnostics_uri = None
    if report.diagnostics is None:
        sent = send_once(settings, succeeded.alert_key, outcome_alert(succeeded, report.note))
        alerted = AlertedFile(SummaryObject=None, Summary=None, Alert=sent)
    else:
        try:
            stored = s3.head(report.diagnostics)
        except DiagnosticsObjectMissingError as error:
            raise DiagnosticsNotReadyError(f"{report.diagnostics.uri} is not in S3 yet") from error
        if not written_for(stored, version.created_at):
            raise DiagnosticsNotReadyError(f"{stored.location.uri} was stored before version {version.version}")
        diagnostics_uri = stored.location.uri
        alerted = alert_trained_file(stored, settings)
    return TrainingResult(
        ModelName=version.model_name,
        ModelArn=described.ModelArn,
        ModelVersion=version.version,
        Status=version.status,
        ModelQuality=version.model_quality,
        Metrics=parse_model_metrics(version.model_metrics),
        DiagnosticsObject=diagnostics_uri,
        SummaryObject=alerted.SummaryObject,
        Summary=alerted.Summary,
        Alert=alerted.Alert,
    )


class AlertedFile(Model):
    """How a trained model's diagnostics file was alerted, as a workflow's output shows it."""

    SummaryObject: str | None
    Summary: Headline | None
    Alert: Literal["ALERTED", "DUPLICATE"]


def alert_trained_file(stored: StoredObject, settings: Settings) -> AlertedFile:
    """The file alerted once, through the gate the S3 trigger shares (any service's workflow), with its summary:
    this path's, or the one another path wrote beside the file."""
    result = alert_diagnostics(stored, settings)
    summary_location = stored.location.summary_location()
    summary = result.summary or stored_summary(summary_location)
    return AlertedFile(
        SummaryObject=summary_location.uri if summary is not None else None,
        Summary=headline(summary) if summary else None,
        Alert="DUPLICATE" if result.status == "DUPLICATE" else "ALERTED",
    )
