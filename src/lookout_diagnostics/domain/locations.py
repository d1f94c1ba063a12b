"""Where a diagnostics file is: an S3 object or a local path."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote, unquote_plus

from pydantic import ConfigDict

from lookout_diagnostics.domain.alert_keys import diagnostics_key
from lookout_diagnostics.domain.services import Service, service_of, summary_key
from lookout_diagnostics.errors import InvalidLocationError
from lookout_diagnostics.models import Model


class S3Location(Model):
    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def service(self) -> Service | None:
        """The service whose diagnostics file this is, by its name; None for any other object."""
        return service_of(self.key)

    @property
    def is_diagnostics_file(self) -> bool:
        return self.service is not None

    def summary_location(self) -> S3Location:
        """Where the summary JSON goes: beside the file, under a name no trigger matches."""
        return S3Location(bucket=self.bucket, key=summary_key(self.key))

    def chart_location(self) -> S3Location:
        """Where a summary's chart goes: beside the summary (``…summary.json`` gives ``…summary.png``)."""
        return S3Location(bucket=self.bucket, key=self.key.removesuffix(".json") + ".png")

    @property
    def console_url(self) -> str:
        """The S3 console's page of the object: a person opens it signed in; nothing is made public."""
        return f"https://s3.console.aws.amazon.com/s3/object/{self.bucket}?prefix={quote(self.key, safe='')}"

    @classmethod
    def from_event(cls, bucket: str, encoded_key: str) -> S3Location:
        """S3 URL-encodes keys in its events (a space becomes '+'); the API wants them decoded."""
        return cls(bucket=bucket, key=unquote_plus(encoded_key))

    def candidates_from_event(self, raw_key: str) -> list[S3Location]:
        """The keys an event may mean: decoded (as S3 notifications encode), then as written.

        Classic S3 notifications URL-encode keys. For S3 events delivered by EventBridge no AWS document
        says whether they do: a key with a literal '+' or '%' is found either way.
        """
        raw = S3Location(bucket=self.bucket, key=raw_key)
        return [self] if raw == self else [self, raw]

    @classmethod
    def from_uri(cls, uri: str) -> S3Location:
        if not uri.startswith("s3://"):
            raise InvalidLocationError(f"not an s3:// URI: {uri}")
        bucket, _, key = uri[len("s3://") :].partition("/")
        if not bucket or not key:
            raise InvalidLocationError(f"an s3:// URI needs a bucket and a key: {uri}")
        return cls(bucket=bucket, key=key)


class StoredObject(Model):
    """One stored version of an object: what a diagnostics alert is about."""

    model_config = ConfigDict(frozen=True)

    location: S3Location
    etag: str
    version_id: str | None = None  # only in a versioned bucket
    size: int
    last_modified: datetime | None = None

    @property
    def alert_key(self) -> str:
        return diagnostics_key(self.location.bucket, self.location.key, self.etag, self.version_id)
