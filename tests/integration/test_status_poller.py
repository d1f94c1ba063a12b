"""The status poller under moto, under its role from template.yaml (IAM enforced): state in DynamoDB, alerts read
back from SNS through SQS, events read back through an EventBridge rule with an SQS target, and L4E answered by the
fake (checked against botocore)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from lookout_diagnostics.aws import model_state
from tests.support.fake_lookout import FakeLookout
from tests.support.iam import current_runtime
from tests.support.samples import event
from tests.support.stack import EmulatedStack

MODEL = "pump-7"


def poll() -> dict[str, Any]:
    """One scheduled run of the poller, under its role."""
    report: dict[str, Any] = current_runtime().invoke("StatusPollerFunction", event("scheduled-poll"))
    return report


def model_arn(lookout: FakeLookout, name: str = MODEL) -> str:
    return lookout.model(name).arn


def covered(lookout: FakeLookout, name: str, stack: EmulatedStack, **kwargs: Any) -> None:
    """A model whose diagnostics go to a bucket this stack does not watch (so the poller alerts on success)."""
    lookout.add_model(name, diagnostics_bucket="team-archive", diagnostics_prefix=f"{name}/", **kwargs)


def test_first_sighting_is_recorded_without_an_alert(stack: EmulatedStack, lookout: FakeLookout) -> None:
    # Given a model trained long before the stack was deployed
    covered(lookout, MODEL, stack)
    lookout.add_version(MODEL, 1)
    # When the poller first runs
    report = poll()
    # Then it remembers the model and its version, and says nothing
    assert (report["models_seen"], report["first_sightings"], report["outcomes"]) == (1, 1, 0)
    assert stack.received_alerts() == []
    assert stack.received_events() == []
    seen = model_state.load(stack.state_table, model_arn(lookout))
    assert seen is not None and seen.versions == {1: "SUCCESS"}


def test_a_version_reaching_success_alerts_once_and_puts_one_event(stack: EmulatedStack, lookout: FakeLookout) -> None:
    # Given a model seen while its first training ran
    covered(lookout, MODEL, stack, status="IN_PROGRESS")
    poll()
    # When training finishes with version 1, and the poller runs twice
    lookout.model(MODEL).status = "SUCCESS"
    lookout.add_version(
        MODEL,
        1,
        model_quality="QUALITY_THRESHOLD_MET",
        diagnostics_object=("team-archive", f"{MODEL}/1/model_diagnostics_results.json.gz"),
    )
    first, second = poll(), poll()
    # Then one alert and one event announce it
    assert (first["outcomes"], first["alerts_sent"], first["events_put"]) == (1, 1, 1)
    assert (second["outcomes"], second["alerts_sent"], second["events_put"]) == (0, 0, 0)
    [alert] = stack.received_alerts()
    assert alert.subject == f"[OK] {MODEL} v1: succeeded"
    assert alert.attributes == {
        "event_type": "MODEL_VERSION_SUCCEEDED",
        "severity": "OK",
        "model_name": MODEL,
        "alert_id": alert.body["alert_id"],
    }
    assert "outside the bucket this stack watches" in alert.body["note"]
    [outcome] = stack.received_events()
    assert outcome["source"] == "lookout-diagnostics"
    assert outcome["detail-type"] == "Lookout for Equipment Model Version Outcome"
    detail = outcome["detail"]
    assert (detail["schema_version"], detail["outcome"], detail["model_version"]) == ("1", "SUCCEEDED", 1)
    assert detail["model_quality"] == "QUALITY_THRESHOLD_MET"
    assert detail["diagnostics_object"] == f"s3://team-archive/{MODEL}/1/model_diagnostics_results.json.gz"


def test_a_success_whose_diagnostics_land_in_the_watched_bucket_is_left_to_the_diagnostics_alert(
    stack: EmulatedStack, lookout: FakeLookout
) -> None:
    lookout.add_model(MODEL, status="IN_PROGRESS", diagnostics_bucket=stack.bucket, diagnostics_prefix=f"{MODEL}/")
    poll()
    lookout.model(MODEL).status = "SUCCESS"
    lookout.add_version(MODEL, 1, diagnostics_object=(stack.bucket, f"{MODEL}/1/model_diagnostics_results.json.gz"))
    report = poll()
    # The event goes out; the alert is the S3 trigger's, with the summary
    assert (report["outcomes"], report["alerts_sent"], report["events_put"]) == (1, 0, 1)
    assert stack.received_alerts() == []
    assert len(stack.received_events()) == 1


@pytest.mark.parametrize(
    ("promotion", "expected"),
    [
        ("MODEL_PROMOTED", [("MODEL_VERSION_SUCCEEDED", "OK")]),
        ("MODEL_NOT_PROMOTED", [("MODEL_VERSION_SUCCEEDED", "OK"), ("RETRAINING_NOT_PROMOTED", "WARNING")]),
    ],
)
def test_a_scheduled_retraining_is_announced_with_its_promotion(
    stack: EmulatedStack, lookout: FakeLookout, promotion: str, expected: list[tuple[str, str]]
) -> None:
    covered(lookout, MODEL, stack, retraining_scheduler_status="RUNNING")
    lookout.add_version(MODEL, 1)
    poll()
    lookout.add_version(
        MODEL,
        2,
        source_type="RETRAINING",
        auto_promotion_result=promotion,
        auto_promotion_result_reason="The new version's metrics are not better",
    )
    report = poll()
    alerts = stack.received_alerts()
    assert [(a.attributes["event_type"], a.attributes["severity"]) for a in alerts] == expected
    assert report["outcomes"] == len(expected)
    assert [e["detail"]["source_type"] for e in stack.received_events()] == ["RETRAINING"] * len(expected)
    if promotion == "MODEL_NOT_PROMOTED":
        assert (
            alerts[1].subject
            == f"[WARNING] {MODEL} v2: retraining not promoted: The new version's metrics are not better"
        )


def test_an_import_and_failed_and_canceled_versions_are_announced(stack: EmulatedStack, lookout: FakeLookout) -> None:
    covered(lookout, MODEL, stack)
    lookout.add_version(MODEL, 1)
    poll()
    lookout.add_version(MODEL, 2, source_type="IMPORT")
    lookout.add_version(MODEL, 3, source_type="RETRAINING", status="FAILED", failed_reason="Not enough new data")
    lookout.add_version(MODEL, 4, source_type="RETRAINING", status="CANCELED")
    poll()
    subjects = [a.subject for a in stack.received_alerts()]
    assert subjects == [
        f"[OK] {MODEL} v2: succeeded",
        f"[ERROR] {MODEL} v3: failed: Not enough new data",
        f"[WARNING] {MODEL} v4: canceled",
    ]
    assert [e["detail"]["outcome"] for e in stack.received_events()] == ["SUCCEEDED", "FAILED", "CANCELED"]


def test_a_failed_first_training_is_announced_from_the_model(stack: EmulatedStack, lookout: FakeLookout) -> None:
    covered(lookout, MODEL, stack, status="IN_PROGRESS")
    poll()
    model = lookout.model(MODEL)
    model.status = "FAILED"
    model.failed_reason = "The dataset holds 41 days of data; 180 are needed"
    poll()
    [alert] = stack.received_alerts()
    assert alert.attributes["event_type"] == "TRAINING_FAILED"
    assert "41 days" in alert.subject
    [outcome] = stack.received_events()
    assert outcome["detail"]["outcome"] == "TRAINING_FAILED"


def test_models_are_read_across_pages_and_calls_stay_bounded(stack: EmulatedStack, lookout: FakeLookout) -> None:
    lookout.page_limit = 3
    for number in range(8):
        covered(lookout, f"m-{number}", stack)
        lookout.add_version(f"m-{number}", 1)
    first = poll()
    calls_first = len(lookout.calls)
    lookout.calls.clear()
    steady = poll()
    assert first["models_seen"] == steady["models_seen"] == 8
    # First run: 3 ListModels pages and one ListModelVersions per model; then only the 3 pages
    assert calls_first == 3 + 8
    assert [call.operation for call in lookout.calls] == ["ListModels"] * 3


def test_an_error_on_one_model_does_not_stop_the_others(stack: EmulatedStack, lookout: FakeLookout) -> None:
    for name in ("a-model", "b-model"):
        covered(lookout, name, stack)
        lookout.add_version(name, 1)
    poll()
    for name in ("a-model", "b-model"):
        lookout.add_version(name, 2, source_type="RETRAINING")
    lookout.fail_next("DescribeModelVersion", "AccessDeniedException", "no access to a-model")
    report = poll()
    assert len(report["errors"]) == 1 and "a-model" in report["errors"][0]
    assert [a.attributes["model_name"] for a in stack.received_alerts()] == ["b-model"]
    # And the model in error is announced by a later run
    again = poll()
    assert again["errors"] == []
    assert [a.attributes["model_name"] for a in stack.received_alerts()] == ["a-model"]


def test_sns_failing_once_then_recovering_gives_exactly_one_alert(stack: EmulatedStack, lookout: FakeLookout) -> None:
    covered(lookout, MODEL, stack)
    lookout.add_version(MODEL, 1)
    poll()
    lookout.add_version(MODEL, 2, source_type="RETRAINING")
    sns = boto3.client("sns")
    sns.delete_topic(TopicArn=stack.topic_arn)
    failed = poll()
    assert len(failed["errors"]) == 1
    seen = model_state.load(stack.state_table, model_arn(lookout))
    assert seen is not None and 2 not in seen.versions  # the state did not advance
    sns.create_topic(Name=stack.topic_arn.rsplit(":", 1)[1])
    queue_arn = boto3.client("sqs").get_queue_attributes(
        QueueUrl=stack.subscriber_queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=stack.topic_arn, Protocol="sqs", Endpoint=queue_arn)
    poll()
    poll()
    assert [a.subject for a in stack.received_alerts()] == [f"[OK] {MODEL} v2: succeeded"]
    assert len(stack.received_events()) == 1


def test_two_overlapping_runs_announce_once(
    stack: EmulatedStack, lookout: FakeLookout, monkeypatch: pytest.MonkeyPatch
) -> None:
    covered(lookout, MODEL, stack)
    lookout.add_version(MODEL, 1)
    poll()
    lookout.add_version(MODEL, 2, source_type="RETRAINING")
    # Given a run that read the model's state before another run announced and stored the change
    stale = model_state.load(stack.state_table, model_arn(lookout))
    first = poll()
    monkeypatch.setattr(model_state, "load", lambda table, arn: stale)
    # When the slow run goes on from what it read
    second = poll()
    # Then it finds the alert and the event already done, and loses the write
    assert (first["alerts_sent"], first["events_put"]) == (1, 1)
    assert (second["outcomes"], second["alerts_sent"], second["events_put"], second["lost_races"]) == (1, 0, 0, 1)
    assert len(stack.received_alerts()) == 1
    assert len(stack.received_events()) == 1


def test_an_outcome_the_workflow_alerted_is_not_alerted_again(stack: EmulatedStack, lookout: FakeLookout) -> None:
    # Given a model without diagnostics output, seen while training
    lookout.add_model(MODEL, status="IN_PROGRESS")
    poll()
    stack.received_alerts()  # the coverage report
    lookout.model(MODEL).status = "SUCCESS"
    lookout.add_version(MODEL, 1)
    # When the workflow's FinishTraining step handles version 1 first
    described = boto3.client("lookoutequipment").describe_model_version(ModelName=MODEL, ModelVersion=1)
    current_runtime().invoke("TrainingFinishedFunction", {"version": json.loads(json.dumps(described, default=str))})
    # And then the poller sees the same outcome
    report = poll()
    # Then there is one alert; the event still goes out (only the poller puts events)
    assert [a.attributes["event_type"] for a in stack.received_alerts()] == ["MODEL_VERSION_SUCCEEDED"]
    assert (report["outcomes"], report["alerts_sent"], report["events_put"]) == (1, 0, 1)


def test_a_failed_training_alerted_by_the_workflow_is_not_alerted_again(
    stack: EmulatedStack, lookout: FakeLookout
) -> None:
    covered(lookout, MODEL, stack, status="IN_PROGRESS")
    poll()
    model = lookout.model(MODEL)
    model.status = "FAILED"
    model.failed_reason = "Not enough data"
    current_runtime().invoke(
        "TrainingFailedFunction",
        {
            "input": {
                "ModelName": MODEL,
                "training": {"ModelArn": model.arn},
                "failed": {"FailedReason": "Not enough data"},
            },
            "error": {"Error": "TrainingFailed", "Cause": "Lookout for Equipment reported FAILED"},
            "execution_arn": "arn:aws:states:eu-west-1:123456789012:execution:training:run-1",
        },
    )
    poll()
    assert [a.attributes["event_type"] for a in stack.received_alerts()] == ["TRAINING_FAILED"]


def test_a_model_without_diagnostics_is_reported_once(stack: EmulatedStack, lookout: FakeLookout) -> None:
    lookout.add_model(MODEL)
    lookout.add_version(MODEL, 1)
    poll()
    poll()
    [alert] = stack.received_alerts()
    assert alert.attributes["event_type"] == "DIAGNOSTICS_NOT_CONFIGURED"
    [(subject, text)] = stack.emailed_alerts()
    assert subject == f"[WARNING] {MODEL}: no diagnostics output configured"
    assert f"lookout-diagnostics enable-diagnostics --model {MODEL} --dry-run" in text


@pytest.mark.parametrize("models", [15, 100])
def test_lookout_calls_per_run_for_a_full_account(stack: EmulatedStack, lookout: FakeLookout, models: int) -> None:
    # Given an account with `models` trained models (15 is L4E's default quota), two of them training
    for number in range(models):
        covered(lookout, f"m-{number:03d}", stack, status="IN_PROGRESS" if number < 2 else "SUCCESS")
        if number >= 2:
            lookout.add_version(f"m-{number:03d}", 1)

    # When the poller runs for the first time, then steadily, then when one training finishes
    def calls_of(run: Any) -> dict[str, int]:
        lookout.calls.clear()
        run()
        counted: dict[str, int] = {}
        for call in lookout.calls:
            counted[call.operation] = counted.get(call.operation, 0) + 1
        return counted

    first = calls_of(poll)
    steady = calls_of(poll)
    lookout.model("m-000").status = "SUCCESS"
    lookout.add_version("m-000", 1)
    finished = calls_of(poll)
    # Then the first run lists every model's versions once; later runs list one page of models and
    # only the versions of models in training; a finished version costs one DescribeModelVersion
    assert first == {"ListModels": 1, "ListModelVersions": models}
    assert steady == {"ListModels": 1, "ListModelVersions": 2}
    assert finished == {"ListModels": 1, "ListModelVersions": 2, "DescribeModelVersion": 1}
