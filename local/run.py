"""The local run (`make demo`): the main jobs end to end, with AWS emulated in-process.

`python -m local.run` (what `make demo` runs) shows AWS IoT SiteWise, the service a new user can still sign
up for (local/run_sitewise.py); `python -m local.run --service lookout-for-equipment` shows Amazon Lookout
for Equipment, below.

The training workflow (statemachine/) is started with the console input from events/; a simulated
Lookout for Equipment trains for a few polls and writes a realistic diagnostics file; S3 announces
the file to the diagnostics handler as EventBridge would; the workflow finishes. One alert comes out,
printed as SNS subscribers receive it. Then L4E's retraining scheduler makes a version nobody
announces, and the status poller notices it. No AWS account, no network, no Docker.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3

from local import run_fleet, run_sitewise
from local.console import heading, indent, save_charts, step
from local.generator import PRESETS, write_diagnostics_file
from lookout_diagnostics.domain.services import Service
from tests.support.fake_lookout import FakeLookout, FakeModel, FakeModelVersion
from tests.support.fake_sitewise import FakeSiteWise
from tests.support.lambda_context import LocalContext
from tests.support.stack import EmulatedStack, announcement, create_stack
from tests.support.state_machine import EmulatedStateMachine, states_entered
from tests.support.workflow import create_training_workflow

ROOT = Path(__file__).resolve().parent.parent
TRAINING_INPUT = ROOT / "events" / "training-input.json"
OBJECT_CREATED = ROOT / "events" / "eventbridge-object-created.json"
SCHEDULED_POLL = ROOT / "events" / "scheduled-poll.json"
POLLS = 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--service",
        choices=[service.value for service in Service],
        default=Service.IOT_SITEWISE.value,
        help="the anomaly-detection service to show (default: AWS IoT SiteWise)",
    )
    parser.add_argument(
        "--fleet", action="store_true", help="train a fleet in one execution, with one digest (events/fleet-input.json)"
    )
    arguments = parser.parse_args(argv)
    service = Service(arguments.service)
    os.environ.update(
        AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION", "eu-west-1"),
        AWS_ACCESS_KEY_ID="emulated",
        AWS_SECRET_ACCESS_KEY="emulated",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    os.environ.pop("AWS_PROFILE", None)
    if arguments.fleet:
        return 0 if run_fleet.run() else 1
    if service is Service.IOT_SITEWISE:
        return 0 if run_sitewise.run() else 1
    training_input = json.loads(TRAINING_INPUT.read_text())
    heading("Lookout for Equipment automation: local run")
    print("AWS is EMULATED in this process (moto): no AWS account, no network, nothing deployed.")
    print("Lookout for Equipment has no moto emulation: a fake answers its calls, and every request")
    print("and response is checked against botocore's lookoutequipment service model.\n")

    # The account has AWS IoT SiteWise too (empty here): the stack serves it by default, and its poller asks.
    with EmulatedStateMachine() as machine, FakeLookout() as lookout, FakeSiteWise():
        stack = create_stack()
        os.environ.update(stack.environment())
        create_training_workflow(machine)
        step(f"Created the stack's pieces: bucket {stack.bucket}, alert topic, ledger table, training workflow")

        deliveries: list[str] = []

        def training_done(model: FakeModel, version: FakeModelVersion | None) -> None:
            assert version is not None and version.diagnostics_object is not None
            bucket, key = version.diagnostics_object
            spec = PRESETS["demo"]
            buffer = io.BytesIO()
            truth = write_diagnostics_file(buffer, spec)
            boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
            step(
                f"L4E finished training and wrote s3://{bucket}/{key}: {truth.rows:,} records "
                f"({spec.sensors} sensors, one a minute, two weeks), {len(truth.episodes)} anomalous episodes"
            )
            deliveries.append(deliver_object_created(bucket, key))
            step(f"S3 announced the file (EventBridge 'Object Created'): diagnostics handler {deliveries[-1]}")

        lookout.train_on_create(
            training_input["ModelName"],
            in_progress_polls=POLLS,
            model_quality="QUALITY_THRESHOLD_MET",
            # A key with a space and '=': S3 URL-encodes it in the event, the handler decodes it.
            diagnostics_key="{prefix}training run={version}/model_diagnostics_results.json.gz",
            on_complete=training_done,
        )
        step(f"Started the training workflow with {TRAINING_INPUT.relative_to(ROOT)} (L4E trains for {POLLS} polls)")
        result = machine.run(training_input, name="demo-training")
        path = states_entered(result)
        step(
            f"Workflow {result.status} after {path.count('DescribeModel')} polls "
            f"(waits of {sorted(set(machine.waits))} s, not slept): {' > '.join(compress(path))}"
        )
        print("\n   Execution output, as the console shows it:")
        print(indent(json.dumps(result.output, indent=2, ensure_ascii=False)))
        _, bucket, key = str((result.output or {}).get("DiagnosticsObject", "s3:///")).split("/", 3)[1:]
        again = deliver_object_created(bucket, key)
        step(f"EventBridge delivered the same event again (at least once): {again}, no alert")

        emailed = stack.emailed_alerts()
        received = stack.received_alerts()
        heading(f"Alerts published: {len(emailed)}. As an email subscriber receives it:")
        for subject, body in emailed:
            print(f"Subject: {subject}\n\n{body}")
        heading("The summary's chart (linked from the alert):")
        save_charts(stack.bucket)
        heading("As the chat service (Amazon Q Developer in chat applications, https) receives it:")
        for card in stack.chat_cards():
            print(json.dumps(json.loads(card), indent=2, ensure_ascii=False))
        heading("As an SQS (or Lambda, HTTPS) subscriber receives it (abridged):")
        for alert in received:
            print(json.dumps(abridged(alert.envelope), indent=2, ensure_ascii=False))
        succeeded = result.status == "SUCCEEDED" and deliveries == ["ALERTED"] and again == "DUPLICATE"
        retraining_ok = retraining(stack, lookout, training_input["ModelName"])
        return 0 if succeeded and retraining_ok and len(emailed) == len(received) == 1 else 1


def retraining(stack: EmulatedStack, lookout: FakeLookout, model_name: str) -> bool:
    """L4E's retraining scheduler makes version 2, which nothing announces: the status poller notices."""
    heading("A scheduled retraining, noticed by the status poller")
    from handlers.status_poller import lambda_handler as poller

    scheduled = json.loads(SCHEDULED_POLL.read_text())
    first = poller(scheduled, LocalContext("StatusPollerFunction"))
    step(f"The scheduled poller ran: {first['models_seen']} model, first sighting recorded without an alert")
    model = lookout.model(model_name)
    assert model.diagnostics_output is not None
    key = f"{model.diagnostics_output.prefix}training run=2/model_diagnostics_results.json.gz"
    lookout.add_version(
        model_name,
        2,
        source_type="RETRAINING",
        model_quality="QUALITY_THRESHOLD_MET",
        auto_promotion_result="MODEL_NOT_PROMOTED",
        auto_promotion_result_reason="The retrained version did not perform better than the active version",
        diagnostics_object=(stack.bucket, key),
    )
    buffer = io.BytesIO()
    write_diagnostics_file(buffer, PRESETS["demo"].model_copy(update={"seed": 2}))
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=buffer.getvalue())
    step(f"L4E's retraining scheduler trained version 2 (not promoted) and wrote s3://{stack.bucket}/{key}")
    step(f"S3 announced the file: diagnostics handler {deliver_object_created(stack.bucket, key)}")
    report = poller(scheduled, LocalContext("StatusPollerFunction"))
    step(
        f"The next poll found {report['outcomes']} outcomes of version 2: {report['alerts_sent']} alert sent by the "
        f"poller (the success's alert is the diagnostics summary's), {report['events_put']} EventBridge events put"
    )
    alerts = stack.received_alerts()
    emailed = stack.emailed_alerts()
    print("\n   New alerts:")
    for subject, _ in emailed[1:]:
        print(f"   - {subject}")
    print("\n   The poller's alert, as an email subscriber receives it:\n")
    print(indent(emailed[-1][1]))
    events = stack.received_events()
    print("\n   The events, as a rule on source 'lookout-diagnostics' delivers them (the second in full):")
    for outcome in events:
        print(f"   - {outcome['detail-type']}: {outcome['detail']['outcome']} v{outcome['detail']['model_version']}")
    print(indent(json.dumps(events[-1], indent=2, ensure_ascii=False)))
    return len(alerts) == 2 and len(events) == 2 and report["alerts_sent"] == 1


