"""The S3 trigger's events: an object's EventBridge event from S3, and a classic S3 notification.

Only the fields the trigger reads are declared; the others, newer ones included, are ignored.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from lookout_diagnostics.lambda_events import EventBridgeEvent
from lookout_diagnostics.models import Model


class _S3Bucket(Model):
    model_config = ConfigDict(extra="ignore")

    name: str


class _S3Object(Model):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    key: str  # URL-encoded in classic notifications; for EventBridge no AWS document says (both are tried)
    # Which stored version the event announces: absent on deletions, version-id only in versioned buckets.
    etag: str | None = None
    version_id: str | None = Field(default=None, alias="version-id")


class _NotifiedObject(Model):
    model_config = ConfigDict(extra="ignore")

    key: str  # URL-encoded: a space is '+'
    eTag: str | None = None
    versionId: str | None = None


class _S3ObjectDetail(Model):
    model_config = ConfigDict(extra="ignore")

    bucket: _S3Bucket
    object: _S3Object


class S3ObjectEvent(EventBridgeEvent):
    """An EventBridge event from S3 about an object: 'Object Created', 'Object Deleted', ..."""

    source: Literal["aws.s3"]
    detail: _S3ObjectDetail


# A classic S3 notification, as far as it is read. Powertools' S3Model also requires fields nothing here
# uses (size, eTag, requester, source IP), and its own validator fails with a TypeError rather than a
# validation error on some wrong shapes; unknown and newer fields (eventVersion 2.3, ...) are ignored.
class _NotifiedEntity(Model):
    model_config = ConfigDict(extra="ignore")

    bucket: _S3Bucket
    object: _NotifiedObject


class _NotificationRecord(Model):
    model_config = ConfigDict(extra="ignore")

    eventSource: Literal["aws:s3"]
    eventName: str
    s3: _NotifiedEntity


class S3Notification(Model):
    """An S3 event notification (the `Records` form), sent to Lambda directly or through SNS/SQS."""

    model_config = ConfigDict(extra="ignore")

    Records: list[_NotificationRecord]
