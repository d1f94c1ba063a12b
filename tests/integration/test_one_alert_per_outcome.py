"""Exactly one alert per outcome, whichever path sees it first, under the template's IAM roles.

Each test is named after a way the promise broke before (the S3 trigger, the training workflow and the
status poller deciding ownership by convention), and shows the outcome a person now gets: one alert,
with the summary when one can be made, and otherwise saying why not. The poller is the safety net: a
success whose diagnostics alert has not gone out within its grace period is alerted by the poller.
"""

from __future__ import annotations

import gzip
import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from moto.core.models import botocore_stubber
from moto.s3 import models as moto_s3_models

from local.generator import GeneratorSpec, write_diagnostics_file
from lookout_diagnostics.aws import ledger
from lookout_diagnostics.domain.alert_keys import diagnostics_key
from lookout_diagnostics.settings import get_settings
from tests.support.fake_lookout import FakeLookout, FakeModel, FakeModelVersion, listed_models
from tests.support.iam import current_runtime
from tests.support.samples import emitted_metrics, event
from tests.support.stack import EmulatedStack, announcement
from tests.support.state_machine import EmulatedStateMachine, ExecutionResult
from tests.support.template import ROOT
from tests.support.workflow import create_training_workflow

SPEC = GeneratorSpec(
    rows=3000, sensors=8, components=2, episodes=2, episode_points=(10, 30), seed=3, machine_off_points=(20, 50)
)
INPUT = json.loads((ROOT / "events" / "training-input.json").read_text())
MODEL = INPUT["ModelName"]
ARCHIVE = "team-archive"  # a bucket this stack does not watch
LONG_AGO = datetime(2024, 1, 1, tzinfo=UTC)
GRACE_MINUTES = 15
FILE = "model_diagnostics_results.json.gz"


