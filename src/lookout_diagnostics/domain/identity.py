"""Which Lookout for Equipment model and version a diagnostics file belongs to.

L4E itself is the authority: ListModels reports each model's diagnostics output
configuration (bucket and prefix), and DescribeModelVersion reports the exact object a
version wrote. The key layout under the prefix is not documented, so it is never guessed.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Protocol

from pydantic import ConfigDict, Field

from lookout_diagnostics.domain.locations import S3Location
from lookout_diagnostics.domain.services import Service
from lookout_diagnostics.models import Model

# Bounds on the work one identification may do (each is a DescribeModelVersion call).
MAX_CANDIDATE_MODELS = 5
MAX_VERSIONS_PER_MODEL = 10


class DiagnosticsOutput(Model):
    model_config = ConfigDict(frozen=True)

    bucket: str
    prefix: str


class ModelSummary(Model):
    """One model as ListModels reports it."""

    name: str
    arn: str
    status: str
    diagnostics_output: DiagnosticsOutput | None = None
    active_version: int | None = None
    retraining_status: str | None = None
    retraining_version: int | None = None
    created_at: datetime | None = None


class VersionSummary(Model):
    """One version as ListModelVersions reports it."""

    version: int
    status: str
    created_at: datetime | None = None


class ModelVersion(Model):
    """One model version as DescribeModelVersion reports it."""

    model_name: str
    model_arn: str | None = None
    version: int
    arn: str | None = None
    status: str
    source_type: str | None = None
    model_quality: str | None = None
    model_metrics: str | None = None
    diagnostics_object: S3Location | None = None
    failed_reason: str | None = None
    auto_promotion_result: str | None = None
    auto_promotion_result_reason: str | None = None
    prior_model_metrics: str | None = None  # a retraining's: the metrics of the version it was compared with
    created_at: datetime | None = None


class _ResultsObject(Model):
    Bucket: str
    Key: str


class DescribedModelVersion(Model):
    """DescribeModelVersion's answer, as far as it is read: from the SDK, or from Step Functions' SDK task
    (which passes timestamps as ISO 8601 text). The one place that answer is parsed."""

    model_config = ConfigDict(extra="ignore")

    ModelName: str
    ModelArn: str
    ModelVersion: int
    ModelVersionArn: str | None = None
    Status: str
    SourceType: str | None = None
    ModelQuality: str | None = None
    ModelMetrics: str | None = None
    ModelDiagnosticsResultsObject: _ResultsObject | None = None
    FailedReason: str | None = None
    AutoPromotionResult: str | None = None
    AutoPromotionResultReason: str | None = None
    PriorModelMetrics: str | None = None
    CreatedAt: datetime | None = None


def described_version(described: DescribedModelVersion) -> ModelVersion:
    """The version DescribeModelVersion described, as the rest of the code reads it."""
    results = described.ModelDiagnosticsResultsObject
    return ModelVersion(
        model_name=described.ModelName,
        model_arn=described.ModelArn,
        version=described.ModelVersion,
        arn=described.ModelVersionArn,
        status=described.Status,
        source_type=described.SourceType,
        model_quality=described.ModelQuality,
        model_metrics=described.ModelMetrics,
        diagnostics_object=S3Location(bucket=results.Bucket, key=results.Key) if results else None,
        failed_reason=described.FailedReason,
        auto_promotion_result=described.AutoPromotionResult,
        auto_promotion_result_reason=described.AutoPromotionResultReason,
        prior_model_metrics=described.PriorModelMetrics,
        created_at=described.CreatedAt,
    )


class LookoutReader(Protocol):
    """What identification needs from L4E (implemented by lookout_diagnostics.aws.lookout)."""

    def list_models(self) -> list[ModelSummary]: ...

    def list_model_versions(self, model_name: str) -> list[int]: ...

    def describe_model_version(self, model_name: str, version: int) -> ModelVersion: ...


class MetricsFigures(Model):
    """The key figures of ModelMetrics (a JSON string; every key may be missing)."""

    labeled_events: int | None = None
    labeled_events_identified: int | None = None
    total_warning_time_seconds: float | None = None
    predicted_ranges: int | None = None
    unknown_events_identified: int | None = None
    precision: float | None = None
    recall: float | None = None
    auc: float | None = None


class ModelIdentity(Model):
    """The model (and version) that wrote a diagnostics file: an L4E model version, or a SiteWise
    computation model's training execution on one asset."""

    service: Service = Service.LOOKOUT_FOR_EQUIPMENT
    model_name: str = Field(description="L4E's model name, or SiteWise's computation model name")
    model_arn: str
    model_version: int | None = Field(description="None when the version could not be confirmed")
    model_quality: str | None = None
    version_status: str | None = None
    source_type: str | None = None
    metrics: MetricsFigures | None = None
    confirmed: bool = Field(description="True when the service names this very object (or, in SiteWise, its execution)")
    # SiteWise only (absent from the JSON of an L4E identity): the asset trained on, and the execution.
    asset_id: str | None = Field(default=None, exclude_if=lambda value: value is None)
    asset_name: str | None = Field(default=None, exclude_if=lambda value: value is None)
    execution_id: str | None = Field(default=None, exclude_if=lambda value: value is None)
    # L4E's decision on a retraining, and the metrics of the version it was weighed against (absent otherwise).
    auto_promotion_result: str | None = Field(default=None, exclude_if=lambda value: value is None)
    auto_promotion_result_reason: str | None = Field(default=None, exclude_if=lambda value: value is None)
    prior_metrics: MetricsFigures | None = Field(default=None, exclude_if=lambda value: value is None)


