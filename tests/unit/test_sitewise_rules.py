"""AWS IoT SiteWise's rules, pure: which training wrote an evaluation file, and what its sensors are called."""

from __future__ import annotations

import gzip
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lookout_diagnostics.aws.eventbridge import DETAIL_TYPES, SOURCE
from lookout_diagnostics.domain.alerts import summary_alert
from lookout_diagnostics.domain.locations import S3Location
from lookout_diagnostics.domain.outcomes import OutcomeEvent
from lookout_diagnostics.domain.services import Service, service_of, summary_key
from lookout_diagnostics.domain.sitewise import (
    MAX_ASSETS_DESCRIBED,
    TRAINING_ACTION,
    Action,
    Asset,
    ComputationModel,
    Execution,
    action_of,
    asset_in_key,
    execution_for,
    identify_evaluation,
    readable_names,
)
from lookout_diagnostics.domain.summary import summarise_stream, with_readable_names
from lookout_diagnostics.errors import InvalidLocationError
from lookout_diagnostics.settings import Settings, SummaryThresholds
from tests.support.template import ROOT

BUCKET = "stack-diagnostics"
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def uid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


PUMP = Asset(
    id=uid("asset/pump-7"),
    name="Pump 7",
    properties={uid("property/bearing"): "Bearing temperature", uid("property/flow"): "Outlet flow"},
)
MODEL = ComputationModel(
    id=uid("cm/pump-anomalies"),
    arn=f"arn:aws:iotsitewise:eu-west-1:123456789012:computation-model/{uid('cm/pump-anomalies')}",
    name="pump-anomalies",
    state="ACTIVE",
    training_definition_id=uid("definition/training"),
)


def action(prefix: str, *, at: datetime = T0, asset: Asset = PUMP, name: str = "a") -> Action:
    payload = {
        "trainingMode": "TRAIN_MODEL",
        "modelEvaluationConfiguration": {"resultDestination": {"bucketName": BUCKET, "prefix": prefix}},
    }
    return Action(
        id=uid(f"action/{name}"),
        definition_id=MODEL.training_definition_id or "",
        computation_model_id=MODEL.id,
        asset_id=asset.id,
        executed_at=at,
        payload=payload,
    )


def execution(started: datetime, *, state: str = "COMPLETED", name: str = "e", asset: Asset = PUMP) -> Execution:
    return Execution(
        id=uid(f"execution/{name}"),
        action_type=TRAINING_ACTION,
        computation_model_id=MODEL.id,
        asset_id=asset.id,
        model_version="1",
        state=state,
        started_at=started,
        ended_at=started + timedelta(hours=2) if state != "RUNNING" else None,
    )


class InMemorySiteWise:
    """A SiteWiseReader over lists, counting what it is asked."""

    def __init__(self, actions: list[Action], executions: list[Execution], assets: list[Asset] | None = None) -> None:
        self.actions, self.executions_held = actions, executions
        self.assets = {asset.id: asset for asset in (assets if assets is not None else [PUMP])}
        self.assets_described: list[str] = []

    def computation_models(self, limit: int | None = None) -> list[ComputationModel]:
        return [MODEL][:limit]

    def training_actions(self, model: ComputationModel, asset_id: str | None, limit: int) -> list[Action]:
        return [a for a in self.actions if asset_id in (None, a.asset_id)][:limit]

    def executions(self, model_id: str, asset_id: str | None, action_type: str) -> list[Execution]:
        return [e for e in self.executions_held if asset_id in (None, e.asset_id)]

    def asset(self, asset_id: str) -> Asset | None:
        self.assets_described.append(asset_id)
        return self.assets.get(asset_id)


def evaluation_file(prefix: str, asset: Asset = PUMP) -> S3Location:
    return S3Location(bucket=BUCKET, key=f"{prefix}Evaluation/asset[{asset.id}]/1793606400-evaluation_results.jsonl")


# ---- which service wrote a file ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "service", "summary"),
    [
        (
            "pump/1/model_diagnostics_results.json.gz",
            Service.LOOKOUT_FOR_EQUIPMENT,
            "pump/1/model_diagnostics_results.summary.json",
        ),
        ("p/1793606400-evaluation_results.jsonl", Service.IOT_SITEWISE, "p/1793606400-evaluation_results.summary.json"),
        (
            "p/1793606400-evaluation_results.jsonl.gz",
            Service.IOT_SITEWISE,
            "p/1793606400-evaluation_results.summary.json",
        ),
        ("p/evaluation_results.jsonl", Service.IOT_SITEWISE, "p/evaluation_results.summary.json"),
    ],
    ids=["l4e", "sitewise plain", "sitewise gzip", "sitewise without epoch"],
)
def test_a_files_name_says_its_service_and_where_its_summary_goes(key: str, service: Service, summary: str) -> None:
    # Given a diagnostics file's key
    # When its service and its summary's key are asked for
    # Then both follow from the name alone
    assert (service_of(key), summary_key(key)) == (service, summary)