# ---------------------------------------------------------------------------------------------- helpers
class Clock:
    """The poller's and the ledger's clock, moved forward without sleeping."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from lookout_diagnostics.usecases import poll as poller_service

        self.offset = 0.0
        monkeypatch.setattr(poller_service, "time", self)
        monkeypatch.setattr(ledger, "time", self)

    def time(self) -> float:
        return time.time() + self.offset

    def advance(self, minutes: float) -> None:
        self.offset += minutes * 60


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


@pytest.fixture
def machine(stack: EmulatedStack, lookout: FakeLookout) -> Iterator[EmulatedStateMachine]:
    with EmulatedStateMachine() as emulated:
        create_training_workflow(emulated)
        yield emulated


def train(machine: EmulatedStateMachine, execution_input: dict[str, Any] | None = None) -> ExecutionResult:
    return machine.run(INPUT if execution_input is None else execution_input, name="train-1")


def poll() -> dict[str, Any]:
    """One scheduled run of the status poller, under its role."""
    report: dict[str, Any] = current_runtime().invoke("StatusPollerFunction", event("scheduled-poll"))
    return report


def deliver(name: str, bucket: str, key: str) -> dict[str, Any]:
    """S3 announces the object stored at `key` now (the sample event `name`) to the S3 trigger."""
    result: dict[str, Any] = current_runtime().invoke("DiagnosticsFunction", announcement(name, bucket, key))
    return result


def diagnostics_bytes(spec: GeneratorSpec = SPEC) -> bytes:
    buffer = io.BytesIO()
    write_diagnostics_file(buffer, spec)
    return buffer.getvalue()


def put_diagnostics(version: FakeModelVersion | None, body: bytes | None = None) -> None:
    assert version is not None and version.diagnostics_object is not None
    bucket, key = version.diagnostics_object
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=diagnostics_bytes() if body is None else body)


def key_of(version: FakeModelVersion) -> str:
    assert version.diagnostics_object is not None
    return version.diagnostics_object[1]


def watched_model(lookout: FakeLookout, stack: EmulatedStack, name: str = MODEL, **kwargs: Any) -> FakeModel:
    """A model (created after the poller's first run) writing diagnostics to the watched bucket."""
    return lookout.add_model(name, diagnostics_bucket=stack.bucket, diagnostics_prefix=f"{name}/", **kwargs)


def first_poll_of_an_empty_account() -> None:
    assert poll()["models_seen"] == 0


# ------------------------------------------------------------------------------- 1. first sightings
def test_new_model_outcome_before_first_sighting_is_alerted(stack: EmulatedStack, lookout: FakeLookout) -> None:
    # Given the stack's very first poll, which remembers an old model without a word
    lookout.add_model("old-pump", diagnostics_bucket=ARCHIVE, diagnostics_prefix="old/", created_at=LONG_AGO)
    lookout.add_version("old-pump", 1, created_at=LONG_AGO, diagnostics_object=(ARCHIVE, "old/1/d.json.gz"))
    assert poll()["first_sightings"] == 1
    # When, before the poller runs again, a new model is trained and another's first training fails
    after = datetime.now(UTC) + timedelta(seconds=1)
    lookout.add_model("new-pump", diagnostics_bucket=ARCHIVE, diagnostics_prefix="new/", created_at=after)
    lookout.add_version("new-pump", 1, created_at=after, diagnostics_object=(ARCHIVE, "new/1/d.json.gz"))
    lookout.add_model(
        "new-compressor",
        status="FAILED",
        failed_reason="Not enough data",
        diagnostics_bucket=ARCHIVE,
        diagnostics_prefix="c/",
        created_at=after,
    )
    report = poll()
    # Then both outcomes are alerted and put as events, once; the old model stays quiet
    assert report["first_sightings"] == 0
    assert sorted(alert.subject for alert in stack.received_alerts()) == [
        "[ERROR] new-compressor: training failed: Not enough data",
        "[OK] new-pump v1: succeeded",
    ]
    assert sorted(e["detail"]["outcome"] for e in stack.received_events()) == ["SUCCEEDED", "TRAINING_FAILED"]
    # And the next run has nothing more to say
    poll()
    assert stack.received_alerts() == []
    assert stack.received_events() == []


# ------------------------------------------------------------------- 2. the workflow and a slow trigger
def test_workflow_losing_the_race_to_a_slow_trigger_ends_trained_and_the_success_is_alerted_once(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack, clock: Clock
) -> None:
    # Given the poller's first run, and an S3 trigger that claimed the new file's alert and was then killed
    first_poll_of_an_empty_account()

    def land_and_hang(model: FakeModel, version: FakeModelVersion | None) -> None:
        put_diagnostics(version)
        assert version is not None
        head = boto3.client("s3").head_object(Bucket=stack.bucket, Key=key_of(version))
        key = diagnostics_key(stack.bucket, key_of(version), head["ETag"].strip('"'), head["VersionId"])
        assert ledger.claim(stack.table, key, get_settings().claim_seconds) is ledger.Claim.CLAIMED

    lookout.train_on_create(MODEL, in_progress_polls=1, on_complete=land_and_hang)
    # When the workflow finishes while the trigger's claim holds
    result = train(machine)
    # Then the execution succeeds (the model is trained) with its alert pending, and sends no failure alert
    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None
    assert (result.output["Alert"], result.output["Reason"]) == ("PENDING", "AlertInProgressError")
    assert stack.received_alerts() == []
    # And while the claim holds, the poller waits; once it has lapsed, the poller sends the one alert
    assert poll()["pending_successes"] == 1
    clock.advance(minutes=get_settings().claim_seconds / 60 + 1)
    report = poll()
    [alert] = stack.received_alerts()
    assert alert.subject.startswith(f"[WARNING] {MODEL} v1: 2 anomalous events")
    assert "Sent by the status poller" in alert.body["note"]
    assert (report["safety_net_alerts"], report["pending_successes"]) == (1, 0)


# ---------------------------------------------------------------------- 3. a missing key is a 403 on AWS
def test_missing_key_is_403_on_aws_so_a_late_file_is_waited_for_not_failed(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack
) -> None:
    # Given the diagnostics file lands only after FinishTraining looked for it twice (S3 answers 403 for a
    # missing key to a caller without s3:ListBucket: the emulation answers so, and the functions may list)
    looked: list[int] = []

    def land_late(**_: Any) -> None:
        looked.append(1)
        if len(looked) == 3:
            put_diagnostics(lookout.model(MODEL).versions[1])

    s3 = current_runtime().client("TrainingFinishedFunction", "s3")
    s3.meta.events.register("before-call.s3.HeadObject", land_late)
    lookout.train_on_create(MODEL, in_progress_polls=1)
    # When the workflow runs
    result = train(machine)
    # Then FinishTraining waited ("not there yet") and alerted once, rather than failing and alerting twice
    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None and result.output["Alert"] == "ALERTED"
    assert machine.retry_intervals[:2] == [60, 90]
    [alert] = stack.received_alerts()
    assert alert.body["event_type"] == "DIAGNOSTICS_SUMMARY"


def test_missing_key_is_403_on_aws_so_a_file_the_trigger_found_unreadable_is_not_alerted_again(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack
) -> None:
    # Given the S3 trigger reported the new file unreadable (and so wrote no summary) before the workflow ended
    def land_broken_and_notify(model: FakeModel, version: FakeModelVersion | None) -> None:
        put_diagnostics(version, body=b"not gzip at all")
        assert version is not None
        deliver("eventbridge-object-created", stack.bucket, key_of(version))

    lookout.train_on_create(MODEL, in_progress_polls=1, on_complete=land_broken_and_notify)
    # When the workflow finishes
    result = train(machine)
    # Then it reports the trigger's alert (no summary to show) and sends nothing more
    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None
    assert (result.output["Alert"], result.output["Summary"]) == ("DUPLICATE", None)
    [alert] = stack.received_alerts()
    assert alert.body["event_type"] == "DIAGNOSTICS_UNREADABLE"


# -------------------------------------------------------------------------- 4. diagnostics elsewhere
def test_diagnostics_to_another_bucket_are_refused_before_a_model_is_created(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack
) -> None:
    # Given a console input asking L4E to write the diagnostics to a bucket this stack does not watch
    elsewhere = {"S3OutputConfiguration": {"Bucket": ARCHIVE, "Prefix": f"{MODEL}/"}}
    # When the workflow starts
    result = train(machine, INPUT | {"ModelDiagnosticsOutputConfiguration": elsewhere})
    # Then it is refused with what to do, before any model exists: one alert, and nothing left to alert later
    assert (result.status, result.error) == ("FAILED", "InvalidInput")
    assert f"must be this stack's diagnostics bucket '{stack.bucket}'" in (result.cause or "")
    assert listed_models() == {}
    [alert] = stack.received_alerts()
    assert alert.body["error"] == "InvalidInput"


# ----------------------------------------------------------------- 5. an object L4E names differently
def test_unmatched_object_name_is_alerted_once_saying_why(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack
) -> None:
    # Given L4E names a diagnostics object other than model_diagnostics_results.json.gz (its key layout is
    # undocumented), which no trigger matches and no function may read
    first_poll_of_an_empty_account()
    lookout.train_on_create(
        MODEL, in_progress_polls=1, diagnostics_key="{prefix}{model}/{version}/results.jsonl.gz", on_complete=None
    )
    # When the workflow finishes, and the poller runs after it
    result = train(machine)
    poll()
    # Then one alert says the version succeeded and why it has no summary, and the workflow says so
    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None and result.output["Alert"] == "ALERTED"
    [alert] = stack.received_alerts()
    assert alert.subject == f"[OK] {MODEL} v1: succeeded"
    assert "is not named model_diagnostics_results.json.gz" in alert.body["note"]


# ------------------------------------------------------------------------ 6. a failed first training
def test_failed_first_training_listed_as_version_1_is_alerted_once(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack
) -> None:
    # Given the poller's first run, and L4E listing the failed first training as a FAILED version 1 too
    first_poll_of_an_empty_account()

    def list_failed_version(model: FakeModel, version: FakeModelVersion | None) -> None:
        lookout.add_version(model.name, 1, status="FAILED", failed_reason="Not enough data")

    lookout.train_on_create(
        MODEL, in_progress_polls=1, outcome="FAILED", failed_reason="Not enough data", on_complete=list_failed_version
    )
    # When the workflow reports the failure and the poller then sees version 1 FAILED
    result = train(machine)
    report = poll()
    # Then the failure is alerted once (by the workflow), and the poller puts its event without alerting again
    assert (result.status, result.error) == ("FAILED", "TrainingFailed")
    [alert] = stack.received_alerts()
    assert alert.body["event_type"] == "TRAINING_FAILED"
    assert report["alerts_sent"] == 0
    [outcome] = stack.received_events()
    assert (outcome["detail"]["outcome"], outcome["detail"]["model_version"]) == ("TRAINING_FAILED", 1)


# --------------------------------------------------------------------------- 7. a versioned bucket
@pytest.mark.parametrize("source", ["eventbridge-object-created", "s3-notification"])
def test_versioned_bucket_gives_one_alert_per_stored_version_about_that_version(
    stack: EmulatedStack, lookout: FakeLookout, source: str
) -> None:
    # Given two uploads to the same key of a versioned bucket, each announced (the second before the first is read)
    key = f"{MODEL}/run 1/model_diagnostics_results.json.gz"
    s3 = boto3.client("s3")
    s3.put_object(Bucket=stack.bucket, Key=key, Body=diagnostics_bytes(SPEC))
    first = announcement(source, stack.bucket, key)
    s3.put_object(Bucket=stack.bucket, Key=key, Body=diagnostics_bytes(SPEC.model_copy(update={"rows": 2000})))
    second = announcement(source, stack.bucket, key)
    # When both events are delivered, and the first once more
    outcomes = [current_runtime().invoke("DiagnosticsFunction", e)["outcomes"][0] for e in (first, second, first)]
    # Then each stored version is alerted once, about its own content
    assert [outcome["status"] for outcome in outcomes] == ["ALERTED", "ALERTED", "DUPLICATE"]
    assert sorted(alert.body["summary"]["rows"] for alert in stack.received_alerts()) == [2000, 3000]


# ---------------------------------------------------------------------- 8. SNS publish retried by the SDK
def test_sns_publish_retried_by_the_sdk_carries_the_same_alert_id(stack: EmulatedStack, lookout: FakeLookout) -> None:
    # Given SNS accepts the alert but its answer is lost, so botocore's retry publishes it again
    key = f"{MODEL}/run 1/model_diagnostics_results.json.gz"
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=diagnostics_bytes())
    lost: list[int] = []

    def answer_lost(event_name: str, request: Any, **kwargs: Any) -> Any:
        if lost:
            return None  # moto answers the retry
        lost.append(1)
        botocore_stubber(event_name=event_name, request=request, **kwargs)  # SNS publishes...
        raise ReadTimeoutError(endpoint_url=request.url)  # ...and its answer never arrives

    sns = current_runtime().client("DiagnosticsFunction", "sns")
    sns.meta.events.register_first("before-send.sns.Publish", answer_lost)
    # When the file is announced
    result = deliver("eventbridge-object-created", stack.bucket, key)
    # Then subscribers get it twice (exactly-once delivery to email is impossible), with one alert_id they can
    # drop the repeat by, in the message attributes and the JSON body; the ledger holds it as sent once
    first, repeat = stack.received_alerts()
    assert first.attributes["alert_id"] == repeat.attributes["alert_id"] == result["outcomes"][0]["alert_id"]
    assert first.body["alert_id"] == repeat.body["alert_id"] == first.attributes["alert_id"]
    assert deliver("eventbridge-object-created", stack.bucket, key)["outcomes"][0]["status"] == "DUPLICATE"


