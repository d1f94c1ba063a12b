"""The README's first command keeps working: the local run trains, alerts once, and shows the alert, for AWS IoT
SiteWise (the default) and for Lookout for Equipment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def local_run(*arguments: str) -> subprocess.CompletedProcess[str]:
    """The local run as `make demo` starts it, in a fresh process with no AWS configuration at all."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    environment["PYTHONPATH"] = f"{ROOT / 'src'}{os.pathsep}{ROOT}"
    return subprocess.run(
        [sys.executable, "-m", "local.run", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_local_run_shows_a_sitewise_training_ending_in_one_readable_alert() -> None:
    # Given a fresh process with no AWS configuration
    # When the local run is started as `make demo` starts it
    run = local_run()

    # Then it succeeds and says AWS is emulated
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "AWS is EMULATED" in out
    # And the training from the console ended in one alert naming the model on its asset and sensors by name
    assert "diagnostics handler ALERTED" in out
    assert "Alerts published: 1." in out
    assert "Subject: [CRITICAL] pump-anomalies on Pump 7: 3 anomalous events" in out
    assert "Model:    pump-anomalies on Pump 7, execution " in out
    assert "  Pump 7 / Discharge pressure  0." in out
    assert "\\" not in out.split("Top sensors over all anomalous records")[1].split("Diagnostics file")[0]
    # And the poller put the training's event and left the alert to the summary
    assert "1 EventBridge event put, 0 alert" in out
    assert '"detail-type": "AWS IoT SiteWise Training Outcome"' in out


def test_local_run_trains_a_lookout_model_and_prints_one_alert_as_subscribers_receive_it() -> None:
    # Given a fresh process with no AWS configuration
    # When the local run is started as `make demo SERVICE=lookout-for-equipment` starts it
    run = local_run("--service", "lookout-for-equipment")
    # Then it succeeds and says AWS is emulated
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "AWS is EMULATED" in out
    # And the workflow trained for the simulated polls, the S3 trigger alerted, the workflow saw a duplicate
    assert "diagnostics handler ALERTED" in out
    assert "Workflow SUCCEEDED after 4 polls" in out
    assert '"Alert": "DUPLICATE"' in out
    assert "(at least once): DUPLICATE, no alert" in out
    # And one alert is shown as email and as SQS subscribers receive it
    assert "Alerts published: 1." in out
    assert "Subject: [CRITICAL] pump-station-7 v1: 3 anomalous events" in out
    assert "Worst events (of 3):" in out
    assert "training run=1/model_diagnostics_results.json.gz" in out
    assert '"event_type": "DIAGNOSTICS_SUMMARY"' in out
    # And the status poller notices the scheduled retraining nobody announced, with an alert and events
    assert "first sighting recorded without an alert" in out
    assert "The next poll found 2 outcomes of version 2: 1 alert sent by the poller" in out
    assert "- [WARNING] pump-station-7 v2: retraining not promoted" in out
    assert '"outcome": "NOT_PROMOTED"' in out
