"""The S3 trigger end to end under moto: real handler under its role from template.yaml (IAM enforced), real events
from events/, fake L4E checked by botocore."""

from __future__ import annotations

import gzip
import io
import json
import logging
import re
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.generator import GeneratorSpec, GroundTruth, write_diagnostics_file
from lookout_diagnostics.aws import ledger
from lookout_diagnostics.domain.alert_keys import diagnostics_key
from lookout_diagnostics.errors import AlertInProgressError, DiagnosticsObjectMissingError, MalformedEventError
from tests.support.fake_lookout import FakeLookout
from tests.support.iam import current_runtime
from tests.support.samples import event
from tests.support.stack import EXAMPLE_BUCKET, EmulatedStack, announcement

KEY = "diagnostics/pump station=7/version=3/model_diagnostics_results.json.gz"
SUMMARY_KEY = "diagnostics/pump station=7/version=3/model_diagnostics_results.summary.json"
PREFIX = "diagnostics/pump station=7/"
SPEC = GeneratorSpec(
    rows=3000,
    sensors=8,
    components=2,
    episodes=2,
    episode_points=(10, 30),
    machine_off_stretches=1,
    machine_off_points=(20, 50),
    seed=7,
)
METRICS = {
    "labeled_ranges": [],
    "labeled_event_metrics": {"num_labeled": 4, "num_identified": 3, "total_warning_time_in_seconds": 5400},
    "predicted_ranges": [{"start": "2024-01-01T10:00:00", "end": "2024-01-01T11:00:00", "diagnostics": []}] * 5,
    "unknown_event_metrics": {"num_identified": 1, "total_duration_in_seconds": 600},
}


def upload(stack: EmulatedStack, body: bytes, key: str = KEY) -> None:
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=body)


def upload_generated(stack: EmulatedStack, spec: GeneratorSpec = SPEC) -> GroundTruth:
    buffer = io.BytesIO()
    truth = write_diagnostics_file(buffer, spec)
    upload(stack, buffer.getvalue())
    return truth


def register_model(lookout: FakeLookout, stack: EmulatedStack, *, names_file: bool = True) -> None:
    lookout.add_model("pump-station-7", diagnostics_bucket=stack.bucket, diagnostics_prefix=PREFIX)
    lookout.add_version("pump-station-7", 1, model_quality="POOR_QUALITY_DETECTED")
    lookout.add_version(
        "pump-station-7",
        3,
        model_metrics=METRICS,
        model_quality="QUALITY_THRESHOLD_MET",
        diagnostics_object=(stack.bucket, KEY) if names_file else None,
    )


def invoke(name: str, key: str = KEY) -> dict[str, Any]:
    """The trigger, with the sample event `name` announcing what is stored at `key` now (as S3 would)."""
    announced = announcement(name, EXAMPLE_BUCKET, key) if name in ANNOUNCING_EVENTS else event(name)
    return current_runtime().invoke("DiagnosticsFunction", announced)


ANNOUNCING_EVENTS = {"eventbridge-object-created", "s3-notification"}


def test_a_landed_file_gives_one_alert_a_person_can_act_on(stack: EmulatedStack, lookout: FakeLookout) -> None:
    # Given model pump-station-7 whose version 3 wrote the diagnostics file, with two anomalous episodes
    register_model(lookout, stack)
    truth = upload_generated(stack)
    # When EventBridge announces the file
    result = invoke("eventbridge-object-created")
    # Then one alert names the model, version and outcome, with filterable attributes
    [alert] = stack.received_alerts()
    assert alert.subject.startswith("[WARNING] pump-station-7 v3: 2 anomalous events,")
    assert alert.attributes == {
        "event_type": "DIAGNOSTICS_SUMMARY",
        "severity": "WARNING",
        "model_name": "pump-station-7",
        "alert_id": alert.body["alert_id"],
    }
    assert re.fullmatch(r"[0-9a-f]{32}", alert.body["alert_id"])
    # And its JSON body carries the model's figures and a summary that matches what was planted
    body = alert.body
    assert body["model"]["model_version"] == 3
    assert body["model"]["confirmed"] is True
    assert body["model"]["model_quality"] == "QUALITY_THRESHOLD_MET"
    assert body["model"]["metrics"]["labeled_events_identified"] == 3
    assert body["model"]["metrics"]["predicted_ranges"] == 5
    summary = body["summary"]
    assert (summary["rows"], summary["normal"], summary["anomalous"], summary["machine_off"]) == (
        truth.rows,
        truth.normal,
        truth.anomalous,
        truth.machine_off,
    )
    assert [(e["start"], e["end"], e["points"]) for e in summary["events"]] == [
        (e.start, e.end, e.points) for e in truth.episodes
    ]
    assert summary["events"][0]["top_sensors"][0]["name"] == truth.episodes[0].dominant_sensors[0]
    # And the summary JSON was written beside the file, and the alert says where
    stored = json.loads(boto3.client("s3").get_object(Bucket=stack.bucket, Key=SUMMARY_KEY)["Body"].read())
    assert stored["event_count"] == 2
    assert body["summary_object"] == f"s3://{stack.bucket}/{SUMMARY_KEY}"
    assert result["outcomes"][0]["status"] == "ALERTED"


