"""The stack's pieces, created in moto's in-process AWS emulation from template.yaml.

Used by the local run and by the integration tests: the ledger table's schema and TTL
come from the template itself, so the emulation cannot drift from what is deployed.
Alerts are read back through an SQS queue subscribed to the topic, as any subscriber would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import boto3

from lookout_diagnostics.aws.eventbridge import SOURCE as EVENT_SOURCE
from tests.support.template import ROOT, resource

EXAMPLE_BUCKET = "lookout-diagnostics-example"
LOOKOUT_ROLE_ARN = "arn:aws:iam::123456789012:role/lookout-diagnostics-LookoutRole"


@dataclass(frozen=True)
class ReceivedAlert:
    """One SNS notification as an SQS subscriber receives it."""

    envelope: dict[str, Any]

    @property
    def subject(self) -> str:
        return str(self.envelope["Subject"])

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.envelope["Message"])
        return body

    @property
    def attributes(self) -> dict[str, str]:
        return {name: value["Value"] for name, value in self.envelope.get("MessageAttributes", {}).items()}


@dataclass(frozen=True)
class EmulatedStack:
    bucket: str
    topic_arn: str
    table: str
    subscriber_queue_url: str
    state_table: str
    event_queue_url: str

    def environment(self) -> dict[str, str]:
        """The function's environment, as template.yaml gives it (defaults for the thresholds)."""
        return {
            "ALERT_TOPIC_ARN": self.topic_arn,
            "LEDGER_TABLE_NAME": self.table,
            "DIAGNOSTICS_BUCKET": self.bucket,
            "LOOKOUT_ROLE_ARN": LOOKOUT_ROLE_ARN,
            "STATE_TABLE_NAME": self.state_table,
            "EVENT_BUS_NAME": "default",
            "POWERTOOLS_SERVICE_NAME": "lookout-diagnostics",
            "POWERTOOLS_METRICS_NAMESPACE": "LookoutDiagnostics",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }

    def emailed_alerts(self) -> list[tuple[str, str]]:
        """(subject, body) of each published alert as an email subscriber reads it.

        moto delivers no email; it keeps every published message, whose per-protocol bodies
        (MessageStructure=json) include the one SNS sends to email subscriptions.
        """
        return [(subject, str(bodies["email"])) for subject, bodies in self._published()]

    def chat_cards(self) -> list[str]:
        """The https body of each published alert: what the chat service (an https subscriber) receives."""
        return [str(bodies.get("https", bodies["default"])) for _, bodies in self._published()]

    def _published(self) -> list[tuple[str, dict[str, Any]]]:
        from moto.sns.models import sns_backends

        account, region = self.topic_arn.split(":")[4], self.topic_arn.split(":")[3]
        topic = sns_backends[account][region].topics[self.topic_arn]
        return [(str(subject), json.loads(message)) for _id, message, subject, *_rest in topic.sent_notifications]

    def received_alerts(self) -> list[ReceivedAlert]:
        """Alerts the topic's SQS subscriber received since the last call."""
        return [ReceivedAlert(body) for body in _drain(self.subscriber_queue_url)]

    def received_events(self) -> list[dict[str, Any]]:
        """Events an EventBridge rule on `source: lookout-diagnostics` delivered to its SQS target."""
        return _drain(self.event_queue_url)


