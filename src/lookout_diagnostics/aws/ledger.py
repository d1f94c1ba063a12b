"""The alert ledger: a DynamoDB table that makes every alert go out once.

An alert key is claimed with a conditional write before any work is done, marked sent
after SNS accepted the message, and released if publishing failed, so that a retry (or
a later run) delivers it. Duplicate deliveries of an event find the key sent and stop.
One key names one thing that happened (one diagnostics object), whichever path saw it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from enum import StrEnum

from botocore.exceptions import ClientError

from lookout_diagnostics.aws.clients import client
from lookout_diagnostics.errors import AlertInProgressError
from lookout_diagnostics.models import Model

SENT = "SENT"
CLAIMED = "CLAIMED"
MUTED = "MUTED"
RETENTION_SECONDS = 400 * 24 * 3600  # DynamoDB's TTL removes sent keys after about 13 months


class Claim(StrEnum):
    CLAIMED = "CLAIMED"
    ALREADY_SENT = "ALREADY_SENT"


class Entry(Model):
    """What the ledger holds for a key: nothing, a claim (until its lease ends), or a sent alert."""

    state: str | None = None  # None, CLAIMED or SENT
    lease_until: int | None = None
    sent_at: datetime | None = None

    def sent(self) -> bool:
        return self.state == SENT

    def claimed_at(self, now: float) -> bool:
        """A claim another invocation still holds: its alert is on its way."""
        return self.state == CLAIMED and self.lease_until is not None and self.lease_until >= now


def read(table: str, key: str) -> Entry:
    item = client("dynamodb").get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item", {})
    lease = item.get("lease_until", {}).get("N")
    sent = item.get("sent_at", {}).get("N")
    return Entry(
        state=item.get("state", {}).get("S"),
        lease_until=int(lease) if lease is not None else None,
        sent_at=datetime.fromtimestamp(int(sent), UTC) if sent is not None else None,
    )


def claim(table: str, key: str, lease_seconds: int) -> Claim:
    now = int(time.time())
    try:
        client("dynamodb").put_item(
            TableName=table,
            Item={
                "pk": {"S": key},
                "state": {"S": CLAIMED},
                "lease_until": {"N": str(now + lease_seconds)},
                "expires_at": {"N": str(now + RETENTION_SECONDS)},
            },
            ConditionExpression="attribute_not_exists(pk) OR (#state = :claimed AND lease_until < :now)",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":claimed": {"S": CLAIMED}, ":now": {"N": str(now)}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        current = client("dynamodb").get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True)
        state = current.get("Item", {}).get("state", {}).get("S")
        if state == SENT:
            return Claim.ALREADY_SENT
        raise AlertInProgressError(f"alert {key} is being sent by another invocation") from error
    return Claim.CLAIMED


def mark_sent(table: str, key: str, message_id: str) -> None:
    client("dynamodb").update_item(
        TableName=table,
        Key={"pk": {"S": key}},
        UpdateExpression="SET #state = :sent, message_id = :id, sent_at = :now REMOVE lease_until",
        ExpressionAttributeNames={"#state": "state"},
        ExpressionAttributeValues={
            ":sent": {"S": SENT},
            ":id": {"S": message_id},
            ":now": {"N": str(int(time.time()))},
        },
    )


def record(table: str, key: str, result_id: str) -> None:
    """Record a key as sent outright (a second name for something already sent under its own claim)."""
    now = int(time.time())
    client("dynamodb").put_item(
        TableName=table,
        Item={
            "pk": {"S": key},
            "state": {"S": SENT},
            "message_id": {"S": result_id},
            "sent_at": {"N": str(now)},
            "expires_at": {"N": str(now + RETENTION_SECONDS)},
        },
    )


def mute(table: str, key: str, until: int, by: str) -> None:
    """Mute what `key` names until `until` (epoch seconds) on behalf of `by`; DynamoDB's TTL removes it after."""
    client("dynamodb").put_item(
        TableName=table,
        Item={
            "pk": {"S": key},
            "state": {"S": MUTED},
            "muted_until": {"N": str(until)},
            "muted_by": {"S": by},
            "expires_at": {"N": str(until)},
        },
    )


def muted_by(table: str, key: str) -> str | None:
    """Who mutes what `key` names now, if anyone."""
    item = client("dynamodb").get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item", {})
    if item.get("state", {}).get("S") != MUTED or int(item.get("muted_until", {}).get("N", "0")) < time.time():
        return None
    return str(item["muted_by"]["S"])


def unmute(table: str, key: str, by: str) -> None:
    """End `by`'s mute (a later one, by someone else, stays)."""
    try:
        client("dynamodb").delete_item(
            TableName=table,
            Key={"pk": {"S": key}},
            ConditionExpression="muted_by = :by",
            ExpressionAttributeValues={":by": {"S": by}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def release(table: str, key: str) -> None:
    """Give a claim back after a failure, so the next attempt is not held up by the lease."""
    try:
        client("dynamodb").delete_item(
            TableName=table,
            Key={"pk": {"S": key}},
            ConditionExpression="#state = :claimed",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":claimed": {"S": CLAIMED}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