# -------------------------------------------------------------------------------------- 9. KMS
def test_kms_claim_in_the_template_is_true_for_models_the_workflow_trains(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stack deployed with DiagnosticsKmsKeyArn
    key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    monkeypatch.setenv("DIAGNOSTICS_KMS_KEY_ARN", key_arn)
    get_settings.cache_clear()
    lookout.train_on_create(MODEL, in_progress_polls=0, on_complete=lambda m, v: put_diagnostics(v))
    # When the workflow trains a model
    train(machine)
    # Then the model L4E shows encrypts its diagnostics with that key
    model = boto3.client("lookoutequipment").describe_model(ModelName=MODEL)
    assert model["ModelDiagnosticsOutputConfiguration"]["KmsKeyId"] == key_arn


# ------------------------------------------------------------------------ 10. a bucket not announcing
def test_existing_bucket_without_eventbridge_notifications_is_alarmed_and_its_success_alerted_by_the_poller(
    stack: EmulatedStack, lookout: FakeLookout, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a watched bucket that does not send its events to EventBridge, so the S3 trigger never runs
    boto3.client("s3").put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration={})
    first_poll_of_an_empty_account()
    watched_model(lookout, stack)
    version = lookout.add_version(
        MODEL, 1, diagnostics_object=(stack.bucket, f"{MODEL}/1/model_diagnostics_results.json.gz")
    )
    put_diagnostics(version)
    capsys.readouterr()
    # When the poller runs (no grace: nobody else will alert it)
    report = poll()
    # Then it counts the bucket as not announcing (BucketNotAnnouncing, alarmed) and alerts the success itself
    assert report["bucket_announcing"] is False
    assert emitted_metrics(capsys.readouterr().out)["BucketNotAnnouncing"] == 1
    [alert] = stack.received_alerts()
    assert alert.body["summary"]["rows"] == SPEC.rows
    assert "does not send its events to EventBridge" in alert.body["note"]


# ---------------------------------------------------------------------- 11. a model deleted mid-poll
def test_model_deleted_during_a_poll_is_not_an_error(
    stack: EmulatedStack, lookout: FakeLookout, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a model that is listed, then deleted before its versions are listed
    lookout.add_model(MODEL, diagnostics_bucket=ARCHIVE, diagnostics_prefix="p/", status="IN_PROGRESS")
    lookout.fail_next("ListModelVersions", "ResourceNotFoundException")
    # When the poller runs
    report = poll()
    # Then it notes the model as gone, and reports no error (nothing pages operations)
    assert report["vanished_models"] == [MODEL]
    assert report["errors"] == []
    assert emitted_metrics(capsys.readouterr().out)["PollErrors"] == 0


# ---------------------------------------------------------------- 12. EventBridge's key encoding
@pytest.mark.parametrize("encoded", [True, False], ids=["key-url-encoded", "key-as-stored"])
@pytest.mark.parametrize(
    "key", ["pump+7/model_diagnostics_results.json.gz", "100% a%2Bb/model_diagnostics_results.json.gz"]
)
def test_eventbridge_key_encoding_is_read_either_way(
    stack: EmulatedStack, lookout: FakeLookout, key: str, encoded: bool
) -> None:
    # Given a file whose key holds a literal '+' or '%', announced with the key URL-encoded or as stored
    # (no AWS document says which EventBridge does)
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=diagnostics_bytes())
    announced = announcement("eventbridge-object-created", stack.bucket, key)
    announced["detail"]["object"]["key"] = quote_plus(key, safe="/") if encoded else key
    # When it is delivered
    result = current_runtime().invoke("DiagnosticsFunction", announced)
    # Then that object is read and alerted, whichever way the key came
    assert result["outcomes"][0]["status"] == "ALERTED"
    [alert] = stack.received_alerts()
    assert alert.body["diagnostics_object"] == f"s3://{stack.bucket}/{key}"


# ----------------------------------------------------------------------------- the safety net
def test_a_success_the_trigger_alerted_is_not_alerted_again_by_the_poller(
    stack: EmulatedStack, lookout: FakeLookout, clock: Clock
) -> None:
    # Given a success whose file the S3 trigger alerted
    first_poll_of_an_empty_account()
    watched_model(lookout, stack)
    version = lookout.add_version(
        MODEL, 1, diagnostics_object=(stack.bucket, f"{MODEL}/1/model_diagnostics_results.json.gz")
    )
    put_diagnostics(version)
    deliver("eventbridge-object-created", stack.bucket, key_of(version))
    # When the poller sees the success, and runs again long after the grace period
    poll()
    clock.advance(minutes=GRACE_MINUTES * 10)
    report = poll()
    # Then the one alert is the trigger's; the poller put the outcome's event and has nothing pending
    [alert] = stack.received_alerts()
    assert "note" not in alert.body["summary"] and alert.body["note"] is None
    assert [e["detail"]["outcome"] for e in stack.received_events()] == ["SUCCEEDED"]
    assert (report["pending_successes"], report["safety_net_alerts"]) == (0, 0)


def test_a_success_the_trigger_never_alerted_is_alerted_by_the_poller_after_the_grace_period(
    stack: EmulatedStack, lookout: FakeLookout, clock: Clock
) -> None:
    # Given a success whose file landed but whose event was lost
    first_poll_of_an_empty_account()
    watched_model(lookout, stack)
    version = lookout.add_version(
        MODEL, 1, diagnostics_object=(stack.bucket, f"{MODEL}/1/model_diagnostics_results.json.gz")
    )
    put_diagnostics(version)
    # When the poller runs within the grace period, then after it
    poll()
    clock.advance(minutes=GRACE_MINUTES - 1)
    assert poll()["pending_successes"] == 1
    assert stack.received_alerts() == []
    clock.advance(minutes=2)
    report = poll()
    # Then the poller sends the summary's alert, saying why it sent it
    [alert] = stack.received_alerts()
    assert alert.body["event_type"] == "DIAGNOSTICS_SUMMARY"
    assert alert.body["model"]["model_version"] == 1 and alert.body["model"]["confirmed"] is True
    assert "the S3 trigger had not alerted this file 16 min after" in alert.body["note"]
    assert (report["safety_net_alerts"], report["pending_successes"]) == (1, 0)
    # And a late delivery of the lost event finds it sent
    assert deliver("eventbridge-object-created", stack.bucket, key_of(version))["outcomes"][0]["status"] == "DUPLICATE"
    assert stack.received_alerts() == []


def test_a_success_whose_file_is_missing_is_alerted_by_the_poller_saying_so(
    stack: EmulatedStack, lookout: FakeLookout, clock: Clock
) -> None:
    # Given a success whose diagnostics file never landed
    first_poll_of_an_empty_account()
    watched_model(lookout, stack)
    lookout.add_version(MODEL, 1, diagnostics_object=(stack.bucket, f"{MODEL}/1/model_diagnostics_results.json.gz"))
    # When the poller runs, and again after the workflow would have stopped waiting for it (45 minutes)
    poll()
    clock.advance(minutes=46)
    poll()
    # Then one alert says the version succeeded and its file is missing
    [alert] = stack.received_alerts()
    assert alert.subject == f"[OK] {MODEL} v1: succeeded"
    assert "was not in S3 46 min after the version succeeded" in alert.body["note"]


def test_an_unreadable_file_found_by_the_safety_net_is_alerted_as_unreadable(
    stack: EmulatedStack, lookout: FakeLookout, clock: Clock
) -> None:
    # Given a success whose file is not gzip, and whose event was lost
    first_poll_of_an_empty_account()
    watched_model(lookout, stack)
    version = lookout.add_version(
        MODEL, 1, diagnostics_object=(stack.bucket, f"{MODEL}/1/model_diagnostics_results.json.gz")
    )
    put_diagnostics(version, body=gzip.compress(b"{not json\n"))
    # When the poller runs after the grace period
    poll()
    clock.advance(minutes=GRACE_MINUTES + 1)
    poll()
    # Then one alert says why no summary could be made
    [alert] = stack.received_alerts()
    assert alert.body["event_type"] == "DIAGNOSTICS_UNREADABLE"
    assert alert.body["line"] == 1
    assert "Sent by the status poller" in alert.body["note"]


# ------------------------------------------------------------------ found by a hostile review afterwards
def test_a_file_the_stack_may_not_read_is_alerted_as_unreadable_and_holds_up_no_other_success(
    stack: EmulatedStack, lookout: FakeLookout
) -> None:
    # Given a bucket that does not announce, and two successes: one file encrypted with a key the stack may not
    # use (S3 answers AccessDenied), one readable
    boto3.client("s3").put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration={})
    first_poll_of_an_empty_account()
    for name in ("a-pump", "b-pump"):
        watched_model(lookout, stack, name)
        put_diagnostics(lookout.add_version(name, 1, diagnostics_object=(stack.bucket, f"{name}/1/{FILE}")))

    def kms_denied(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key") == f"a-pump/1/{FILE}":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no kms:Decrypt"}}, "GetObject")

    current_runtime().client("StatusPollerFunction", "s3").meta.events.register(
        "provide-client-params.s3.GetObject", kms_denied
    )
    # When the poller runs twice (one safety-net summary per run)
    poll()
    report = poll()
    # Then each success got one alert: the unreadable one says why, the other is summarised
    alerts = {alert.body["model"]["model_name"]: alert for alert in stack.received_alerts()}
    assert alerts["a-pump"].body["event_type"] == "DIAGNOSTICS_UNREADABLE"
    assert "S3 refused to read it (AccessDenied" in alerts["a-pump"].body["reason"]
    assert alerts["b-pump"].body["summary"]["rows"] == SPEC.rows
    assert (report["errors"], report["pending_successes"]) == ([], 0)


