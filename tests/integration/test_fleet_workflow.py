"""The fleet workflow: the real ASL from statemachine/ (a Distributed Map over the real single-asset workflow),
executed by moto's interpreter with the real Lambda handlers in-process, L4E answered by the fake (every request
checked against botocore's model), every step and SDK call under its role from template.yaml, no sleeping.

moto's interpreter runs a Distributed Map's items with MaxConcurrency workers and starts each asset's
single-asset execution for real (startExecution.sync:2). What it lacks, the harness adds from AWS's rules
(a Map Run fails past ToleratedFailurePercentage); what it cannot do is said where it matters (redrive)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local.generator import GeneratorSpec, write_diagnostics_file
from lookout_diagnostics.domain.fleet import Action, AssetOutcome, ChildExecution, PlannedAsset, asset_row
from lookout_diagnostics.domain.services import Service
from lookout_diagnostics.domain.services import summary_key as summary_key_of
from lookout_diagnostics.usecases.fleet import with_pending_summary
from tests.support.fake_lookout import FakeLookout, writes_diagnostics
from tests.support.fake_sitewise import FakeExecution, FakeSiteWise
from tests.support.iam import current_runtime
from tests.support.sitewise_files import evaluation_key, put_evaluation_results
from tests.support.stack import EmulatedStack
from tests.support.state_machine import EmulatedStateMachine, ExecutionResult, states_entered
from tests.support.template import ROOT
from tests.support.workflow import create_fleet_workflow, create_sitewise_training_workflow, create_training_workflow

SPEC = GeneratorSpec(
    rows=400, sensors=6, components=2, episodes=2, episode_points=(5, 20), seed=11, machine_off_points=(5, 10)
)
DEFAULTS = {
    "DatasetName": "plant-data",
    "TrainingDataStartTime": "2023-01-01T00:00:00Z",
    "TrainingDataEndTime": "2023-10-01T00:00:00Z",
    "EvaluationDataStartTime": "2023-10-01T00:00:00Z",
    "EvaluationDataEndTime": "2024-01-01T00:00:00Z",
    "PollIntervalSeconds": 60,
    "MaxWaitSeconds": 3600,
}
FAILING = {"pump-007", "pump-023", "pump-041"}
MANIFEST_KEY = "fleets/manifests/north-plant.jsonl"


@pytest.fixture
def machine(
    stack: EmulatedStack, lookout: FakeLookout, monkeypatch: pytest.MonkeyPatch
) -> Iterator[EmulatedStateMachine]:
    with EmulatedStateMachine() as emulated:
        training = create_training_workflow(emulated)
        create_fleet_workflow(emulated, training, stack.bucket, monkeypatch.setenv)
        yield emulated


def diagnostics_file() -> bytes:
    buffer = io.BytesIO()
    write_diagnostics_file(buffer, SPEC)
    return buffer.getvalue()


def plan_trainings(lookout: FakeLookout, names: list[str]) -> None:
    put_diagnostics = writes_diagnostics(diagnostics_file())
    for name in names:
        if name in FAILING:
            lookout.train_on_create(name, in_progress_polls=1, outcome="FAILED", failed_reason="Not enough data")
        else:
            lookout.train_on_create(name, in_progress_polls=2, on_complete=put_diagnostics)


def write_manifest(stack: EmulatedStack, lines: list[str]) -> None:
    body = "\n".join(lines) + "\n"
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=MANIFEST_KEY, Body=body.encode())


def fleet_input(stack: EmulatedStack, **overrides: Any) -> dict[str, Any]:
    return {
        "FleetName": "north-plant",
        "Defaults": DEFAULTS,
        "Manifest": {"Bucket": stack.bucket, "Key": MANIFEST_KEY},
        "ModelQuota": 60,
        **overrides,
    }


def fifty_asset_manifest(stack: EmulatedStack, lookout: FakeLookout) -> list[str]:
    """48 well-formed assets (3 of which fail training) and 2 lines that cannot be trained."""
    names = [f"pump-{number:03d}" for number in range(1, 49)]
    lines = [json.dumps({"ModelName": name}) for name in names]
    lines.insert(10, json.dumps({"ModelName": "bad name!", "Asset": "Pump 11 (typo)"}))
    lines.insert(30, '{"ModelName": "pump-x"')  # not JSON
    write_manifest(stack, lines)
    plan_trainings(lookout, names)
    lookout.model_quota = 60  # an account whose quota was raised, as the input states (ModelQuota)
    return names


def map_run_items(result: ExecutionResult) -> dict[str, int]:
    """How the execution's Map Run's children ended, as DescribeMapRun tells it."""
    sfn = boto3.client("stepfunctions")
    [run] = sfn.list_map_runs(executionArn=result.execution_arn)["mapRuns"]
    counts = sfn.describe_map_run(mapRunArn=run["mapRunArn"])["itemCounts"]
    return {"succeeded": counts["succeeded"], "failed": counts["failed"]}


def digest_of(result: ExecutionResult) -> dict[str, Any]:
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    return dict(result.output)


def test_a_fifty_asset_fleet_trains_within_the_quota_and_sends_one_digest(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack
) -> None:
    # Given a manifest of 50 lines in S3: 45 that train, 3 whose training fails, 2 that cannot be read or
    # break a rule; L4E throttles some of the workflow's DescribeModel calls; per-asset alerts are off
    names = fifty_asset_manifest(stack, lookout)
    lookout.fail_next("DescribeModel", "ThrottlingException", times=4)

    # When a person starts the fleet from the console
    result = machine.run(fleet_input(stack, PerAssetAlerts=False), name="fleet-1", timeout_s=300)

    # Then the fleet succeeds, every well-formed asset was created once, and never more than 5 trained at once
    digest = digest_of(result)
    assert sorted(call.params["ModelName"] for call in lookout.calls_to("CreateModel")) == names
    assert lookout.peak_trainings <= 5
    # each asset whose training failed failed its child; an invalid line is reported, never counted as a failure
    assert map_run_items(result) == {"succeeded": 47, "failed": 3}
    assert machine.retry_intervals, "the throttled DescribeModel calls were retried"
    # And the digest counts every asset
    assert digest["Counts"] == {
        "assets": 50, "trained": 45, "reported": 0, "exists": 0, "failed": 3, "invalid": 2, "not_run": 0,
        "critical": digest["Counts"]["critical"], "warning": digest["Counts"]["warning"],
    }  # fmt: skip
    # And exactly one alert went out, the digest, worst first: failures, then what cannot be trained
    [(subject, body)] = stack.emailed_alerts()
    assert subject.startswith("[") and "fleet north-plant: 45 of 50 trained" in subject
    header, *lines = body.split("\n\nasset", 1)[1].split("\n\n", 1)[0].splitlines()
    column = len("asset") + header.index("outcome")
    outcomes = [line[column : column + 8].strip() for line in lines if not line.startswith((" ", "..."))]
    assert len(outcomes) == 25  # the first rows; the whole table is linked
    assert outcomes[:5] == ["FAILED"] * 3 + ["INVALID"] * 2
    assert all(outcome == "TRAINED" for outcome in outcomes[5:])
    assert "Not enough data" in body and "line 11" in body and "line 31: not JSON" in body
    assert "... and 25 more assets" in body
    # And the whole table is in S3, one row per asset, with a link to each trained asset's summary
    table_key = digest["TableObject"].split("/", 3)[3]
    csv_rows = boto3.client("s3").get_object(Bucket=stack.bucket, Key=table_key)["Body"].read().decode().splitlines()
    assert len(csv_rows) == 51
    assert sum("model_diagnostics_results.summary.json" in row for row in csv_rows) == 45
    # And one EventBridge event for the fleet, for machines
    [event] = [e for e in stack.received_events() if e["detail-type"] == "Fleet Training Digest"]
    assert event["detail"]["counts"]["assets"] == 50
    assert event["detail"]["fleet_name"] == "north-plant"


def test_a_second_run_of_the_same_fleet_creates_nothing_and_alerts_nothing(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack
) -> None:
    # Given a fleet of 6 that has run once, per-asset alerts on (the default)
    names = [f"pump-{number:03d}" for number in range(1, 7)]
    write_manifest(stack, [json.dumps({"ModelName": name}) for name in names])
    plan_trainings(lookout, names)
    first = digest_of(machine.run(fleet_input(stack), name="fleet-1", timeout_s=120))
    alerts_after_first = len(stack.emailed_alerts())
    creates_after_first = len(lookout.calls_to("CreateModel"))

    # When the same input is started again
    second = digest_of(machine.run(fleet_input(stack), name="fleet-2", timeout_s=120))

    # Then nothing is created again and nothing is alerted again: the assets are reported, the digest a duplicate
    assert first["Alert"] == "ALERTED" and second["Alert"] == "DUPLICATE"
    assert alerts_after_first == 6 + 1  # six per-asset alerts and the digest, the first time
    assert len(stack.emailed_alerts()) == alerts_after_first
    assert len(lookout.calls_to("CreateModel")) == creates_after_first == 6
    assert second["Counts"]["reported"] == 6 and second["Counts"]["trained"] == 0


def status_change(result: ExecutionResult) -> dict[str, Any]:
    """Step Functions' "Execution Status Change" event for an execution that ended, shaped as in events/."""
    described = boto3.client("stepfunctions").describe_execution(executionArn=result.execution_arn)
    sample = json.loads((ROOT / "events" / "fleet-execution-failed.json").read_text())
    detail = sample["detail"] | {
        "executionArn": result.execution_arn,
        "stateMachineArn": described["stateMachineArn"],
        "name": described["name"],
        "status": described["status"],
        "startDate": int(described["startDate"].timestamp() * 1000),
        "input": described["input"],
        "error": described.get("error"),
        "cause": described.get("cause"),
    }
    return sample | {"resources": [result.execution_arn], "detail": detail}


