"""Every alert type as a chat card: the documented schema, well under the size the chat service drops, a title
with the severity and the model, the key figures, links, and one thread per model."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lookout_diagnostics.domain.alert_keys import Outcome
from lookout_diagnostics.domain.alerts import (
    Alert,
    diagnostics_not_configured_alert,
    fleet_digest_alert,
    outcome_alert,
    summary_alert,
    unreadable_alert,
    workflow_failure_alert,
)
from lookout_diagnostics.domain.fleet import AssetOutcome, AssetRow, DigestCounts, FleetDigestEvent
from lookout_diagnostics.domain.outcomes import OutcomeEvent
from lookout_diagnostics.domain.services import Service
from tests.support.chat_card_schema import checked_card
from tests.support.summaries import FILE, IDENTIFIED, UNKNOWN, summary

MODEL_ARN = "arn:aws:lookoutequipment:eu-west-1:123456789012:model/pump-7/abc"
SITEWISE_ASSET = {"asset_id": "a-1", "asset_name": "Pump 7", "execution_id": "x-1"}
EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:lookout-diagnostics-training:train-1"


def outcome(kind: Outcome, service: Service = Service.LOOKOUT_FOR_EQUIPMENT) -> Alert:
    event = OutcomeEvent(
        event_id="e1", outcome=kind, model_name="pump-7", model_arn=MODEL_ARN, model_version=3, status="FAILED",
        failed_reason="Not enough data", service=service,
        **(SITEWISE_ASSET if service is Service.IOT_SITEWISE else {}),
    )  # fmt: skip
    return outcome_alert(event)


def digest(rows: int = 200) -> Alert:
    assets = [
        AssetRow(asset=f"pump_{i:03d} " + "n" * 60, outcome=AssetOutcome.FAILED if i % 9 == 0 else AssetOutcome.TRAINED,
                 severity="CRITICAL", anomalous_events=i, top_sensor="motor\\bearing_temp", reason="r" * 200)
        for i in range(rows)
    ]  # fmt: skip
    event = FleetDigestEvent(
        event_id="f1", fleet_name="north-plant", service=Service.LOOKOUT_FOR_EQUIPMENT, severity="CRITICAL",
        execution_arn=EXECUTION, counts=DigestCounts(assets=rows, trained=rows), table_object="s3://b/fleets/t.csv",
        assets=assets[:50],
    )  # fmt: skip
    return fleet_digest_alert(event, assets, "https://table", "fleet north-plant: all trained")


ALERTS: dict[str, Any] = {
    "summary": lambda: summary_alert(
        summary(events=50, sensor_name="component_7\\bearing_temperature_nde " + "x" * 150),
        IDENTIFIED,
        FILE,
        FILE.summary_location(),
        chart_object=FILE.summary_location().chart_location(),
    ),
    "summary-unknown-model": lambda: summary_alert(summary(), UNKNOWN, FILE, FILE.summary_location()),
    "unreadable": lambda: unreadable_alert("truncated gzip file", 12, IDENTIFIED, FILE),
    "workflow-failed": lambda: workflow_failure_alert(
        "pump-7", "QuotaExceeded", "refused", "Delete models.", EXECUTION
    ),
    "not-configured": lambda: diagnostics_not_configured_alert("pump-7", MODEL_ARN),
    "fleet-digest": digest,
    **{f"outcome-{kind.value}": (lambda kind=kind: outcome(kind)) for kind in Outcome},
    "outcome-sitewise": lambda: outcome(Outcome.FAILED, Service.IOT_SITEWISE),
}


@pytest.mark.parametrize("name", ALERTS)
def test_every_alert_type_is_a_card_the_chat_service_takes(name: str) -> None:
    # Given an alert of this type, as the gate publishes it (with its id)
    alert: Alert = ALERTS[name]().identified("0123456789abcdef0123456789abcdef")
    # When SNS gives the chat service (an https subscriber) its body
    card = checked_card(json.loads(alert.message())["https"])
    # Then it follows the schema, and says the severity and the model in its title, its thread being the model's
    assert alert.severity in card["content"]["title"]
    assert alert.model_name.split(":")[-1] in card["content"]["title"] or alert.model_name == "(none)"
    assert card["metadata"]["threadId"].startswith(alert.model_name)
    assert card["metadata"]["eventType"] == alert.event_type.value
    assert card["id"] == card["metadata"]["additionalContext"]["alert_id"] == alert.alert_id


def test_a_summarys_card_gives_the_key_figures_the_worst_events_and_the_links() -> None:
    alert = ALERTS["summary"]()
    description = checked_card(json.loads(alert.message())["https"])["content"]["description"]
    assert "**WARNING** · 50 anomalous events" in description and "**Worst events**" in description
    assert description.count("\n1. ") == 1 and "component\\_7\\\\bearing\\_temperature" in description  # escaped
    assert "[Chart](https://s3.console.aws.amazon.com/s3/object/plant-a?prefix=" in description
    assert "[Summary](https://s3.console.aws.amazon.com/s3/object/plant-a?prefix=" in description


def test_a_fleet_digests_card_lists_the_worst_assets_and_links_the_table() -> None:
    description = checked_card(json.loads(digest().message())["https"])["content"]["description"]
    assert "**200 assets**" in description and "**FAILED**" in description
    assert "[Table](https://s3.console.aws.amazon.com/s3/object/b?prefix=fleets%2Ft.csv)" in description
    assert "[Execution](https://eu-west-1.console.aws.amazon.com/states/home" in description


def test_with_chat_cards_off_https_gets_the_json_body_as_before() -> None:
    alert = ALERTS["summary"]()
    structure = json.loads(alert.message(chat_cards=False))
    assert json.loads(structure["https"]) == json.loads(structure["sqs"]) == alert.body


def test_the_sitewise_thread_is_the_computation_model_on_its_asset() -> None:
    card = checked_card(json.loads(outcome(Outcome.FAILED, Service.IOT_SITEWISE).message())["https"])
    assert card["metadata"]["threadId"] == "pump-7#a-1"


def test_a_card_for_the_longest_keys_and_hostile_names_stays_within_its_size_and_says_nothing_slack_would_act_on() -> (
    None
):
    # Given a file under a 1,000-character key, and a sensor named to ping a channel and to link elsewhere
    from lookout_diagnostics.domain.locations import S3Location

    long_file = S3Location(bucket="plant-a", key="d/" + "k" * 960 + "/model_diagnostics_results.json.gz")
    hostile = summary(events=3, sensor_name="<!channel> <https://evil.example|Open runbook>\nline")
    alert = summary_alert(
        hostile, IDENTIFIED, long_file, long_file.summary_location(),
        chart_object=long_file.summary_location().chart_location(),
    ).identified("0123456789abcdef0123456789abcdef")  # fmt: skip
    # When the card is made, Then it is within the size, still a card, its figures and a link kept
    card = checked_card(json.loads(alert.message())["https"])
    assert card["content"]["description"].startswith("**WARNING** · 3 anomalous events")
    assert (
        "[Chart](https://s3.console.aws.amazon.com/s3/object/plant-a?prefix=d%2Fkkk" in card["content"]["description"]
    )
    # And with a short key, the hostile names are there, as inert text
    short = summary_alert(hostile, IDENTIFIED, FILE, FILE.summary_location()).identified("0" * 32)
    description = checked_card(json.loads(short.message())["https"])["content"]["description"]
    assert "&lt;!channel&gt; &lt;https://evil.example|Open r" in description  # clipped, escaped
    assert "<" not in description.replace("](", "") and ">" not in description


def test_an_alert_that_fits_sns_fits_it_with_chat_cards_on_or_off() -> None:
    # Given a summary whose alert must be cut to fit SNS (long names, many events)
    from lookout_diagnostics.domain.alerts import MESSAGE_MAX_BYTES

    huge = summary(events=50, sensor_name="n" * 85 + " é")
    alert = summary_alert(huge, IDENTIFIED, FILE, FILE.summary_location())
    # Then both ways of sending it are within SNS's limit (the https body is the JSON body again when cards are off)
    for chat_cards in (True, False):
        assert len(alert.message(chat_cards).encode()) <= MESSAGE_MAX_BYTES, chat_cards
