"""S3 adapter: find a stored object version, stream it, write a JSON document, read a bucket's wiring.

The functions may list the watched bucket (s3:ListBucket), so a missing key is a 404 here, as it
is in the emulation. Without that permission S3 answers 403 for a missing key, which would read
as a broken permission rather than "not there yet"; a 403 is never taken for a missing object.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import IO, Any

from botocore.exceptions import ClientError

from lookout_diagnostics.aws.clients import client
from lookout_diagnostics.domain.locations import S3Location, StoredObject
from lookout_diagnostics.errors import DiagnosticsFileError, DiagnosticsObjectMissingError

MISSING = {"NoSuchKey", "404", "NotFound", "NoSuchBucket", "NoSuchVersion"}
# The object is there but cannot be read by the stack, and retrying will not change that: encrypted with a
# key the functions may not use (AccessDenied, KMS.*), or archived (InvalidObjectState). Said in an alert.
REFUSED = {"AccessDenied", "InvalidObjectState"}


def head(location: S3Location, version_id: str | None = None) -> StoredObject:
    """The object's current version, or the given one (s3:GetObjectVersion)."""
    try:
        response = client("s3").head_object(**_addressed(location, version_id))
    except ClientError as error:
        if error.response["Error"]["Code"] in MISSING:
            raise DiagnosticsObjectMissingError(f"{location.uri} does not exist") from error
        raise
    return StoredObject(
        location=location,
        etag=response["ETag"].strip('"'),
        version_id=response.get("VersionId") or version_id,
        size=response["ContentLength"],
        last_modified=response.get("LastModified"),
    )


def newest_diagnostics_file(
    bucket: str, prefix: str, *, written_after: datetime | None = None, max_pages: int = 10
) -> S3Location | None:
    """The most recently written diagnostics file under a prefix (any service's name), if there is one
    (written no earlier than `written_after`, if given)."""
    newest: tuple[Any, str] | None = None
    paginator = client("s3").get_paginator("list_objects_v2")
    for number, page in enumerate(paginator.paginate(Bucket=bucket, Prefix=prefix)):
        for item in page.get("Contents", []):
            if written_after is not None and item["LastModified"] < written_after:
                continue
            if S3Location(bucket=bucket, key=item["Key"]).is_diagnostics_file and (
                newest is None or item["LastModified"] > newest[0]
            ):
                newest = (item["LastModified"], item["Key"])
        if number + 1 >= max_pages:
            break
    return S3Location(bucket=bucket, key=newest[1]) if newest else None


@contextmanager
def open_stream(stored: StoredObject) -> Iterator[IO[bytes]]:
    """The stored version's bytes as a stream: its version id if it has one, else pinned to its ETag."""
    location = stored.location
    request = _addressed(location, stored.version_id)
    if stored.version_id is None:
        request["IfMatch"] = stored.etag
    try:
        response = client("s3").get_object(**request)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code in MISSING:
            raise DiagnosticsObjectMissingError(f"{location.uri} does not exist") from error
        if code in REFUSED or code.startswith("KMS."):
            message = error.response["Error"].get("Message", "")
            raise DiagnosticsFileError(f"S3 refused to read it ({code}: {message})") from error
        raise
    body = response["Body"]
    try:
        yield body
    finally:
        body.close()


def put_json(location: S3Location, document: str) -> None:
    put_text(location, document, "application/json")


def put_text(location: S3Location, text: str, content_type: str) -> None:
    put_bytes(location, text.encode(), content_type)


def put_bytes(location: S3Location, body: bytes, content_type: str) -> None:
    client("s3").put_object(Bucket=location.bucket, Key=location.key, Body=body, ContentType=content_type)


def read_json(location: S3Location) -> str | None:
    """A small JSON document's text, or None when it does not exist."""
    try:
        response = client("s3").get_object(Bucket=location.bucket, Key=location.key)
    except ClientError as error:
        if error.response["Error"]["Code"] in MISSING:
            return None
        raise
    return str(response["Body"].read().decode())


def sends_events_to_eventbridge(bucket: str) -> bool:
    """Whether S3 announces the bucket's new objects on EventBridge (what the S3 trigger listens to)."""
    configuration = client("s3").get_bucket_notification_configuration(Bucket=bucket)
    return "EventBridgeConfiguration" in configuration


def _addressed(location: S3Location, version_id: str | None) -> dict[str, Any]:
    request: dict[str, Any] = {"Bucket": location.bucket, "Key": location.key}
    if version_id:
        request["VersionId"] = version_id
    return request
