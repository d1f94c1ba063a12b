"""The status poller for AWS IoT SiteWise under moto, under its role from template.yaml (IAM enforced): every
training execution that ends is announced once (alert and EventBridge event), read back through SNS/SQS and an
EventBridge rule; SiteWise answered by the fake (checked against botocore)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lookout_diagnostics.settings import get_settings
from tests.support.fake_sitewise import FakeAsset, FakeComputationModel, FakeSiteWise
from tests.support.iam import current_runtime
from tests.support.samples import event
from tests.support.sitewise_files import evaluation_key, put_evaluation_results
from tests.support.stack import EmulatedStack

LONG_AGO = datetime.now(UTC) - timedelta(days=30)


def poll() -> dict[str, Any]:
    """One scheduled run of the poller, under its role; its SiteWise part."""
    report: dict[str, Any] = current_runtime().invoke("StatusPollerFunction", event("scheduled-poll"))
    assert report["errors"] == []
    sitewise: dict[str, Any] = report["sitewise"]
    assert sitewise["errors"] == []
    return sitewise


def pump(sitewise: FakeSiteWise) -> tuple[FakeComputationModel, FakeAsset]:
    pumps = sitewise.add_asset_model("pump", ["Bearing temperature", "Outlet flow"])
    return sitewise.add_computation_model("pump-anomalies", asset_model=pumps), sitewise.add_asset("Pump 7", pumps)


def training(prefix_bucket: str | None = None) -> dict[str, Any]:
    """A console training's payload; with evaluation results in `prefix_bucket` if given."""
    payload: dict[str, Any] = {"trainingMode": "TRAIN_MODEL", "exportDataStartTime": 1, "exportDataEndTime": 2}
    if prefix_bucket:
        payload["modelEvaluationConfiguration"] = {
            "dataStartTime": 1,
            "dataEndTime": 2,
            "resultDestination": {"bucketName": prefix_bucket, "prefix": "sitewise/pump-anomalies/run-1/"},
        }
    return payload


def test_what_ended_before_the_first_poll_is_remembered_without_an_alert(
    stack: EmulatedStack, sitewise: FakeSiteWise
) -> None:
    # Given a computation model trained on Pump 7 a month before the stack was deployed
    model, asset = pump(sitewise)
    sitewise.add_execution(model, asset, started_at=LONG_AGO, ended_at=LONG_AGO + timedelta(hours=2))

    # When the poller first runs, and again
    first, second = poll(), poll()

    # Then it saw the model and said nothing
    assert (first["computation_models_seen"], first["outcomes"], second["outcomes"]) == (1, 0, 0)
    assert stack.received_alerts() == []
    assert stack.received_events() == []


def test_a_training_that_completes_is_alerted_once_and_put_as_one_event(
    stack: EmulatedStack, sitewise: FakeSiteWise
) -> None:
    # Given a training of pump-anomalies on Pump 7 running at the first poll, its results going elsewhere
    model, asset = pump(sitewise)
    running = sitewise.add_execution(model, asset, state="RUNNING", payload=training())
    poll()

    # When it completes, and the poller runs twice
    running.end("COMPLETED")
    first, second = poll(), poll()

    # Then one alert and one event announce it, naming the model on its asset and the execution
    assert (first["outcomes"], first["alerts_sent"], first["events_put"]) == (1, 1, 1)
    assert (second["outcomes"], second["alerts_sent"], second["events_put"]) == (0, 0, 0)
    [alert] = stack.received_alerts()
    assert alert.subject == "[OK] pump-anomalies on Pump 7: training completed"
    assert alert.attributes["event_type"] == "MODEL_VERSION_SUCCEEDED"
    [outcome] = stack.received_events()
    assert (outcome["source"], outcome["detail-type"]) == ("lookout-diagnostics", "AWS IoT SiteWise Training Outcome")
    detail = outcome["detail"]
    assert (detail["service"], detail["outcome"], detail["status"], detail["source_type"]) == (
        "iot-sitewise",
        "SUCCEEDED",
        "COMPLETED",
        "TRAINING",
    )
    assert (detail["model_arn"], detail["asset_id"], detail["asset_name"], detail["execution_id"]) == (
        model.arn,
        asset.id,
        "Pump 7",
        running.id,
    )
    assert alert.body["outcome"] == detail


def test_a_failed_training_is_alerted_with_its_reason(stack: EmulatedStack, sitewise: FakeSiteWise) -> None:
    # Given a training running at the first poll
    model, asset = pump(sitewise)
    running = sitewise.add_execution(model, asset, state="RUNNING", payload=training())
    poll()

    # When it fails, and the poller runs
    running.end("FAILED", failure_reason="Not enough data in the training window")
    report = poll()

    # Then one ERROR alert says why
    assert report["alerts_sent"] == 1
    [alert] = stack.received_alerts()
    assert alert.subject == "[ERROR] pump-anomalies on Pump 7: training failed: Not enough data in the training window"
    assert alert.body["outcome"]["failed_reason"] == "Not enough data in the training window"
    [outcome] = stack.received_events()
    assert outcome["detail"]["outcome"] == "FAILED"