def test_a_model_the_poller_does_not_watch_is_refused_by_the_workflow(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stack whose poller watches only models named "line-..." (ModelNamePrefix), its safety net included
    monkeypatch.setenv("MODEL_NAME_PREFIX", "line-")
    get_settings.cache_clear()
    # When the workflow is asked to train a model outside it
    result = train(machine)
    # Then it is refused before any model exists, saying why
    assert (result.status, result.error) == ("FAILED", "InvalidInput")
    assert "must begin with 'line-'" in (result.cause or "")
    assert listed_models() == {}


def test_a_model_created_again_under_its_old_name_is_not_settled_by_the_old_models_file(
    machine: EmulatedStateMachine,
    lookout: FakeLookout,
    stack: EmulatedStack,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the file an earlier model of the same name wrote, under the key the new version 1 will use
    key = f"{MODEL}/{MODEL}/1/{FILE}"
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=diagnostics_bytes())
    deliver("eventbridge-object-created", stack.bucket, key)
    stack.received_alerts()
    first_poll_of_an_empty_account()

    def created_later(model: FakeModel, version: FakeModelVersion | None) -> None:
        assert version is not None  # its file has not landed yet; the version is clearly newer than the old file
        version.created_at = datetime.now(UTC) + timedelta(minutes=10)

    lookout.train_on_create(MODEL, in_progress_polls=1, on_complete=created_later)
    # When the new model's training succeeds and its file lands late (its event lost)
    result = train(machine)
    poll()
    clock.advance(minutes=GRACE_MINUTES + 1)
    assert poll()["pending_successes"] == 1
    with monkeypatch.context() as later:  # S3 stores it after the version was created
        later.setattr(moto_s3_models, "utcnow", lambda: datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=20))
        boto3.client("s3").put_object(
            Bucket=stack.bucket, Key=key, Body=diagnostics_bytes(SPEC.model_copy(update={"rows": 2000}))
        )
    clock.advance(minutes=15)
    poll()
    # Then the workflow did not report the old summary as its own, and the new file got the one alert
    assert result.output is not None and result.output["Alert"] == "PENDING"
    [alert] = stack.received_alerts()
    assert alert.body["summary"]["rows"] == 2000


