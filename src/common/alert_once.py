"""Send an alert once, whichever path sees the thing first.

Every path that alerts (the S3 trigger, the training workflow) names what happened with an
explicit key and goes through here: claim the key in the ledger, compose and publish, mark
it sent. A failure before SNS accepts the message gives the claim back and re-raises, so the
caller's retry delivers it; nothing is lost and nothing is sent twice.
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


def deliver_once(settings: Settings, key: str, compose: Callable[[], Alert]) -> Delivery:
    """Publish the alert `compose` builds, unless the key was already sent. `compose` runs only once claimed."""
    table = settings.ledger_table_name
    if ledger.claim(table, key, settings.claim_seconds) is ledger.Claim.ALREADY_SENT:
        return Delivery(status="DUPLICATE", alert_key=key)
    try:
        alert = compose()
        message_id = sns.publish(settings.alert_topic_arn, alert)
    except BaseException:
        ledger.release(table, key)
        raise
    ledger.mark_sent(table, key, message_id)
    return Delivery(status="ALERTED", alert_key=key, message_id=message_id, alert=alert)
