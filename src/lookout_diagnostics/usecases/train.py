"""The training workflow's two endings: a trained model (summary + alert) or a failure (alert)."""

from __future__ import annotations

from typing import Literal

from lookout_diagnostics.aws import lookout, s3
from lookout_diagnostics.domain.alert_keys import Outcome, workflow_key
from lookout_diagnostics.domain.alerts import outcome_alert, workflow_failure_alert
from lookout_diagnostics.domain.identity import (
    DescribedModelVersion,
    MetricsFigures,
    described_version,
    parse_model_metrics,
)
from lookout_diagnostics.domain.locations import S3Location, StoredObject
from lookout_diagnostics.domain.outcomes import success_report, training_failed, version_outcomes, written_for
from lookout_diagnostics.domain.summary import DiagnosticsSummary
from lookout_diagnostics.domain.training import (
    LOOKOUT_CONCURRENT_TRAININGS,
    ExecutionState,
    Failure,
    WorkflowFailure,
    describe_failure,
    plan_training,
)
from lookout_diagnostics.errors import (
    DiagnosticsNotReadyError,
    DiagnosticsObjectMissingError,
    LookoutBusyError,
    LookoutQuotaExceededError,
)
from lookout_diagnostics.models import Model
from lookout_diagnostics.settings import Settings
from lookout_diagnostics.usecases.alert_diagnostics import alert_diagnostics
from lookout_diagnostics.usecases.once import send_once


class Headline(Model):
    severity: str
    rows: int
    anomalous: int
    machine_off: int
    anomaly_rate: float
    event_count: int
    longest_event_points: int
    top_sensors: list[str]


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


class StartedTraining(Model):
    """The StartTraining step's result, which the state machine's polling loop reads."""

    ModelName: str
    ModelArn: str
    Status: str
    PollIntervalSeconds: int
    MaxPolls: int
    MaxWaitSeconds: int


def start_training(raw_input: object, execution_name: str, settings: Settings) -> StartedTraining:
    """Validate the input and call CreateModel (idempotent: the ClientToken is the execution's name).

    CreateModel runs here rather than as a direct SDK step because its many optional fields must be
    passed through only when given, which a JSONPath `Parameters` block cannot express.
    """
    plan = plan_training(raw_input, execution_name, settings)
    try:
        model_arn, status = lookout.create_model(plan.CreateModel)
    except LookoutQuotaExceededError as error:
        # L4E says the same for both quotas. With models training, the refusal may be the 5 trainings at once
        # (another fleet's, anyone's, or ones that ended a moment ago): wait for a slot. With none training, it
        # is the model quota: waiting cannot help.
        training = len(lookout.LookoutClient().list_models(status="IN_PROGRESS"))
        if training:
            raise LookoutBusyError(
                f"{error} ({training} of at most {LOOKOUT_CONCURRENT_TRAININGS} models training in this account)"
            ) from error
        raise
    return StartedTraining(
        ModelName=plan.ModelName,
        ModelArn=model_arn,
        Status=status,
        PollIntervalSeconds=plan.PollIntervalSeconds,
        MaxPolls=plan.MaxPolls,
        MaxWaitSeconds=plan.MaxWaitSeconds,
    )


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


def report_failure(
    state: ExecutionState, error: str, cause: str, execution_arn: str, settings: Settings
) -> WorkflowFailure:
    """Alert once about how the execution failed; return the Fail state's error and cause.

    A failed training is the model's outcome, which the status poller may see too: it has the
    outcome's key. Any other failure belongs to this execution alone.
    """
    failure = describe_failure(error, cause, state.failed.FailedReason if state.failed else None)
    model_name = state.ModelName
    model_arn = state.training.ModelArn if state.training else None
    key = workflow_key(execution_arn)
    if failure.Error is Failure.TRAINING_FAILED and model_name and model_arn:
        key = training_failed(model_name, model_arn, failure.Cause).alert_key
    send_once(
        settings,
        key,
        workflow_failure_alert(model_name, failure.Error, failure.Cause, failure.Advice, execution_arn),
    )
    return failure


def stored_summary(location: S3Location) -> DiagnosticsSummary | None:
    """When another path alerted first, its summary lies beside the file."""
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