def test_more_versions_than_are_remembered_are_not_announced_again(stack: EmulatedStack, lookout: FakeLookout) -> None:
    # Given a model with 101 old failed retrainings, remembered by the first poll (the newest 100 are kept)
    lookout.add_model("old-pump", diagnostics_bucket=ARCHIVE, diagnostics_prefix="o/", created_at=LONG_AGO)
    for number in range(1, 102):
        lookout.add_version(
            "old-pump", number, status="FAILED", source_type="RETRAINING", created_at=LONG_AGO, failed_reason="old"
        )
    poll()
    # When version 102 fails
    lookout.add_version("old-pump", 102, status="FAILED", source_type="RETRAINING", failed_reason="new")
    poll()
    # Then only version 102 is alerted
    assert [alert.subject for alert in stack.received_alerts()] == ["[ERROR] old-pump v102: failed: new"]


def test_a_file_removed_after_its_alert_is_not_alerted_again_as_missing(
    stack: EmulatedStack, lookout: FakeLookout, clock: Clock
) -> None:
    # Given a success the S3 trigger alerted, whose file was then moved away before the poller looked
    first_poll_of_an_empty_account()
    watched_model(lookout, stack)
    version = lookout.add_version(MODEL, 1, diagnostics_object=(stack.bucket, f"{MODEL}/1/{FILE}"))
    put_diagnostics(version)
    deliver("eventbridge-object-created", stack.bucket, key_of(version))
    boto3.client("s3").delete_object(Bucket=stack.bucket, Key=key_of(version))
    # When the poller runs, and long after
    poll()
    clock.advance(minutes=60)
    report = poll()
    # Then the trigger's alert stands alone
    assert len(stack.received_alerts()) == 1
    assert report["pending_successes"] == 0


