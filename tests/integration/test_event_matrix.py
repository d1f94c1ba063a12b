"""Every kind of event the S3 trigger may receive, through the real handler under moto, under its role (IAM enforced).

Wrong shapes fail loudly (MalformedEventError: retried, then dead-lettered with an alarm); S3 events that
announce nothing to summarise are IGNORED (metric IgnoredObjects), unread; URL-encoded keys name the
object that was stored; newer versions of the S3 event are read as long as their shape is compatible.
"""

from __future__ import annotations

import gzip
import json
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import boto3
import pytest
from botocore.exceptions import ClientError

from lookout_diagnostics.errors import MalformedEventError
from tests.support.fake_lookout import FakeLookout
from tests.support.iam import LambdaRuntime, current_runtime
from tests.support.samples import emitted_metrics, event
from tests.support.stack import EmulatedStack

FILE = "model_diagnostics_results.json.gz"
KEY = f"pump-7/{FILE}"
OTHER_BUCKET = "someone-elses-bucket"
RECORDS = [
    {"timestamp": "2024-01-01T00:00:00.000000", "prediction": 0, "anomaly_score": 0.1},
    {
        "timestamp": "2024-01-01T00:01:00.000000",
        "prediction": 1,
        "anomaly_score": 0.9,
        "diagnostics": [{"name": "pump\\pressure", "value": 1.0}],
    },
]


def diagnostics_file() -> bytes:
    return gzip.compress(b"".join(json.dumps(record).encode() + b"\n" for record in RECORDS))


def encoded(key: str) -> str:
    """A key as S3 writes it into its events: URL-encoded, a space as '+', '/' kept."""
    return quote_plus(key, safe="/")


STORED = "{stored}"  # stands for the ETag / version id of the object stored when the event is delivered


def eventbridge(bucket: str, key: str, **changes: Any) -> dict[str, Any]:
    announced = event("eventbridge-object-created")
    announced["detail"]["bucket"]["name"] = bucket
    announced["detail"]["object"] |= {"key": encoded(key), "etag": STORED, "version-id": STORED}
    announced["resources"] = [f"arn:aws:s3:::{bucket}"]
    return announced | changes


def notification(bucket: str, key: str, *, event_name: str = "ObjectCreated:Put") -> dict[str, Any]:
    announced = event("s3-notification")
    record = announced["Records"][0]
    record["eventName"] = event_name
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    record["s3"]["object"] |= {"key": encoded(key), "eTag": STORED, "versionId": STORED}
    return announced


def invoke(announced: Any) -> dict[str, Any]:
    """The handler, with each announced object's ETag and version id as S3 writes them (none if not stored)."""
    if isinstance(announced, dict):
        records = announced.get("Records")
        entities = [r.get("s3") for r in records if isinstance(r, dict)] if isinstance(records, list) else []
        fields = [(entity, "eTag", "versionId") for entity in entities]
        fields.append((announced.get("detail"), "etag", "version-id"))
        for entity, etag_field, version_field in fields:
            stored = entity.get("object") if isinstance(entity, dict) else None
            if isinstance(stored, dict) and stored.get(etag_field) == STORED:
                etag, version_id = _stored_version(entity["bucket"]["name"], unquote_plus(stored["key"]))
                stored[etag_field], stored[version_field] = etag, version_id
    return current_runtime().invoke("DiagnosticsFunction", announced)


def _stored_version(bucket: str, key: str) -> tuple[str | None, str | None]:
    try:
        head = boto3.client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError:
        return None, None
    return head["ETag"].strip('"'), head.get("VersionId")


def exists(bucket: str, key: str) -> bool:
    try:
        boto3.client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    return True


# --------------------------------------------------------------------------- wrong shapes


def _record_without(path: str) -> dict[str, Any]:
    announced = event("s3-notification")
    *parents, last = path.split(".")
    node = announced["Records"][0]
    for part in parents:
        node = node[part]
    del node[last]
    return announced


def _eventbridge_with_detail(detail: Any) -> dict[str, Any]:
    announced = event("eventbridge-object-created")
    announced["detail"] = detail
    return announced


def _eventbridge_without_object() -> dict[str, Any]:
    announced = event("eventbridge-object-created")
    del announced["detail"]["object"]
    return announced


def _record_with(**changes: Any) -> dict[str, Any]:
    announced = event("s3-notification")
    announced["Records"][0] |= changes
    return announced


