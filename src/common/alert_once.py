"""Do a side effect once, whichever path sees the thing first.

Every path that alerts or announces (the S3 trigger, the training workflow, the status poller)
names what happened with an explicit key and goes through here: claim the key in the ledger,
act, mark it done. A failure before the action succeeded gives the claim back and re-raises, so
the caller's retry (or the next poll) does it; nothing is lost and nothing is done twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel

from common.alerts import Alert
from common.aws import ledger, sns
from common.settings import Settings


class Delivery(BaseModel):
    status: Literal["ALERTED", "DUPLICATE"]
    alert_key: str
    message_id: str | None = None
    alert: Alert | None = None


def once(settings: Settings, key: str, action: Callable[[], str]) -> str | None:
    """Run `action` (which returns an id of what it did) unless the key is done; None if it was."""
    table = settings.ledger_table_name
    if ledger.claim(table, key, settings.claim_seconds) is ledger.Claim.ALREADY_SENT:
        return None
    try:
        done_id = action()
    except BaseException:
        ledger.release(table, key)
        raise
    ledger.mark_sent(table, key, done_id)
    return done_id


def deliver_once(settings: Settings, key: str, compose: Callable[[], Alert]) -> Delivery:
    """Publish the alert `compose` builds, unless the key was already sent. `compose` runs only once claimed."""
    composed: list[Alert] = []

    def publish() -> str:
        composed.append(compose())
        return sns.publish(settings.alert_topic_arn, composed[0])

    message_id = once(settings, key, publish)
    if message_id is None:
        return Delivery(status="DUPLICATE", alert_key=key)
    return Delivery(status="ALERTED", alert_key=key, message_id=message_id, alert=composed[0])
