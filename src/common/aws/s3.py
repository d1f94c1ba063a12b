"""S3 adapter: open a stored object as a stream, write a JSON document."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from botocore.exceptions import ClientError
from pydantic import BaseModel

from common.aws.clients import client
from common.errors import DiagnosticsObjectMissingError
from common.locations import S3Location

MISSING = {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}


class StoredObject(BaseModel):
    location: S3Location
    etag: str
    size: int


def head(location: S3Location) -> StoredObject:
    try:
        response = client("s3").head_object(Bucket=location.bucket, Key=location.key)
    except ClientError as error:
        if error.response["Error"]["Code"] in MISSING:
            raise DiagnosticsObjectMissingError(f"{location.uri} does not exist") from error
        raise
    return StoredObject(location=location, etag=response["ETag"].strip('"'), size=response["ContentLength"])


@contextmanager
def open_stream(stored: StoredObject) -> Iterator[IO[bytes]]:
    """The object's bytes as a stream, pinned to the ETag that was seen (no mixing of versions)."""
    location = stored.location
    try:
        response = client("s3").get_object(Bucket=location.bucket, Key=location.key, IfMatch=stored.etag)
    except ClientError as error:
        if error.response["Error"]["Code"] in MISSING:
            raise DiagnosticsObjectMissingError(f"{location.uri} does not exist") from error
        raise
    body = response["Body"]
    try:
        yield body
    finally:
        body.close()


def put_json(location: S3Location, document: str) -> None:
    client("s3").put_object(
        Bucket=location.bucket,
        Key=location.key,
        Body=document.encode(),
        ContentType="application/json",
    )


def read_json(location: S3Location) -> str | None:
    """A small JSON document's text, or None when it does not exist."""
    try:
        response = client("s3").get_object(Bucket=location.bucket, Key=location.key)
    except ClientError as error:
        if error.response["Error"]["Code"] in MISSING:
            return None
        raise
    return str(response["Body"].read().decode())