def test_the_email_body_reads_as_a_report(stack: EmulatedStack, lookout: FakeLookout) -> None:
    register_model(lookout, stack)
    upload_generated(stack)
    invoke("eventbridge-object-created")
    assert len(stack.received_alerts()) == 1
    # The SQS subscriber gets JSON; email subscribers get the text
    [(subject, text)] = stack.emailed_alerts()
    assert subject.startswith("[WARNING] pump-station-7 v3")
    assert "Model:    pump-station-7 v3, quality QUALITY_THRESHOLD_MET" in text
    assert "Worst events (of 2):" in text
    assert f"Diagnostics file: s3://{stack.bucket}/{KEY}" in text
    assert "labelled events 4, identified 3; predicted ranges 5" in text


def test_duplicate_deliveries_from_either_source_give_no_second_alert(
    stack: EmulatedStack, lookout: FakeLookout
) -> None:
    register_model(lookout, stack)
    upload_generated(stack)
    # When EventBridge delivers twice and an S3 notification announces the same object
    first = invoke("eventbridge-object-created")
    again = invoke("eventbridge-object-created")
    s3_notice = invoke("s3-notification")
    # Then exactly one alert went out
    assert len(stack.received_alerts()) == 1
    assert [r["outcomes"][0]["status"] for r in (first, again, s3_notice)] == ["ALERTED", "DUPLICATE", "DUPLICATE"]


def test_a_new_version_of_the_object_is_a_new_alert(stack: EmulatedStack, lookout: FakeLookout) -> None:
    register_model(lookout, stack)
    upload_generated(stack)
    invoke("eventbridge-object-created")
    upload_generated(stack, SPEC.model_copy(update={"seed": 8}))
    invoke("eventbridge-object-created")
    assert len(stack.received_alerts()) == 2


def test_writing_the_summary_does_not_trigger_another_alert(stack: EmulatedStack, lookout: FakeLookout) -> None:
    register_model(lookout, stack)
    upload_generated(stack)
    invoke("s3-notification")
    result = invoke("s3-notification-summary-written")
    assert result["outcomes"][0]["status"] == "IGNORED"
    assert len(stack.received_alerts()) == 1


