"""The S3 trigger with AWS IoT SiteWise evaluation results, end to end under moto: the real handler under its
role from template.yaml (IAM enforced), the sample event from events/, and the fake SiteWise checked by botocore."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from local.generator import GroundTruth
from tests.support import sitewise_files
from tests.support.fake_sitewise import FakeAsset, FakeComputationModel, FakeExecution, FakeSiteWise
from tests.support.iam import current_runtime
from tests.support.stack import EXAMPLE_BUCKET, EmulatedStack, announcement

PROPERTIES = ["Bearing temperature", "Outlet flow", "Motor current", "Vibration"]
PREFIX = "sitewise/pump-anomalies/train-1/"
STARTED = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def trained_pump(
    sitewise: FakeSiteWise, *, prefix: str = PREFIX
) -> tuple[FakeComputationModel, FakeAsset, FakeExecution]:
    """Pump 7, and a completed training of pump-anomalies on it that wrote its evaluation under `prefix`."""
    pumps = sitewise.add_asset_model("pump", PROPERTIES)
    pump = sitewise.add_asset("Pump 7", pumps)
    model = sitewise.add_computation_model("pump-anomalies", asset_model=pumps)
    payload = {
        "trainingMode": "TRAIN_MODEL",
        "exportDataStartTime": 1767225600,
        "exportDataEndTime": 1782864000,
        "modelEvaluationConfiguration": {
            "dataStartTime": 1780272000,
            "dataEndTime": 1782864000,
            "resultDestination": {"bucketName": EXAMPLE_BUCKET, "prefix": prefix},
        },
    }
    execution = sitewise.add_execution(
        model, pump, started_at=STARTED, ended_at=STARTED + timedelta(hours=3), payload=payload
    )
    return model, pump, execution


def evaluation_key(pump: FakeAsset, *, prefix: str = PREFIX, suffix: str = ".jsonl") -> str:
    return sitewise_files.evaluation_key(prefix, pump, suffix=suffix)


def upload_evaluation(stack: EmulatedStack, pump: FakeAsset, key: str, *, compressed: bool) -> GroundTruth:
    """Realistic evaluation results: Pump 7's four properties named by their ids, as SiteWise names them."""
    return sitewise_files.put_evaluation_results(stack.bucket, key, pump, compressed=compressed)


def deliver(key: str) -> dict[str, Any]:
    """The S3 trigger, with the sample event announcing what is stored at `key` now."""
    return current_runtime().invoke(
        "DiagnosticsFunction", announcement("eventbridge-evaluation-created", EXAMPLE_BUCKET, key)
    )


@pytest.mark.parametrize(("suffix", "compressed"), [(".jsonl", False), (".jsonl.gz", True)], ids=["plain", "gzip"])
def test_an_evaluation_file_gives_one_alert_naming_the_model_asset_execution_and_readable_sensors(
    stack: EmulatedStack, sitewise: FakeSiteWise, suffix: str, compressed: bool
) -> None:
    # Given a completed training of pump-anomalies on Pump 7 whose evaluation results landed in the bucket
    model, pump, execution = trained_pump(sitewise)
    key = evaluation_key(pump, suffix=suffix)
    truth = upload_evaluation(stack, pump, key, compressed=compressed)

    # When the S3 trigger receives the bucket's event
    result = deliver(key)

    # Then one alert names the computation model on its asset, and the execution
    assert [outcome["status"] for outcome in result["outcomes"]] == ["ALERTED"]
    [alert] = stack.received_alerts()
    assert alert.subject.startswith(("[WARNING] pump-anomalies on Pump 7: ", "[CRITICAL] pump-anomalies on Pump 7: "))
    identity = alert.body["model"]
    assert (identity["service"], identity["model_name"], identity["model_arn"]) == (
        "iot-sitewise",
        "pump-anomalies",
        model.arn,
    )
    assert (identity["asset_name"], identity["asset_id"], identity["execution_id"]) == ("Pump 7", pump.id, execution.id)
    assert identity["confirmed"] is True
    # and its sensors read as asset and property names, with SiteWise's ids kept beside them in the JSON
    top = alert.body["summary"]["top_sensors"][0]
    assert top["name"].startswith("Pump 7 / ") and top["name"].removeprefix("Pump 7 / ") in PROPERTIES
    assert top["raw_name"].startswith(f"{pump.id}\\")
    # and the summary beside the file says the same, with every record counted
    summary_key = key.removesuffix(suffix) + ".summary.json"
    assert summary_key.endswith("1793606400-evaluation_results.summary.json")
    stored = json.loads(boto3.client("s3").get_object(Bucket=stack.bucket, Key=summary_key)["Body"].read())
    assert (stored["rows"], stored["anomalous"], stored["machine_off"]) == (truth.rows, truth.anomalous, 0)
    assert stored["top_sensors"][0]["name"] == top["name"]


