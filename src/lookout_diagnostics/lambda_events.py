"""The events the functions receive, as far as they are read, and how an event is validated.

Powertools' event models validate every field of an event, and importing its parser package with the
S3 event models made the S3 trigger's cold start about 10 ms longer (pydantic's network types among
them): these models read only the fields the handlers use and ignore the others (newer ones included).
`parse` is Powertools' `parse` without an envelope: a failure raises pydantic's ValidationError, as
Powertools' does.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from lookout_diagnostics.models import Model

Parsed = TypeVar("Parsed", bound=BaseModel)


def parse(event: Any, model: type[Parsed]) -> Parsed:
    """The event validated against `model` (a JSON string is decoded first, as by Powertools' parse)."""
    if isinstance(event, str):
        return model.model_validate_json(event)
    return model.model_validate(event)


class EventBridgeEvent(Model):
    """Any EventBridge event (a scheduled one, for instance): its envelope's identity, no more."""

    model_config = ConfigDict(extra="ignore")

    id: str
    source: str
    detail_type: str = Field(alias="detail-type")


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
