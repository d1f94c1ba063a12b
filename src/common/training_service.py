"""The training workflow's two endings: a trained model (summary + alert) or a failure (alert)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from common.alert_once import deliver_once
from common.alerts import training_succeeded_alert, workflow_failure_alert
from common.aws import lookout, s3
from common.diagnostics import DiagnosticsSummary
from common.diagnostics_service import process_diagnostics_object
from common.errors import DiagnosticsNotReadyError, DiagnosticsObjectMissingError
from common.locations import S3Location
from common.model_identity import MetricsFigures, ModelIdentity, parse_model_metrics
from common.settings import Settings
from common.training import WorkflowFailure, describe_failure, plan_training


class ResultsObject(BaseModel):
    Bucket: str
    Key: str


class DescribedVersion(BaseModel):
    """The part of DescribeModelVersion's answer the workflow uses (the rest is ignored)."""

    model_config = ConfigDict(extra="ignore")

    ModelName: str
    ModelArn: str
    ModelVersion: int
    Status: str
    SourceType: str | None = None
    ModelQuality: str | None = None
    ModelMetrics: str | None = None
    ModelDiagnosticsResultsObject: ResultsObject | None = None


class Headline(BaseModel):
    severity: str
    rows: int
    anomalous: int
    machine_off: int
    anomaly_rate: float
    event_count: int
    longest_event_points: int
    top_sensors: list[str]


class TrainingResult(BaseModel):
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
    Alert: Literal["ALERTED", "DUPLICATE"]


class StartedTraining(BaseModel):
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
    model_arn, status = lookout.create_model(plan.CreateModel)
    return StartedTraining(
        ModelName=plan.ModelName,
        ModelArn=model_arn,
        Status=status,
        PollIntervalSeconds=plan.PollIntervalSeconds,
        MaxPolls=plan.MaxPolls,
        MaxWaitSeconds=plan.MaxWaitSeconds,
    )


def finish_training(version: DescribedVersion, settings: Settings) -> TrainingResult:
    """Summarise the new version's diagnostics (alerting once, shared with the S3 trigger)."""
    identity = ModelIdentity(
        model_name=version.ModelName,
        model_arn=version.ModelArn,
        model_version=version.ModelVersion,
        model_quality=version.ModelQuality,
        version_status=version.Status,
        source_type=version.SourceType,
        metrics=parse_model_metrics(version.ModelMetrics),
        confirmed=True,
    )
    results = version.ModelDiagnosticsResultsObject
    diagnostics_uri = summary_uri = None
    summary: DiagnosticsSummary | None = None
    if results is None:
        delivery = deliver_once(
            settings,
            f"training#{version.ModelArn}#{version.ModelVersion}#SUCCESS",
            lambda: training_succeeded_alert(identity),
        )
        status = delivery.status
    else:
        location = S3Location(bucket=results.Bucket, key=results.Key)
        try:
            outcome = process_diagnostics_object(location, settings)
        except DiagnosticsObjectMissingError as error:
            raise DiagnosticsNotReadyError(f"{location.uri} is not in S3 yet") from error
        diagnostics_uri = location.uri
        summary_location = location.summary_location()
        summary = outcome.summary or _stored_summary(summary_location)
        summary_uri = summary_location.uri if summary is not None else None
        status = "DUPLICATE" if outcome.status == "DUPLICATE" else "ALERTED"
    return TrainingResult(
        ModelName=version.ModelName,
        ModelArn=version.ModelArn,
        ModelVersion=version.ModelVersion,
        Status=version.Status,
        ModelQuality=version.ModelQuality,
        Metrics=identity.metrics,
        DiagnosticsObject=diagnostics_uri,
        SummaryObject=summary_uri,
        Summary=_headline(summary) if summary else None,
        Alert=status,
    )


def report_failure(
    model_name: str | None, error: str, cause: str, execution_arn: str, settings: Settings
) -> WorkflowFailure:
    """Alert once per execution about how it failed; return the Fail state's error and cause."""
    failure = describe_failure(error, cause)
    deliver_once(
        settings,
        f"workflow#{execution_arn}",
        lambda: workflow_failure_alert(model_name, failure.Error, failure.Cause, failure.Advice, execution_arn),
    )
    return failure


def _stored_summary(location: S3Location) -> DiagnosticsSummary | None:
    """When another path alerted first, its summary lies beside the file."""
    text = s3.read_json(location)
    return DiagnosticsSummary.model_validate_json(text) if text else None


def _headline(summary: DiagnosticsSummary) -> Headline:
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