def test_a_file_no_training_claims_is_still_summarised_and_says_so(
    stack: EmulatedStack, sitewise: FakeSiteWise
) -> None:
    # Given Pump 7, trained to write elsewhere, and an evaluation file under a prefix no training names
    _, pump, _ = trained_pump(sitewise, prefix="sitewise/elsewhere/")
    key = evaluation_key(pump, prefix="sitewise/copied-by-hand/")
    upload_evaluation(stack, pump, key, compressed=False)

    # When the S3 trigger receives its event
    deliver(key)

    # Then it is alerted once, without a model, saying why; its sensors are still named
    [alert] = stack.received_alerts()
    assert alert.subject.startswith(("[WARNING] Unknown model: ", "[CRITICAL] Unknown model: "))
    assert alert.body["model"] is None
    assert alert.body["model_lookup"] == "no AWS IoT SiteWise training writes its evaluation results to this location"
    assert alert.body["summary"]["top_sensors"][0]["name"].startswith("Pump 7 / ")


def test_a_gzip_file_named_jsonl_is_read_as_gzip(stack: EmulatedStack, sitewise: FakeSiteWise) -> None:
    # Given evaluation results gzipped under the plain .jsonl name (SiteWise does not document either)
    _, pump, _ = trained_pump(sitewise)
    key = evaluation_key(pump)
    truth = upload_evaluation(stack, pump, key, compressed=True)

    # When the S3 trigger receives its event
    deliver(key)

    # Then every record is summarised
    [alert] = stack.received_alerts()
    assert alert.body["summary"]["rows"] == truth.rows


def test_with_sitewise_turned_off_its_files_are_ignored_unread(
    stack: EmulatedStack, sitewise: FakeSiteWise, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stack deployed with EnableIoTSiteWise=false, and an evaluation file in its bucket
    monkeypatch.setenv("ENABLE_IOT_SITEWISE", "false")
    _, pump, _ = trained_pump(sitewise)
    key = evaluation_key(pump)
    upload_evaluation(stack, pump, key, compressed=False)

    # When the S3 trigger receives its event (a hand-made one: the deployed rule would not send it)
    result = deliver(key)

    # Then nothing is alerted and no summary is written
    [outcome] = result["outcomes"]
    assert (outcome["status"], outcome["detail"]) == ("IGNORED", "AWS IoT SiteWise is not enabled in this stack")
    assert stack.received_alerts() == []
    listed = boto3.client("s3").list_objects_v2(Bucket=stack.bucket).get("Contents", [])
    assert [item["Key"] for item in listed] == [key]


def test_sensor_names_the_role_may_not_resolve_stay_as_ids_and_the_alert_still_goes(
    stack: EmulatedStack, sitewise: FakeSiteWise
) -> None:
    # Given a trigger whose role may not describe assets
    model, pump, _ = trained_pump(sitewise)
    current_runtime().remove_permission("DiagnosticsFunction", "iotsitewise:DescribeAsset")
    key = evaluation_key(pump)
    upload_evaluation(stack, pump, key, compressed=False)

    # When the S3 trigger receives its event
    deliver(key)

    # Then the alert goes, naming the model, with the sensors as SiteWise's ids
    [alert] = stack.received_alerts()
    assert alert.body["model"]["model_arn"] == model.arn
    assert alert.body["summary"]["top_sensors"][0]["name"].startswith(f"{pump.id}\\")
    assert current_runtime().pop_denials()


def test_a_second_training_on_the_asset_says_what_changed_since_the_first(
    stack: EmulatedStack, sitewise: FakeSiteWise
) -> None:
    # Given a first training of pump-anomalies on Pump 7, its evaluation results alerted (and summarised)
    model, pump, _ = trained_pump(sitewise)
    first_key = evaluation_key(pump)
    upload_evaluation(stack, pump, first_key, compressed=False)
    deliver(first_key)
    # And a second training a day later, into its own prefix
    second_prefix = "sitewise/pump-anomalies/train-2/"
    later = STARTED + timedelta(days=1)
    sitewise.add_execution(
        model, pump, started_at=later, ended_at=later + timedelta(hours=3),
        payload={
            "trainingMode": "TRAIN_MODEL", "exportDataStartTime": 1767225600, "exportDataEndTime": 1782864000,
            "modelEvaluationConfiguration": {
                "dataStartTime": 1780272000, "dataEndTime": 1782864000,
                "resultDestination": {"bucketName": EXAMPLE_BUCKET, "prefix": second_prefix},
            },
        },
    )  # fmt: skip
    second_key = evaluation_key(pump, prefix=second_prefix)
    upload_evaluation(stack, pump, second_key, compressed=False)
    # When the second training's results land
    deliver(second_key)
    # Then its alert compares them with the first training's summary
    _, alert = stack.received_alerts()
    change = alert.body["change"]
    assert change["previous"] == "training 2026-11-27"
    assert change["previous_summary_object"].startswith(f"s3://{stack.bucket}/{PREFIX}")
    assert change["event_count"][0] == change["event_count"][1]  # the same results, written twice