def deliver_object_created(bucket: str, key: str) -> str:
    """Send the real-shaped EventBridge event from events/, for this object, to the real handler."""
    from handlers.diagnostics_landed import lambda_handler  # imported once the environment is set

    event = announcement(OBJECT_CREATED.stem, bucket, key)
    outcome: str = lambda_handler(event, LocalContext())["outcomes"][0]["status"]
    return outcome


def compress(states: list[str]) -> list[str]:
    """The path through the workflow with the polling loop folded: Wait > Describe > ... (xN)."""
    loop = ["WaitForTraining", "DescribeModel", "CountPoll", "TrainingStatus"]
    folded: list[str] = []
    index = 0
    while index < len(states):
        if states[index : index + len(loop)] == loop:
            repeats = 0
            while states[index : index + len(loop)] == loop:
                repeats += 1
                index += len(loop)
            folded.append(f"[{' > '.join(loop)}] x{repeats}")
        else:
            folded.append(states[index])
            index += 1
    return folded


def abridged(envelope: dict[str, Any]) -> dict[str, Any]:
    """The SNS envelope with its JSON message decoded, long lists cut, for reading."""
    shown = {k: v for k, v in envelope.items() if k not in ("Signature", "SigningCertURL", "UnsubscribeURL")}
    message = json.loads(envelope["Message"])
    summary = message.get("summary") or {}
    events = summary.get("events", [])
    if len(events) > 1:
        summary["events"] = [events[0], f"... {len(events) - 1} more events"]
    shown["Message"] = message
    return shown


if __name__ == "__main__":
    sys.exit(main())
