"""The bad-input matrix (docs/reliability-and-security.md, "Bad input"): each input, its clear typed error or
its defined outcome.

Beyond tests/unit/test_diagnostics.py: huge lines and rows streamed from generators (so the test holds
little memory), deep nesting, non-finite numbers, order and repeats of timestamps, types and encodings;
then the training workflow's input.
"""

from __future__ import annotations

import gzip
import io
import json
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from lookout_diagnostics.domain.summary import MAX_LINE_BYTES, MAX_SENSORS, DiagnosticsSummary, summarise_stream
from lookout_diagnostics.domain.training import plan_training
from lookout_diagnostics.errors import DiagnosticsFileError, InvalidTrainingInputError
from lookout_diagnostics.settings import Settings, SummaryThresholds
from tests.support.streams import Generated, gzipped

THRESHOLDS = SummaryThresholds()
NORMAL = b'{"timestamp":"2021-03-11T22:24:00.000000","prediction":0,"anomaly_score":0.1}'


def summarise(data: bytes | Generated, source: str = "f.jsonl") -> DiagnosticsSummary:
    stream = data if isinstance(data, Generated) else io.BytesIO(data)
    return summarise_stream(stream, source=source, thresholds=THRESHOLDS)


def refusal(data: bytes | Generated, source: str = "f.jsonl") -> DiagnosticsFileError:
    with pytest.raises(DiagnosticsFileError) as caught:
        summarise(data, source)
    return caught.value


def lines(*records: bytes | str | dict[str, Any]) -> bytes:
    encoded = [r if isinstance(r, bytes) else (r if isinstance(r, str) else json.dumps(r)).encode() for r in records]
    return b"\n".join(encoded) + b"\n"


def anomalous(minute: int = 25, **fields: Any) -> dict[str, Any]:
    record = {
        "timestamp": f"2021-03-11T22:{minute:02d}:00.000000",
        "prediction": 1,
        "prediction_reason": "ANOMALY_DETECTED",
        "anomaly_score": 0.9,
        "diagnostics": [{"name": "pump\\pressure", "value": 1.0}],
    }
    return record | fields


# --------------------------------------------------------------------------- huge lines and rows


def a_long_line(length: int) -> Iterator[bytes]:
    """Line 1 is a normal record; line 2 a record whose unknown field makes it `length` bytes long."""
    yield NORMAL + b"\n"
    head = b'{"timestamp":"2021-03-11T22:25:00.000000","prediction":0,"padding":"'
    yield head
    remaining = length - len(head) - 2
    while remaining > 0:
        piece = min(remaining, 1 << 20)
        yield b"x" * piece
        remaining -= piece
    yield b'"}\n'


def a_row_of_sensors(count: int, *, prediction: int = 1) -> Iterator[bytes]:
    """Line 1 a normal record; line 2 a row with `count` distinct sensors in its diagnostics."""
    yield NORMAL + b"\n"
    yield b'{"timestamp":"2021-03-11T22:25:00.000000","prediction":%d,"anomaly_score":0.9,"diagnostics":[' % prediction
    for start in range(0, count, 10_000):
        stop = min(count, start + 10_000)
        entries = b",".join(b'{"name":"component_7\\\\sensor_%07d","value":0.000001}' % i for i in range(start, stop))
        yield entries + (b"," if stop < count else b"")
    yield b"]}\n"


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_a_line_over_16_mib_is_refused_with_its_number_in_bounded_memory(compressed: bool) -> None:
    # Given a file whose second line is 17 MiB, produced as it is read
    pieces = a_long_line(MAX_LINE_BYTES + (1 << 20))
    stream = Generated(gzipped(pieces) if compressed else pieces)
    # When it is summarised, watching the memory the summary allocates
    tracemalloc.start()
    try:
        error = refusal(stream, "f.json.gz" if compressed else "f.jsonl")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Then it is refused, naming the line, holding no more than a few times the cap at once
    assert error.reason == "a line is longer than 16 MiB"
    assert error.line == 2
    assert peak < 3 * MAX_LINE_BYTES