def test_a_fleet_past_its_tolerated_failures_fails_sends_the_digest_of_what_ran_and_finishes_without_retraining(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack
) -> None:
    # Given a fleet of 5 assets that tolerates no failure, whose per-asset alerts are off: one training fails,
    # and one line is invalid (reported, not counted as a failure: no run could mend it)
    names = [f"pump-{number:03d}" for number in range(5, 9)]
    write_manifest(stack, [json.dumps({"ModelName": name}) for name in names] + ['{"DatasetName": "x"}'])
    plan_trainings(lookout, names)
    lookout.train_on_create("pump-007", in_progress_polls=1, outcome="FAILED", failed_reason="Not enough data")
    strict = fleet_input(stack, ToleratedFailurePercentage=0, PerAssetAlerts=False)

    # When it runs
    failed = machine.run(strict, name="fleet-1", timeout_s=120)

    # Then the Map Run fails past the threshold and the execution fails (redrivable: the Map has no Catch)
    assert failed.status == "FAILED"
    assert failed.error == "States.ExceedToleratedFailureThreshold"
    assert "SendDigest" not in states_entered(failed)
    assert map_run_items(failed) == {"succeeded": 4, "failed": 1}
    assert stack.emailed_alerts() == []  # per-asset alerts muted, no digest yet
    # When Step Functions announces the failed execution (the FleetEnded rule)
    answer = current_runtime().invoke("FleetFunction", status_change(failed))
    # Then the digest of what ran goes out, saying how the execution ended and what to do
    [(subject, body)] = stack.emailed_alerts()
    assert subject.startswith("[ERROR] fleet north-plant: 3 of 5 trained") and "(execution FAILED)" in subject
    assert "Ended:     the fleet execution FAILED: States.ExceedToleratedFailureThreshold" in body
    assert "redrive it" in body and answer["Counts"]["failed"] == 1 and answer["Counts"]["invalid"] == 1
    # And the fleet's mutes are over: the models' later alerts go out as usual
    ledger = boto3.client("dynamodb")
    assert all("Item" not in ledger.get_item(TableName=stack.table, Key={"pk": {"S": f"mute#{n}"}}) for n in names)

    # When the children run again with the same input (what a redrive does with those that did not succeed;
    # moto has no RedriveExecution)
    rerun = machine.run(strict, name="fleet-2", timeout_s=120)
    # Then nothing is trained twice, the earlier failure is reported and not counted again, and the digest
    # finds the same outcomes: nothing more is sent
    assert rerun.status == "SUCCEEDED", (rerun.error, rerun.cause)
    assert len(lookout.calls_to("CreateModel")) == 4
    assert rerun.output["Counts"]["reported"] == 3 and rerun.output["Counts"]["failed"] == 1
    assert rerun.output["Alert"] == "DUPLICATE" and len(stack.emailed_alerts()) == 1


