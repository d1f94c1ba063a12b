"""The status poller: notice every terminal outcome in the account, announce each once, and be the safety net.

L4E sends no event when a model or version finishes, so each run lists the models, compares them
with what the last run stored, describes only the versions that changed, and for each terminal
outcome sends one alert and puts one EventBridge event, both through the once-only ledger.

A success whose diagnostics file this stack reads is the S3 trigger's to alert, with the summary.
The poller remembers it as pending and checks, every run, that its alert went out; if it has not
within the grace period (SAFETY_NET_GRACE_MINUTES), or at once when the file is there and the bucket
does not announce its objects on EventBridge, the poller alerts it itself with the summary (one file
per run, however large). A file still missing after MISSING_FILE_WAIT_MINUTES (or the grace period) is
alerted as missing. Every alert is claimed under the same key as the other paths', so a success is
never silent and never alerted twice. One pending success's error is reported and does not hold up
the others or the model's state.

A model's stored state advances only after all its announcements went out: if SNS or EventBridge
fails, the next run finds the same changes and delivers them. One model's error does not stop the
others; it is counted and reported. A model deleted while the run looks at it is no error.
"""

from __future__ import annotations

import time
from datetime import datetime

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field

from lookout_diagnostics.aws import ledger, model_state, s3
from lookout_diagnostics.aws.lookout import LookoutClient
from lookout_diagnostics.domain.alert_keys import Outcome, coverage_key, diagnostics_location_key
from lookout_diagnostics.domain.alerts import Alert, diagnostics_not_configured_alert, outcome_alert
from lookout_diagnostics.domain.coverage import coverage_change
from lookout_diagnostics.domain.identity import ModelSummary, ModelVersion
from lookout_diagnostics.domain.locations import StoredObject
from lookout_diagnostics.domain.outcomes import (
    OutcomeEvent,
    PendingSuccess,
    SeenModel,
    announce_after,
    first_sighting,
    needs_version_scan,
    not_before,
    remember,
    success_report,
    training_failed,
    version_outcomes,
    versions_to_describe,
    written_for,
)
from lookout_diagnostics.errors import (
    AlertInProgressError,
    DiagnosticsObjectMissingError,
    ModelNotFoundError,
    PollerNotConfiguredError,
)
from lookout_diagnostics.models import Model
from lookout_diagnostics.settings import Settings
from lookout_diagnostics.usecases.once import Sent, put_once, send_once
from lookout_diagnostics.usecases.poll_sitewise import SiteWiseReport, poll_sitewise

logger = Logger(child=True)

# A run summarises at most this many files as the safety net: each may take minutes, and a run must
# end within the function's timeout. The others wait for the next run.
SAFETY_NET_SUMMARIES_PER_RUN = 1
# A success's missing diagnostics file is alerted as missing only after this long (or the grace period, if
# longer): longer than the training workflow waits for a late file (about 40 minutes), so a file the
# workflow still waits for is not alerted as missing.
MISSING_FILE_WAIT_MINUTES = 45


class PollReport(Model):
    """What one run did: returned by the handler, logged, and counted in metrics."""

    models_seen: int = 0
    first_sightings: int = 0
    outcomes: int = 0
    alerts_sent: int = 0
    events_put: int = 0
    uncovered_models: list[str] = Field(default_factory=list)
    diagnostics_enabled: list[str] = Field(default_factory=list)
    vanished_models: list[str] = Field(default_factory=list)
    # None when there is no watched bucket, or it could not be asked (then an error is listed).
    bucket_announcing: bool | None = None
    pending_successes: int = 0
    safety_net_alerts: int = 0
    lost_races: int = 0
    errors: list[str] = Field(default_factory=list)
    # AWS IoT SiteWise's computation models, when the stack serves SiteWise.
    sitewise: SiteWiseReport | None = None