def test_a_line_just_under_the_cap_is_read() -> None:
    # Given a line 1 KiB under the cap, When the file is summarised, Then it is read like any other
    summary = summarise(Generated(a_long_line(MAX_LINE_BYTES - 1024)))
    assert (summary.rows, summary.normal) == (2, 2)


def test_a_row_of_a_million_sensors_is_refused_by_the_line_cap_before_it_is_parsed() -> None:
    # Given a row with 1,000,000 diagnostics entries (about 50 bytes each: 50 MB), gzipped as L4E stores it
    stream = Generated(gzipped(a_row_of_sensors(1_000_000)))
    # When it is summarised
    tracemalloc.start()
    try:
        error = refusal(stream, "f.json.gz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Then the line cap refuses it once 16 MiB of it are buffered: nothing of it is parsed
    assert (error.line, error.reason) == (2, "a line is longer than 16 MiB")
    assert peak < 3 * MAX_LINE_BYTES


def test_more_distinct_sensors_than_the_maximum_in_one_row_is_refused() -> None:
    # Given one anomalous row naming one sensor more than the maximum, When it is summarised
    error = refusal(Generated(a_row_of_sensors(MAX_SENSORS + 1)))
    # Then the file is refused at that row
    assert (error.line, error.reason) == (2, f"more than {MAX_SENSORS} distinct sensors")


def test_the_maximum_number_of_distinct_sensors_is_summarised() -> None:
    # Given one anomalous row naming exactly the maximum of sensors, When it is summarised
    summary = summarise(Generated(a_row_of_sensors(MAX_SENSORS)))
    # Then it is summarised, its top sensors ranked
    assert summary.anomalous == 1
    assert len(summary.top_sensors) == THRESHOLDS.top_sensors


def test_sensors_on_a_normal_row_are_not_read_so_not_counted() -> None:
    # Given a normal row with more sensors than the maximum (diagnostics are read where they are used: on
    # anomalous records), When it is summarised, Then nothing of its diagnostics is counted
    summary = summarise(Generated(a_row_of_sensors(MAX_SENSORS + 1, prediction=0)))
    assert (summary.rows, summary.normal, summary.top_sensors) == (2, 2, [])


def test_distinct_sensors_are_counted_across_rows() -> None:
    # Given the maximum of sensors plus one, spread over two anomalous rows
    names = [f"component\\sensor_{i}" for i in range(MAX_SENSORS + 1)]
    half = MAX_SENSORS // 2
    first = anomalous(1, diagnostics=[{"name": name, "value": 0.1} for name in names[:half]])
    second = anomalous(2, diagnostics=[{"name": name, "value": 0.1} for name in names[half:]])
    # When the file is summarised, Then it is refused at the row that crossed the maximum
    error = refusal(lines(NORMAL, first, NORMAL, second))
    assert (error.line, error.reason) == (4, f"more than {MAX_SENSORS} distinct sensors")


# --------------------------------------------------------------------------- nesting and numbers


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize(
    "line",
    [
        "[" * 10_000 + "]" * 10_000,
        nested(10_000),
        json.dumps({"timestamp": "2021-03-11T22:25:00", "prediction": 0})[:-1] + ', "extra": ' + nested(10_000) + "}",
        json.dumps(anomalous())[:-1] + ', "extra": ' + "[" * 10_000 + "]" * 10_000 + "}",
        json.dumps(anomalous(diagnostics=None))[:-1].replace('"diagnostics": null', '"diagnostics": ' + nested(10_000))
        + "}",
    ],
    ids=["array-10000-deep", "object-10000-deep", "normal-row-extra-field", "anomalous-row-extra-field", "diagnostics"],
)
def test_json_nested_10000_deep_is_refused_as_not_json_on_its_line(line: str) -> None:
    # Given a second line nested 10,000 deep, When the file is summarised, Then that line is refused
    error = refusal(lines(NORMAL, line))
    assert error.line == 2
    assert error.reason.startswith("not valid JSON (depth limit exceeded")


@pytest.mark.parametrize("prediction", [0, 1])
def test_nesting_within_the_parsers_limit_in_an_unknown_field_is_ignored(prediction: int) -> None:
    # Given a record with an unknown field nested 1,000 deep, When it is summarised, Then it is read
    record = json.dumps(anomalous(prediction=prediction))[:-1] + ', "extra": ' + nested(1_000) + "}"
    assert summarise(lines(NORMAL, record)).rows == 2


AT = '"timestamp":"2021-03-11T22:25:00"'
NUMBER_TEMPLATES = {
    "score-normal-row": "{" + AT + ',"prediction":0,"anomaly_score":%s}',
    "score-anomalous-row": "{" + AT + ',"prediction":1,"anomaly_score":%s}',
    "value-anomalous-row": "{" + AT + ',"prediction":1,"diagnostics":[{"name":"a\\\\b","value":%s}]}',
    "value-normal-row": "{" + AT + ',"prediction":0,"diagnostics":[{"name":"a\\\\b","value":%s}]}',
}


@pytest.mark.parametrize(
    ("literal", "where"),
    [
        (literal, where)
        for literal in ("NaN", "Infinity", "-Infinity", "1e999", "-1e999")
        for where in NUMBER_TEMPLATES
        # A normal record's diagnostics are never read: a number JSON allows there is not refused (below).
        if not (where == "value-normal-row" and literal.endswith("1e999"))
    ],
)
def test_non_finite_numbers_are_refused_as_not_json(literal: str, where: str) -> None:
    # Given a score or a contribution that is NaN, Infinity (not JSON) or 1e999 (overflowing a double)
    # When the file is summarised, Then the line is refused, by number
    error = refusal(lines(NORMAL, NUMBER_TEMPLATES[where] % literal))
    assert error.line == 2
    assert error.reason.startswith("not valid JSON (")


@pytest.mark.parametrize("literal", ["1e999", "-1e999", "1" * 400])
def test_a_number_beyond_a_double_in_a_normal_records_diagnostics_is_valid_json_left_unread(literal: str) -> None:
    # Given a normal record whose diagnostics (which no summary reads) hold a number JSON allows but a double cannot
    line = NUMBER_TEMPLATES["value-normal-row"] % literal
    # When the file is summarised, Then the record is counted, whether the block's decoder or the exact path reads it
    for text in (lines(NORMAL, line), lines(NORMAL, " " + line)):
        summary = summarise(text)
        assert (summary.rows, summary.normal) == (2, 2)


# --------------------------------------------------------------------------- time order


def at(stamp: str, prediction: int = 0) -> dict[str, Any]:
    return anomalous(timestamp=stamp) if prediction else {"timestamp": stamp, "prediction": 0, "anomaly_score": 0.1}


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        (  # repeats inside an event: still one event, every record counted
            [
                at("2021-03-11T22:00:00"),
                at("2021-03-11T22:01:00", 1),
                at("2021-03-11T22:01:00", 1),
                at("2021-03-11T22:02:00"),
            ],
            {
                "duplicate_timestamps": 1,
                "out_of_order_rows": 0,
                "in_time_order": True,
                "event_count": 1,
                "longest_event_points": 2,
            },
        ),
        (  # every record at the same moment
            [at("2021-03-11T22:00:00")] * 5,
            {
                "duplicate_timestamps": 4,
                "out_of_order_rows": 0,
                "in_time_order": True,
                "first_timestamp": "2021-03-11T22:00:00",
                "last_timestamp": "2021-03-11T22:00:00",
            },
        ),
        (  # the same moment written in two zones is a repeat; the stamp is kept as written
            [at("2021-03-11T23:00:00+01:00"), at("2021-03-11T22:00:00"), at("2021-03-11T22:00:00Z")],
            {"duplicate_timestamps": 2, "out_of_order_rows": 0, "first_timestamp": "2021-03-11T23:00:00+01:00"},
        ),
        (  # a file written backwards: every step goes back; first and last are the earliest and latest
            [at(f"2021-03-11T22:0{m}:00", m % 2) for m in (5, 4, 3, 2, 1)],
            {
                "out_of_order_rows": 4,
                "in_time_order": False,
                "first_timestamp": "2021-03-11T22:01:00",
                "last_timestamp": "2021-03-11T22:05:00",
                "event_count": 3,
            },
        ),
        (  # out of order inside an event: events follow the file's order, the summary says it is out of order
            [at("2021-03-11T22:05:00", 1), at("2021-03-11T22:01:00", 1), at("2021-03-11T22:06:00")],
            {"out_of_order_rows": 1, "in_time_order": False, "event_count": 1, "longest_event_points": 2},
        ),
    ],
    ids=["repeats-in-an-event", "all-the-same", "same-moment-two-zones", "backwards", "back-in-an-event"],
)
def test_repeated_and_out_of_order_timestamps_are_summarised_and_said(
    records: list[dict[str, Any]], expected: dict[str, Any]
) -> None:
    # Given records that repeat or go back in time, When they are summarised
    summary = summarise(lines(*records)).model_dump()
    # Then the summary says so, in the fields meant for it
    assert {name: summary[name] for name in expected} == expected


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_zoned_timestamp_outside_the_calendar_in_utc_is_refused(stamp: str) -> None:
    # Given a zoned timestamp that falls outside the calendar in UTC (found by the property tests: it used to
    # escape as an OverflowError), When the file is summarised, Then its line is refused, saying why
    error = refusal(lines(NORMAL, at(stamp)))
    assert error.line == 2
    assert error.reason == f"'timestamp' is out of range in UTC: {stamp!r}"


