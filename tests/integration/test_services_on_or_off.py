"""Each service can be turned off: the stack then leaves it alone on every path (EnableLookoutForEquipment,
EnableIoTSiteWise)."""

from __future__ import annotations

import io

import boto3
import pytest

from local.generator import GeneratorSpec, write_diagnostics_file
from lookout_diagnostics.settings import get_settings
from tests.support.fake_lookout import FakeLookout
from tests.support.iam import current_runtime
from tests.support.samples import event
from tests.support.stack import EXAMPLE_BUCKET, EmulatedStack, announcement

KEY = "pump-7/1/model_diagnostics_results.json.gz"


@pytest.fixture
def lookout_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENABLE_LOOKOUT_FOR_EQUIPMENT", "false")
    get_settings.cache_clear()


def test_with_lookout_off_its_diagnostics_files_are_ignored_unread(
    stack: EmulatedStack, lookout: FakeLookout, lookout_off: None
) -> None:
    # Given an L4E diagnostics file in the bucket of a stack deployed with EnableLookoutForEquipment=false
    buffer = io.BytesIO()
    write_diagnostics_file(
        buffer, GeneratorSpec(rows=500, sensors=2, components=1, episodes=1, machine_off_stretches=0)
    )
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=KEY, Body=buffer.getvalue())

    # When the S3 trigger receives its event (a hand-made one: the deployed rule would not send it)
    result = current_runtime().invoke(
        "DiagnosticsFunction", announcement("eventbridge-object-created", EXAMPLE_BUCKET, KEY)
    )

    # Then it is ignored, unread, with no alert and no call to L4E
    [outcome] = result["outcomes"]
    assert (outcome["status"], outcome["detail"]) == ("IGNORED", "Lookout for Equipment is not enabled in this stack")
    assert stack.received_alerts() == []
    assert lookout.calls == []


def test_with_lookout_off_the_poller_leaves_it_alone(
    stack: EmulatedStack, lookout: FakeLookout, lookout_off: None
) -> None:
    # Given an L4E account with a model, and a stack deployed with EnableLookoutForEquipment=false
    lookout.add_model("pump-7", status="FAILED", failed_reason="Bad data")

    # When the poller runs twice
    first = current_runtime().invoke("StatusPollerFunction", event("scheduled-poll"))
    current_runtime().invoke("StatusPollerFunction", event("scheduled-poll"))

    # Then it polls SiteWise only: no L4E call, no alert, no L4E first-poll marker
    assert (first["models_seen"], first["errors"]) == (0, [])
    assert first["sitewise"] is not None
    assert lookout.calls == []
    assert stack.received_alerts() == []
    marker = boto3.client("dynamodb").get_item(TableName=stack.state_table, Key={"pk": {"S": "stack#first-poll"}})
    assert "Item" not in marker
