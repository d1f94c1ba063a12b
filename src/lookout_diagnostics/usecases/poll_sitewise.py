"""The status poller for AWS IoT SiteWise: announce every training execution that ends, once.

SiteWise sends no event when an execution ends. Each run lists the anomaly-detection computation models
and, for each, its training executions (all assets; the console's, the workflow's and the retraining
scheduler's alike), and announces those that ended since the previous run: one EventBridge event each,
and one alert, through the once-only ledger. A completed training whose evaluation results go to the
watched bucket is alerted by the S3 trigger, with the summary, so the poller only puts its event; a
computation model in state FAILED is alerted once.

A model's "announced through" time advances only after all its announcements went out: if SNS or
EventBridge fails, the next run finds the same executions and delivers them. One model's error does not
stop the others; it is counted and reported.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aws_lambda_powertools import Logger
from pydantic import Field

from lookout_diagnostics.aws import model_state, s3
from lookout_diagnostics.aws.sitewise import SiteWiseClient
from lookout_diagnostics.domain.alert_keys import stable_id
from lookout_diagnostics.domain.alerts import outcome_alert
from lookout_diagnostics.domain.outcomes import OutcomeEvent, announce_after
from lookout_diagnostics.domain.sitewise import (
    ACTION_TO_EXECUTION_SKEW,
    MAX_ACTIONS_DESCRIBED,
    TRAINING_ACTION,
    Action,
    ComputationModel,
    Execution,
    action_of,
    computation_model_failed,
    evaluation_destination_in,
    execution_outcome,
    execution_outcome_key,
    missing_results_note,
    newly_ended,
)
from lookout_diagnostics.models import Model
from lookout_diagnostics.settings import Settings
from lookout_diagnostics.usecases.once import Sent, event_put, put_once, send_once

logger = Logger(child=True)

# The most ended executions one run announces per computation model (each costs a few calls): a backlog,
# after SiteWise was down or turned on with AlertOnFirstSighting, drains over the next runs.
EXECUTIONS_PER_RUN = 50


class SiteWiseReport(Model):
    """What one run did in SiteWise."""

    computation_models_seen: int = 0
    outcomes: int = 0
    alerts_sent: int = 0
    events_put: int = 0
    failed_models: list[str] = Field(default_factory=list)
    # Computation models with more ended executions than one run announces (EXECUTIONS_PER_RUN): the next goes on.
    backlog: list[str] = Field(default_factory=list)
    # Completed trainings whose evaluation results have not landed yet (within SafetyNetGraceMinutes).
    pending_evaluations: int = 0
    errors: list[str] = Field(default_factory=list)


def poll_sitewise(settings: Settings, table: str, now: float) -> SiteWiseReport:
    """One run. The first SiteWise poll (its own: SiteWise may be enabled long after the stack's first poll)
    remembers what already ended without a word; a computation model first seen later has what ended after
    that first poll announced; AlertOnFirstSighting announces everything once."""
    first_poll_at, is_first_poll = model_state.first_poll(table, now, model_state.SITEWISE_FIRST_POLL_KEY)
    after = announce_after(first_poll_at, is_first_poll, settings.alert_on_first_sighting)
    run = _Run(settings, table, SiteWiseClient(), datetime.fromtimestamp(now, UTC), after)
    for model in run.reader.computation_models():
        run.report.computation_models_seen += 1
        try:
            run.model(model)
        except Exception as error:  # one model's failure must not stop the others: counted and reported
            logger.exception("Computation model poll failed", extra={"computation_model": model.name})
            run.report.errors.append(f"{model.name}: {type(error).__name__}: {error}")
    return run.report


class _Run:
    def __init__(
        self, settings: Settings, table: str, reader: SiteWiseClient, now: datetime, announce_after: datetime | None
    ) -> None:
        self.settings = settings
        self.table = table
        self.reader = reader
        self.now = now
        self.announce_after = announce_after
        self.grace = timedelta(minutes=settings.safety_net_grace_minutes)
        self.report = SiteWiseReport()

    def model(self, model: ComputationModel) -> None:
        seen = model_state.seen_computation_model(self.table, model.arn)
        if seen is not None:
            through, seen_state = seen
        elif self.announce_after is not None:  # first seen after the first SiteWise poll: what ended since
            through, seen_state = self.announce_after, None
        else:  # the first SiteWise poll: what already ended, or failed, is remembered without a word
            through, seen_state = self.now, model.state
        if model.state == "FAILED":
            self.report.failed_models.append(model.name)
            if seen_state != "FAILED":
                self._announce(computation_model_failed(model), alert=True)
        ended = newly_ended(self.reader.executions(model.id, None, TRAINING_ACTION), through)
        # What an earlier run announced is listed again within the skew: the ledger says so, before any call.
        todo = [e for e in ended if not event_put(self.settings, stable_id(execution_outcome_key(model.arn, e)))]
        actions: dict[str | None, list[Action]] = {}
        waiting: list[Execution] = []
        for listed in todo[:EXECUTIONS_PER_RUN]:
            execution = self.reader.describe_execution(listed.id)  # the list leaves out why it failed
            if execution.asset_id not in actions:
                actions[execution.asset_id] = self.reader.training_actions(
                    model, execution.asset_id, MAX_ACTIONS_DESCRIBED
                )
            action = action_of(execution, actions[execution.asset_id])
            asset = self.reader.asset(execution.asset_id) if execution.asset_id else None
            event = execution_outcome(model, execution, asset, action)
            destination = evaluation_destination_in(action, self.settings.diagnostics_bucket)
            if execution.state != "COMPLETED" or destination is None:
                self._announce(event, alert=True)
            elif s3.newest_diagnostics_file(
                # S3 keeps whole seconds, and SiteWise's clock is not S3's: the skew allows for both
                destination.bucket,
                destination.key,
                written_after=execution.started_at - ACTION_TO_EXECUTION_SKEW,
            ):
                self._announce(event, alert=False)  # the S3 trigger alerts the results, with their summary
            elif self.now - execution.ended < self.grace:
                waiting.append(execution)  # the results may still be on their way: asked again next run
                self.report.pending_evaluations += 1
            else:  # no results after the grace period: the training's one alert says so
                self._announce(event, alert=True, note=missing_results_note(destination, self.grace))
        backlog = todo[EXECUTIONS_PER_RUN:]
        held = [*waiting, *backlog[:1]]
        if held:  # the next run goes on from the first execution this one left or waits for
            self.report.backlog += [model.name] if backlog else []
            through = min(e.ended for e in held) - timedelta(microseconds=1)
        elif seen is None and self.announce_after is None:
            through = self.now
        else:
            through = self.now - ACTION_TO_EXECUTION_SKEW
        model_state.save_computation_model(self.table, model.arn, through, model.state)

    def _announce(self, event: OutcomeEvent, *, alert: bool, note: str | None = None) -> None:
        """One alert (unless the S3 trigger sends it) and one EventBridge event, each once."""
        if alert:
            self._count(send_once(self.settings, event.alert_key, outcome_alert(event, note)))
        if not put_once(self.settings, event):
            return
        self.report.outcomes += 1
        self.report.events_put += 1
        logger.info(
            "Outcome announced",
            extra={"computation_model": event.model_name, "execution_id": event.execution_id, "outcome": event.outcome},
        )

    def _count(self, sent: Sent) -> None:
        self.report.alerts_sent += sent == "ALERTED"