# --------------------------------------------------------------------------- types and encodings


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"timestamp": "2021-03-11T22:25:00", "prediction": 1.0}, "'prediction' is missing or not 0 or 1"),
        ({"timestamp": "2021-03-11T22:25:00", "prediction": None}, "'prediction' is missing or not 0 or 1"),
        ({"timestamp": "2021-03-11T22:25:00", "prediction": -1}, "'prediction' is missing or not 0 or 1"),
        ({"timestamp": "", "prediction": 0}, "'timestamp' is not ISO 8601"),
        ({"timestamp": ["2021-03-11T22:25:00"], "prediction": 0}, "'timestamp' is missing or not a string"),
        ({"timestamp": "2021-03-11T22:25:00", "prediction": 0, "anomaly_score": True}, "'anomaly_score'"),
        ({"timestamp": "2021-03-11T22:25:00", "prediction": 0, "anomaly_score": [0.5]}, "'anomaly_score'"),
        (anomalous(diagnostics={"pump\\pressure": 1.0}), "'diagnostics' is not a list"),
        (anomalous(diagnostics=["pump\\pressure"]), "a 'diagnostics' entry is not an object"),
        (anomalous(diagnostics=[{"name": "pump\\pressure", "value": "0.5"}]), "a 'diagnostics' entry needs"),
        (anomalous(diagnostics=[{"name": "pump\\pressure", "value": True}]), "a 'diagnostics' entry needs"),
        (anomalous(diagnostics=[{"name": "pump\\pressure"}]), "a 'diagnostics' entry needs"),
        (anomalous(diagnostics=[{"value": 0.5}]), "a 'diagnostics' entry needs"),
    ],
    ids=[
        "prediction-float",
        "prediction-null",
        "prediction-negative",
        "timestamp-empty",
        "timestamp-list",
        "score-bool",
        "score-list",
        "diagnostics-object",
        "entry-not-object",
        "value-string",
        "value-bool",
        "value-missing",
        "name-missing",
    ],
)
def test_wrong_types_are_refused_with_the_field_and_the_line(record: dict[str, Any], reason: str) -> None:
    # Given a third record with a field of the wrong type, When the file is summarised
    error = refusal(lines(NORMAL, NORMAL, record))
    # Then it is refused at line 3, naming the field
    assert error.line == 3
    assert error.reason.startswith(reason)


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"timestamp": "2021-03-11T22:25:00", "prediction": 0, "diagnostics": "not read"}, {"normal": 2}),
        (
            {"timestamp": "2021-03-11T22:25:00", "prediction": 1, "prediction_reason": "MACHINE_OFF", "diagnostics": 7},
            {"machine_off": 1},
        ),
        (anomalous(diagnostics=None), {"anomalous": 1, "top_sensors": []}),
        (anomalous(prediction_reason=["MACHINE_OFF"]), {"anomalous": 1}),
        (anomalous(anomaly_score=None), {"anomalous": 1, "max_anomaly_score": 0.1}),
        ({"timestamp": "2021-03-11", "prediction": 0}, {"normal": 2, "first_timestamp": "2021-03-11"}),
    ],
    ids=[
        "diagnostics-on-a-normal-row",
        "machine-off-row",
        "diagnostics-null",
        "reason-not-a-string",
        "score-null",
        "date-only-stamp",
    ],
)
def test_odd_but_readable_records_have_a_defined_reading(record: dict[str, Any], expected: dict[str, Any]) -> None:
    # Given an odd but readable record, When it is summarised, Then it has the reading the docs define
    summary = summarise(lines(NORMAL, record)).model_dump()
    assert {name: summary[name] for name in expected} == expected