def test_a_fleet_that_ends_before_its_plan_has_no_digest(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack
) -> None:
    # Given a fleet whose input cannot be used: it fails at its first step
    failed = machine.run({"FleetName": "north-plant", "Assets": []}, name="fleet-1", timeout_s=60)
    assert failed.status == "FAILED" and failed.error == "FleetInputError"
    # When Step Functions announces it, Then there is nothing to digest, and nothing is sent
    answer = current_runtime().invoke("FleetFunction", status_change(failed))
    assert answer["Digest"] == "NONE" and stack.emailed_alerts() == []


def test_a_fleet_that_cannot_fit_the_model_quota_fails_before_creating_anything(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack
) -> None:
    # Given an account with 12 of its 15 models, and a fleet of 5 new assets
    for number in range(12):
        lookout.add_model(f"existing-{number}")
    names = [f"pump-{number:03d}" for number in range(1, 6)]
    write_manifest(stack, [json.dumps({"ModelName": name}) for name in names])

    # When the fleet starts with the default quota
    result = machine.run(fleet_input(stack, ModelQuota=15), name="fleet-1", timeout_s=60)

    # Then it fails at once, naming how many fit, and nothing was created
    assert result.status == "FAILED"
    assert result.error == "FleetQuotaExceededError"
    assert "only 3 fit" in (result.cause or "")
    assert lookout.calls_to("CreateModel") == []
    assert states_entered(result) == ["PrepareFleet"]