@pytest.mark.parametrize(
    "key", ["p/1793606400-evaluation_results.summary.json", "p/model_diagnostics_results.summary.json", "p/data.csv"]
)
def test_summaries_and_other_objects_belong_to_no_service(key: str) -> None:
    # Given a summary this stack wrote, or any other object
    # When its service is asked for
    # Then there is none, and it has no summary of its own
    assert service_of(key) is None
    with pytest.raises(InvalidLocationError):
        summary_key(key)


# ---- which training wrote an evaluation file -----------------------------------------------------------


def test_the_training_whose_destination_holds_the_file_names_it_with_its_asset_and_execution() -> None:
    # Given a training action writing under "pump-7/run-1/" and the execution it started
    started = execution(T0 + timedelta(seconds=30))
    reader = InMemorySiteWise([action("pump-7/run-1/")], [started])

    # When its evaluation file is identified
    found = identify_evaluation(evaluation_file("pump-7/run-1/"), reader)

    # Then the computation model, the asset by name and the execution are named, and confirmed
    assert found.identity is not None
    assert (found.identity.service, found.identity.model_name, found.identity.asset_name) == (
        Service.IOT_SITEWISE,
        "pump-anomalies",
        "Pump 7",
    )
    assert (found.identity.execution_id, found.identity.version_status, found.identity.confirmed) == (
        started.id,
        "COMPLETED",
        True,
    )
    assert found.identity.model_version == 1
    assert "pump-7/run-1/" not in found.note and started.id in found.note


def test_the_deepest_destination_wins_and_then_the_latest_action() -> None:
    # Given an action writing under "pump-7/", two under "pump-7/run-2/" (the second later), and their executions
    early, late = T0, T0 + timedelta(days=1)
    actions = [
        action("pump-7/", name="shallow", at=late),
        action("pump-7/run-2/", name="old"),
        action("pump-7/run-2/", name="new", at=late),
    ]
    executions = [
        execution(early + timedelta(seconds=5), name="first"),
        execution(late + timedelta(seconds=5), name="second"),
    ]
    reader = InMemorySiteWise(actions, executions)

    # When a file under "pump-7/run-2/" is identified
    found = identify_evaluation(evaluation_file("pump-7/run-2/"), reader)

    # Then the later of the two deeper actions claims it, with the execution that followed it
    assert found.identity is not None
    assert found.identity.execution_id == uid("execution/second")
    assert uid("action/new") in found.note


def test_a_file_no_training_writes_is_still_named_as_unclaimed() -> None:
    # Given a training writing elsewhere
    reader = InMemorySiteWise([action("other/")], [execution(T0)])

    # When a file outside its destination is identified
    found = identify_evaluation(evaluation_file("pump-7/run-1/"), reader)

    # Then no model is named, and the note says why
    assert found.identity is None
    assert found.note == "no AWS IoT SiteWise training writes its evaluation results to this location"


def test_an_action_without_its_execution_is_named_but_not_confirmed() -> None:
    # Given an action whose execution SiteWise does not list (only one from before it)
    reader = InMemorySiteWise([action("pump-7/run-1/", at=T0)], [execution(T0 - timedelta(days=2))])

    # When its file is identified
    found = identify_evaluation(evaluation_file("pump-7/run-1/"), reader)

    # Then the model and asset are named, unconfirmed, and the note says the execution is missing
    assert found.identity is not None
    assert (found.identity.model_name, found.identity.execution_id, found.identity.confirmed) == (
        "pump-anomalies",
        None,
        False,
    )
    assert found.note.endswith("its execution was not found")


def test_an_action_is_linked_to_the_first_execution_after_it_within_the_skew() -> None:
    # Given executions before, just before (clock skew) and after an action
    taken = action("p/", at=T0)
    before = execution(T0 - timedelta(minutes=30), name="before")
    skewed = execution(T0 - timedelta(minutes=2), name="skewed")
    after = execution(T0 + timedelta(minutes=1), name="after")

    # When the action's execution is looked for
    # Then the earliest one that starts no earlier than five minutes before it is taken
    assert execution_for(taken, [after, before, skewed]) == skewed
    assert execution_for(taken, [before]) is None