@pytest.mark.parametrize(
    ("announced", "words"),
    [
        (["not", "an", "object"], "not a JSON object"),
        ("a string", "not a JSON object"),
        (None, "not a JSON object"),
        ({}, "neither an S3 notification"),
        (event("malformed"), "neither an S3 notification"),
        ({"Records": "not a list"}, "Records"),
        ({"Records": ["not a record"]}, "Records.0"),
        (_record_without("s3"), "Records.0.s3"),
        (_record_without("s3.object"), "Records.0.s3.object"),
        (_record_without("s3.object.key"), "Records.0.s3.object.key"),
        (_record_without("s3.bucket"), "Records.0.s3.bucket"),
        (_record_without("eventName"), "Records.0.eventName"),
        (_record_with(eventName=5), "Records.0.eventName"),
        (_record_with(eventSource="aws:sqs"), "Records.0.eventSource"),
        (_eventbridge_without_object(), "detail.object"),
        (_eventbridge_with_detail("not an object"), "detail"),
        (_eventbridge_with_detail({"eventName": "PutObject"}), "detail"),
    ],
    ids=[
        "a-list",
        "a-string",
        "null",
        "empty-object",
        "scheduled-event",
        "records-not-a-list",
        "record-not-an-object",
        "record-without-s3",
        "record-without-object",
        "record-without-key",
        "record-without-bucket",
        "record-without-event-name",
        "event-name-not-a-string",
        "record-not-from-s3",
        "eventbridge-detail-without-object",
        "eventbridge-detail-not-an-object",
        "eventbridge-cloudtrail-shape",
    ],
)
def test_an_event_of_the_wrong_shape_fails_loudly_and_alerts_nobody(
    stack: EmulatedStack, lookout: FakeLookout, announced: Any, words: str
) -> None:
    # Given a stored diagnostics file, so that a wrongly read event could find something
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=KEY, Body=diagnostics_file())
    # When an event of the wrong shape arrives
    with pytest.raises(MalformedEventError) as caught:
        invoke(announced)
    # Then it fails with a typed error that says what is wrong (Lambda retries, then dead-letters it)
    assert words in str(caught.value)
    assert stack.received_alerts() == []


# --------------------------------------------------------------------------- ignored


@pytest.mark.parametrize(
    ("announced", "detail"),
    [
        (notification("{bucket}", KEY, event_name="ObjectRemoved:Delete"), "not an object creation (ObjectRemoved"),
        (
            notification("{bucket}", KEY, event_name="LifecycleExpiration:Delete"),
            "not an object creation (LifecycleExpiration",
        ),
        (eventbridge("{bucket}", KEY, **{"detail-type": "Object Deleted"}), "not an object creation (Object Deleted)"),
        (eventbridge("{bucket}", "pump-7/model_diagnostics_results.json"), "not a diagnostics file"),
        (notification("{bucket}", f"pump-7/{FILE}.tmp"), "not a diagnostics file"),
        (eventbridge("{bucket}", "pump-7/model_diagnostics_results.summary.json"), "not a diagnostics file"),
        (eventbridge(OTHER_BUCKET, KEY), "not the watched bucket"),
        (notification(OTHER_BUCKET, KEY), "not the watched bucket"),
    ],
    ids=[
        "object-removed",
        "lifecycle-expiration",
        "eventbridge-object-deleted",
        "wrong-suffix",
        "suffix-with-more",
        "the-summary-file",
        "eventbridge-other-bucket",
        "notification-other-bucket",
    ],
)
def test_an_s3_event_with_nothing_to_summarise_is_ignored_unread(
    stack: EmulatedStack,
    lookout: FakeLookout,
    capsys: pytest.CaptureFixture[str],
    announced: dict[str, Any],
    detail: str,
) -> None:
    # Given a diagnostics file under the same key in the watched bucket and in another one
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=OTHER_BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for bucket in (stack.bucket, OTHER_BUCKET):
        s3.put_object(Bucket=bucket, Key=KEY, Body=diagnostics_file())
    announced = json.loads(json.dumps(announced).replace("{bucket}", stack.bucket))
    # When the event arrives
    result = invoke(announced)
    # Then the object is ignored, said why, and counted; nothing is alerted nor written anywhere
    [outcome] = result["outcomes"]
    assert outcome["status"] == "IGNORED"
    assert outcome["detail"].startswith(detail)
    assert "IgnoredObjects" in emitted_metrics(capsys.readouterr().out)
    assert stack.received_alerts() == []
    assert not exists(stack.bucket, "pump-7/model_diagnostics_results.summary.json")
    assert not exists(OTHER_BUCKET, "pump-7/model_diagnostics_results.summary.json")


def test_a_notification_of_several_records_processes_each_on_its_own(
    stack: EmulatedStack, lookout: FakeLookout
) -> None:
    # Given a notification with a creation in the watched bucket, a removal and a creation elsewhere
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=KEY, Body=diagnostics_file())
    announced = notification(stack.bucket, KEY)
    announced["Records"] += [
        notification(stack.bucket, KEY, event_name="ObjectRemoved:Delete")["Records"][0],
        notification(OTHER_BUCKET, KEY)["Records"][0],
    ]
    # When it arrives
    result = invoke(announced)
    # Then one alert, and the other two records are ignored
    assert [outcome["status"] for outcome in result["outcomes"]] == ["ALERTED", "IGNORED", "IGNORED"]
    assert len(stack.received_alerts()) == 1


def test_an_empty_notification_does_nothing(stack: EmulatedStack) -> None:
    assert invoke({"Records": []}) == {"outcomes": []}
    assert stack.received_alerts() == []