# ------------------------------------------------------------------ AWS IoT SiteWise
SITEWISE_SAMPLE = json.loads((ROOT / "events" / "sitewise-training-input.json").read_text())


@pytest.fixture
def sitewise_machine(
    stack: EmulatedStack, sitewise: FakeSiteWise, monkeypatch: pytest.MonkeyPatch
) -> Iterator[EmulatedStateMachine]:
    with EmulatedStateMachine() as emulated:
        training = create_sitewise_training_workflow(emulated)
        create_fleet_workflow(emulated, training, stack.bucket, monkeypatch.setenv)
        yield emulated


def test_a_sitewise_fleet_trains_each_asset_once_and_a_rerun_reports_the_executions_it_finds(
    sitewise_machine: EmulatedStateMachine, sitewise: FakeSiteWise, stack: EmulatedStack
) -> None:
    # Given one computation model bound to an asset model, and three of its assets, per-asset alerts off
    pumps = sitewise.add_asset_model("pump", ["Bearing temperature", "Outlet flow", "Motor current"])
    model = sitewise.add_computation_model("pump-anomalies", asset_model=pumps)
    assets = [sitewise.add_asset(f"Pump {number}", pumps) for number in (7, 8, 9)]

    def on_complete(execution: FakeExecution, payload: dict[str, Any]) -> None:
        destination = payload["modelEvaluationConfiguration"]["resultDestination"]
        assert execution.asset is not None
        asset = execution.asset
        put_evaluation_results(destination["bucketName"], evaluation_key(destination["prefix"], asset), asset)

    sitewise.plan_executions("pump-anomalies", running_polls=1, on_complete=on_complete)
    defaults = {key: SITEWISE_SAMPLE[key] for key in ("TrainingStartTime", "TrainingEndTime", "TargetSamplingRate")}
    fleet = {
        "FleetName": "north-plant-sw",
        "Service": "iot-sitewise",
        "Defaults": defaults | {"ComputationModelId": model.id, "PollIntervalSeconds": 60},
        "Assets": [{"AssetId": asset.id, "Asset": asset.name} for asset in assets],
        "PerAssetAlerts": False,
    }

    # When the fleet runs, and then runs again with the same input
    first = digest_of(sitewise_machine.run(fleet, name="fleet-1", timeout_s=120))
    rerun = sitewise_machine.run(fleet, name="fleet-2", timeout_s=120)
    second = digest_of(rerun)

    # Then each asset trained once (one ExecuteAction each), and one message went out, the first digest
    assert len(sitewise.calls_to("ExecuteAction")) == 3
    assert first["Counts"]["trained"] == 3 and first["Alert"] == "ALERTED"
    [(subject, body)] = stack.emailed_alerts()
    assert "fleet north-plant-sw: 3 of 3 trained" in subject
    assert all(f"Pump {number}" in body for number in (7, 8, 9))
    # And the second run found each asset's execution by its name (Step Functions refused a second one)
    assert second["Counts"]["reported"] == 3 and second["Alert"] == "DUPLICATE"
    assert map_run_items(rerun) == {"succeeded": 3, "failed": 0}