def test_a_repeated_field_name_takes_its_last_value_as_json_parsers_do() -> None:
    # Given rows that repeat "prediction" (ending at 1, and at 0), When they are summarised
    # Then the last value counts: the first is anomalous, the second normal
    last_one = b'{"timestamp":"2021-03-11T22:25:00","prediction":0,"prediction":1}'
    last_zero = b'{"timestamp":"2021-03-11T22:26:00","prediction":1,"prediction":0}'
    summary = summarise(lines(last_one, last_zero))
    assert (summary.anomalous, summary.normal) == (1, 1)


@pytest.mark.parametrize(
    ("data", "source", "reason", "line"),
    [
        (b"\xef\xbb\xbf" + NORMAL + b"\n", "f.jsonl", "not valid JSON (UTF-8 byte order mark", 1),
        (gzip.compress(NORMAL + b"\n" + NORMAL.replace(b"}", b',"x":"\xe4"}')), "f.json.gz", "not valid JSON (", 2),
        (gzip.compress(gzip.compress(NORMAL)), "f.json.gz", "not valid JSON (", 1),
        (NORMAL + b"\x00\n", "f.jsonl", "not valid JSON (", 1),
        (gzip.compress(NORMAL + b"\n") + b"trailing garbage", "f.json.gz", ("truncated gzip", "corrupt gzip"), None),
        (gzip.compress(NORMAL + b"\n")[:-4], "f.json.gz", "truncated gzip file", None),
        (b"\x1f", "f.json.gz", "not a gzip file", None),
        (b"\x1f\x8b", "f.json.gz", "truncated gzip file", None),
    ],
    ids=[
        "byte-order-mark",
        "latin-1-byte",
        "gzip-in-gzip",
        "nul-byte",
        "trailing-garbage",
        "cut-in-trailer",
        "one-byte",
        "only-the-magic",
    ],
)
def test_corrupt_encodings_are_refused_clearly(
    data: bytes, source: str, reason: str | tuple[str, ...], line: int | None
) -> None:
    # Given a file whose bytes are not what its name says, When it is summarised
    error = refusal(data, source)
    # Then it is refused with the reason, and the line where there is one
    assert error.reason.startswith(reason)
    assert error.line == line