def poll(settings: Settings) -> PollReport:
    if not settings.state_table_name:
        raise PollerNotConfiguredError("STATE_TABLE_NAME is not set")
    now = time.time()
    run = _Run(settings, settings.state_table_name, LookoutClient(), now)
    run.check_bucket()
    if settings.enable_lookout_for_equipment:
        # L4E's first poll is marked only while L4E is served: turned on later, it starts quiet too.
        first_poll_at, is_first_poll = model_state.first_poll(settings.state_table_name, now)
        run.announce_after = announce_after(first_poll_at, is_first_poll, settings.alert_on_first_sighting)
        for model in run.lookout.list_models(settings.model_name_prefix):
            run.report.models_seen += 1
            try:
                run.model(model)
            except ModelNotFoundError:
                logger.info("Model deleted while it was polled", extra={"model_name": model.name})
                run.report.vanished_models.append(model.name)
            except Exception as error:  # one model's failure must not stop the others: counted and reported
                logger.exception("Model poll failed", extra={"model_name": model.name})
                run.report.errors.append(f"{model.name}: {type(error).__name__}: {error}")
    if settings.enable_iot_sitewise:
        try:
            run.report.sitewise = poll_sitewise(settings, settings.state_table_name, now)
        except (ClientError, BotoCoreError) as error:  # SiteWise unreachable: L4E's work stands, the run reports it
            logger.exception("SiteWise poll failed")
            run.report.errors.append(f"AWS IoT SiteWise: {type(error).__name__}: {error}")
    return run.report