def test_a_csv_manifest_trains_its_assets_and_a_missing_manifest_fails_before_anything(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack
) -> None:
    # Given the sample CSV manifest from events/ in the bucket
    key = "fleets/manifests/north-plant.csv"
    boto3.client("s3").put_object(
        Bucket=stack.bucket, Key=key, Body=(ROOT / "events" / "fleet-manifest.csv").read_bytes()
    )
    plan_trainings(lookout, ["pump-station-7", "pump-station-8", "compressor-2"])

    # When a fleet reads it, and another names a manifest that is not there
    result = machine.run(fleet_input(stack, Manifest={"Bucket": stack.bucket, "Key": key}), name="fleet-csv")
    missing = machine.run(
        fleet_input(stack, Manifest={"Bucket": stack.bucket, "Key": "fleets/manifests/nope.jsonl"}), name="fleet-x"
    )

    # Then its three assets trained, with the CSV's own settings
    assert digest_of(result)["Counts"]["trained"] == 3
    tags = {call.params["ModelName"]: call.params.get("Tags") for call in lookout.calls_to("CreateModel")}
    assert tags["pump-station-8"] == [{"Key": "line", "Value": "B"}]
    # And the missing manifest fails the fleet at its first step, saying which
    assert missing.status == "FAILED" and missing.error == "FleetInputError"
    assert "s3://lookout-diagnostics-example/fleets/manifests/nope.jsonl" in (missing.cause or "")
    assert len(lookout.calls_to("CreateModel")) == 3


# ------------------------------------------------------------------ an alert still pending when a child ended
def summarised(spec: GeneratorSpec) -> str:
    """A summary as the S3 trigger writes it beside a file."""
    from lookout_diagnostics.domain.summary import summarise_stream
    from lookout_diagnostics.settings import SummaryThresholds

    buffer = io.BytesIO()
    write_diagnostics_file(buffer, spec)
    buffer.seek(0)
    return summarise_stream(buffer, source="file", thresholds=SummaryThresholds()).model_dump_json()