class Identification(Model):
    identity: ModelIdentity | None
    note: str


def identify(location: S3Location, lookout: LookoutReader) -> Identification:
    """Find the model version whose ModelDiagnosticsResultsObject is this object."""
    candidates = sorted(
        (
            model
            for model in lookout.list_models()
            if model.diagnostics_output is not None
            and model.diagnostics_output.bucket == location.bucket
            and location.key.startswith(model.diagnostics_output.prefix)
        ),
        key=lambda model: len(model.diagnostics_output.prefix if model.diagnostics_output else ""),
        reverse=True,
    )
    for model in candidates[:MAX_CANDIDATE_MODELS]:
        versions = sorted(lookout.list_model_versions(model.name), reverse=True)
        for number in versions[:MAX_VERSIONS_PER_MODEL]:
            version = lookout.describe_model_version(model.name, number)
            if version.diagnostics_object == location:
                return Identification(
                    identity=_identity(model, version, confirmed=True),
                    note=f"DescribeModelVersion of {model.name} version {number} names this file",
                )
    if candidates:
        model = candidates[0]
        return Identification(
            identity=ModelIdentity(model_name=model.name, model_arn=model.arn, model_version=None, confirmed=False),
            note=(
                f"the file lies under the diagnostics prefix of model {model.name}, but none of its "
                "versions names it yet"
            ),
        )
    return Identification(identity=None, note="no Lookout for Equipment model writes diagnostics to this location")


def _identity(model: ModelSummary, version: ModelVersion, *, confirmed: bool) -> ModelIdentity:
    return ModelIdentity(
        model_name=model.name,
        model_arn=model.arn,
        model_version=version.version,
        model_quality=version.model_quality,
        version_status=version.status,
        source_type=version.source_type,
        metrics=parse_model_metrics(version.model_metrics),
        confirmed=confirmed,
        auto_promotion_result=version.auto_promotion_result,
        auto_promotion_result_reason=version.auto_promotion_result_reason,
        prior_metrics=parse_model_metrics(version.prior_model_metrics),
    )


def parse_model_metrics(text: str | None) -> MetricsFigures | None:
    """Read the figures a person acts on from ModelMetrics; tolerate unknown and missing keys."""
    if not text:
        return None
    try:
        metrics = json.loads(text)
    except ValueError:
        return None
    if not isinstance(metrics, dict):
        return None
    labeled = _mapping(metrics.get("labeled_event_metrics"))
    unknown = _mapping(metrics.get("unknown_event_metrics"))
    version_metrics = _mapping(metrics.get("model_version_metrics"))
    ranges = metrics.get("predicted_ranges")
    return MetricsFigures(
        labeled_events=_int(labeled.get("num_labeled")),
        labeled_events_identified=_int(labeled.get("num_identified")),
        total_warning_time_seconds=_float(labeled.get("total_warning_time_in_seconds")),
        predicted_ranges=len(ranges) if isinstance(ranges, list) else None,
        unknown_events_identified=_int(unknown.get("num_identified")),
        precision=_float(version_metrics.get("precision")),
        recall=_float(version_metrics.get("recall")),
        auc=_float(version_metrics.get("auc")),
    )


def _mapping(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