def test_an_unreadable_file_gives_its_own_alert_and_is_not_retried(stack: EmulatedStack, lookout: FakeLookout) -> None:
    # Given a truncated diagnostics file
    register_model(lookout, stack)
    buffer = io.BytesIO()
    write_diagnostics_file(buffer, SPEC)
    upload(stack, buffer.getvalue()[: len(buffer.getvalue()) // 2])
    # When it lands (the handler returns normally: nothing to retry)
    result = invoke("eventbridge-object-created")
    # Then an alert of its own type names the reason and the place, and no summary is written
    [alert] = stack.received_alerts()
    assert alert.attributes["event_type"] == "DIAGNOSTICS_UNREADABLE"
    assert alert.attributes["severity"] == "ERROR"
    assert alert.subject.startswith("[ERROR] pump-station-7 v3: diagnostics unreadable: truncated gzip file")
    assert alert.body["diagnostics_object"] == f"s3://{stack.bucket}/{KEY}"
    assert result["outcomes"][0]["event_type"] == "DIAGNOSTICS_UNREADABLE"
    with pytest.raises(ClientError):
        boto3.client("s3").head_object(Bucket=stack.bucket, Key=SUMMARY_KEY)
    # And a second delivery does not alert again
    invoke("s3-notification")
    assert stack.received_alerts() == []


def test_a_bad_line_is_reported_with_its_number(stack: EmulatedStack, lookout: FakeLookout) -> None:
    lines = [json.dumps({"timestamp": "2024-01-01T00:00:00.000000", "prediction": 0}), "{oops", ""]
    upload(stack, gzip.compress("\n".join(lines).encode()))
    invoke("eventbridge-object-created")
    [alert] = stack.received_alerts()
    assert alert.body["line"] == 2
    assert alert.body["reason"].startswith("not valid JSON")


def test_a_file_no_model_claims_is_still_summarised_and_says_so(stack: EmulatedStack, lookout: FakeLookout) -> None:
    lookout.add_model("compressor-2", diagnostics_bucket="another-bucket", diagnostics_prefix="c2/")
    upload_generated(stack)
    invoke("eventbridge-object-created")
    [alert] = stack.received_alerts()
    assert alert.subject.startswith("[WARNING] Unknown model:")
    assert alert.attributes["model_name"] == "(none)"
    assert alert.body["model"] is None
    assert alert.body["model_lookup"] == "no Lookout for Equipment model writes diagnostics to this location"


def test_a_file_under_a_models_prefix_names_the_model_even_before_a_version_claims_it(
    stack: EmulatedStack, lookout: FakeLookout
) -> None:
    register_model(lookout, stack, names_file=False)
    upload_generated(stack)
    invoke("eventbridge-object-created")
    [alert] = stack.received_alerts()
    assert "pump-station-7 (version unconfirmed)" in alert.subject
    assert alert.body["model"]["confirmed"] is False


def test_the_model_is_found_across_pages_of_models(stack: EmulatedStack, lookout: FakeLookout) -> None:
    lookout.page_limit = 2
    for number in range(7):
        lookout.add_model(f"other-{number}", diagnostics_bucket=stack.bucket, diagnostics_prefix=f"other-{number}/")
    register_model(lookout, stack)
    upload_generated(stack)
    invoke("eventbridge-object-created")
    [alert] = stack.received_alerts()
    # (it was added last, so with 2 models a page it is on the fourth page)
    assert alert.attributes["model_name"] == "pump-station-7"


def test_throttled_lookout_calls_are_retried(
    stack: EmulatedStack, lookout: FakeLookout, retry_sleeps: list[float]
) -> None:
    register_model(lookout, stack)
    upload_generated(stack)
    lookout.fail_next("ListModels", "ThrottlingException", times=2)
    lookout.fail_next("DescribeModelVersion", "InternalServerException", times=1)
    invoke("eventbridge-object-created")
    [alert] = stack.received_alerts()
    assert alert.attributes["model_name"] == "pump-station-7"
    assert len(retry_sleeps) == 3


def test_when_lookout_cannot_be_asked_the_alert_still_goes_out(stack: EmulatedStack, lookout: FakeLookout) -> None:
    lookout.fail_next("ListModels", "AccessDeniedException", "not authorized to perform ListModels")
    upload_generated(stack)
    invoke("eventbridge-object-created")
    [alert] = stack.received_alerts()
    assert alert.body["model"] is None
    assert "could not be asked" in alert.body["model_lookup"]
    assert "AccessDeniedException" in alert.body["model_lookup"]


def test_a_failed_publish_releases_the_claim_and_the_retry_alerts_once(
    stack: EmulatedStack, lookout: FakeLookout
) -> None:
    # Given SNS that rejects the first publish (the topic is briefly gone)
    register_model(lookout, stack)
    upload_generated(stack)
    sns = boto3.client("sns")
    sns.delete_topic(TopicArn=stack.topic_arn)
    # When the event is processed, it fails loudly (Lambda retries, then dead-letters)
    with pytest.raises(ClientError):
        invoke("eventbridge-object-created")
    # And when the retry finds SNS back
    sns.create_topic(Name=stack.topic_arn.rsplit(":", 1)[1])
    queue_arn = boto3.client("sqs").get_queue_attributes(
        QueueUrl=stack.subscriber_queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=stack.topic_arn, Protocol="sqs", Endpoint=queue_arn)
    invoke("eventbridge-object-created")
    # Then exactly one alert was delivered
    assert len(stack.received_alerts()) == 1


def test_an_alert_being_sent_elsewhere_is_not_sent_twice(stack: EmulatedStack, lookout: FakeLookout) -> None:
    # Given another invocation holds the claim on this object's alert
    upload_generated(stack)
    head = boto3.client("s3").head_object(Bucket=stack.bucket, Key=KEY)
    key = diagnostics_key(stack.bucket, KEY, head["ETag"].strip('"'), head["VersionId"])
    assert ledger.claim(stack.table, key, 900) is ledger.Claim.CLAIMED
    # When a duplicate delivery arrives meanwhile, it fails so that Lambda retries it later
    with pytest.raises(AlertInProgressError):
        invoke("eventbridge-object-created")
    assert stack.received_alerts() == []


def test_a_malformed_event_fails_loudly(stack: EmulatedStack) -> None:
    with pytest.raises(MalformedEventError):
        invoke("malformed")
    with pytest.raises(MalformedEventError):
        current_runtime().invoke("DiagnosticsFunction", {"Records": [{"eventSource": "aws:s3"}]})


def test_a_vanished_object_fails_loudly(stack: EmulatedStack, lookout: FakeLookout) -> None:
    # Given an event for an object that is no longer stored (the sample event, as it is)
    # When it is delivered
    # Then the invocation fails, to be retried and dead-lettered
    with pytest.raises(DiagnosticsObjectMissingError):
        current_runtime().invoke("DiagnosticsFunction", event("eventbridge-object-created"))


def test_logs_hold_names_and_figures_never_the_files_records(
    stack: EmulatedStack, lookout: FakeLookout, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a diagnostics file whose records carry recognisable timestamps and scores
    register_model(lookout, stack)
    buffer = io.BytesIO()
    write_diagnostics_file(buffer, SPEC)
    records = [json.loads(line) for line in gzip.decompress(buffer.getvalue()).splitlines()[:200]]
    upload(stack, buffer.getvalue())
    # When the file is processed, and delivered again, at the stack's log level (LOG_LEVEL=INFO)
    with caplog.at_level("INFO"):
        invoke("eventbridge-object-created")
        invoke("s3-notification")
    # (the message and the fields a handler added; not logging's own bookkeeping, such as its clock readings,
    # whose digits would match a score by chance)
    own = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
    logged = "\n".join(
        f"{r.getMessage()} { ({k: v for k, v in r.__dict__.items() if k not in own}) }" for r in caplog.records
    )
    # Then the logs say what happened...
    assert "Alert sent" in logged and "Alert already sent" in logged
    # ...and hold no record of the file: none of its timestamps, scores or contribution values
    assert not [r["timestamp"] for r in records if r["timestamp"] in logged]
    scores = {repr(r["anomaly_score"]) for r in records if "anomaly_score" in r}
    assert not [score for score in scores if score in logged]


def test_the_alert_links_the_chart_drawn_beside_the_summary(stack: EmulatedStack, lookout: FakeLookout) -> None:
    # Given a model's diagnostics file
    register_model(lookout, stack)
    upload_generated(stack)
    # When it lands
    invoke("eventbridge-object-created")
    # Then its chart (PNG) is beside its summary, and the alert links it for people and names it for machines
    chart_key = KEY.replace("model_diagnostics_results.json.gz", "model_diagnostics_results.summary.png")
    stored = boto3.client("s3").get_object(Bucket=stack.bucket, Key=chart_key)
    assert stored["ContentType"] == "image/png" and stored["Body"].read()[:4] == b"\x89PNG"
    [(_, text)] = stack.emailed_alerts()
    [alert] = stack.received_alerts()
    assert alert.body["chart_object"] == f"s3://{stack.bucket}/{chart_key}"
    link = next(line for line in text.splitlines() if line.startswith("Chart:"))
    assert link.split()[-1].startswith(f"https://s3.console.aws.amazon.com/s3/object/{stack.bucket}?prefix=")


def test_a_chart_that_cannot_be_drawn_costs_the_alert_its_link_not_the_alert(
    stack: EmulatedStack, lookout: FakeLookout, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a drawing library that fails
    from lookout_diagnostics.usecases import alert_diagnostics

    def broken(*_: Any) -> bytes:
        raise RuntimeError("no fonts")

    monkeypatch.setattr(alert_diagnostics, "draw_chart", broken)
    register_model(lookout, stack)
    upload_generated(stack)
    # When the file lands
    result = invoke("eventbridge-object-created")
    # Then the alert goes out, without a chart (the log says why: "Chart not drawn")
    assert result["outcomes"][0]["status"] == "ALERTED"
    [alert] = stack.received_alerts()
    assert alert.body["chart_object"] is None and "Chart:" not in stack.emailed_alerts()[0][1]


def summarise_quiet_version(stack: EmulatedStack, lookout: FakeLookout, version: int) -> None:
    """Version `version` of pump-station-7 with a file without anomalies, landed and summarised (its summary stored
    beside it)."""
    key = f"diagnostics/pump station=7/version={version}/model_diagnostics_results.json.gz"
    lookout.add_version("pump-station-7", version, diagnostics_object=(stack.bucket, key))
    quiet = io.BytesIO()
    write_diagnostics_file(quiet, GeneratorSpec.model_validate(SPEC.model_dump() | {"episodes": 0}))
    upload(stack, quiet.getvalue(), key)
    invoke("eventbridge-object-created", key)


def test_the_alert_says_what_changed_since_the_previous_version_with_l4es_promotion_decision(
    stack: EmulatedStack, lookout: FakeLookout
) -> None:
    # Given version 2 of the model, whose summary is stored beside its file: a quiet one
    lookout.add_model("pump-station-7", diagnostics_bucket=stack.bucket, diagnostics_prefix=PREFIX)
    summarise_quiet_version(stack, lookout, 2)
    # And version 3, a retraining L4E promoted, weighed against version 2's metrics
    lookout.add_version(
        "pump-station-7",
        3,
        model_metrics=METRICS,
        diagnostics_object=(stack.bucket, KEY),
        source_type="RETRAINING",
        auto_promotion_result="MODEL_PROMOTED",
        auto_promotion_result_reason="better than the active version",
    ).prior_model_metrics = json.dumps(METRICS | {"labeled_event_metrics": {"num_labeled": 4, "num_identified": 1}})
    upload_generated(stack)
    # When version 3's file lands
    invoke("eventbridge-object-created")
    # Then its alert says what changed since version 2: a large change, said in the subject too
    _, alert = stack.received_alerts()
    change = alert.body["change"]
    assert change["previous"] == "v2" and change["large"] is True
    assert change["event_count"] == [0, 2] and change["severity"][0] == "OK"
    assert change["auto_promotion_result"] == "MODEL_PROMOTED"
    assert change["prior_metrics"]["labeled_events_identified"] == 1
    assert "; vs v2 0.0%->" in alert.subject
    (_, _), (_, text) = stack.emailed_alerts()
    assert "Since v2 (a large change):" in text and "promotion: MODEL_PROMOTED (better than the active version)" in text
    assert (
        f"its summary: s3://{stack.bucket}/diagnostics/pump station=7/version=2/model_diagnostics_results.summary.json"
        in text
    )
    # And the chat card says so in a line
    card = json.loads(stack.chat_cards()[-1])
    assert "*Since v2:* anomaly rate 0.00% →" in card["content"]["description"]


def test_an_empty_summary_beside_the_previous_version_is_passed_over_for_an_earlier_one(
    stack: EmulatedStack, lookout: FakeLookout
) -> None:
    # Given version 1 summarised (its summary stored beside its file), and version 2 whose stored summary is empty
    lookout.add_model("pump-station-7", diagnostics_bucket=stack.bucket, diagnostics_prefix=PREFIX)
    summarise_quiet_version(stack, lookout, 1)
    v2_key = "diagnostics/pump station=7/version=2/model_diagnostics_results.json.gz"
    lookout.add_version("pump-station-7", 2, diagnostics_object=(stack.bucket, v2_key))
    upload(stack, b"", "diagnostics/pump station=7/version=2/model_diagnostics_results.summary.json")
    # When version 3's file lands
    lookout.add_version("pump-station-7", 3, diagnostics_object=(stack.bucket, KEY))
    upload_generated(stack)
    invoke("eventbridge-object-created")
    # Then its alert compares it with version 1, the latest version with a summary to compare with
    _, alert = stack.received_alerts()
    assert alert.body["change"]["previous"] == "v1"


def test_a_first_version_has_no_change_to_report(stack: EmulatedStack, lookout: FakeLookout) -> None:
    register_model(lookout, stack)  # version 1 wrote no diagnostics file
    upload_generated(stack)
    invoke("eventbridge-object-created")
    [alert] = stack.received_alerts()
    assert alert.body["change"] is None and "Since v" not in stack.emailed_alerts()[0][1]
