"""The once-only gate every path shares: `with claimed(settings, key) as claim:`.

A use case names what happened with a key (lookout_diagnostics.domain.alert_keys), claims it, and reads top to bottom
inside the block: if the claim says it was already done, it returns; otherwise it does the work and
calls `send` (or `claim.done`) once the side effect happened. Leaving the block with an exception
before that gives the claim back, so the caller's retry (or the next poll) does it: nothing is lost.
An exception after the side effect (the ledger could not record it) keeps the claim until its lease
ends: the one case where a replay can repeat an alert, and the alert's `alert_id` makes it recognisable.

Why a context manager rather than Powertools' `idempotent_function`: the ledger's keys are written by
people-readable rules shared by three paths (Powertools hashes a payload), nothing but the key needs
storing (Powertools stores the function's result), an alert already sent by another path must be
reported as a duplicate rather than replayed, and its import would add to every handler's cold start.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from lookout_diagnostics.aws import eventbridge, ledger, sns
from lookout_diagnostics.domain.alert_keys import event_key, mute_key, stable_id
from lookout_diagnostics.domain.alerts import Alert
from lookout_diagnostics.domain.outcomes import OutcomeEvent
from lookout_diagnostics.settings import Settings

if TYPE_CHECKING:  # the fleet's module is imported by the fleet alone (cold start)
    from lookout_diagnostics.domain.fleet import FleetDigestEvent

Sent = Literal["ALERTED", "DUPLICATE"]


@dataclass
class Claim:
    key: str
    table: str
    already_done: bool
    acted: bool = False

    def done(self, result_id: str) -> None:
        """The side effect happened (result_id names it, e.g. SNS's message id): record it."""
        self.acted = True
        ledger.mark_sent(self.table, self.key, result_id)


@contextmanager
def claimed(settings: Settings, key: str) -> Iterator[Claim]:
    """Claim `key` for the block; AlertInProgressError if another invocation holds it."""
    table = settings.ledger_table_name
    if ledger.claim(table, key, settings.claim_seconds) is ledger.Claim.ALREADY_SENT:
        yield Claim(key=key, table=table, already_done=True)
        return
    claim = Claim(key=key, table=table, already_done=False)
    try:
        yield claim
    except BaseException:
        if not claim.acted:
            ledger.release(table, key)
        raise
    if not claim.acted:
        ledger.release(table, key)  # the block decided there was nothing to do


def send(settings: Settings, claim: Claim, alert: Alert) -> str:
    """Publish the alert under its stable id (the claim's key hashed) and record it as sent.

    A model a fleet trains with per-asset alerts off is muted: its alert is recorded as sent, by the fleet
    (`muted:<fleet execution>`), and not published; the fleet's digest reports it."""
    muted = ledger.muted_by(settings.ledger_table_name, mute_key(alert.model_name, alert.asset_id))
    if muted is not None:
        claim.done(f"muted:{muted}")
        return f"muted:{muted}"
    message_id = sns.publish(settings.alert_topic_arn, alert.identified(stable_id(claim.key)), settings.chat_cards)
    claim.done(message_id)
    return message_id


def send_once(settings: Settings, key: str, alert: Alert) -> Sent:
    """For an alert composed before the claim (an outcome, a failure): publish it unless already sent."""
    with claimed(settings, key) as claim:
        if claim.already_done:
            return "DUPLICATE"
        send(settings, claim, alert)
    return "ALERTED"


def put_once(settings: Settings, event: OutcomeEvent | FleetDigestEvent) -> bool:
    """Put an outcome's (or a fleet digest's) EventBridge event unless it was put before (key
    `event#<event id>`); True if put now."""
    with claimed(settings, event_key(event.event_id)) as claim:
        if claim.already_done:
            return False
        claim.done(eventbridge.put_outcome(event, settings.event_bus_name))
    return True


def event_put(settings: Settings, event_id: str) -> bool:
    """Whether the event of this id was put (read, not claimed: to skip work already done)."""
    return ledger.read(settings.ledger_table_name, event_key(event_id)).sent()
