"""What changed in Lookout for Equipment since the last poll, and which outcomes that makes.

Pure: it compares what ListModels / ListModelVersions / DescribeModelVersion report now with
what was seen before (stored by the poller), and names each terminal outcome once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import Field

from lookout_diagnostics.domain.alert_keys import Outcome, outcome_key, stable_id
from lookout_diagnostics.domain.identity import (
    Identification,
    MetricsFigures,
    ModelIdentity,
    ModelSummary,
    ModelVersion,
    VersionSummary,
    parse_model_metrics,
)
from lookout_diagnostics.domain.locations import S3Location, StoredObject
from lookout_diagnostics.domain.services import DIAGNOSTICS_FILE_NAME, Service
from lookout_diagnostics.models import Model

TERMINAL_VERSION_STATUSES = frozenset({"SUCCESS", "FAILED", "CANCELED"})
# The newest versions remembered per model; older ones are terminal and never change again.
VERSIONS_KEPT = 100


__all__ = ["Outcome"]  # re-exported: outcomes are named in lookout_diagnostics.domain.alert_keys, with their keys


class OutcomeEvent(Model):
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
    service: Service = Service.LOOKOUT_FOR_EQUIPMENT
    # AWS IoT SiteWise only (absent from an L4E event): the asset trained on and the training's execution.
    asset_id: str | None = Field(default=None, exclude_if=lambda value: value is None)
    asset_name: str | None = Field(default=None, exclude_if=lambda value: value is None)
    execution_id: str | None = Field(default=None, exclude_if=lambda value: value is None)

    @property
    def alert_key(self) -> str:
        return outcome_key(self.model_arn, self.model_version, self.outcome, self.execution_id)


class PendingSuccess(Model):
    """A success whose diagnostics file the S3 trigger should alert; the poller checks it did."""

    event: OutcomeEvent
    diagnostics: S3Location
    seen_at: float  # epoch seconds: when the poller first saw the success
    version_created_at: datetime | None = None  # a file stored before this is not this version's

    def identification(self) -> Identification:
        """The version that wrote the file, as DescribeModelVersion told the poller."""
        event = self.event
        return Identification(
            identity=ModelIdentity(
                model_name=event.model_name,
                model_arn=event.model_arn,
                model_version=event.model_version,
                model_quality=event.model_quality,
                version_status=event.status,
                source_type=event.source_type,
                metrics=event.metrics,
                confirmed=True,
            ),
            note=f"DescribeModelVersion of {event.model_name} version {event.model_version} names this file",
        )


class SeenModel(Model):
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
    # Versions up to this one are no longer remembered (only the newest VERSIONS_KEPT are): all were terminal.
    forgotten_through: int = 0
    # Successes whose diagnostics alert belongs to the S3 trigger, by version, until it is seen sent.
    pending: dict[int, PendingSuccess] = Field(default_factory=dict)
    revision: int = 0


def announce_after(first_poll_at: datetime, is_first_poll: bool, alert_on_first_sighting: bool) -> datetime | None:
    """What a model first seen is announced from: nothing on the (service's) very first poll (None: no alert
    storm on deployment), what came after that first poll later, everything with AlertOnFirstSighting."""
    if alert_on_first_sighting:
        return datetime.min.replace(tzinfo=UTC)
    return None if is_first_poll else first_poll_at


def first_sighting(model: ModelSummary, versions: list[VersionSummary], announce_after: datetime | None) -> SeenModel:
    """A model the stack has not seen before, with what of it is already known (not to be announced).

    `announce_after` None: the stack's very first poll, which announces nothing (no alert storm on
    deployment): the model is remembered as it is. Otherwise the versions created before
    `announce_after` are remembered and the newer ones are left to be announced, as is a model created
    after it whose first training failed. datetime.min announces everything (AlertOnFirstSighting).
    """

    def known(created_at: datetime | None) -> bool:
        return announce_after is None or (created_at is not None and created_at <= announce_after)

    kept, forgotten_through = _newest({v.version: v.status for v in versions if known(v.created_at)}, 0)
    return SeenModel(
        model_arn=model.arn,
        model_name=model.name,
        status=model.status if known(model.created_at) else "NEW",
        active_version=model.active_version,
        retraining_status=model.retraining_status,
        retraining_version=model.retraining_version,
        versions=kept,
        forgotten_through=forgotten_through,
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
        if status in TERMINAL_VERSION_STATUSES
        and seen.versions.get(number) != status
        and number > seen.forgotten_through
    )


def version_outcomes(version: ModelVersion, model_arn: str) -> list[OutcomeEvent]:
    """The outcomes one terminal version makes: its status, and a retraining's non-promotion."""
    outcomes: list[Outcome] = []
    if version.status == "SUCCESS":
        outcomes.append(Outcome.SUCCEEDED)
        promoted = version.auto_promotion_result in (None, "MODEL_PROMOTED")
        if version.source_type == "RETRAINING" and not promoted:
            outcomes.append(Outcome.NOT_PROMOTED)
    elif version.status == "FAILED" and is_first_training(version):
        # The same failure the workflow reports from DescribeModel, whether or not L4E lists version 1.
        outcomes.append(Outcome.TRAINING_FAILED)
    elif version.status == "FAILED":
        outcomes.append(Outcome.FAILED)
    elif version.status == "CANCELED":
        outcomes.append(Outcome.CANCELED)
    return [
        OutcomeEvent(
            event_id=stable_id(outcome_key(model_arn, version.version, outcome)),
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
        event_id=stable_id(outcome_key(model_arn, None, Outcome.TRAINING_FAILED)),
        outcome=Outcome.TRAINING_FAILED,
        model_name=model_name,
        model_arn=model_arn,
        model_version=None,
        status="FAILED",
        failed_reason=failed_reason,
    )


def remember(seen: SeenModel, model: ModelSummary, versions: dict[int, str]) -> SeenModel:
    """The state to store once every outcome of this poll has been announced."""
    kept, forgotten_through = _newest(seen.versions | versions, seen.forgotten_through)
    return seen.model_copy(
        update={
            "status": model.status,
            "active_version": model.active_version,
            "retraining_status": model.retraining_status,
            "retraining_version": model.retraining_version,
            "versions": kept,
            "forgotten_through": forgotten_through,
            "diagnostics_configured": model.diagnostics_output is not None,
        }
    )


def _newest(versions: dict[int, str], forgotten_through: int) -> tuple[dict[int, str], int]:
    """The newest VERSIONS_KEPT versions, and the highest version no longer remembered."""
    ordered = sorted(versions.items())
    dropped = [number for number, _ in ordered[:-VERSIONS_KEPT]]
    return dict(ordered[-VERSIONS_KEPT:]), max([forgotten_through, *dropped])


# How far before a version's creation its diagnostics file may seem stored (clocks of two services).
CLOCK_TOLERANCE = timedelta(minutes=1)


def not_before(moment: datetime | None, created_at: datetime | None) -> bool:
    """Whether something that happened at `moment` (a file stored, an alert sent) can be about a version
    created at `created_at`.

    A file stored before the version existed is another's: an earlier model of the same name (deleted
    and created again) trained under the same prefix. It must not stand for this version's.
    """
    if created_at is None or moment is None:
        return True
    return moment >= created_at - CLOCK_TOLERANCE


def written_for(stored: StoredObject, created_at: datetime | None) -> bool:
    """Whether the stored file can be the one a version created at `created_at` wrote."""
    return not_before(stored.last_modified, created_at)


def is_first_training(version: ModelVersion) -> bool:
    """Version 1 trained by CreateModel (not imported): its failure is the model's training failure."""
    return version.version == 1 and version.source_type in (None, "TRAINING")


NO_DIAGNOSTICS_NOTE = (
    "No diagnostics file: the model has no ModelDiagnosticsOutputConfiguration. Give one to UpdateModel "
    "(see `lookout-diagnostics enable-diagnostics`) so that the next version writes per-point diagnostics."
)


class SuccessReport(Model):
    """How a version's success is told: by its diagnostics file's alert, or by an outcome alert with a note."""

    diagnostics: S3Location | None = None  # the file to summarise: its alert is the success's alert
    note: str | None = None  # otherwise, why there is no summary


def success_report(version: ModelVersion, watched_bucket: str | None) -> SuccessReport:
    """Whether this stack can summarise the version's diagnostics, and if not, what to tell a person."""
    location = version.diagnostics_object
    if location is None:
        return SuccessReport(note=NO_DIAGNOSTICS_NOTE)
    if location.bucket != watched_bucket:
        return SuccessReport(
            note=f"Diagnostics: {location.uri} is outside the bucket this stack watches; summarise it with "
            f"`lookout-diagnostics summarise {location.uri}`."
        )
    if location.service is not Service.LOOKOUT_FOR_EQUIPMENT:
        return SuccessReport(
            note=f"Diagnostics: {location.uri} is not named {DIAGNOSTICS_FILE_NAME}, the only name this stack "
            f"may read; summarise it with `lookout-diagnostics summarise {location.uri}`."
        )
    return SuccessReport(diagnostics=location)
