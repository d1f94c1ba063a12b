"""The poller's memory: one DynamoDB item per model (pk = its ARN), and the stack's first poll.

An L4E model's item holds the last state seen; writes are conditional on the revision that was read, so
two overlapping polls cannot both advance a model: the second finds the revision moved and leaves it to
the first. A SiteWise computation model's item holds up to when its ended executions were announced
(overlapping polls are harmless there: the ledger announces each execution once).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from lookout_diagnostics.aws.clients import client
from lookout_diagnostics.domain.outcomes import SeenModel


def load(table: str, model_arn: str) -> SeenModel | None:
    item = client("dynamodb").get_item(TableName=table, Key={"pk": {"S": model_arn}}, ConsistentRead=True).get("Item")
    if not item:
        return None
    return SeenModel.model_validate_json(item["state"]["S"])


def save(table: str, seen: SeenModel) -> bool:
    """Store the next revision of `seen`; False if another poll stored one first."""
    stored = seen.model_copy(update={"revision": seen.revision + 1})
    condition: dict[str, Any] = (
        {"ConditionExpression": "attribute_not_exists(pk)"}
        if seen.revision == 0
        else {
            "ConditionExpression": "revision = :read",
            "ExpressionAttributeValues": {":read": {"N": str(seen.revision)}},
        }
    )
    try:
        client("dynamodb").put_item(
            TableName=table,
            Item={
                "pk": {"S": seen.model_arn},
                "model_name": {"S": seen.model_name},
                "revision": {"N": str(stored.revision)},
                "state": {"S": stored.model_dump_json()},
            },
            **condition,
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


# Items no model ARN can collide with: when the stack polled for the very first time, and when it first
# polled AWS IoT SiteWise (which may be enabled long after the stack's first poll).
FIRST_POLL_KEY = "stack#first-poll"
SITEWISE_FIRST_POLL_KEY = "stack#first-poll#iot-sitewise"


def first_poll(table: str, now: float, key: str = FIRST_POLL_KEY) -> tuple[datetime, bool]:
    """When the stack's first poll ran (of a service: SITEWISE_FIRST_POLL_KEY), and whether it is this one
    (the first caller records `now`)."""
    try:
        client("dynamodb").put_item(
            TableName=table,
            Item={"pk": {"S": key}, "first_poll_at": {"N": str(now)}},
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",  # one request per run, whichever way it goes
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        item = error.response["Item"]
        return datetime.fromtimestamp(float(item["first_poll_at"]["N"]), UTC), False
    return datetime.fromtimestamp(now, UTC), True


def seen_computation_model(table: str, model_arn: str) -> tuple[datetime, str] | None:
    """Up to when a SiteWise computation model's ended executions were announced, and its state then;
    None for a model not seen."""
    item = client("dynamodb").get_item(TableName=table, Key={"pk": {"S": model_arn}}, ConsistentRead=True).get("Item")
    if not item or "announced_through" not in item:
        return None
    return datetime.fromtimestamp(float(item["announced_through"]["N"]), UTC), item.get("state", {}).get("S", "")


def save_computation_model(table: str, model_arn: str, announced_through: datetime, state: str) -> None:
    client("dynamodb").put_item(
        TableName=table,
        Item={
            "pk": {"S": model_arn},
            "announced_through": {"N": str(announced_through.timestamp())},
            "state": {"S": state},
        },
    )