def test_the_asset_is_read_from_the_key_wherever_it_stands() -> None:
    # Given keys with and without an asset segment
    # When the asset is looked for
    # Then it is found in the segment alone
    assert asset_in_key(f"x/Evaluation/asset[{PUMP.id}]/1-evaluation_results.jsonl") == PUMP.id
    assert asset_in_key("x/1-evaluation_results.jsonl") is None


# ---- readable sensor names ------------------------------------------------------------------------------


def test_sensor_ids_become_asset_and_property_names_and_other_names_stay() -> None:
    # Given diagnostics named by SiteWise ids, one property the asset lacks, and an L4E-style name
    bearing = f"{PUMP.id}\\{uid('property/bearing')}"
    unknown = f"{PUMP.id}\\{uid('property/gone')}"
    reader = InMemorySiteWise([], [])

    # When readable names are asked for
    names = readable_names([bearing, unknown, "component_1\\temperature"], reader)

    # Then the known property reads "<asset> / <property>"; the others keep their names; one asset call
    assert names == {bearing: "Pump 7 / Bearing temperature"}
    assert reader.assets_described == [PUMP.id]


def test_naming_describes_a_bounded_number_of_assets() -> None:
    # Given sensors on more assets than the bound
    assets = [Asset(id=uid(f"asset/{n}"), name=f"Pump {n}", properties={uid("p"): "Flow"}) for n in range(15)]
    reader = InMemorySiteWise([], [], assets)

    # When they are named
    names = readable_names([f"{asset.id}\\{uid('p')}" for asset in assets], reader)

    # Then only the first assets up to the bound are described and named
    assert len(reader.assets_described) == MAX_ASSETS_DESCRIBED
    assert sorted(names.values()) == sorted(f"Pump {n} / Flow" for n in range(MAX_ASSETS_DESCRIBED))


# ---- the evaluation file's variants, summarised by the one engine -------------------------------------------


def record(moment: int, prediction: int, **fields: Any) -> dict[str, Any]:
    reason = "ANOMALY_DETECTED" if prediction else "NO_ANOMALY_DETECTED"
    timestamp = (datetime(2026, 1, 1) + timedelta(minutes=moment)).isoformat(timespec="microseconds")
    return {"timestamp": timestamp, "prediction": prediction, "prediction_reason": reason} | fields


BEARING = f"{PUMP.id}\\{uid('property/bearing')}"
FLOW = f"{PUMP.id}\\{uid('property/flow')}"
DIAGNOSTICS = [{"name": BEARING, "value": 0.8}, {"name": FLOW, "value": 0.2}]
RECORDS = [
    record(0, 0, anomaly_score=0.1, diagnostics=DIAGNOSTICS),
    record(1, 1, anomaly_score=0.9, diagnostics=DIAGNOSTICS),
]


def as_bytes(records: list[dict[str, Any]], *, compressed: bool) -> bytes:
    text = "".join(json.dumps(r) + "\n" for r in records).encode()
    return gzip.compress(text) if compressed else text


@pytest.mark.parametrize(
    ("records", "compressed", "name"),
    [
        (RECORDS, False, "1793606400-evaluation_results.jsonl"),
        (RECORDS, True, "1793606400-evaluation_results.jsonl.gz"),
        (RECORDS, True, "1793606400-evaluation_results.jsonl"),
        ([{k: v for k, v in r.items() if k != "anomaly_score"} for r in RECORDS], False, "e-evaluation_results.jsonl"),
    ],
    ids=["plain", "gzip named .gz", "gzip named .jsonl", "no anomaly_score"],
)
def test_each_inferred_variant_of_the_evaluation_file_is_summarised(
    records: list[dict[str, Any]], compressed: bool, name: str
) -> None:
    # Given an evaluation file in one of the forms SiteWise may write (none with MACHINE_OFF)
    data = as_bytes(records, compressed=compressed)

    # When it is summarised and its sensors named
    summary = summarise_stream(io.BytesIO(data), source=f"s3://{BUCKET}/p/{name}", thresholds=SummaryThresholds())
    named = with_readable_names(summary, readable_names([BEARING, FLOW], InMemorySiteWise([], [])))

    # Then the one anomalous record is counted, and its top sensor reads as asset and property, raw id kept
    assert (named.rows, named.anomalous, named.machine_off, named.event_count) == (2, 1, 0, 1)
    top = named.top_sensors[0]
    assert (top.name, top.raw_name) == ("Pump 7 / Bearing temperature", BEARING)
    assert named.events[0].top_sensors[0].name == "Pump 7 / Bearing temperature"
    assert "raw_name" not in summary.model_dump(mode="json")["top_sensors"][0]


