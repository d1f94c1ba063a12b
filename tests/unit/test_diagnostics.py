"""The summary's rules and every bad input, on small hand-written files."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lookout_diagnostics.domain.summary import DiagnosticsSummary, Severity, summarise_stream
from lookout_diagnostics.errors import DiagnosticsFileError
from lookout_diagnostics.settings import SummaryThresholds

THRESHOLDS = SummaryThresholds()


def row(
    minute: int, prediction: int = 0, *, off: bool = False, score: float | None = None, **sensors: float
) -> dict[str, Any]:
    record: dict[str, Any] = {"timestamp": f"2021-03-11T22:{minute:02d}:00.000000", "prediction": prediction}
    if off:
        record["prediction_reason"] = "MACHINE_OFF"
        return record
    record["prediction_reason"] = "ANOMALY_DETECTED" if prediction else "NO_ANOMALY_DETECTED"
    record["anomaly_score"] = score if score is not None else (0.8 if prediction else 0.2)
    record["diagnostics"] = [{"name": f"pump\\{name}", "value": value} for name, value in sensors.items()]
    return record


def gz(*records: dict[str, Any] | str) -> bytes:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    return gzip.compress(("\n".join(lines) + "\n").encode())


def summarise(data: bytes, thresholds: SummaryThresholds = THRESHOLDS, source: str = "f.json.gz") -> DiagnosticsSummary:
    return summarise_stream(io.BytesIO(data), source=source, thresholds=thresholds)


def failure(data: bytes, source: str = "f.json.gz") -> DiagnosticsFileError:
    with pytest.raises(DiagnosticsFileError) as caught:
        summarise(data, source=source)
    return caught.value


def test_counts_classify_machine_off_apart_from_normal_and_anomalous() -> None:
    # Given two normal rows, one anomalous row and two machine-off rows
    data = gz(row(0), row(1, off=True), row(2, 1, a=1.0), row(3), row(4, off=True))
    # When it is summarised
    summary = summarise(data)
    # Then machine-off rows are neither normal nor anomalous, and the rate ignores them
    assert (summary.rows, summary.normal, summary.anomalous, summary.machine_off) == (5, 2, 1, 2)
    assert summary.anomaly_rate == pytest.approx(1 / 3)
    assert summary.first_timestamp == "2021-03-11T22:00:00.000000"
    assert summary.last_timestamp == "2021-03-11T22:04:00.000000"


def test_events_are_maximal_runs_ended_by_any_other_record() -> None:
    # Given anomalous runs of 2 and 3 points, split by a normal row and a machine-off row
    data = gz(
        row(0),
        row(1, 1, score=0.6, a=0.9),
        row(2, 1, score=0.7, a=0.9),
        row(3),
        row(4, 1, score=0.9, b=1.0),
        row(5, off=True),
        row(6, 1, b=1.0),
        row(7, 1, b=1.0),
        row(8, 1, b=1.0),
    )
    # When it is summarised
    summary = summarise(data)
    # Then there are three events in time order with their own extents and scores
    assert summary.event_count == 3
    assert [(e.start[11:16], e.end[11:16], e.points) for e in summary.events] == [
        ("22:01", "22:02", 2),
        ("22:04", "22:04", 1),
        ("22:06", "22:08", 3),
    ]
    assert summary.events[0].max_anomaly_score == 0.7
    assert summary.longest_event_points == 3
    assert summary.max_anomaly_score == 0.9


def test_top_sensors_rank_by_mean_contribution_over_anomalous_records() -> None:
    # Given sensor a contributing 0.6 and 0.0, and b 0.2 and 0.8, on the two anomalous rows
    data = gz(row(0, 1, a=0.6, b=0.2), row(1, 1, b=0.8), row(2, c=5.0))
    # When it is summarised with the top 2 sensors
    summary = summarise(data, SummaryThresholds(top_sensors=2))
    # Then means are over all anomalous records (absent counts as 0) and normal rows do not count
    assert [(s.name, s.mean_contribution) for s in summary.top_sensors] == [
        ("pump\\b", 0.5),
        ("pump\\a", 0.3),
    ]
    assert [s.name for s in summary.events[0].top_sensors] == ["pump\\b", "pump\\a"]


def test_events_are_capped_to_the_most_severe_and_the_cap_is_said() -> None:
    # Given five one-point events and one three-point event, with room for two events
    records: list[dict[str, Any]] = []
    for minute in range(0, 10, 2):
        records += [row(minute, 1, a=1.0), row(minute + 1)]
    records += [row(20, 1, a=1.0), row(21, 1, a=1.0), row(22, 1, score=0.99, a=1.0)]
    summary = summarise(gz(*records), SummaryThresholds(max_events=2))
    # Then the total is kept, the longest event is among those kept, in time order, and the cap is flagged
    assert summary.event_count == 6
    assert summary.events_truncated is True
    assert len(summary.events) == 2
    assert summary.events[-1].points == 3
    assert summary.events[0].start < summary.events[1].start


def test_out_of_order_and_duplicate_timestamps_are_reported() -> None:
    # Given a record that goes back in time and one that repeats a timestamp
    summary = summarise(gz(row(5), row(3), row(3), row(6)))
    # Then the summary says so instead of silently mis-grouping
    assert summary.in_time_order is False
    assert summary.out_of_order_rows == 1
    assert summary.duplicate_timestamps == 1
    assert summary.first_timestamp.endswith("22:03:00.000000")
    assert summary.last_timestamp.endswith("22:06:00.000000")


@pytest.mark.parametrize(
    ("rate_rows", "longest", "expected"),
    [
        (0, 0, Severity.OK),
        (1, 1, Severity.WARNING),  # 1 of 50 = 2% >= 1% warning rate
        (5, 5, Severity.CRITICAL),  # 5 of 50 = 10% >= 5% critical rate
    ],
)
def test_severity_follows_the_thresholds(rate_rows: int, longest: int, expected: Severity) -> None:
    # Given 50 judged rows, `rate_rows` of them anomalous in one run
    records = [row(m % 60, 1 if m < rate_rows else 0, a=1.0) for m in range(50)]
    # When it is summarised with the default thresholds
    summary = summarise(gz(*records))
    # Then the severity is the documented one, with the rule that decided it
    assert summary.severity is expected
    assert summary.severity_reason


def test_a_long_event_is_critical_even_at_a_low_rate() -> None:
    # Given a 3-point event among 1000 rows, and a critical event length of 3
    records = [row(m % 60, 1 if m < 3 else 0, a=1.0) for m in range(1000)]
    thresholds = SummaryThresholds(critical_event_points=3, warning_event_points=2)
    summary = summarise(gz(*records), thresholds)
    assert summary.severity is Severity.CRITICAL
    assert "longest event 3 points" in summary.severity_reason


def test_only_machine_off_rows_is_a_summary_with_nothing_judged() -> None:
    summary = summarise(gz(row(0, off=True), row(1, off=True)))
    assert (summary.rows, summary.machine_off, summary.anomaly_rate, summary.event_count) == (2, 2, 0.0, 0)
    assert summary.max_anomaly_score is None
    assert summary.severity is Severity.OK
    assert "machine was off" in summary.severity_reason


def test_blank_and_trailing_lines_are_not_records_and_extra_fields_are_tolerated() -> None:
    extra = row(1) | {"new_field": {"nested": [1, 2]}}
    data = gzip.compress(("\n" + json.dumps(row(0)) + "\r\n\n" + json.dumps(extra) + "\n\n\n").encode())
    summary = summarise(data)
    assert summary.rows == 2


def test_sensor_names_with_backslashes_and_non_ascii_survive() -> None:
    record = {
        "timestamp": "2021-03-11T22:25:00.000000",
        "prediction": 1,
        "anomaly_score": 0.7,
        "diagnostics": [{"name": "Verdichter_ä\\Temperatur °C", "value": 1.0}],
    }
    summary = summarise(gz(record))
    assert summary.top_sensors[0].name == "Verdichter_ä\\Temperatur °C"


def test_plain_json_lines_are_read_when_the_name_does_not_say_gzip() -> None:
    data = (json.dumps(row(0)) + "\n" + json.dumps(row(1, 1, a=1.0)) + "\n").encode()
    assert summarise(data, source="results.jsonl").anomalous == 1


@pytest.mark.parametrize(
    ("data", "reason", "line"),
    [
        (b"", "empty", None),
        (b"PK\x03\x04 this is a zip", "not a gzip file", None),
        (gzip.compress(b"\n\n  \n"), "no records", None),
        (gz(row(0), "{not json", row(2)), "not valid JSON", 2),
        (gz(row(0), "[1, 2]"), "must be a JSON object", 2),
        (gz({"prediction": 0}), "'timestamp'", 1),
        (gz({"timestamp": "2021-03-11T22:25:00", "prediction": "1"}), "'prediction'", 1),
        (gz({"timestamp": "2021-03-11T22:25:00", "prediction": True}), "'prediction'", 1),
        (gz({"timestamp": "2021-03-11T22:25:00", "prediction": 2}), "'prediction'", 1),
        (gz({"timestamp": "yesterday", "prediction": 0}), "ISO 8601", 1),
        (gz({"timestamp": 1615501500, "prediction": 0}), "'timestamp'", 1),
        (
            gz({"timestamp": "2021-03-11T22:25:00", "prediction": 0, "anomaly_score": "high"}),
            "anomaly_score",
            1,
        ),
        (
            gz(row(0), {"timestamp": "2021-03-11T22:25:00", "prediction": 1, "diagnostics": "x"}),
            "not a list",
            2,
        ),
        (
            gz(
                {
                    "timestamp": "2021-03-11T22:25:00",
                    "prediction": 1,
                    "diagnostics": [{"name": 3, "value": 1}],
                }
            ),
            "'diagnostics' entry",
            1,
        ),
        (gz("[" * 100_000), "not valid JSON", 1),
    ],
    ids=[
        "empty-file",
        "not-gzip",
        "only-blank-lines",
        "line-not-json",
        "record-not-object",
        "missing-timestamp",
        "prediction-string",
        "prediction-bool",
        "prediction-out-of-range",
        "timestamp-not-iso",
        "timestamp-number",
        "score-string",
        "diagnostics-not-list",
        "sensor-name-not-string",
        "deeply-nested",
    ],
)
def test_bad_input_gets_a_clear_error_with_its_line(data: bytes, reason: str, line: int | None) -> None:
    error = failure(data)
    assert reason in error.reason
    assert error.line == line


def test_truncated_gzip_is_reported_as_truncated() -> None:
    data = gz(*[row(m % 60) for m in range(5000)])
    error = failure(data[: len(data) // 2])
    assert "truncated" in error.reason


def test_corrupt_gzip_data_is_reported_as_corrupt() -> None:
    data = bytearray(gz(*[row(m % 60) for m in range(5000)]))
    data[200:260] = b"\x00" * 60
    error = failure(bytes(data))
    assert "corrupt" in error.reason or "not valid JSON" in error.reason


def test_progress_reports_stored_bytes_read() -> None:
    data = gz(*[row(m % 60) for m in range(20_000)])
    seen: list[int] = []
    summarise_stream(io.BytesIO(data), source="f.json.gz", thresholds=THRESHOLDS, progress=seen.append)
    assert seen[-1] == len(data)
    assert seen == sorted(seen)


def test_the_timeline_bins_a_two_week_file_in_three_hour_bins_with_each_class_and_score() -> None:
    # Given two weeks of one record a minute: normal, an anomalous hour on day 3, the machine off on day 9
    start = 1_615_500_000 - 1_615_500_000 % 86_400  # a midnight, UTC
    records = []
    for minute in range(14 * 24 * 60):
        moment = start + minute * 60
        stamp = datetime.fromtimestamp(moment, UTC).isoformat()  # zoned: +00:00
        day, hour = divmod(minute // 60, 24)
        record: dict[str, Any] = {"timestamp": stamp, "prediction": 1 if (day, hour) == (3, 10) else 0}
        if day == 9:
            record["prediction_reason"] = "MACHINE_OFF"
        else:
            record["anomaly_score"] = 0.9 if record["prediction"] else 0.1
        records.append(record)
    # When it is summarised
    timeline = summarise(gz(*records)).timeline
    # Then the 336 hours fit 120 bins of 3 hours (1 hour would need 336), aligned on midnight
    assert timeline is not None and timeline.bin_seconds == 3 * 3600 and len(timeline.bins) == 112
    # (on the UTC scale the zoned stamps were read on)
    assert timeline.bins[0].start.endswith("T00:00:00") and timeline.bins[0].end.endswith("T03:00:00")
    # And the anomalous hour is in day 3's 09:00-12:00 bin, with the scores of that bin
    [hot] = [b for b in timeline.bins if b.anomalous]
    assert (hot.anomalous, hot.normal, hot.machine_off) == (60, 120, 0)
    assert hot.max_anomaly_score == 0.9 and hot.mean_anomaly_score == round((60 * 0.9 + 120 * 0.1) / 180, 6)
    # And day 9's bins hold machine-off records only, without scores
    off = [b for b in timeline.bins if b.machine_off]
    assert len(off) == 8 and all(b.normal == b.anomalous == 0 and b.mean_anomaly_score is None for b in off)


def test_a_summary_stored_before_the_timeline_still_reads() -> None:
    # Given a version 1 summary, as this stack wrote them before (no timeline)
    current = summarise(gz(row(0), row(1, 1, a=1.0), row(2))).model_dump(mode="json")
    stored = {key: value for key, value in current.items() if key != "timeline"} | {"summary_version": 1}
    # When it is read back, Then it reads, with no timeline; a new one says version 2
    old = DiagnosticsSummary.model_validate_json(json.dumps(stored))
    assert old.summary_version == 1 and old.timeline is None
    assert current["summary_version"] == 2 and current["timeline"]["bin_seconds"] == 5


@pytest.mark.parametrize(
    ("start", "step_seconds", "count"),
    [("2024-01-01T00:00:03", 1, 86_400), ("2024-01-01T13:25:00", 300, 2016), ("2024-01-01T00:05:00", 300, 288)],
)
def test_every_record_of_an_in_order_file_is_in_the_timeline_whatever_its_first_moment(
    start: str, step_seconds: int, count: int
) -> None:
    # Given records at a steady pace from a moment not aligned on the bins' widths
    first = datetime.fromisoformat(start)
    records = [
        json.dumps({"timestamp": (first + i * timedelta(seconds=step_seconds)).isoformat(), "prediction": i % 2})
        for i in range(count)
    ]
    # When it is summarised (the bins merge into wider ones as the range grows)
    timeline = summarise(("\n".join(records)).encode(), source="steady.jsonl").timeline
    # Then the bins hold every record, each once
    assert timeline is not None
    assert sum(b.normal + b.anomalous + b.machine_off for b in timeline.bins) == count
    assert sum(b.anomalous for b in timeline.bins) == count // 2