@pytest.mark.parametrize("service", [Service.LOOKOUT_FOR_EQUIPMENT, Service.IOT_SITEWISE])
def test_an_asset_whose_alert_was_pending_is_reported_from_the_summary_beside_its_file(
    stack: EmulatedStack, lookout: FakeLookout, service: Service
) -> None:
    # Given an asset's training that ended with its alert PENDING (its file landed after the workflow stopped
    # waiting, or the S3 trigger was sending it), and the summary the trigger has written beside the file since
    s3 = boto3.client("s3")
    if service is Service.LOOKOUT_FOR_EQUIPMENT:
        lookout.add_model("pump-007")
        key = "pump-007/pump-007/1/model_diagnostics_results.json.gz"
        lookout.add_version("pump-007", 1, diagnostics_object=(stack.bucket, key))
        output = {"ModelName": "pump-007", "ModelVersion": 1, "Status": "SUCCESS", "Alert": "PENDING"}
    else:
        key = "sitewise/m-1/fleet-pump/Evaluation/asset[a-1]/1764500000-evaluation_results.jsonl"
        s3.put_object(Bucket=stack.bucket, Key=key, Body=b"{}")
        output = {"EvaluationBucket": stack.bucket, "EvaluationPrefix": "sitewise/m-1/fleet-pump/", "Alert": "PENDING"}
    summary_key = summary_key_of(key)
    s3.put_object(Bucket=stack.bucket, Key=summary_key, Body=summarised(SPEC).encode())
    asset = PlannedAsset(Index=0, Line=1, Asset="Pump 7", Action=Action.TRAIN, ExecutionName="fleet-pump")
    child = ChildExecution(arn="arn:child", status="SUCCEEDED", started_at=10, output=output)

    # When the digest looks at it
    with current_runtime().run_as("FleetFunction"):
        found = with_pending_summary(service, asset, child)

    # Then it reads the summary, and the digest's row has the figures a person needs
    assert found is not None and found.output is not None
    assert found.output["SummaryObject"] == f"s3://{stack.bucket}/{summary_key}"
    row = asset_row(asset, found, 5, lambda uri: uri)
    assert row.outcome is AssetOutcome.TRAINED and row.severity in {"OK", "WARNING", "CRITICAL"}
    assert row.anomalous_events is not None


def test_an_asset_that_finds_five_models_training_elsewhere_waits_for_a_slot(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack
) -> None:
    # Given five models of someone else's training in the account (L4E's limit of trainings at once)
    for number in range(5):
        lookout.add_model(f"other-{number}", status="IN_PROGRESS")
    names = ["pump-001", "pump-002"]
    write_manifest(stack, [json.dumps({"ModelName": name}) for name in names])
    plan_trainings(lookout, names)
    # (they finish while the fleet's assets wait: L4E refuses CreateModel three times, then accepts it)
    refusals = iter(range(3))
    create_model = lookout.handlers["CreateModel"]

    def slot_frees(params: dict[str, Any]) -> dict[str, Any]:
        if next(refusals, None) is None:
            for number in range(5):
                lookout.model(f"other-{number}").status = "SUCCESS"
        return create_model(params)

    lookout.handlers["CreateModel"] = slot_frees

    # When the fleet runs
    result = machine.run(fleet_input(stack), name="fleet-1", timeout_s=120)

    # Then its assets waited for a slot (LookoutBusyError, retried minutes apart) and trained, never six at once
    digest = digest_of(result)
    assert digest["Counts"]["trained"] == 2
    busy = [call for call in machine.invocations if type(call.error).__name__ == "LookoutBusyError"]
    assert len(busy) == 3
    # (full jitter: each wait is drawn up to 300 s, then 450, 675... for the asset that retried)
    assert len(machine.retry_intervals) == 3 and all(0 <= wait <= 675 for wait in machine.retry_intervals)
    assert lookout.peak_trainings <= 5