def test_the_s3_test_event_sent_when_notifications_are_configured_does_nothing(stack: EmulatedStack) -> None:
    # Given the event S3 sends once when a bucket's notification configuration is saved
    test_event = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-11-27T06:00:00.000Z",
        "Bucket": stack.bucket,
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
    }
    # When it reaches the handler, Then nothing is read, nothing alerted, and nothing retried
    assert invoke(test_event) == {"outcomes": []}
    assert stack.received_alerts() == []


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    "key",
    [
        f"pump station=7/version=3/{FILE}",  # space and '=': 'pump+station%3D7'
        f"pump+7/{FILE}",  # a real plus: 'pump%2B7'
        f"Pumpe_ä/Förderhöhe €/{FILE}",  # non-ASCII: '%C3%A4', '%E2%82%AC'
        f"100% done/a&b?c#d/{FILE}",  # '%25', '%26', '%3F', '%23'
        f"a%2Bb/{FILE}",  # a key that itself holds '%2B': '%252B'
        f"  two  spaces /{FILE}",
    ],
    ids=["space-and-equals", "real-plus", "non-ascii", "reserved-characters", "percent-sequence", "spaces"],
)
@pytest.mark.parametrize("source", ["eventbridge", "notification"])
def test_a_url_encoded_key_names_the_object_that_was_stored(
    stack: EmulatedStack, lookout: FakeLookout, key: str, source: str
) -> None:
    # Given a diagnostics file stored under a key with characters S3 encodes in its events
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=diagnostics_file())
    # When S3 announces it, with the key URL-encoded
    assert encoded(key) != key
    invoke(eventbridge(stack.bucket, key) if source == "eventbridge" else notification(stack.bucket, key))
    # Then that very object was read, summarised beside itself and named in the alert
    [alert] = stack.received_alerts()
    assert alert.body["diagnostics_object"] == f"s3://{stack.bucket}/{key}"
    assert alert.body["summary"]["rows"] == len(RECORDS)
    summary_key = key.removesuffix(FILE) + "model_diagnostics_results.summary.json"
    assert alert.body["summary_object"] == f"s3://{stack.bucket}/{summary_key}"
    assert exists(stack.bucket, summary_key)


# --------------------------------------------------------------------------- versions


def _notification_of_a_newer_version() -> dict[str, Any]:
    announced = notification("{bucket}", KEY)
    record = announced["Records"][0]
    record["eventVersion"] = "2.3"
    record["s3"]["s3SchemaVersion"] = "1.1"
    record["newField"] = {"anything": [1, 2]}
    return announced


def _notification_with_only_what_is_read() -> dict[str, Any]:
    record = notification("{bucket}", KEY)["Records"][0]
    return {
        "Records": [
            {
                "eventVersion": "3.0",
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "{bucket}"}, "object": {"key": record["s3"]["object"]["key"]}},
            }
        ]
    }


def _eventbridge_of_a_newer_version() -> dict[str, Any]:
    announced = eventbridge("{bucket}", KEY)
    announced["detail"]["version"] = "1"
    announced["detail"]["new-field"] = "anything"
    return announced


@pytest.mark.parametrize(
    "announced",
    [
        _notification_of_a_newer_version(),
        _notification_with_only_what_is_read(),
        _eventbridge_of_a_newer_version(),
        eventbridge("{bucket}", KEY, version="1"),
    ],
    ids=["notification-2.3", "notification-only-what-is-read", "eventbridge-detail-version-1", "eventbridge-version-1"],
)
def test_a_newer_version_of_the_s3_event_is_read_when_its_shape_is_compatible(
    stack: EmulatedStack, lookout: FakeLookout, announced: dict[str, Any]
) -> None:
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=KEY, Body=diagnostics_file())
    result = invoke(json.loads(json.dumps(announced).replace("{bucket}", stack.bucket)))
    assert result["outcomes"][0]["status"] == "ALERTED"
    [alert] = stack.received_alerts()
    assert alert.body["diagnostics_object"] == f"s3://{stack.bucket}/{KEY}"


def test_without_a_watched_bucket_any_bucket_is_read(
    stack: EmulatedStack, lookout: FakeLookout, lambda_runtime: LambdaRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a function configured without DIAGNOSTICS_BUCKET (the check is then off) and a file elsewhere,
    # and a role widened to that bucket (the template's role reaches the watched bucket only)
    from lookout_diagnostics.settings import get_settings

    monkeypatch.delenv("DIAGNOSTICS_BUCKET")
    get_settings.cache_clear()
    lambda_runtime.grant(
        "DiagnosticsFunction",
        {"Effect": "Allow", "Action": ["s3:GetObject*", "s3:PutObject"], "Resource": f"arn:aws:s3:::{OTHER_BUCKET}/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{OTHER_BUCKET}"},
    )
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=OTHER_BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket=OTHER_BUCKET, Key=KEY, Body=diagnostics_file())
    # When it is announced, it is summarised
    result = invoke(eventbridge(OTHER_BUCKET, KEY))
    assert result["outcomes"][0]["status"] == "ALERTED"