def _drain(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    bodies: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def create_stack(bucket: str = EXAMPLE_BUCKET) -> EmulatedStack:
    """Create bucket, topic (with an SQS subscriber) and ledger table. Call inside moto's mock_aws()."""
    s3 = boto3.client("s3")
    region = s3.meta.region_name
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    # As template.yaml creates it: versioned, announcing new objects on EventBridge.
    bucket_properties = resource("DiagnosticsBucket")["Properties"]
    s3.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": bucket_properties["VersioningConfiguration"]["Status"]}
    )
    if bucket_properties["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"]:
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
    _report_eventbridge_configuration()

    table = _table("AlertLedgerTable")
    state_table = _table("ModelStateTable")

    sns = boto3.client("sns")
    topic_arn = sns.create_topic(Name="lookout-diagnostics-alerts")["TopicArn"]
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="alert-subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

    # What a user would do with the poller's events: a rule on the default bus with an SQS target.
    event_queue_url = sqs.create_queue(QueueName="outcome-events")["QueueUrl"]
    event_queue_arn = sqs.get_queue_attributes(QueueUrl=event_queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events = boto3.client("events")
    events.put_rule(Name="model-version-outcomes", EventPattern=json.dumps({"source": [EVENT_SOURCE]}))
    events.put_targets(Rule="model-version-outcomes", Targets=[{"Id": "queue", "Arn": event_queue_arn}])
    return EmulatedStack(
        bucket=bucket,
        topic_arn=topic_arn,
        table=table,
        subscriber_queue_url=queue_url,
        state_table=state_table,
        event_queue_url=event_queue_url,
    )


def announcement(name: str, bucket: str, key: str) -> dict[str, Any]:
    """The sample event `events/<name>.json`, announcing the object now stored at `key` as S3 would.

    Its key URL-encoded as S3 writes it in events, and the ETag and version id of the stored object:
    the S3 trigger reads the version an event announces.
    """
    head = boto3.client("s3").head_object(Bucket=bucket, Key=key)
    etag, version_id = head["ETag"].strip('"'), head.get("VersionId")
    event: dict[str, Any] = json.loads((ROOT / "events" / f"{name}.json").read_text())
    encoded = quote_plus(key, safe="/")
    if "Records" in event:
        for record in event["Records"]:
            record["s3"]["bucket"].update(name=bucket, arn=f"arn:aws:s3:::{bucket}")
            stored = record["s3"]["object"]
            stored.update(key=encoded, size=head["ContentLength"], eTag=etag)
            stored.pop("versionId", None)
            if version_id:
                stored["versionId"] = version_id
    else:
        event["resources"] = [f"arn:aws:s3:::{bucket}"]
        event["detail"]["bucket"]["name"] = bucket
        stored = event["detail"]["object"]
        stored.update(key=encoded, size=head["ContentLength"], etag=etag)
        stored.pop("version-id", None)
        if version_id:
            stored["version-id"] = version_id
    return event


def _report_eventbridge_configuration() -> None:
    """moto stores a bucket's EventBridgeConfiguration but leaves it out of GetBucketNotificationConfiguration.

    AWS returns it (the poller reads it to know whether the S3 trigger can run): add it to moto's answer.
    Installed once per process; it changes nothing for a bucket without the configuration.
    """
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_notification
    if getattr(original, "reports_eventbridge", False):
        return

    def get_bucket_notification(self: S3Response) -> Any:
        status, headers, body = original(self)
        configuration = self.backend.get_bucket_notification_configuration(self.bucket_name)
        text = body.decode() if isinstance(body, bytes) else str(body)
        if configuration is None or configuration.event_bridge is None or "EventBridgeConfiguration" in text:
            return status, headers, body
        if "</NotificationConfiguration>" in text:
            text = text.replace(
                "</NotificationConfiguration>", "<EventBridgeConfiguration/></NotificationConfiguration>"
            )
        else:
            text = (
                '<?xml version="1.0" encoding="UTF-8"?><NotificationConfiguration '
                'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><EventBridgeConfiguration/></NotificationConfiguration>'
            )
        return status, headers, text.encode()

    get_bucket_notification.reports_eventbridge = True  # type: ignore[attr-defined]
    S3Response.get_bucket_notification = get_bucket_notification  # type: ignore[method-assign]


def _table(logical_id: str) -> str:
    """A DynamoDB table with the key schema and TTL template.yaml gives it."""
    name = f"lookout-diagnostics-{logical_id}"
    properties = resource(logical_id)["Properties"]
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        BillingMode=properties["BillingMode"],
    )
    ttl = properties.get("TimeToLiveSpecification")
    if ttl:
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": ttl["Enabled"], "AttributeName": ttl["AttributeName"]}
        )
    return name
