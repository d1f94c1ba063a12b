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

from datetime import datetime

from aws_lambda_powertools import Logger
from pydantic import BaseModel, Field

from lookout_diagnostics.aws import eventbridge, model_state
from lookout_diagnostics.aws.sitewise import SiteWiseClient
from lookout_diagnostics.domain.alert_keys import event_key
from lookout_diagnostics.domain.alerts import outcome_alert
from lookout_diagnostics.domain.outcomes import OutcomeEvent
from lookout_diagnostics.domain.sitewise import (
    ACTION_TO_EXECUTION_SKEW,
    MAX_ACTIONS_DESCRIBED,
    TRAINING_ACTION,
    ComputationModel,
    action_of,
    computation_model_failed,
    evaluation_destination_in,
    execution_outcome,
    newly_ended,
)
from lookout_diagnostics.settings import Settings
from lookout_diagnostics.usecases.once import Sent, claimed, send_once

logger = Logger(child=True)


class SiteWiseReport(BaseModel):
    """What one run did in SiteWise."""

    computation_models_seen: int = 0
    outcomes: int = 0
    alerts_sent: int = 0
    events_put: int = 0
    failed_models: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)


def poll_sitewise(settings: Settings, table: str, now: datetime, announce_after: datetime | None) -> SiteWiseReport:
    """One run. `announce_after`: None on the stack's very first poll (what already ended is remembered, not
    announced); otherwise what ended after it is announced for a model not seen before."""
    run = _Run(settings, table, SiteWiseClient(), now, announce_after)
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
        self.report = SiteWiseReport()

    def model(self, model: ComputationModel) -> None:
        if model.state == "FAILED":
            self.report.failed_models.append(model.name)
            self._announce(computation_model_failed(model), alert=True)
        through = model_state.executions_announced_through(self.table, model.arn)
        if through is None:
            through = self.announce_after or self.now
        executions = self.reader.executions(model.id, None, TRAINING_ACTION)
        ended = newly_ended(executions, through)
        assets = {execution.asset_id for execution in ended}
        actions = {asset: self.reader.training_actions(model, asset, MAX_ACTIONS_DESCRIBED) for asset in assets}
        for listed in ended:
            execution = self.reader.describe_execution(listed.id)  # the list leaves out why it failed
            action = action_of(execution, actions[execution.asset_id])
            asset = self.reader.asset(execution.asset_id) if execution.asset_id else None
            event = execution_outcome(model, execution, asset, action)
            alerted_by_trigger = execution.state == "COMPLETED" and (
                evaluation_destination_in(action, self.settings.diagnostics_bucket) is not None
            )
            self._announce(event, alert=not alerted_by_trigger)
        model_state.save_executions_announced_through(self.table, model.arn, self.now - ACTION_TO_EXECUTION_SKEW)

    def _announce(self, event: OutcomeEvent, *, alert: bool) -> None:
        """One alert (unless the S3 trigger sends it) and one EventBridge event, each once."""
        if alert:
            self._count(send_once(self.settings, event.alert_key, outcome_alert(event)))
        with claimed(self.settings, event_key(event.event_id)) as claim:
            if claim.already_done:
                return
            claim.done(eventbridge.put_outcome(event, self.settings.event_bus_name))
        self.report.outcomes += 1
        self.report.events_put += 1
        logger.info(
            "Outcome announced",
            extra={"computation_model": event.model_name, "execution_id": event.execution_id, "outcome": event.outcome},
        )

    def _count(self, sent: Sent) -> None:
        self.report.alerts_sent += sent == "ALERTED"