def test_a_training_whose_evaluation_the_stack_reads_is_left_to_the_s3_trigger(
    stack: EmulatedStack, sitewise: FakeSiteWise
) -> None:
    # Given a training running at the first poll that writes its evaluation results to the watched bucket
    model, asset = pump(sitewise)
    running = sitewise.add_execution(model, asset, state="RUNNING", payload=training(stack.bucket))
    poll()

    # When it completes, its results land (S3 announces them to the trigger), and the poller runs
    running.end("COMPLETED")
    put_evaluation_results(stack.bucket, evaluation_key("sitewise/pump-anomalies/run-1/", asset), asset)
    report = poll()

    # Then the poller puts its event, naming the results, and sends no alert: the summary's alert is the one
    assert (report["outcomes"], report["alerts_sent"], report["events_put"]) == (1, 0, 1)
    assert stack.received_alerts() == []
    [outcome] = stack.received_events()
    assert outcome["detail"]["diagnostics_object"] == f"s3://{stack.bucket}/sitewise/pump-anomalies/run-1/"


def test_an_execution_no_action_started_is_announced_as_a_retraining(
    stack: EmulatedStack, sitewise: FakeSiteWise
) -> None:
    # Given a computation model seen by the first poll
    model, asset = pump(sitewise)
    poll()

    # When the retraining scheduler's execution ends (no ExecuteAction of the user's started it)
    sitewise.add_execution(model, asset, started_at=datetime.now(UTC) - timedelta(hours=1))
    poll()

    # Then it is announced as a retraining
    [alert] = stack.received_alerts()
    assert alert.body["outcome"]["source_type"] == "RETRAINING"
    [outcome] = stack.received_events()
    assert outcome["detail"]["source_type"] == "RETRAINING"


def test_a_computation_model_that_fails_is_alerted_once(stack: EmulatedStack, sitewise: FakeSiteWise) -> None:
    # Given a computation model seen ACTIVE by the first poll, then FAILED
    pumps = sitewise.add_asset_model("pump", ["Bearing temperature"])
    model = sitewise.add_computation_model("pump-anomalies", asset_model=pumps)
    poll()
    model.state = "FAILED"

    # When the poller runs twice
    first, second = poll(), poll()

    # Then one ERROR alert and one event say so; the second run repeats nothing but still lists it
    assert (first["alerts_sent"], first["events_put"], second["alerts_sent"], second["events_put"]) == (1, 1, 0, 0)
    assert (first["failed_models"], second["failed_models"]) == (["pump-anomalies"], ["pump-anomalies"])
    [alert] = stack.received_alerts()
    assert alert.subject == "[ERROR] pump-anomalies: computation model failed"
    assert alert.attributes["event_type"] == "COMPUTATION_MODEL_FAILED"
    [outcome] = stack.received_events()
    assert (outcome["detail"]["outcome"], outcome["detail"]["model_arn"]) == ("COMPUTATION_MODEL_FAILED", model.arn)


def test_a_model_created_after_the_first_poll_has_what_ended_since_announced(
    stack: EmulatedStack, sitewise: FakeSiteWise
) -> None:
    # Given a stack that has polled once, and a computation model created since with two trainings:
    # one that ended before that first poll (imported history), one that ended after it
    poll()
    model, asset = pump(sitewise)
    sitewise.add_execution(model, asset, started_at=LONG_AGO, ended_at=LONG_AGO + timedelta(hours=1))
    recent = sitewise.add_execution(model, asset, started_at=datetime.now(UTC), payload=training())

    # When the poller runs
    poll()

    # Then only the one that ended after the first poll is announced
    [outcome] = stack.received_events()
    assert outcome["detail"]["execution_id"] == recent.id
    assert len(stack.received_alerts()) == 1


