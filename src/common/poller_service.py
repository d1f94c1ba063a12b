"""The status poller: notice every terminal outcome in the account, announce each once.

L4E sends no event when a model or version finishes, so each run lists the models, compares them
with what the last run stored, describes only the versions that changed, and for each terminal
outcome sends one alert and puts one EventBridge event, both through the once-only ledger. A
model's stored state advances only after all its announcements went out: if SNS or EventBridge
fails, the next run finds the same changes and delivers them. One model's error does not stop the
others; it is counted and reported.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from pydantic import BaseModel, Field

from common.alert_once import deliver_once, once
from common.alerts import NO_DIAGNOSTICS_NOTE, diagnostics_not_configured_alert, outcome_alert
from common.aws import events, model_state
from common.aws.lookout import LookoutClient
from common.coverage import coverage_change
from common.errors import LookoutAutomationError
from common.locations import S3Location
from common.model_identity import ModelSummary
from common.model_status import (
    Outcome,
    OutcomeEvent,
    SeenModel,
    first_sighting,
    needs_version_scan,
    outcome_key,
    remember,
    training_failed,
    version_outcomes,
    versions_to_describe,
)
from common.settings import Settings

logger = Logger(child=True)


class PollReport(BaseModel):
    """What one run did: returned by the handler, logged, and counted in metrics."""

    models_seen: int = 0
    first_sightings: int = 0
    outcomes: int = 0
    alerts_sent: int = 0
    events_put: int = 0
    uncovered_models: list[str] = Field(default_factory=list)
    diagnostics_enabled: list[str] = Field(default_factory=list)
    lost_races: int = 0
    errors: list[str] = Field(default_factory=list)


class PollerNotConfiguredError(LookoutAutomationError):
    """The poller needs STATE_TABLE_NAME."""


def poll(settings: Settings, lookout: LookoutClient | None = None) -> PollReport:
    if not settings.state_table_name:
        raise PollerNotConfiguredError("STATE_TABLE_NAME is not set")
    run = _Run(settings, settings.state_table_name, lookout or LookoutClient())
    for model in run.lookout.list_models(settings.model_name_prefix):
        run.report.models_seen += 1
        try:
            run.model(model)
        except Exception as error:  # one model's failure must not stop the others: counted and reported
            logger.exception("Model poll failed", extra={"model_name": model.name})
            run.report.errors.append(f"{model.name}: {type(error).__name__}: {error}")
    return run.report


class _Run:
    def __init__(self, settings: Settings, table: str, lookout: LookoutClient) -> None:
        self.settings = settings
        self.table = table
        self.lookout = lookout
        self.report = PollReport()

    def model(self, model: ModelSummary) -> None:
        seen = model_state.load(self.table, model.arn)
        if seen is None:
            versions = self.lookout.version_statuses(model.name)
            if not self.settings.alert_on_first_sighting:
                # Known from now on, announced never: no alert storm when the stack is deployed.
                self.report.first_sightings += 1
                self._store(self._coverage(first_sighting(model, versions), model))
                return
            seen = SeenModel(model_arn=model.arn, model_name=model.name, status="NEW")
        seen = self._coverage(seen, model)
        if not needs_version_scan(seen, model):
            self._store(seen)
            return
        versions = self.lookout.version_statuses(model.name)
        for number in versions_to_describe(seen, versions):
            version = self.lookout.describe_model_version(model.name, number)
            for event in version_outcomes(version, model.arn):
                self._announce(event)
        if model.status == "FAILED" and seen.status != "FAILED" and not versions:
            self._announce(training_failed(model.name, model.arn, self.lookout.failed_reason(model.name)))
        self._store(remember(seen, model, versions))

    def _store(self, seen: SeenModel) -> None:
        if not model_state.save(self.table, seen):
            self.report.lost_races += 1  # an overlapping run stored this model first; its view stands

    def _coverage(self, seen: SeenModel, model: ModelSummary) -> SeenModel:
        """Report a model without diagnostics output once; fix it if the stack was asked to."""
        if model.diagnostics_output is not None:
            return seen
        self.report.uncovered_models.append(model.name)
        settings = self.settings
        if settings.enable_diagnostics_on_models and settings.diagnostics_bucket and settings.lookout_role_arn:
            change = coverage_change(model, settings.diagnostics_bucket, settings.lookout_role_arn)
            self.lookout.update_model(change.request())
            self.report.diagnostics_enabled.append(model.name)
            logger.info("Diagnostics output configured", extra={"model_name": model.name, "prefix": change.prefix})
        if not seen.coverage_reported:
            delivery = deliver_once(
                settings, f"coverage#{model.arn}", lambda: diagnostics_not_configured_alert(model.name, model.arn)
            )
            self.report.alerts_sent += delivery.status == "ALERTED"
            seen = seen.model_copy(update={"coverage_reported": True})
        return seen

    def _announce(self, event: OutcomeEvent) -> None:
        """One alert (unless the diagnostics path owns it) and one EventBridge event, each once."""
        self.report.outcomes += 1
        note = self._diagnostics_note(event)
        if note is not None:
            delivery = deliver_once(
                self.settings,
                outcome_key(event.model_arn, event.model_version, event.outcome),
                lambda: outcome_alert(event, note or None),
            )
            self.report.alerts_sent += delivery.status == "ALERTED"
        put = once(
            self.settings, f"event#{event.event_id}", lambda: events.put_outcome(event, self.settings.event_bus_name)
        )
        self.report.events_put += put is not None
        logger.info("Outcome announced", extra={"model_name": event.model_name, "outcome": event.outcome})

    def _diagnostics_note(self, event: OutcomeEvent) -> str | None:
        """None when the S3 trigger owns the alert: a success whose diagnostics land in the watched bucket."""
        if event.outcome is not Outcome.SUCCEEDED:
            return ""
        if event.diagnostics_object is None:
            return NO_DIAGNOSTICS_NOTE
        location = S3Location.from_uri(event.diagnostics_object)
        if location.bucket == self.settings.diagnostics_bucket:
            return None
        return (
            f"Diagnostics: {location.uri} is outside the bucket this stack watches; summarise it with "
            f"`lookout-diagnostics summarise {location.uri}`."
        )
