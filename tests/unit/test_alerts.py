"""The alert as a person and a machine receive it: subject, text, JSON body, attributes, limits."""

from __future__ import annotations

import json

from lookout_diagnostics.domain.alerts import MESSAGE_MAX_BYTES, SUBJECT_MAX, summary_alert, unreadable_alert
from tests.support.summaries import FILE, IDENTIFIED, UNKNOWN, summary


def test_subject_names_model_version_and_outcome_within_sns_limits() -> None:
    # Given a summary of version 3 of pump-7, When its alert is composed
    alert = summary_alert(summary(), IDENTIFIED, FILE, FILE.summary_location())
    # Then the subject says who, how many events and how anomalous, within SNS's 100 characters
    assert alert.subject == "[WARNING] pump-7 v3: 2 anomalous events, 0.9% anomalous"
    assert len(alert.subject) <= SUBJECT_MAX


def test_attributes_let_subscribers_filter() -> None:
    # Given a summary's alert (not yet sent: it has no id)
    alert = summary_alert(summary(), IDENTIFIED, FILE, FILE.summary_location())
    # When a subscriber's filter policy reads its attributes, Then it finds the type, severity and model
    assert {k: v["StringValue"] for k, v in alert.attributes().items()} == {
        "event_type": "DIAGNOSTICS_SUMMARY",
        "severity": "WARNING",
        "model_name": "pump-7",
    }


def test_text_body_gives_counts_worst_events_sensors_metrics_and_locations() -> None:
    # Given a summary's alert, When a person reads its email body
    text = summary_alert(summary(), IDENTIFIED, FILE, FILE.summary_location()).text
    # Then it gives the model, the counts, the worst events, the sensors, L4E's figures and where to look
    assert "Model:    pump-7 v3, quality QUALITY_THRESHOLD_MET" in text
    assert "normal 18,000, anomalous 160 (0.88%), machine off 2,000" in text
    assert "1. 2024-01-02 10:00:00 -> 2024-01-02 12:00:00  11 points" in text
    assert "motor\\bearing temp 0  0.500" in text
    assert "labelled events 4, identified 3; predicted ranges 6" in text
    assert f"Diagnostics file: {FILE.uri}" in text
    assert "Summary JSON:     s3://plant-a/diag/pump-7/model_diagnostics_results.summary.json" in text


def test_message_has_text_for_email_and_json_for_machines() -> None:
    # Given a summary's alert, When SNS splits its message by protocol
    alert = summary_alert(summary(), IDENTIFIED, FILE, FILE.summary_location())
    structure = json.loads(alert.message())
    # Then email gets the text and machines the same JSON body
    assert structure["email"] == structure["default"] == alert.text
    body = json.loads(structure["sqs"])
    assert body["model"]["model_version"] == 3
    assert body["summary"]["event_count"] == 2
    assert json.loads(structure["lambda"]) == json.loads(structure["email-json"]) == body
    # (https gets the chat card: tests/unit/test_chat_card.py)


def test_unknown_model_still_alerts_and_says_so() -> None:
    # Given a file no model claims, When its alert is composed
    alert = summary_alert(summary(), UNKNOWN, FILE, None)
    # Then it still goes out, saying no model was identified and why
    assert alert.subject.startswith("[WARNING] Unknown model:")
    assert alert.model_name == "(none)"
    assert "none identified (no Lookout for Equipment model writes diagnostics" in alert.text


def test_a_huge_summary_is_cut_to_fit_sns_and_the_cut_is_flagged() -> None:
    # Given 1000 events with 50 sensors of 500-character names
    big = summary(events=1000, sensor_name="x" * 500, sensors=50)
    # When the alert is built
    alert = summary_alert(big, IDENTIFIED, FILE, FILE.summary_location())
    # Then it fits SNS's limit, keeps the longest events and says events were cut
    assert alert.size_bytes() <= MESSAGE_MAX_BYTES
    body = json.loads(json.loads(alert.message())["sqs"])
    kept = body["summary"]["events"]
    assert 0 < len(kept) < 1000
    assert body["summary"]["events_truncated"] is True
    assert max(e["points"] for e in kept) == 10 + 999
    assert len(kept[0]["top_sensors"][0]["name"]) == 200


def test_unreadable_alert_names_reason_line_and_place() -> None:
    # Given a file whose line 17 is not JSON, When its alert is composed
    alert = unreadable_alert("not valid JSON (unexpected character)", 17, IDENTIFIED, FILE)
    # Then the subject, the text and the JSON body give the reason, the line and the file
    assert alert.subject == "[ERROR] pump-7 v3: diagnostics unreadable: not valid JSON (unexpected character)"
    assert alert.attributes()["event_type"]["StringValue"] == "DIAGNOSTICS_UNREADABLE"
    assert "Reason:  not valid JSON (unexpected character) (line 17)" in alert.text
    assert FILE.uri in alert.text
    assert json.loads(json.loads(alert.message())["sqs"])["line"] == 17


def test_subject_is_ascii_and_cut_to_the_limit() -> None:
    # Given a reason too long for a subject, and not ASCII
    long_reason = "Überlänge " * 30
    # When it is the subject of an alert
    subject = unreadable_alert(long_reason, None, UNKNOWN, FILE).subject
    # Then the subject is ASCII, at SNS's limit, and says it was cut
    assert len(subject) == SUBJECT_MAX
    assert subject.isascii()
    assert subject.endswith("...")


def test_the_sample_outcome_event_matches_the_schema_the_poller_puts() -> None:
    from pathlib import Path

    from lookout_diagnostics.domain.outcomes import OutcomeEvent

    # Given the sample event in events/, When it is read as the poller's event detail
    sample = json.loads((Path(__file__).resolve().parents[2] / "events" / "model-version-outcome.json").read_text())
    detail = OutcomeEvent.model_validate(sample["detail"])
    # Then it is exactly what the poller puts: same fields, same values, same source and detail type
    assert detail.model_dump(mode="json") == sample["detail"]
    assert (sample["source"], sample["detail-type"]) == (
        "lookout-diagnostics",
        "Lookout for Equipment Model Version Outcome",
    )