def test_with_sitewise_turned_off_the_poller_does_not_ask_it(
    stack: EmulatedStack, sitewise: FakeSiteWise, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stack deployed with EnableIoTSiteWise=false, and a SiteWise account with a failed model
    monkeypatch.setenv("ENABLE_IOT_SITEWISE", "false")
    sitewise.add_computation_model("pump-anomalies", state="FAILED")

    # When the poller runs
    report = current_runtime().invoke("StatusPollerFunction", event("scheduled-poll"))

    # Then SiteWise is not asked, and nothing is said
    assert report["sitewise"] is None
    assert sitewise.calls == []
    assert stack.received_alerts() == []


def test_sitewise_calls_per_run_are_one_list_and_a_describe_and_a_list_per_model(
    stack: EmulatedStack, sitewise: FakeSiteWise
) -> None:
    # Given three computation models, each with past trainings, seen by a first poll
    pumps = sitewise.add_asset_model("pump", ["Bearing temperature"])
    asset = sitewise.add_asset("Pump 7", pumps)
    for name in ("pump-a", "pump-b", "pump-c"):
        model = sitewise.add_computation_model(name, asset_model=pumps)
        sitewise.add_execution(model, asset, started_at=LONG_AGO, ended_at=LONG_AGO + timedelta(hours=1))
    poll()
    sitewise.calls.clear()

    # When a run finds nothing new
    poll()

    # Then it cost one ListComputationModels, and one DescribeComputationModel and one ListExecutions per model
    # (an execution that ended since adds a DescribeExecution, a ListActions per asset and a DescribeAction per
    # action, and one DescribeAsset per asset)
    assert sorted(call.operation for call in sitewise.calls) == sorted(
        ["ListComputationModels"] + ["DescribeComputationModel", "ListExecutions"] * 3
    )


def test_what_failed_or_ended_before_sitewise_was_first_polled_stays_quiet_even_on_an_older_stack(
    stack: EmulatedStack, sitewise: FakeSiteWise, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stack that has polled L4E for a while with SiteWise turned off, and a SiteWise account with a
    # failed computation model and trainings that ended meanwhile
    monkeypatch.setenv("ENABLE_IOT_SITEWISE", "false")
    get_settings.cache_clear()
    current_runtime().invoke("StatusPollerFunction", event("scheduled-poll"))
    model, asset = pump(sitewise)
    for _ in range(3):
        sitewise.add_execution(model, asset, started_at=datetime.now(UTC) - timedelta(hours=2))
    sitewise.add_computation_model("valve-anomalies", state="FAILED")

    # When SiteWise is turned on and the poller runs twice
    monkeypatch.setenv("ENABLE_IOT_SITEWISE", "true")
    get_settings.cache_clear()
    first, second = poll(), poll()

    # Then nothing that was already over is announced
    assert (first["outcomes"], second["outcomes"]) == (0, 0)
    assert stack.received_alerts() == []


def test_a_retraining_after_an_old_console_training_to_the_bucket_is_still_alerted(
    stack: EmulatedStack, sitewise: FakeSiteWise
) -> None:
    # Given a console training a month ago whose results went to the watched bucket, and a first poll
    model, asset = pump(sitewise)
    sitewise.add_execution(
        model, asset, started_at=LONG_AGO, ended_at=LONG_AGO + timedelta(hours=1), payload=training(stack.bucket)
    )
    poll()

    # When the retraining scheduler's execution (no action of its own) completes, and the poller runs
    sitewise.add_execution(model, asset, started_at=datetime.now(UTC) - timedelta(hours=1))
    report = poll()

    # Then it is alerted as a retraining: the old training's destination does not claim it
    assert (report["outcomes"], report["alerts_sent"]) == (1, 1)
    [alert] = stack.received_alerts()
    assert alert.body["outcome"]["source_type"] == "RETRAINING"
    assert alert.body["outcome"]["diagnostics_object"] is None


def test_a_backlog_is_announced_over_several_runs(
    stack: EmulatedStack, sitewise: FakeSiteWise, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a computation model seen by a first poll, then more trainings ending than one run announces
    from lookout_diagnostics.usecases import poll_sitewise

    monkeypatch.setattr(poll_sitewise, "EXECUTIONS_PER_RUN", 2)
    model, asset = pump(sitewise)
    poll()
    start = datetime.now(UTC)
    for seconds in range(1, 6):
        sitewise.add_execution(model, asset, started_at=start, ended_at=start + timedelta(seconds=seconds))

    # When the poller runs four times
    reports = [poll() for _ in range(4)]

    # Then two, two, and one are announced, the model listed as having a backlog until it drains, each once
    assert [r["outcomes"] for r in reports] == [2, 2, 1, 0]
    assert [r["backlog"] for r in reports] == [["pump-anomalies"], ["pump-anomalies"], [], []]
    assert len(stack.received_alerts()) == 5


def test_a_completed_training_whose_results_never_land_is_alerted_after_the_grace_period(
    stack: EmulatedStack, sitewise: FakeSiteWise, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a training to the watched bucket, running at the first poll, that completes without writing results
    model, asset = pump(sitewise)
    running = sitewise.add_execution(model, asset, state="RUNNING", payload=training(stack.bucket))
    poll()
    running.end("COMPLETED")

    # When the poller runs within the grace period, and again after it
    waiting = poll()
    monkeypatch.setenv("SAFETY_NET_GRACE_MINUTES", "0")
    get_settings.cache_clear()
    late = poll()

    # Then it waits first (no alert, no event), then sends the training's one alert saying the results are missing
    assert (waiting["outcomes"], waiting["pending_evaluations"]) == (0, 1)
    assert (late["outcomes"], late["alerts_sent"], late["pending_evaluations"]) == (1, 1, 0)
    [alert] = stack.received_alerts()
    assert alert.subject == "[OK] pump-anomalies on Pump 7: training completed"
    assert "evaluation results were not under s3://" in alert.body["note"]
    assert len(stack.received_events()) == 1
