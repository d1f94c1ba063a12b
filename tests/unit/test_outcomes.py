"""Which outcomes a poll announces, under which key, and how a success is told: the pure rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from lookout_diagnostics.domain.alert_keys import Outcome, diagnostics_key, outcome_key, stable_id
from lookout_diagnostics.domain.alerts import outcome_alert
from lookout_diagnostics.domain.identity import ModelSummary, ModelVersion, VersionSummary
from lookout_diagnostics.domain.locations import S3Location
from lookout_diagnostics.domain.outcomes import (
    NO_DIAGNOSTICS_NOTE,
    first_sighting,
    needs_version_scan,
    success_report,
    training_failed,
    version_outcomes,
    versions_to_describe,
)

ARN = "arn:aws:lookoutequipment:eu-west-1:123456789012:model/pump-7/0b5e"
FIRST_POLL = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
BEFORE, AFTER = FIRST_POLL - timedelta(days=30), FIRST_POLL + timedelta(minutes=5)
WATCHED = "stack-diagnostics"


def model(created_at: datetime, status: str = "SUCCESS") -> ModelSummary:
    return ModelSummary(name="pump-7", arn=ARN, status=status, active_version=1, created_at=created_at)


def version(number: int = 1, status: str = "SUCCESS", source_type: str = "TRAINING", **kwargs: object) -> ModelVersion:
    return ModelVersion.model_validate(
        {"model_name": "pump-7", "version": number, "status": status, "source_type": source_type} | kwargs
    )


# ------------------------------------------------------------------------------------ first sightings
def test_the_very_first_poll_remembers_everything_and_announces_nothing() -> None:
    # Given a model with a finished version, seen on the stack's very first poll
    versions = [VersionSummary(version=1, status="SUCCESS", created_at=AFTER)]
    # When it is first sighted
    seen = first_sighting(model(AFTER), versions, announce_after=None)
    # Then it is remembered as it is: no version is left to describe, nothing moved
    assert versions_to_describe(seen, {1: "SUCCESS"}) == []
    assert not needs_version_scan(seen, model(AFTER))


def test_a_later_first_sighting_announces_the_versions_newer_than_the_first_poll() -> None:
    # Given an old model (not seen by the first poll, say a prefix changed since) with an old and a new version
    versions = [
        VersionSummary(version=1, status="SUCCESS", created_at=BEFORE),
        VersionSummary(version=2, status="FAILED", created_at=AFTER),
    ]
    # When it is first sighted after the first poll
    seen = first_sighting(model(BEFORE), versions, announce_after=FIRST_POLL)
    # Then only the version created after the first poll is left to announce
    assert versions_to_describe(seen, {1: "SUCCESS", 2: "FAILED"}) == [2]


def test_a_model_created_after_the_first_poll_whose_training_failed_is_an_outcome() -> None:
    # Given a model created after the first poll, whose training failed without a version
    seen = first_sighting(model(AFTER, status="FAILED"), [], announce_after=FIRST_POLL)
    # When it is compared with what L4E reports
    # Then its status is new: a scan runs and the failure is announced (status NEW is not FAILED)
    assert seen.status == "NEW"
    assert needs_version_scan(seen, model(AFTER, status="FAILED"))


def test_alert_on_first_sighting_announces_every_finished_version() -> None:
    versions = [VersionSummary(version=1, status="SUCCESS", created_at=BEFORE)]
    seen = first_sighting(model(BEFORE), versions, announce_after=datetime.min.replace(tzinfo=UTC))
    assert versions_to_describe(seen, {1: "SUCCESS"}) == [1]


# ------------------------------------------------------------------------------------ outcome keys
def test_a_failed_first_training_is_one_outcome_with_or_without_a_version() -> None:
    # Given L4E's two ways of reporting a failed first training: on the model, and as a FAILED version 1
    on_the_model = training_failed("pump-7", ARN, "Not enough data")
    [as_version_1] = version_outcomes(version(1, "FAILED", failed_reason="Not enough data"), ARN)
    # When their keys are named
    # Then they are the same outcome, with the same key and event id, whichever path sees it
    assert as_version_1.outcome is Outcome.TRAINING_FAILED
    assert on_the_model.alert_key == as_version_1.alert_key == f"outcome#{ARN}#-#TRAINING_FAILED"
    assert on_the_model.event_id == as_version_1.event_id


def test_a_failed_retraining_or_import_is_the_versions_own_failure() -> None:
    [retraining] = version_outcomes(version(3, "FAILED", source_type="RETRAINING"), ARN)
    [imported] = version_outcomes(version(1, "FAILED", source_type="IMPORT"), ARN)
    assert (retraining.outcome, retraining.alert_key) == (Outcome.FAILED, f"outcome#{ARN}#3#FAILED")
    assert imported.outcome is Outcome.FAILED


def test_a_stored_object_version_has_its_own_key_and_every_key_a_stable_id() -> None:
    # Given the same key stored twice in a versioned bucket, and once in an unversioned one
    first = diagnostics_key("b", "p/model_diagnostics_results.json.gz", "e1", "v1")
    second = diagnostics_key("b", "p/model_diagnostics_results.json.gz", "e1", "v2")
    unversioned = diagnostics_key("b", "p/model_diagnostics_results.json.gz", "e1", None)
    # Then each stored version is a thing of its own, and its id is the same every time it is computed
    assert len({first, second, unversioned}) == 3
    assert unversioned == "diagnostics#b#p/model_diagnostics_results.json.gz#e1"
    assert stable_id(first) == stable_id(first) != stable_id(second)
    assert re.fullmatch(r"[0-9a-f]{32}", stable_id(first))
    assert outcome_key(ARN, 4, Outcome.NOT_PROMOTED) == f"outcome#{ARN}#4#NOT_PROMOTED"


# ------------------------------------------------------------------------------- how a success is told
@pytest.mark.parametrize(
    ("diagnostics", "summarised", "words"),
    [
        ((WATCHED, "pump-7/1/model_diagnostics_results.json.gz"), True, None),
        (None, False, NO_DIAGNOSTICS_NOTE),
        (("team-archive", "pump-7/1/model_diagnostics_results.json.gz"), False, "outside the bucket this stack"),
        ((WATCHED, "pump-7/1/results.jsonl.gz"), False, "is not named model_diagnostics_results.json.gz"),
    ],
    ids=["watched-bucket", "no-diagnostics", "another-bucket", "another-name"],
)
def test_a_success_is_told_by_its_summary_only_when_this_stack_can_read_the_file(
    diagnostics: tuple[str, str] | None, summarised: bool, words: str | None
) -> None:
    # Given a successful version and where its diagnostics are
    location = S3Location(bucket=diagnostics[0], key=diagnostics[1]) if diagnostics else None
    # When the way to tell its success is decided
    report = success_report(version(diagnostics_object=location), WATCHED)
    # Then the file's summary tells it, or an outcome alert says why there is none
    assert (report.diagnostics is not None) is summarised
    if words is not None:
        assert report.note is not None and words in report.note
        [succeeded] = version_outcomes(version(diagnostics_object=location), ARN)
        assert words in outcome_alert(succeeded, report.note).text


def test_an_alert_carries_its_id_in_the_attributes_the_json_body_and_the_text() -> None:
    # Given an outcome alert, identified by its ledger key
    failed = training_failed("pump-7", ARN, "Not enough data")
    alert = outcome_alert(failed).identified(stable_id(failed.alert_key))
    # Then a subscriber finds the same id wherever it reads
    alert_id = stable_id(failed.alert_key)
    assert alert.attributes()["alert_id"] == {"DataType": "String", "StringValue": alert_id}
    assert alert.body["alert_id"] == alert_id
    assert alert.text.endswith(f"Alert id: {alert_id}")