def test_gzip_members_one_after_another_are_one_file() -> None:
    # Given two gzip members one after the other, When they are summarised, Then they are one file
    data = gzip.compress(NORMAL + b"\n") + gzip.compress(NORMAL.replace(b"22:24", b"22:25") + b"\n")
    assert summarise(data, "f.json.gz").rows == 2


# --------------------------------------------------------------------------- the training workflow's input

WATCHED = "stack.diagnostics-1"  # dots and dashes: an edge of S3's bucket names
SETTINGS = Settings.model_validate(
    {
        "ALERT_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:alerts",
        "LEDGER_TABLE_NAME": "ledger",
        "DIAGNOSTICS_BUCKET": "stack.diagnostics-1",
        "LOOKOUT_ROLE_ARN": "arn:aws:iam::123456789012:role/lookout",
    }
)
MINIMAL = {"ModelName": "pump-7", "DatasetName": "pump-data"}


def diagnostics_to(bucket: str = "stack.diagnostics-1", prefix: str | None = "pump-7/") -> dict[str, Any]:
    output: dict[str, Any] = {"Bucket": bucket}
    if prefix is not None:
        output["Prefix"] = prefix
    return {"ModelDiagnosticsOutputConfiguration": {"S3OutputConfiguration": output}}


@pytest.mark.parametrize(
    ("given", "words"),
    [
        (None, "input: Input should be a valid dictionary"),
        ("pump-7", "input: Input should be a valid dictionary"),
        (42, "input: Input should be a valid dictionary"),
        ('{"ModelName": "pump-7", "DatasetName": "pump-data"}', "input: Input should be a valid dictionary"),
        ({}, "ModelName: Field required; DatasetName: Field required"),
        ({"DatasetName": "pump-data"}, "ModelName: Field required"),
        ({"ModelName": "pump-7"}, "DatasetName: Field required"),
        (MINIMAL | {"ModelName": ""}, "ModelName: String should match pattern"),
        (MINIMAL | {"ModelName": "p" * 201}, "ModelName: String should match pattern"),
        (MINIMAL | {"ModelName": 7}, "ModelName: Input should be a valid string"),
        (MINIMAL | {"ModelName": "pump/7"}, "ModelName: String should match pattern"),
        (MINIMAL | {"DatasetName": "pump data"}, "DatasetName: String should match pattern"),
        (MINIMAL | diagnostics_to("ab"), "Bucket: String should match pattern"),
        (MINIMAL | diagnostics_to("b" * 64), "Bucket: String should match pattern"),
        (MINIMAL | diagnostics_to("-bucket"), "Bucket: String should match pattern"),
        (MINIMAL | diagnostics_to("bucket."), "Bucket: String should match pattern"),
        (MINIMAL | diagnostics_to("my_bucket"), "Bucket: String should match pattern"),
        (MINIMAL | diagnostics_to(""), "Bucket: String should match pattern"),
        (
            MINIMAL | {"ModelDiagnosticsOutputConfiguration": {"S3OutputConfiguration": {"Prefix": "p/"}}},
            "S3OutputConfiguration.Bucket: Field required",
        ),
        (MINIMAL | diagnostics_to(prefix="pump-7/day"), "Prefix must be empty or end with '/'"),
        (MINIMAL | diagnostics_to(prefix="pump-7\\"), "Prefix must be empty or end with '/'"),
        (
            MINIMAL
            | {"EvaluationDataStartTime": "2024-01-01T00:00:00Z", "EvaluationDataEndTime": "2023-10-01T00:00:00Z"},
            "EvaluationDataStartTime must be before EvaluationDataEndTime",
        ),
        (
            MINIMAL
            | {"EvaluationDataStartTime": "2024-01-01T00:00:00Z", "EvaluationDataEndTime": "2024-01-01T01:00:00+01:00"},
            "EvaluationDataStartTime must be before EvaluationDataEndTime",
        ),
        (
            MINIMAL | {"TrainingDataStartTime": "2023-01-01T00:00:00", "TrainingDataEndTime": "2023-01-01T00:00:00"},
            "TrainingDataStartTime must be before TrainingDataEndTime",
        ),
        (MINIMAL | {"EvaluationDataEndTime": "2023-13-01T00:00:00Z"}, "EvaluationDataEndTime"),
        pytest.param(MINIMAL | diagnostics_to(prefix="/"), "Prefix", id="prefix-only-a-slash"),
        pytest.param(MINIMAL | diagnostics_to(prefix="Pumpe-€/"), "Prefix", id="prefix-beyond-latin-1"),
        pytest.param(
            MINIMAL | diagnostics_to("another-bucket"),
            "must be this stack's diagnostics bucket 'stack.diagnostics-1'",
            id="diagnostics-to-a-bucket-the-stack-does-not-watch",
        ),
    ],
    ids=[
        "null",
        "a-string",
        "a-number",
        "json-text-of-an-object",
        "empty-object",
        "model-name-missing",
        "dataset-name-missing",
        "model-name-empty",
        "model-name-201-characters",
        "model-name-a-number",
        "model-name-with-slash",
        "dataset-name-with-space",
        "bucket-too-short",
        "bucket-too-long",
        "bucket-leading-dash",
        "bucket-trailing-dot",
        "bucket-underscore",
        "bucket-empty",
        "bucket-missing",
        "prefix-without-trailing-slash",
        "prefix-with-backslash",
        "evaluation-dates-reversed",
        "evaluation-dates-equal-across-zones",
        "training-dates-equal",
        "evaluation-date-invalid",
        "prefix-only-a-slash",
        "prefix-beyond-latin-1",
        "diagnostics-to-a-bucket-the-stack-does-not-watch",
    ],
)
def test_bad_workflow_input_is_refused_with_what_to_fix(given: Any, words: str) -> None:
    # Given a bad console input, When it is planned, Then it is refused, saying what to fix
    with pytest.raises(InvalidTrainingInputError) as caught:
        plan_training(given, "exec-42", SETTINGS)
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("given", "check"),
    [
        (MINIMAL | {"ModelName": "p" * 200}, ("ModelName", "p" * 200)),
        (
            MINIMAL | diagnostics_to(),
            (
                "ModelDiagnosticsOutputConfiguration",
                {"S3OutputConfiguration": {"Bucket": WATCHED, "Prefix": "pump-7/"}},
            ),
        ),
        (
            MINIMAL | diagnostics_to(prefix=""),
            ("ModelDiagnosticsOutputConfiguration", {"S3OutputConfiguration": {"Bucket": WATCHED, "Prefix": ""}}),
        ),
        (
            MINIMAL | diagnostics_to(prefix=None),
            ("ModelDiagnosticsOutputConfiguration", {"S3OutputConfiguration": {"Bucket": WATCHED, "Prefix": ""}}),
        ),
        (
            MINIMAL
            | {"EvaluationDataStartTime": "2023-09-01T01:00:00+02:00", "EvaluationDataEndTime": "2023-09-01T00:00:00"},
            ("EvaluationDataStartTime", "2023-08-31T23:00:00Z"),
        ),
    ],
    ids=[
        "model-name-200-characters",
        "bucket-dots-and-dashes",
        "prefix-empty",
        "prefix-absent",
        "evaluation-dates-in-order-across-zones",
    ],
)
def test_edge_workflow_input_is_accepted_as_given(given: dict[str, Any], check: tuple[str, Any]) -> None:
    # Given an input at an edge of what is allowed, When it is planned, Then CreateModel gets it as given
    request = plan_training(given, "exec-42", SETTINGS).CreateModel
    name, value = check
    assert request[name] == value
