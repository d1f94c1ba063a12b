"""What changed in Lookout for Equipment since the last poll, and which outcomes that makes.

Pure: it compares what ListModels / ListModelVersions / DescribeModelVersion report now with
what was seen before (stored by the poller), and names each terminal outcome once.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

from pydantic import BaseModel, Field

from common.model_identity import MetricsFigures, ModelSummary, ModelVersion, parse_model_metrics

TERMINAL_VERSION_STATUSES = frozenset({"SUCCESS", "FAILED", "CANCELED"})
# The newest versions remembered per model; older ones are terminal and never change again.
VERSIONS_KEPT = 100


class Outcome(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    NOT_PROMOTED = "NOT_PROMOTED"  # a scheduled retraining succeeded but did not replace the active version
    TRAINING_FAILED = "TRAINING_FAILED"  # the model's first training failed (L4E leaves no version)


class SeenModel(BaseModel):
    """What the poller last saw of one model (one item in the state table)."""

    model_arn: str
    model_name: str
    status: str
    active_version: int | None = None
    retraining_status: str | None = None
    retraining_version: int | None = None
    versions: dict[int, str] = Field(default_factory=dict, description="version -> last status seen")
    diagnostics_configured: bool = False
    coverage_reported: bool = False
    revision: int = 0


class OutcomeEvent(BaseModel):
    """One terminal outcome, as alerts and EventBridge events describe it (detail schema version 1)."""

    schema_version: str = "1"
    event_id: str
    outcome: Outcome
    model_name: str
    model_arn: str
    model_version: int | None
    model_version_arn: str | None = None
    status: str
    source_type: str | None = None
    model_quality: str | None = None
    auto_promotion_result: str | None = None
    auto_promotion_result_reason: str | None = None
    failed_reason: str | None = None
    metrics: MetricsFigures | None = None
    diagnostics_object: str | None = None


def outcome_key(model_arn: str, version: int | None, outcome: Outcome) -> str:
    """The once-only key of an outcome, shared by every path that can see it."""
    return f"outcome#{model_arn}#{version if version is not None else '-'}#{outcome.value}"


def first_sighting(model: ModelSummary, versions: dict[int, str]) -> SeenModel:
    """A model the stack has not seen before: remember it as it is, announce nothing."""
    return SeenModel(
        model_arn=model.arn,
        model_name=model.name,
        status=model.status,
        active_version=model.active_version,
        retraining_status=model.retraining_status,
        retraining_version=model.retraining_version,
        versions=_newest(versions),
        diagnostics_configured=model.diagnostics_output is not None,
    )


def needs_version_scan(seen: SeenModel, model: ModelSummary) -> bool:
    """Whether ListModelVersions is worth calling: a watched field moved, or a version was unfinished."""
    moved = (seen.status, seen.active_version, seen.retraining_status, seen.retraining_version) != (
        model.status,
        model.active_version,
        model.retraining_status,
        model.retraining_version,
    )
    unfinished = any(status not in TERMINAL_VERSION_STATUSES for status in seen.versions.values())
    return moved or unfinished or model.status == "IN_PROGRESS"


def versions_to_describe(seen: SeenModel, versions: dict[int, str]) -> list[int]:
    """Versions that reached a terminal status since the last poll, oldest first."""
    return sorted(
        number
        for number, status in versions.items()
        if status in TERMINAL_VERSION_STATUSES and seen.versions.get(number) != status
    )


def version_outcomes(version: ModelVersion, model_arn: str) -> list[OutcomeEvent]:
    """The outcomes one terminal version makes: its status, and a retraining's non-promotion."""
    outcomes: list[Outcome] = []
    if version.status == "SUCCESS":
        outcomes.append(Outcome.SUCCEEDED)
        promoted = version.auto_promotion_result in (None, "MODEL_PROMOTED")
        if version.source_type == "RETRAINING" and not promoted:
            outcomes.append(Outcome.NOT_PROMOTED)
    elif version.status == "FAILED":
        outcomes.append(Outcome.FAILED)
    elif version.status == "CANCELED":
        outcomes.append(Outcome.CANCELED)
    return [
        OutcomeEvent(
            event_id=_event_id(model_arn, version.version, outcome),
            outcome=outcome,
            model_name=version.model_name,
            model_arn=model_arn,
            model_version=version.version,
            model_version_arn=version.arn,
            status=version.status,
            source_type=version.source_type,
            model_quality=version.model_quality,
            auto_promotion_result=version.auto_promotion_result,
            auto_promotion_result_reason=version.auto_promotion_result_reason,
            failed_reason=version.failed_reason,
            metrics=parse_model_metrics(version.model_metrics),
            diagnostics_object=version.diagnostics_object.uri if version.diagnostics_object else None,
        )
        for outcome in outcomes
    ]


def training_failed(model_name: str, model_arn: str, failed_reason: str | None) -> OutcomeEvent:
    """A model whose first training failed: L4E reports it on the model, with no version."""
    return OutcomeEvent(
        event_id=_event_id(model_arn, None, Outcome.TRAINING_FAILED),
        outcome=Outcome.TRAINING_FAILED,
        model_name=model_name,
        model_arn=model_arn,
        model_version=None,
        status="FAILED",
        failed_reason=failed_reason,
    )


def remember(seen: SeenModel, model: ModelSummary, versions: dict[int, str]) -> SeenModel:
    """The state to store once every outcome of this poll has been announced."""
    return seen.model_copy(
        update={
            "status": model.status,
            "active_version": model.active_version,
            "retraining_status": model.retraining_status,
            "retraining_version": model.retraining_version,
            "versions": _newest(seen.versions | versions),
            "diagnostics_configured": model.diagnostics_output is not None,
        }
    )


def _newest(versions: dict[int, str]) -> dict[int, str]:
    return dict(sorted(versions.items())[-VERSIONS_KEPT:])


def _event_id(model_arn: str, version: int | None, outcome: Outcome) -> str:
    """Stable across runs and paths, so that consumers can drop a repeated event."""
    return hashlib.sha256(outcome_key(model_arn, version, outcome).encode()).hexdigest()[:32]