def test_an_asset_that_cannot_be_described_leaves_its_id_and_the_rest_named() -> None:
    # Given a training on an asset SiteWise will not describe (gone, or the role may not)
    started = execution(T0 + timedelta(seconds=30))
    reader = InMemorySiteWise([action("pump-7/run-1/")], [started], assets=[])

    # When its file is identified and its sensors named
    found = identify_evaluation(evaluation_file("pump-7/run-1/"), reader)
    names = readable_names([f"{PUMP.id}\\{uid('property/bearing')}"], reader)

    # Then the model and execution are named, the asset by its id only, and the sensors keep their ids
    assert found.identity is not None
    assert (found.identity.asset_id, found.identity.asset_name, found.identity.execution_id) == (
        PUMP.id,
        None,
        started.id,
    )
    assert names == {}


def test_the_alert_text_names_the_service_the_model_on_its_asset_and_readable_sensors() -> None:
    # Given a summary of an evaluation file, named and identified through SiteWise
    reader = InMemorySiteWise([action("p/")], [execution(T0 + timedelta(seconds=30))])
    location = evaluation_file("p/")
    data = as_bytes(RECORDS, compressed=False)
    summary = summarise_stream(io.BytesIO(data), source=location.uri, thresholds=SummaryThresholds())
    summary = with_readable_names(summary, readable_names([BEARING, FLOW], reader))
    identification = identify_evaluation(location, reader)

    # When the alert a person reads is composed
    alert = summary_alert(summary, identification, location, location.summary_location())

    # Then it speaks of SiteWise, the model on its asset with the execution, and sensors by name
    assert alert.subject.startswith("[CRITICAL] pump-anomalies on Pump 7: ")
    assert alert.text.startswith("AWS IoT SiteWise diagnostics: CRITICAL")
    assert f"Model:    pump-anomalies on Pump 7, execution {uid('execution/e')}" in alert.text
    assert "Pump 7 / Bearing temperature" in alert.text and BEARING not in alert.text


def test_the_sample_sitewise_outcome_event_matches_the_schema_the_poller_puts() -> None:
    # Given the sample event in events/, When it is read as the poller's event detail
    sample = json.loads((ROOT / "events" / "sitewise-training-outcome.json").read_text())
    detail = OutcomeEvent.model_validate(sample["detail"])

    # Then it is exactly what the poller puts: same fields, same values, same source and detail type
    assert detail.model_dump(mode="json") == sample["detail"]
    assert (sample["source"], sample["detail-type"]) == (SOURCE, DETAIL_TYPES[Service.IOT_SITEWISE])
    assert (detail.service, detail.outcome, detail.asset_name) == (Service.IOT_SITEWISE, "FAILED", "Pump 7")


def test_an_execution_is_tied_only_to_a_console_training_taken_at_its_start() -> None:
    # Given an execution, a TRAIN_MODEL action a month before it, one a minute before it, and a scheduler start
    started = execution(T0, name="now")
    old = action("p/", at=T0 - timedelta(days=30), name="old")
    recent = action("p/", at=T0 - timedelta(minutes=1), name="recent")
    scheduler = Action(
        **(recent.model_dump() | {"id": uid("scheduler"), "payload": {"trainingMode": "START_RETRAINING_SCHEDULER"}})
    )

    # When its action is looked for
    # Then only the recent TRAIN_MODEL action is its own; without it, none (a scheduled retraining)
    assert action_of(started, [old, recent, scheduler]) == recent
    assert action_of(started, [old, scheduler]) is None


@pytest.mark.parametrize(
    ("lookout", "sitewise"), [("true", "true"), ("true", "false"), ("false", "true")], ids=["both", "l4e", "sitewise"]
)
def test_settings_say_which_service_the_stack_serves(lookout: str, sitewise: str) -> None:
    # Given a stack's switches
    configured = Settings.model_validate(
        {
            "ALERT_TOPIC_ARN": "t",
            "LEDGER_TABLE_NAME": "l",
            "ENABLE_LOOKOUT_FOR_EQUIPMENT": lookout,
            "ENABLE_IOT_SITEWISE": sitewise,
        }
    )

    # When each service is asked about
    # Then the answer is its switch
    assert configured.serves(Service.LOOKOUT_FOR_EQUIPMENT) is (lookout == "true")
    assert configured.serves(Service.IOT_SITEWISE) is (sitewise == "true")
