"""SNS adapter: publish an alert with one body per protocol and filterable attributes."""

from __future__ import annotations

from lookout_diagnostics.aws.clients import client
from lookout_diagnostics.domain.alerts import Alert


def publish(topic_arn: str, alert: Alert, chat_cards: bool = True) -> str:
    response = client("sns").publish(
        TopicArn=topic_arn,
        Subject=alert.subject,
        Message=alert.message(chat_cards),
        MessageStructure="json",
        MessageAttributes=alert.attributes(),
    )
    return str(response["MessageId"])
