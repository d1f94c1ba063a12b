"""The local run (`make demo`): the main job end to end, with AWS emulated in-process.

A simulated pump's diagnostics file lands in the (emulated) bucket, the real handler
receives the real-shaped EventBridge event from events/, and the alert is printed as
SNS subscribers receive it. No AWS account, no network, no Docker.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from local.fake_lookout import FakeLookout
from local.generator import PRESETS, write_diagnostics_file
from local.lambda_context import LocalContext
from local.stack import create_stack

ROOT = Path(__file__).resolve().parent.parent
EVENT_FILE = ROOT / "events" / "eventbridge-object-created.json"
MODEL = "pump-station-7"
VERSION = 3
MODEL_METRICS = {
    "labeled_ranges": [{"start": "2024-01-05T08:00:00.000000", "end": "2024-01-05T10:00:00.000000"}],
    "labeled_event_metrics": {"num_labeled": 1, "num_identified": 1, "total_warning_time_in_seconds": 3600},
    "predicted_ranges": [
        {"start": "2024-01-05T07:00:00.000000", "end": "2024-01-05T09:30:00.000000", "diagnostics": []}
    ],
    "unknown_event_metrics": {"num_identified": 0, "total_duration_in_seconds": 0},
}


def main() -> int:
    os.environ.update(
        AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION", "eu-west-1"),
        AWS_ACCESS_KEY_ID="emulated",
        AWS_SECRET_ACCESS_KEY="emulated",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    os.environ.pop("AWS_PROFILE", None)
    event = json.loads(EVENT_FILE.read_text())
    bucket = event["detail"]["bucket"]["name"]
    heading("Lookout for Equipment diagnostics: local run")
    print("AWS is EMULATED in this process (moto): no AWS account, no network, nothing deployed.")
    print("Lookout for Equipment has no moto emulation: a fake answers its calls, and every request")
    print("and response is checked against botocore's lookoutequipment service model.\n")

    with mock_aws(), FakeLookout() as lookout:
        stack = create_stack(bucket)
        os.environ.update(stack.environment())
        step(f"Created the stack's pieces: bucket {stack.bucket}, alert topic, ledger table {stack.table}")

        key = json_key(event)
        prefix = key.rsplit("/", 2)[0] + "/"
        lookout.add_model(MODEL, diagnostics_bucket=bucket, diagnostics_prefix=prefix)
        lookout.add_version(
            MODEL,
            VERSION,
            model_metrics=MODEL_METRICS,
            model_quality="QUALITY_THRESHOLD_MET",
            diagnostics_object=(bucket, key),
        )
        step(f"Registered model {MODEL}: version {VERSION} writes diagnostics under s3://{bucket}/{prefix}")

        spec = PRESETS["demo"]
        buffer = io.BytesIO()
        truth = write_diagnostics_file(buffer, spec)
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
        step(
            f"L4E 'wrote' s3://{bucket}/{key}: {truth.rows:,} records ({spec.sensors} sensors, one a minute), "
            f"{len(truth.episodes)} anomalous episodes, {spec.machine_off_stretches} machine-off stretches, "
            f"{len(buffer.getvalue()) / 1e6:.1f} MB gzip"
        )

        from handlers.diagnostics_landed import lambda_handler  # after the environment is set

        first = lambda_handler(event, LocalContext())["outcomes"][0]
        step(f"Delivered {EVENT_FILE.relative_to(ROOT)} to the handler: {first['status']}")
        print(f"     summary written to {first['summary_object']}")
        again = lambda_handler(event, LocalContext())["outcomes"][0]
        step(f"Delivered the same event again (EventBridge delivers at least once): {again['status']}, no alert")

        emailed = stack.emailed_alerts()
        received = stack.received_alerts()
        heading(f"Alerts published: {len(emailed)}. As an email subscriber receives it:")
        for subject, body in emailed:
            print(f"Subject: {subject}\n\n{body}")
        heading("As an SQS (or Lambda, HTTPS) subscriber receives it:")
        for alert in received:
            print(json.dumps(readable(alert.envelope), indent=2, ensure_ascii=False))
        return 0 if len(emailed) == len(received) == 1 else 1


def json_key(event: dict[str, Any]) -> str:
    from urllib.parse import unquote_plus

    return unquote_plus(event["detail"]["object"]["key"])


def readable(envelope: dict[str, Any]) -> dict[str, Any]:
    """The SNS envelope with its JSON message decoded (and the events list shortened) for reading."""
    shown = dict(envelope)
    message = json.loads(envelope["Message"])
    events = message["summary"]["events"]
    if len(events) > 1:
        message["summary"]["events"] = [*events[:1], f"... {len(events) - 1} more events, as the first"]
    shown["Message"] = message
    for name in ("Signature", "SigningCertURL", "UnsubscribeURL"):
        shown.pop(name, None)
    return shown


def heading(text: str) -> None:
    print(f"\n=== {text} ===\n")


_steps = iter(range(1, 100))


def step(text: str) -> None:
    print(f"{next(_steps)}. {text}")


if __name__ == "__main__":
    sys.exit(main())