class _Run:
    def __init__(self, settings: Settings, table: str, lookout: LookoutClient, now: float) -> None:
        self.settings = settings
        self.table = table
        self.lookout = lookout
        self.now = now
        # None on L4E's very first poll (nothing announced); see first_sighting.
        self.announce_after: datetime | None = None
        self.summaries_left = SAFETY_NET_SUMMARIES_PER_RUN
        self.report = PollReport()

    def check_bucket(self) -> None:
        """Whether the watched bucket announces new objects: if not, the S3 trigger never runs."""
        bucket = self.settings.diagnostics_bucket
        if bucket is None:
            return
        try:
            self.report.bucket_announcing = s3.sends_events_to_eventbridge(bucket)
        except (ClientError, BotoCoreError) as error:
            self.report.errors.append(f"bucket {bucket}: {type(error).__name__}: {error}")
            return
        if not self.report.bucket_announcing:
            logger.error("The watched bucket does not send events to EventBridge", extra={"bucket": bucket})

    def model(self, model: ModelSummary) -> None:
        seen = model_state.load(self.table, model.arn)
        listed: dict[int, str] | None = None
        if seen is None:
            versions = self.lookout.versions(model.name)
            listed = {version.version: version.status for version in versions}
            seen = first_sighting(model, versions, self.announce_after)
            self.report.first_sightings += self.announce_after is None
        seen = self._coverage(seen, model)
        if needs_version_scan(seen, model):
            statuses = listed if listed is not None else self.lookout.version_statuses(model.name)
            for number in versions_to_describe(seen, statuses):
                version = self.lookout.describe_model_version(model.name, number)
                for event in version_outcomes(version, model.arn):
                    seen = self._announce(seen, event, version)
            if model.status == "FAILED" and seen.status != "FAILED" and not statuses:
                failed = training_failed(model.name, model.arn, self.lookout.failed_reason(model.name))
                seen = self._announce(seen, failed, None)
            seen = remember(seen, model, statuses)
        seen = self._safety_net(seen)
        self.report.pending_successes += len(seen.pending)
        self._store(seen)

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
            alert = diagnostics_not_configured_alert(model.name, model.arn)
            self._count(send_once(settings, coverage_key(model.arn), alert))
            seen = seen.model_copy(update={"coverage_reported": True})
        return seen

    def _announce(self, seen: SeenModel, event: OutcomeEvent, version: ModelVersion | None) -> SeenModel:
        """One alert (or a pending success the S3 trigger alerts) and one EventBridge event, each once."""
        self.report.outcomes += 1
        report = success_report(version, self.settings.diagnostics_bucket) if version else None
        if event.outcome is Outcome.SUCCEEDED and version and report and report.diagnostics is not None:
            pending = PendingSuccess(
                event=event, diagnostics=report.diagnostics, seen_at=self.now, version_created_at=version.created_at
            )
            seen = seen.model_copy(update={"pending": seen.pending | {version.version: pending}})
        else:
            note = report.note if report and event.outcome is Outcome.SUCCEEDED else None
            self._count(send_once(self.settings, event.alert_key, outcome_alert(event, note)))
        self.report.events_put += put_once(self.settings, event)
        logger.info("Outcome announced", extra={"model_name": event.model_name, "outcome": event.outcome})
        return seen

    def _safety_net(self, seen: SeenModel) -> SeenModel:
        settled = set()
        for number, pending in sorted(seen.pending.items()):
            try:
                if self._settle(pending):
                    settled.add(number)
            except Exception as error:  # one success's trouble must not hold up the model's state or others
                logger.exception("Safety net failed", extra={"model_name": seen.model_name, "version": number})
                self.report.errors.append(f"{seen.model_name} v{number}: {type(error).__name__}: {error}")
        if not settled:
            return seen
        return seen.model_copy(update={"pending": {n: p for n, p in seen.pending.items() if n not in settled}})

    def _settle(self, pending: PendingSuccess) -> bool:
        """Whether the pending success's alert went out, by the S3 trigger or now by this run."""
        table = self.settings.ledger_table_name
        stored = self._this_versions_file(pending)
        if stored is not None:
            entry = ledger.read(table, stored.alert_key)
            if entry.sent():
                return True
            if entry.claimed_at(self.now):
                return False  # another invocation is sending it
        location = pending.diagnostics
        if stored is None:
            alerted = ledger.read(table, diagnostics_location_key(location.bucket, location.key))
            if alerted.sent() and not_before(alerted.sent_at, pending.version_created_at):
                return True  # this version's file was alerted, and deleted or moved since
        waited = self.now - pending.seen_at
        if stored is None:
            # A missing file waits at least as long as the workflow waits for a late one.
            if waited < max(self.settings.safety_net_grace_minutes, MISSING_FILE_WAIT_MINUTES) * 60:
                return False
            self._count(send_once(self.settings, pending.event.alert_key, self._missing(pending, waited)))
            self.report.safety_net_alerts += 1
            return True
        # A file that is there but that no trigger will see (the bucket does not announce) need not wait.
        if self.report.bucket_announcing is not False and waited < self.settings.safety_net_grace_minutes * 60:
            return False
        if self.summaries_left == 0:
            return False
        # The summary engine is imported here, the first time a poll summarises a file itself: most polls do not.
        from lookout_diagnostics.usecases.alert_diagnostics import alert_diagnostics

        try:
            result = alert_diagnostics(
                stored, self.settings, note=self._why_the_poller(waited), identification=pending.identification()
            )
        except AlertInProgressError:
            return False  # claimed between the look and the claim: its sender finishes it
        self.summaries_left -= 1
        summarised = result.status == "ALERTED"
        self.report.alerts_sent += summarised
        self.report.safety_net_alerts += summarised
        return True

    def _this_versions_file(self, pending: PendingSuccess) -> StoredObject | None:
        """The version's diagnostics file, if it is stored (a file older than the version is another's)."""
        try:
            stored = s3.head(pending.diagnostics)
        except DiagnosticsObjectMissingError:
            return None
        return stored if written_for(stored, pending.version_created_at) else None

    def _missing(self, pending: PendingSuccess, waited: float) -> Alert:
        landing = (
            "If it lands later, the S3 trigger alerts its summary."
            if self.report.bucket_announcing is not False
            else f"Bucket {pending.diagnostics.bucket} does not send its events to EventBridge: summarise it with "
            f"`lookout-diagnostics summarise {pending.diagnostics.uri}` when it lands."
        )
        note = (
            f"Diagnostics: {pending.diagnostics.uri} was not in S3 {waited / 60:.0f} min after the version "
            f"succeeded. {landing}"
        )
        return outcome_alert(pending.event, note)

    def _why_the_poller(self, waited: float) -> str:
        if self.report.bucket_announcing is False:
            return (
                f"Sent by the status poller: bucket {self.settings.diagnostics_bucket} does not send its events to "
                "EventBridge, so the S3 trigger never saw this file. Turn EventBridge notifications on for it."
            )
        return (
            f"Sent by the status poller: the S3 trigger had not alerted this file {waited / 60:.0f} min after the "
            "version succeeded (see the dead-letter queue and the DiagnosticsFunction's errors)."
        )

    def _count(self, sent: Sent) -> None:
        self.report.alerts_sent += sent == "ALERTED"