def test_a_missing_file_waits_as_long_as_the_workflow_would_before_it_is_alerted_as_missing(
    stack: EmulatedStack, lookout: FakeLookout, clock: Clock
) -> None:
    # Given a success whose file has not landed
    first_poll_of_an_empty_account()
    watched_model(lookout, stack)
    lookout.add_version(MODEL, 1, diagnostics_object=(stack.bucket, f"{MODEL}/1/{FILE}"))
    poll()
    # When the grace period has passed but not the workflow's wait for a late file (about 40 minutes)
    clock.advance(minutes=40)
    poll()
    # Then nothing is said yet; after 45 minutes, the file is reported missing
    assert stack.received_alerts() == []
    clock.advance(minutes=6)
    poll()
    [alert] = stack.received_alerts()
    assert "was not in S3 46 min after the version succeeded" in alert.body["note"]


def test_a_failed_training_whose_reason_cannot_be_read_is_still_one_training_failure(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack
) -> None:
    # Given the poller's first run, a training that fails, and DescribeModel failing when the workflow asks why
    first_poll_of_an_empty_account()
    lookout.train_on_create(MODEL, in_progress_polls=1, outcome="FAILED", failed_reason="Not enough data")
    real = lookout.fail_next
    described: list[int] = []

    def fail_after_the_failure(model: FakeModel, version: FakeModelVersion | None) -> None:
        described.append(1)
        real("DescribeModel", "AccessDeniedException", times=1)

    lookout.train_on_create(
        MODEL,
        in_progress_polls=1,
        outcome="FAILED",
        failed_reason="Not enough data",
        on_complete=fail_after_the_failure,
    )
    # When the workflow ends and the poller then sees the failed model
    result = train(machine)
    poll()
    # Then the failure is the training's (the outcome's key the poller uses too): one alert in all
    assert (result.status, result.error) == ("FAILED", "TrainingFailed")
    [alert] = stack.received_alerts()
    assert alert.body["event_type"] == "TRAINING_FAILED"
    assert [e["detail"]["outcome"] for e in stack.received_events()] == ["TRAINING_FAILED"]
