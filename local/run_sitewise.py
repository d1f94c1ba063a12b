"""The local run for AWS IoT SiteWise (`make demo`, the default): a training ends in one readable alert.

A pump's computation model is trained from the console (ExecuteAction, as the console calls it); the
simulated SiteWise runs the execution and writes realistic evaluation results, named by SiteWise's ids, to
the stack's bucket; S3 announces the file to the diagnostics handler as EventBridge would, and the handler
alerts once, naming the computation model, the asset, the execution and each sensor by name. Then the
status poller notices the execution that ended (SiteWise announces nothing) and puts its EventBridge event,
leaving the alert to the summary. No AWS account, no network, no Docker.
"""

from __future__ import annotations

import io
import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto import mock_aws

from local.console import heading, save_charts, step
from local.generator import PRESETS, write_diagnostics_file
from tests.support.fake_lookout import FakeLookout
from tests.support.fake_sitewise import FakeExecution, FakeSiteWise
from tests.support.lambda_context import LocalContext
from tests.support.sitewise_files import evaluation_key, sensor_ids
from tests.support.stack import announcement, create_stack
from tests.support.template import ROOT

# Twelve sensors of a centrifugal pump: the asset model's properties, in the order the model reads them.
PROPERTIES = [
    "Suction pressure",
    "Discharge pressure",
    "Flow rate",
    "Motor current",
    "Motor temperature",
    "Bearing temperature (drive end)",
    "Bearing temperature (non-drive end)",
    "Vibration (axial)",
    "Vibration (radial)",
    "Shaft speed",
    "Seal leakage",
    "Casing temperature",
]
MODEL_NAME = "pump-anomalies"
ASSET_NAME = "Pump 7"
PREFIX = f"{MODEL_NAME}/demo-training/"
EVALUATION_EVENT = "eventbridge-evaluation-created"
POLLS = 3


def run() -> bool:
    """The SiteWise story; True if it ended in exactly one alert and one event."""
    heading("AWS IoT SiteWise anomaly detection automation: local run")
    print("AWS is EMULATED in this process (moto): no AWS account, no network, nothing deployed.")
    print("AWS IoT SiteWise has no moto emulation: a fake answers its calls, and every request and")
    print("response is checked against botocore's iotsitewise service model.\n")
    with mock_aws(), FakeLookout(), FakeSiteWise() as sitewise:
        stack = create_stack()
        os.environ.update(stack.environment())
        pumps = sitewise.add_asset_model("Centrifugal pump", PROPERTIES)
        pump = sitewise.add_asset(ASSET_NAME, pumps)
        model = sitewise.add_computation_model(MODEL_NAME, asset_model=pumps)
        step(
            f"Created the stack's pieces (bucket {stack.bucket}, alert topic, ledger and state tables) and, in "
            f"SiteWise, asset '{ASSET_NAME}' ({len(PROPERTIES)} properties) and computation model '{MODEL_NAME}'"
        )
        from handlers.status_poller import lambda_handler as poller

        scheduled = json.loads((ROOT / "events" / "scheduled-poll.json").read_text())
        first = poller(scheduled, LocalContext("StatusPollerFunction"))
        step(
            f"The scheduled poller ran: {first['sitewise']['computation_models_seen']} computation model, nothing "
            "to announce yet"
        )

        deliveries: list[str] = []

        def training_done(execution: FakeExecution, payload: dict[str, Any]) -> None:
            destination = payload["modelEvaluationConfiguration"]["resultDestination"]
            key = evaluation_key(destination["prefix"], pump, epoch=int(time.time()))
            names = sensor_ids(pump)
            # The evaluation window's last two weeks, one record a minute (the demo preset's length).
            start = datetime.fromtimestamp(payload["modelEvaluationConfiguration"]["dataEndTime"], UTC).replace(
                tzinfo=None
            )
            spec = PRESETS["demo"].model_copy(
                update={"machine_off_stretches": 0, "sensor_names": names, "start": start - timedelta(days=14)}
            )
            buffer = io.BytesIO()
            truth = write_diagnostics_file(buffer, spec, compressed=False)
            boto3.client("s3").put_object(Bucket=destination["bucketName"], Key=key, Body=buffer.getvalue())
            step(
                f"SiteWise completed execution {execution.id} and wrote s3://{destination['bucketName']}/{key}: "
                f"{truth.rows:,} records, sensors named '<asset id>\\<property id>', "
                f"{len(truth.episodes)} anomalous episodes"
            )
            deliveries.append(_deliver(destination["bucketName"], key))
            step(f"S3 announced the file (EventBridge 'Object Created'): diagnostics handler {deliveries[-1]}")

        sitewise.plan_executions(MODEL_NAME, running_polls=POLLS, on_complete=training_done)
        execution_id = _train_from_the_console(model.id, pump.id, stack.bucket)
        ended = _wait_as_the_console_does(execution_id)
        step(f"The console's DescribeExecution showed RUNNING {POLLS} times, then {ended}")
        report = poller(scheduled, LocalContext("StatusPollerFunction"))["sitewise"]
        step(
            f"The next poll found {report['outcomes']} ended execution: {report['events_put']} EventBridge event "
            f"put, {report['alerts_sent']} alert (the summary's alert is the training's)"
        )
        emailed = stack.emailed_alerts()
        heading(f"Alerts published: {len(emailed)}. As an email subscriber receives it:")
        for subject, body in emailed:
            print(f"Subject: {subject}\n\n{body}")
        heading("The summary's chart (linked from the alert):")
        charts = save_charts(stack.bucket)
        heading("As the chat service (Amazon Q Developer in chat applications, https) receives it:")
        for card in stack.chat_cards():
            print(json.dumps(json.loads(card), indent=2, ensure_ascii=False))
        events = stack.received_events()
        heading("The event, as a rule on source 'lookout-diagnostics' delivers it:")
        for outcome in events:
            print(json.dumps(outcome, indent=2, ensure_ascii=False))
        alerted = deliveries == ["ALERTED"] and len(emailed) == 1 and len(events) == 1
        return alerted and report["alerts_sent"] == 0 and len(charts) == 1


