"""The fleet's rules, pure: its input, the manifest read line by line, each asset's plan, the quota, the digest."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from lookout_diagnostics.domain.alerts import MESSAGE_MAX_BYTES, fleet_digest_alert
from lookout_diagnostics.domain.fleet import (
    EXECUTION_NAME_LENGTH,
    Action,
    AssetOutcome,
    AssetRow,
    ChildExecution,
    FleetDigestEvent,
    PlannedAsset,
    asset_row,
    check_quota,
    count,
    digest_fingerprint,
    digest_severity,
    execution_name,
    manifest_assets,
    parse_fleet_input,
    plan_asset,
)
from lookout_diagnostics.domain.services import Service
from lookout_diagnostics.errors import FleetInputError, FleetQuotaExceededError, InvalidTrainingInputError

EVENTS = Path(__file__).resolve().parents[2] / "events"


def _accept(given: dict[str, Any], name: str) -> None:
    if "ModelName" not in given:
        raise InvalidTrainingInputError("ModelName: Field required")


def test_the_sample_inputs_in_events_are_valid_fleets() -> None:
    # Given the fleet inputs the docs show
    # When they are read as the prepare step reads them
    inline = parse_fleet_input(json.loads((EVENTS / "fleet-input.json").read_text()))
    manifest = parse_fleet_input(json.loads((EVENTS / "fleet-input-manifest.json").read_text()))
    # Then they are the fleets they say
    assert inline.Assets is not None and len(inline.Assets) == 5 and not inline.PerAssetAlerts
    assert manifest.Manifest is not None and manifest.Manifest.format == "JSONL"
    assert manifest.concurrency == 5 and manifest.ToleratedFailurePercentage == 100


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"FleetName": "f"}, "give the assets inline"),
        ({"FleetName": "f", "Assets": [{}], "Manifest": {"Bucket": "bkt", "Key": "a.jsonl"}}, "not both"),
        ({"FleetName": "has space", "Assets": [{}]}, "FleetName"),
        ({"FleetName": "f", "Assets": [{}], "MaxConcurrency": 0}, "MaxConcurrency"),
        ({"FleetName": "f", "Assets": [{}], "ToleratedFailurePercentage": 101}, "ToleratedFailurePercentage"),
        ({"FleetName": "f", "Assets": [{}], "Colour": "red"}, "Colour"),
    ],
)
def test_a_fleet_input_that_cannot_be_used_says_what_to_fix(raw: dict[str, Any], problem: str) -> None:
    with pytest.raises(FleetInputError, match=problem):
        parse_fleet_input(raw)


def test_both_manifest_formats_give_the_same_assets_with_their_line_numbers() -> None:
    # Given the sample manifests, JSON Lines and CSV (a nested setting as JSON in a cell)
    jsonl = list(manifest_assets(io.BytesIO((EVENTS / "fleet-manifest.jsonl").read_bytes()), "JSONL"))
    rows = list(manifest_assets(io.BytesIO((EVENTS / "fleet-manifest.csv").read_bytes()), "CSV"))
    # Then each names the same assets, on the lines a person sees in an editor
    assert [(line, asset["ModelName"]) for line, asset in jsonl] == [  # type: ignore[index]
        (1, "pump-station-7"), (2, "pump-station-8"), (3, "compressor-2"),
    ]  # fmt: skip
    assert [(line, asset["ModelName"]) for line, asset in rows] == [  # type: ignore[index]
        (2, "pump-station-7"), (3, "pump-station-8"), (4, "compressor-2"),
    ]  # fmt: skip
    assert rows[1][1]["Tags"] == [{"Key": "line", "Value": "B"}]  # type: ignore[index]
    assert "OffCondition" not in rows[0][1] and rows[2][1]["OffCondition"] == jsonl[2][1]["OffCondition"]  # type: ignore[index]


def test_a_line_that_cannot_be_read_is_reported_with_its_number_and_the_rest_are_read() -> None:
    text = b'{"ModelName": "a"}\n\n[1, 2]\n{"ModelName": \n{"ModelName": "b"}\n'
    read = [
        (line, value if isinstance(value, str) else "ok") for line, value in manifest_assets(io.BytesIO(text), "JSONL")
    ]
    assert read == [
        (1, "ok"),
        (3, "a JSON list, not an object"),
        (4, "not JSON (Expecting value at column 1)"),
        (5, "ok"),
    ]
    csv_text = b"ModelName,DatasetName\na,b\nc,d,e\n"
    assert list(manifest_assets(io.BytesIO(csv_text), "CSV"))[1] == (3, "3 cells for 2 columns")


@pytest.mark.parametrize("form", ["JSONL", "CSV"])
def test_a_manifest_with_a_bom_and_crlf_line_ends_reads_as_written(form: str) -> None:
    body = '{"ModelName": "a"}\r\n{"ModelName": "b"}\r\n' if form == "JSONL" else "ModelName\r\na\r\nb\r\n"
    read = list(manifest_assets(io.BytesIO(("\ufeff" + body).encode()), form))  # type: ignore[arg-type]
    assert [value["ModelName"] for _, value in read] == ["a", "b"]  # type: ignore[index]


def test_a_manifest_that_is_not_utf8_or_has_no_header_is_refused_or_empty() -> None:
    with pytest.raises(FleetInputError, match="not UTF-8"):
        list(manifest_assets(io.BytesIO(b'{"ModelName": "a"}\n{"ModelName": "\xff"}\n'), "JSONL"))
    assert list(manifest_assets(io.BytesIO(b""), "CSV")) == []


def test_an_asset_is_planned_with_the_defaults_under_its_own_fields() -> None:
    fleet = parse_fleet_input(
        {"FleetName": "f", "Defaults": {"DatasetName": "d", "MaxWaitSeconds": 600}, "Assets": [{}]}
    )
    seen: dict[str, int] = {}
    planned = plan_asset(fleet, 0, 1, {"ModelName": "m", "MaxWaitSeconds": 900, "Asset": "Pump"}, _accept, set(), seen)
    assert planned.Action is Action.TRAIN and planned.Asset == "Pump"
    assert planned.Input == {"DatasetName": "d", "MaxWaitSeconds": 900, "ModelName": "m"}
    # And the same asset twice is invalid the second time; an existing L4E model is reported, not trained
    again = plan_asset(fleet, 1, 2, {"ModelName": "m"}, _accept, set(), seen)
    assert again.Action is Action.INVALID and "line 1" in (again.Problem or "")
    exists = plan_asset(fleet, 2, 3, {"ModelName": "old"}, _accept, {"old"}, seen)
    assert exists.Action is Action.EXISTS
    broken = plan_asset(fleet, 3, 4, {"DatasetName": "x"}, _accept, set(), seen)
    assert broken.Action is Action.INVALID and broken.Problem == "ModelName: Field required"


def test_execution_names_are_stable_unique_and_within_step_functions_limits() -> None:
    long_a, long_b = "x" * 200 + "a", "x" * 200 + "b"
    names = {execution_name("fleet", key) for key in ("pump 7", "pump/7", long_a, long_b)}
    assert len(names) == 4
    assert all(len(name) <= EXECUTION_NAME_LENGTH and all(c.isalnum() or c in "-_" for c in name) for name in names)
    assert execution_name("fleet", "pump 7") == execution_name("fleet", "pump 7")


def test_a_fleet_that_does_not_fit_the_model_quota_names_how_many_fit() -> None:
    fleet = parse_fleet_input({"FleetName": "f", "Assets": [{}], "ModelQuota": 15})
    check_quota(fleet, models_in_account=10, to_train=5)  # fits exactly
    with pytest.raises(FleetQuotaExceededError, match="would create 6 models but only 5 fit"):
        check_quota(fleet, models_in_account=10, to_train=6)
    sitewise = parse_fleet_input({"FleetName": "f", "Service": "iot-sitewise", "Assets": [{}]})
    check_quota(sitewise, models_in_account=100, to_train=500)  # SiteWise trains existing models: nothing to count


def _planned(action: Action = Action.TRAIN) -> PlannedAsset:
    return PlannedAsset(Index=0, Line=1, Asset="Pump 7", Action=action, ExecutionName="f-pump", Problem="why")


def test_an_assets_row_says_what_its_training_execution_says() -> None:
    def link(uri: str) -> str:
        return f"link:{uri}"

    output = {
        "Summary": {"severity": "CRITICAL", "event_count": 3, "anomaly_rate": 0.02, "top_sensors": ["Seal", "Flow"]},
        "SummaryObject": "s3://b/k.summary.json",
    }
    trained = asset_row(_planned(), ChildExecution(arn="a", status="SUCCEEDED", started_at=10, output=output), 5, link)
    assert (trained.outcome, trained.severity, trained.top_sensor, trained.summary_link) == (
        AssetOutcome.TRAINED, "CRITICAL", "Seal", "link:s3://b/k.summary.json",
    )  # fmt: skip
    earlier = asset_row(_planned(Action.EXISTS), ChildExecution(arn="a", status="SUCCEEDED", started_at=1), 5, link)
    assert earlier.outcome is AssetOutcome.REPORTED
    failed = ChildExecution(arn="a", status="FAILED", started_at=10, error="TrainingFailed", cause="no data")
    assert asset_row(_planned(), failed, 5, link).reason == "TrainingFailed: no data"
    assert asset_row(_planned(), None, 5, link).outcome is AssetOutcome.NOT_RUN
    assert asset_row(_planned(Action.EXISTS), None, 5, link).outcome is AssetOutcome.EXISTS
    assert asset_row(_planned(Action.INVALID), None, 5, link).reason == "line 1: why"


def test_a_rerun_that_finds_the_same_outcomes_has_the_same_fingerprint() -> None:
    first = [AssetRow(asset="a", outcome=AssetOutcome.TRAINED, execution_arn="x")]
    rerun = [AssetRow(asset="a", outcome=AssetOutcome.REPORTED, execution_arn="x")]
    changed = [AssetRow(asset="a", outcome=AssetOutcome.FAILED, execution_arn="x")]
    assert digest_fingerprint("f", first) == digest_fingerprint("f", rerun) != digest_fingerprint("f", changed)


def test_the_digest_of_a_thousand_assets_fits_sns_worst_first() -> None:
    # Given 1,000 assets with long names and reasons, one critical
    rows = [
        AssetRow(
            asset=f"asset-{i:04d}-" + "n" * 150,
            outcome=AssetOutcome.FAILED if i % 7 == 0 else AssetOutcome.TRAINED,
            severity="CRITICAL" if i == 500 else "OK",
            anomalous_events=i % 5,
            reason="r" * 300 if i % 7 == 0 else None,
            summary_link="https://example/" + "l" * 200,
        )
        for i in range(1000)
    ]  # fmt: skip
    rows.sort(key=AssetRow.worst_first)
    counts = count(rows)
    event = FleetDigestEvent(
        event_id="e", fleet_name="f", service=Service.LOOKOUT_FOR_EQUIPMENT, severity=digest_severity(counts),
        execution_arn="arn:aws:states:eu-west-1:1:execution:f:x", counts=counts, table_object="s3://b/t.csv",
        assets=rows[:50],
    )  # fmt: skip
    # When its alert is composed
    alert = fleet_digest_alert(event, rows, "https://table", "fleet f")
    # Then it fits SNS's limit, failures first, and it says where the rest is
    assert alert.size_bytes() <= MESSAGE_MAX_BYTES
    assert alert.severity == "CRITICAL" and counts.failed == 143
    assert "... and 975 more assets: the whole table is at https://table" in alert.text
    first_row = alert.text.split("top sensor / reason\n", 1)[1].splitlines()[0]
    assert "FAILED" in first_row
