"""The README's first command keeps working: the local run prints one alert and a duplicate."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_local_run_prints_the_alert_as_subscribers_receive_it() -> None:
    # Given a fresh process with no AWS configuration at all
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    environment["PYTHONPATH"] = f"{ROOT / 'src'}{os.pathsep}{ROOT}"
    # When the local run is started as `make demo` starts it
    run = subprocess.run(
        [sys.executable, "-m", "local.run"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    # Then it succeeds, says AWS is emulated, and shows one alert to email and to SQS subscribers
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "AWS is EMULATED" in out
    assert "to the handler: ALERTED" in out
    assert "(EventBridge delivers at least once): DUPLICATE, no alert" in out
    assert "Alerts published: 1." in out
    assert "Subject: [CRITICAL] pump-station-7 v3: 3 anomalous events" in out
    assert "Worst events (of 3):" in out
    assert '"event_type": "DIAGNOSTICS_SUMMARY"' in out