def _train_from_the_console(model_id: str, asset_id: str, bucket: str) -> str:
    """ExecuteAction as the console calls it: train on the last year, evaluate on its last month."""
    client = boto3.client("iotsitewise")
    definitions = client.describe_computation_model(computationModelId=model_id)["actionDefinitions"]
    training = next(d for d in definitions if d["actionType"] == "AWS/ANOMALY_DETECTION_TRAINING")
    end = datetime(2026, 11, 1, tzinfo=UTC)
    payload = {
        "trainingMode": "TRAIN_MODEL",
        "exportDataStartTime": int((end - timedelta(days=365)).timestamp()),
        "exportDataEndTime": int(end.timestamp()),
        "targetSamplingRate": "PT1M",
        "modelEvaluationConfiguration": {
            "dataStartTime": int((end - timedelta(days=30)).timestamp()),
            "dataEndTime": int(end.timestamp()),
            "resultDestination": {"bucketName": bucket, "prefix": PREFIX},
        },
    }
    action = client.execute_action(
        targetResource={"computationModelId": model_id},
        resolveTo={"assetId": asset_id},
        actionDefinitionId=training["actionDefinitionId"],
        actionPayload={"stringValue": json.dumps(payload)},
        clientToken=str(uuid.uuid4()),
    )
    executions = client.list_executions(
        targetResourceType="COMPUTATION_MODEL",
        targetResourceId=model_id,
        resolveToResourceType="ASSET",
        resolveToResourceId=asset_id,
    )["executionSummaries"]
    step(
        f"Started a training from the console (ExecuteAction {action['actionId']}), evaluation results to "
        f"s3://{bucket}/{PREFIX}"
    )
    return str(executions[0]["executionId"])


def _wait_as_the_console_does(execution_id: str) -> str:
    client = boto3.client("iotsitewise")
    for _ in range(POLLS + 2):
        state = str(client.describe_execution(executionId=execution_id)["executionStatus"]["state"])
        if state != "RUNNING":
            return state
    return "RUNNING"


def _deliver(bucket: str, key: str) -> str:
    from handlers.diagnostics_landed import lambda_handler  # imported once the environment is set

    outcome: str = lambda_handler(announcement(EVALUATION_EVENT, bucket, key), LocalContext())["outcomes"][0]["status"]
    return outcome
