"""The local run's fleet (`make demo-fleet`): five assets trained in one execution, one digest.

The fleet workflow (statemachine/train_fleet.asl.json) is started with the console input from
events/fleet-input.json: its Distributed Map runs each asset as a child execution of the real Lookout for
Equipment training workflow, at most five at once; a simulated L4E trains each for a few polls (one of them
fails, one asset's name breaks a rule). Per-asset alerts are off in that input: one message comes out, the
fleet's digest, printed as email shows it. No AWS account, no network, no Docker.
"""

from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path

from local.console import heading, indent, step
from local.generator import GeneratorSpec, write_diagnostics_file
from tests.support.fake_lookout import FakeLookout, writes_diagnostics
from tests.support.fake_sitewise import FakeSiteWise
from tests.support.stack import create_stack
from tests.support.state_machine import EmulatedStateMachine
from tests.support.workflow import create_fleet_workflow, create_training_workflow

ROOT = Path(__file__).resolve().parent.parent
FLEET_INPUT = ROOT / "events" / "fleet-input.json"
FAILS = "pump-station-9"


def run() -> bool:
    fleet_input = json.loads(FLEET_INPUT.read_text())
    # moto's interpreter logs every failed state (here: the asset that fails, the invalid line) as an error.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    heading("Fleet training: local run")
    print("AWS is EMULATED in this process (moto): no AWS account, no network, nothing deployed.\n")
    with EmulatedStateMachine() as machine, FakeLookout() as lookout, FakeSiteWise():
        stack = create_stack()
        os.environ.update(stack.environment())
        training = create_training_workflow(machine)
        create_fleet_workflow(machine, training, stack.bucket, os.environ.__setitem__)
        step(f"Created the stack's pieces: bucket {stack.bucket}, alert topic, ledger, training and fleet workflows")

        for seed, asset in enumerate(fleet_input["Assets"]):
            name = asset["ModelName"]
            if name == FAILS:
                lookout.train_on_create(name, in_progress_polls=2, outcome="FAILED", failed_reason="Not enough data")
            else:
                lookout.train_on_create(
                    name, in_progress_polls=2 + seed % 3, on_complete=writes_diagnostics(_diagnostics(seed))
                )
        step(
            f"Started the fleet workflow with {FLEET_INPUT.relative_to(ROOT)}: {len(fleet_input['Assets'])} assets, "
            f"at most {fleet_input['MaxConcurrency']} at once, per-asset alerts off"
        )
        result = machine.run(fleet_input, name="demo-fleet", timeout_s=300)
        created = sorted(call.params["ModelName"] for call in lookout.calls_to("CreateModel"))
        step(f"Fleet {result.status}: created {', '.join(created)}; never more than {lookout.peak_trainings} at once")
        print("\n   Execution output, as the console shows it (abridged):")
        output = dict(result.output or {})
        output["Worst"] = f"[{len(output.get('Worst', []))} rows]"
        print(indent(json.dumps(output, indent=2, ensure_ascii=False)))

        emailed = stack.emailed_alerts()
        heading(f"Alerts published: {len(emailed)}. As an email subscriber receives it:")
        for subject, body in emailed:
            print(f"Subject: {subject}\n\n{body}")
        return result.status == "SUCCEEDED" and len(emailed) == 1


def _diagnostics(seed: int) -> bytes:
    """Each trained asset's diagnostics file: one quiet, the others with episodes."""
    spec = GeneratorSpec(
        rows=2000, sensors=8, components=2, episodes=seed % 3, episode_points=(10, 80), seed=seed,
        machine_off_points=(20, 60),
    )  # fmt: skip
    buffer = io.BytesIO()
    write_diagnostics_file(buffer, spec)
    return buffer.getvalue()
