"""Properties of the streaming summary, checked by Hypothesis against a small, obviously correct reference.

The reference reads the contract's definitions (docs/contracts.md) the plain way: the whole file in memory,
`json.loads` per line, lists of records. For any file either both agree on the summary, or both refuse it and the
summariser raises DiagnosticsFileError naming the line the reference names. For any bytes at all the
summariser gives a summary or a DiagnosticsFileError, never another exception. The examples are
deterministic in CI (tests/unit/conftest.py has the profiles).
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from random import Random
from typing import Any
from unittest.mock import patch

from hypothesis import event, given, note
from hypothesis import strategies as st

from lookout_diagnostics.domain import summary as summary_module
from lookout_diagnostics.domain.summary import (
    GZIP_MAGIC,
    MACHINE_OFF,
    TIMELINE_BINS,
    DiagnosticsSummary,
    summarise_stream,
    timeline_width,
)
from lookout_diagnostics.errors import DiagnosticsFileError
from lookout_diagnostics.settings import SummaryThresholds

# --------------------------------------------------------------------------- the reference


class Refused(Exception):
    """The reference's verdict that the file is not a diagnostics file; `line` as the contract words it."""

    def __init__(self, line: int | None) -> None:
        super().__init__(line)
        self.line = line


@dataclass(frozen=True)
class Record:
    moment: datetime  # on one UTC scale
    timestamp: str  # as written
    score: float | None
    kind: str  # "normal", "anomalous" or "off"
    contributions: list[tuple[str, float]]


def reference(text: bytes, thresholds: SummaryThresholds) -> dict[str, Any]:
    """The summary of the decompressed file `text`, or Refused."""
    records = [_record(number, line) for number, line in enumerate(text.split(b"\n"), start=1) if line.strip()]
    if not records:
        raise Refused(None)
    normal = sum(record.kind == "normal" for record in records)
    anomalous = sum(record.kind == "anomalous" for record in records)
    rate = anomalous / (normal + anomalous) if normal + anomalous else 0.0
    moments = [record.moment for record in records]
    steps = list(pairwise(moments))
    scores = [record.score for record in records if record.score is not None]
    runs: list[list[Record]] = [[]]
    for record in records:
        if record.kind == "anomalous":
            runs[-1].append(record)
        elif runs[-1]:
            runs.append([])
    runs = [run for run in runs if run]
    events = [_event(run, thresholds.top_sensors) for run in runs]
    most_severe = sorted(
        range(len(events)),
        key=lambda i: (events[i]["points"], events[i]["max_anomaly_score"] or 0.0, -i),
        reverse=True,
    )
    kept = sorted(most_severe[: thresholds.max_events])
    longest = max((len(run) for run in runs), default=0)
    return {
        "rows": len(records),
        "normal": normal,
        "anomalous": anomalous,
        "machine_off": sum(record.kind == "off" for record in records),
        "anomaly_rate": round(rate, 6),
        "first_timestamp": records[moments.index(min(moments))].timestamp,
        "last_timestamp": records[moments.index(max(moments))].timestamp,
        "max_anomaly_score": max(scores) if scores else None,
        "in_time_order": all(later >= earlier for earlier, later in steps),
        "out_of_order_rows": sum(later < earlier for earlier, later in steps),
        "duplicate_timestamps": sum(later == earlier for earlier, later in steps),
        "event_count": len(events),
        "longest_event_points": longest,
        "events": [events[i] for i in kept],
        "events_truncated": len(kept) < len(events),
        "top_sensors": _ranking(
            [pair for record in records if record.kind == "anomalous" for pair in record.contributions],
            anomalous,
            thresholds.top_sensors,
        ),
        "severity": _severity(rate, anomalous, longest, thresholds),
        "timeline": _timeline(records),
    }


def _timeline(records: list[Record]) -> dict[str, Any]:
    """The contract's timeline the plain way: the first width at which the whole range fits in TIMELINE_BINS bins
    aligned on whole multiples of the width since 1970, then every record put in its bin."""
    epoch = datetime(1970, 1, 1)

    def index(moment: datetime, width: int) -> int:
        since = moment - epoch  # in whole microseconds: exact, before and after 1970
        return ((since.days * 86400 + since.seconds) * 1_000_000 + since.microseconds) // (width * 1_000_000)

    def bound(i: int, width: int) -> str:
        try:
            return (epoch + timedelta(seconds=i * width)).isoformat()
        except OverflowError:
            return (datetime.min if i < 0 else datetime.max).isoformat()

    width = next(
        w for w in (timeline_width(step) for step in itertools.count())
        if max(index(r.moment, w) for r in records) - min(index(r.moment, w) for r in records) < TIMELINE_BINS
    )  # fmt: skip
    bins: dict[int, list[Record]] = {}
    for record in records:
        bins.setdefault(index(record.moment, width), []).append(record)
    rows = []
    for i, members in sorted(bins.items()):
        scores = [r.score for r in members if r.score is not None]
        rows.append(
            {
                "start": bound(i, width),
                "end": bound(i + 1, width),
                "anomalous": sum(r.kind == "anomalous" for r in members),
                "normal": sum(r.kind == "normal" for r in members),
                "machine_off": sum(r.kind == "off" for r in members),
                "max_anomaly_score": max(scores) if scores else None,
                "mean_anomaly_score": round(sum(scores) / len(scores), 6) if scores else None,
            }
        )
    return {"bin_seconds": width, "bins": rows}


def _record(number: int, line: bytes) -> Record:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        raise Refused(number) from None
    if not isinstance(record, dict):
        raise Refused(number)
    timestamp, prediction, score = record.get("timestamp"), record.get("prediction"), record.get("anomaly_score")
    if not isinstance(timestamp, str) or type(prediction) is not int or prediction not in (0, 1):
        raise Refused(number)
    try:
        moment = datetime.fromisoformat(timestamp)
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise Refused(number) from None
    if score is not None and not _finite_number(score):
        raise Refused(number)
    off = record.get("prediction_reason") == MACHINE_OFF
    kind = "off" if off else ("anomalous" if prediction == 1 else "normal")
    contributions = []
    diagnostics = record.get("diagnostics")
    if kind == "anomalous" and diagnostics is not None:
        if not isinstance(diagnostics, list):
            raise Refused(number)
        for entry in diagnostics:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise Refused(number)
            if not _finite_number(entry.get("value")):
                raise Refused(number)
            contributions.append((entry["name"], float(entry["value"])))
    return Record(moment, timestamp, None if score is None else float(score), kind, contributions)


def _finite_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _event(run: list[Record], top: int) -> dict[str, Any]:
    scores = [record.score for record in run if record.score is not None]
    return {
        "start": run[0].timestamp,
        "end": run[-1].timestamp,
        "points": len(run),
        "max_anomaly_score": max(scores) if scores else None,
        "top_sensors": _ranking([pair for record in run for pair in record.contributions], len(run), top),
    }


def _ranking(contributions: list[tuple[str, float]], records: int, top: int) -> list[dict[str, Any]]:
    """Sensors by mean contribution over `records` (absent counts 0); ties by name, descending."""
    if not records:
        return []
    sums: dict[str, float] = {}
    for name, value in contributions:
        sums[name] = sums.get(name, 0.0) + value
    best = sorted(sums.items(), key=lambda item: (item[1], item[0]), reverse=True)[:top]
    return [{"name": name, "mean_contribution": round(total / records, 6)} for name, total in best]


def _severity(rate: float, anomalous: int, longest: int, thresholds: SummaryThresholds) -> str:
    if anomalous == 0:
        return "OK"
    if rate >= thresholds.critical_anomaly_rate or longest >= thresholds.critical_event_points:
        return "CRITICAL"
    if rate >= thresholds.warning_anomaly_rate or longest >= thresholds.warning_event_points:
        return "WARNING"
    return "OK"


# --------------------------------------------------------------------------- running the summariser


class Dribble(io.RawIOBase):
    """A stream that returns fewer bytes than asked, in the given sizes, as a network stream may."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        super().__init__()
        self._data, self._sizes, self._position, self._reads = data, sizes, 0, 0

    def read(self, size: int = -1) -> bytes:
        piece = self._sizes[self._reads % len(self._sizes)]
        self._reads += 1
        end = len(self._data) if size < 0 else self._position + min(size, piece)
        data, self._position = self._data[self._position : end], end
        return data

    def readable(self) -> bool:
        return True


@dataclass(frozen=True)
class StoredFile:
    text: bytes  # what the records are
    data: bytes  # what is stored: gzip of `text`, or `text`
    source: str
    reads: list[int]

    def summarise(self, thresholds: SummaryThresholds) -> DiagnosticsSummary:
        return summarise_stream(Dribble(self.data, self.reads), source=self.source, thresholds=thresholds)


def outcome(summarise: Any) -> dict[str, Any] | tuple[str, int | None]:
    """What the summariser made of a file: the summary's figures, or ("refused", line)."""
    try:
        summary: DiagnosticsSummary = summarise()
    except DiagnosticsFileError as error:
        return ("refused", error.line)
    return summary.model_dump(exclude={"summary_version", "source", "severity_reason"})


def kind_of(result: dict[str, Any] | tuple[str, int | None]) -> str:
    """For --hypothesis-show-statistics: how varied the examples were."""
    if isinstance(result, tuple):
        return "refused" if result[1] is not None else "refused, no records"
    if result["event_count"] == 0:
        return "summarised, no event"
    return "summarised, events truncated" if result["events_truncated"] else "summarised, events"


def expected(text: bytes, thresholds: SummaryThresholds) -> dict[str, Any] | tuple[str, int | None]:
    try:
        return reference(text, thresholds)
    except Refused as refused:
        return ("refused", refused.line)


def assert_sane(summary: DiagnosticsSummary, thresholds: SummaryThresholds) -> None:
    """What any summary must satisfy, whatever the file."""
    assert summary.rows == summary.normal + summary.anomalous + summary.machine_off > 0
    assert 0 <= summary.anomaly_rate <= 1
    assert summary.longest_event_points <= summary.anomalous
    assert summary.event_count <= summary.anomalous
    assert sum(event.points for event in summary.events) <= summary.anomalous
    assert len(summary.events) == min(summary.event_count, thresholds.max_events)
    assert summary.in_time_order == (summary.out_of_order_rows == 0)
    json.loads(summary.model_dump_json())


# --------------------------------------------------------------------------- strategies

KNOWN_FIELDS = {"timestamp", "prediction", "prediction_reason", "anomaly_score", "diagnostics"}
BASE = datetime(2021, 3, 11, 22, 0)
ZONES = ["", "", "", "", "Z", "+00:00", "+01:00", "-05:30"]
REASONS = {0: "NO_ANOMALY_DETECTED", 1: "ANOMALY_DETECTED"}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
sensor_names = st.text(st.sampled_from('ab_\\ äß€°"/\t') | st.characters(codec="utf-8"), max_size=10)
contribution_values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False) | st.integers(-1000, 1000)
scores = st.floats(min_value=0, max_value=1) | st.integers(0, 1)
thresholds = st.builds(
    lambda top, events, rates, points: SummaryThresholds(
        top_sensors=top,
        max_events=events,
        warning_anomaly_rate=min(rates),
        critical_anomaly_rate=max(rates),
        warning_event_points=min(points),
        critical_event_points=max(points),
    ),
    st.integers(1, 4),
    st.integers(1, 4),
    st.tuples(st.floats(0, 1), st.floats(0, 1)),
    st.tuples(st.integers(1, 6), st.integers(1, 6)),
)


@st.composite
def valid_records(draw: st.DrawFn, sensors: list[str], timestamp: str, layout: Random) -> dict[str, Any]:
    """One record as L4E (or SiteWise) may write it, in any field order, now and then with unknown fields."""
    kind = draw(st.sampled_from(["normal", "normal", "anomalous", "anomalous", "off"]))
    record: dict[str, Any] = {"timestamp": timestamp}
    if kind == "off":
        record |= {"prediction": draw(st.sampled_from([0, 0, 1])), "prediction_reason": MACHINE_OFF}
    else:
        prediction = 1 if kind == "anomalous" else 0
        record["prediction"] = prediction
        reason = layout.choice([REASONS[prediction], REASONS[prediction], None, "A_NEWER_REASON"])
        if reason is not None:
            record["prediction_reason"] = reason
    if kind != "off" or layout.random() < 0.2:
        score = draw(st.sampled_from(["number", "number", "number", "absent", "null"]))
        if score != "absent":
            record["anomaly_score"] = draw(scores) if score == "number" else None
        diagnostics = draw(st.sampled_from(["list", "list", "list", "absent", "null"]))
        if diagnostics == "list":
            pairs = draw(st.lists(st.tuples(st.sampled_from(sensors), contribution_values), max_size=5))
            record["diagnostics"] = [{"name": name, "value": value} for name, value in pairs]
        elif diagnostics == "null":
            record["diagnostics"] = None
    if layout.random() < 0.2:
        record |= draw(
            st.dictionaries(st.text(max_size=6).filter(lambda name: name not in KNOWN_FIELDS), json_values, max_size=2)
        )
    fields = list(record.items())
    layout.shuffle(fields)
    return dict(fields)


@st.composite
def timestamps(draw: st.DrawFn, count: int, layout: Random) -> list[str]:
    """Minute stamps, in time order or not, with repeats; now and then with a zone, or without microseconds."""
    minutes = draw(st.lists(st.integers(0, 40), min_size=count, max_size=count))
    if draw(st.booleans()):
        minutes.sort()
    patterns = ["%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S"]
    return [
        (BASE + timedelta(minutes=minute)).strftime(layout.choice(patterns)) + layout.choice(ZONES)
        for minute in minutes
    ]


def as_lines(records: list[Any], layout: Random) -> bytes:
    """Records as JSON Lines, with any of the layouts docs/contracts.md promises to read as intended."""
    ending = layout.choice([b"\n", b"\r\n"])
    ascii_only = layout.random() < 0.5
    separators = layout.choice([(",", ":"), (", ", ": ")])
    lines = []
    for record in records:
        if layout.random() < 0.2:  # a blank line
            lines.append(layout.choice([b"", b" ", b"\t", b"\r"]))
        indent = layout.choice([b"", b"", b"", b" ", b"\t"])
        lines.append(indent + json.dumps(record, ensure_ascii=ascii_only, separators=separators).encode())
    text = ending.join(lines)
    return text + ending if layout.random() < 0.5 else text


@st.composite
def valid_texts(draw: st.DrawFn, max_records: int = 16) -> bytes:
    # Layout details (field order, blank lines, indents, zones) come from one seeded Random: cheap to draw.
    layout = draw(st.randoms(use_true_random=False))
    sensors = draw(st.lists(sensor_names, min_size=1, max_size=6, unique=True))
    count = draw(st.integers(0, max_records))
    records = [draw(valid_records(sensors, stamp, layout)) for stamp in draw(timestamps(count, layout))]
    return as_lines(records, layout)


@st.composite
def stored(draw: st.DrawFn, texts: st.SearchStrategy[bytes]) -> StoredFile:
    """A text stored gzipped (now and then in two gzip members) or as plain JSON Lines, read in dribbles."""
    text = draw(texts)
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(text))) if draw(st.integers(0, 4)) == 0 else len(text)
        data = b"".join(gzip.compress(part, mtime=0) for part in (text[:cut], text[cut:]) if part) or gzip.compress(b"")
        source = "pump-7/model_diagnostics_results.json.gz"
    else:
        data, source = text, draw(st.sampled_from(["results.jsonl", "pump-7/diagnostics.json", "-"]))
    return StoredFile(text, data, source, draw(st.lists(st.integers(1, 64), min_size=1, max_size=4)))


def odd_timestamps() -> st.SearchStrategy[Any]:
    """ISO 8601 stamps of any date, zoned or not (the calendar's ends too), other layouts, and non-stamps."""
    zones = st.none() | st.builds(
        timezone, st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59))
    )
    moments = st.sampled_from([datetime.min, datetime.max]) | st.datetimes()
    return (
        st.builds(lambda moment, zone: moment.replace(tzinfo=zone).isoformat(), moments, zones)
        | st.sampled_from(["2021-03-11", "2021-03-11T22:25", "20210311T222500", "yesterday", ""])
        | json_values
    )


ODD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "timestamp": odd_timestamps(),
    "prediction": st.sampled_from([0.0, 1.0, True, False, 2, -1, "1", None]),
    "prediction_reason": st.sampled_from(["MACHINE_ON", "machine_off", None]),
    "anomaly_score": st.sampled_from([True, "0.5", [0.5], 1e308, -1, None]),
    "diagnostics": st.lists(st.dictionaries(st.sampled_from(["name", "value"]), json_values) | json_values, max_size=3),
}


@st.composite
def odd_records(draw: st.DrawFn) -> Any:
    """A record with none, one or two fields spoilt (absent, odd, or anything JSON can hold), or no object."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    prediction = draw(st.sampled_from([0, 1]))
    record = {
        "timestamp": draw(st.sampled_from(["2021-03-11T22:25:00.000000", "2021-03-11T22:20:00", "2021-03-11T23:00Z"])),
        "prediction": prediction,
        "prediction_reason": draw(st.sampled_from([REASONS[prediction], MACHINE_OFF])),
        "anomaly_score": draw(scores),
        "diagnostics": draw(
            st.lists(st.fixed_dictionaries({"name": sensor_names, "value": contribution_values}), max_size=3)
        ),
    }
    for name in draw(st.lists(st.sampled_from(sorted(ODD_VALUES)), max_size=2, unique=True)):
        spoilt = draw(st.sampled_from(["absent", "odd", "odd", "anything"]))
        if spoilt == "absent":
            del record[name]
        else:
            record[name] = draw(ODD_VALUES[name] if spoilt == "odd" else json_values)
    return record


MUTATIONS = st.sampled_from(
    [
        *(b"", b"{", b"}", b"[", b"]", b'"', b",", b":", b"\\", b"0", b"-", b" ", b"\n", b"\r"),  # JSON's syntax
        *(b"1e999", b"NaN", b"Infinity", b"true", b"null", b'"timestamp":"x",', b'"prediction":1,'),  # values, names
        *(
            b"\\ud800",
            b"1e400",
            b"[[",
            b"}{",
            b"},{",
            b'"x":{"y":[1]},',
            b"\t",
            "\u2028".encode(),
        ),  # escapes, nesting, two
        *(b"\x00", b"\xff", b"\xc3", b"\xed\xa0\x80"),  # a NUL, bytes that are not UTF-8, a surrogate's
    ]
)


@st.composite
def mutated_texts(draw: st.DrawFn) -> bytes:
    """A valid file with a few bytes of one of its lines deleted, replaced or inserted."""
    lines = draw(valid_texts(max_records=6)).split(b"\n")
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(lines) - 1))
        line = lines[index]
        start = draw(st.integers(0, len(line)))
        end = start + draw(st.integers(0, 4))
        lines[index] = line[:start] + draw(MUTATIONS) + line[end:]
    return b"\n".join(lines)


# --------------------------------------------------------------------------- properties


@given(stored(valid_texts()), thresholds)
def test_a_valid_file_gives_the_summary_the_reference_computes(file: StoredFile, judged_by: SummaryThresholds) -> None:
    note(file.text.decode(errors="replace"))
    result = outcome(lambda: file.summarise(judged_by))
    event(kind_of(result))
    assert result == expected(file.text, judged_by)


@given(
    stored(st.lists(odd_records(), max_size=8).map(lambda records: b"\n".join(json.dumps(r).encode() for r in records)))
)
def test_wrong_types_are_refused_on_the_line_the_reference_names_or_summarised_alike(file: StoredFile) -> None:
    note(file.text.decode(errors="replace"))
    judged_by = SummaryThresholds()
    result = outcome(lambda: file.summarise(judged_by))
    event(kind_of(result))
    assert result == expected(file.text, judged_by)


@given(stored(mutated_texts()))
def test_a_mutated_line_gives_a_summary_or_a_typed_error(file: StoredFile) -> None:
    note(repr(file.text))
    judged_by = SummaryThresholds(max_events=3)
    try:
        summary = file.summarise(judged_by)
    except DiagnosticsFileError as error:
        assert error.reason
        return
    assert_sane(summary, judged_by)


@given(mutated_texts(), st.booleans())
def test_the_fast_paths_and_the_exact_path_agree(text: bytes, gzipped: bool) -> None:
    # Three paths read a line: a block of lines decoded in one call (msgspec), a line at a time (simdjson), and
    # the exact path (orjson, every field checked), which words every refusal. Each falls back on the next:
    # with the faster ones taken away, whatever the lines hold, the outcome must not change, refusals included.
    # Indenting every line changes nothing either.
    indented = b"\n".join(b" " + line if line.strip() else line for line in text.split(b"\n"))
    codecs = summary_module._codecs()

    def reason(data: bytes, paths: dict[str, Any]) -> dict[str, Any] | tuple[str, int | None, str]:
        stored_data = gzip.compress(data, mtime=0) if gzipped else data
        with patch.object(summary_module, "_codecs", lambda: codecs._replace(**paths)):
            try:
                summary = summarise_stream(io.BytesIO(stored_data), source="f.jsonl", thresholds=SummaryThresholds())
            except DiagnosticsFileError as error:
                return ("refused", error.line, error.reason.split(": line ")[0])
        return summary.model_dump(exclude={"source"})

    note(repr(text))
    by_blocks = reason(text, {})
    assert reason(text, {"batch": None}) == by_blocks
    assert reason(text, {"batch": None, "lazy_parser": None}) == by_blocks
    assert reason(indented, {}) == by_blocks


@given(
    st.binary(max_size=600),
    st.sampled_from([b"", GZIP_MAGIC, GZIP_MAGIC + b"\x08\x00"]),
    st.sampled_from(["f.json.gz", "f.jsonl"]),
)
def test_any_bytes_give_a_summary_or_a_typed_error(noise: bytes, head: bytes, source: str) -> None:
    judged_by = SummaryThresholds()
    try:
        summary = summarise_stream(io.BytesIO(head + noise), source=source, thresholds=judged_by)
    except DiagnosticsFileError as error:
        assert error.reason
        return
    assert_sane(summary, judged_by)


@given(valid_texts(max_records=6), st.data())
def test_a_gzip_file_cut_short_anywhere_is_refused_never_half_summarised(text: bytes, data: st.DataObject) -> None:
    stored_data = gzip.compress(text, mtime=0)
    cut = data.draw(st.integers(0, len(stored_data) - 1), label="cut")
    try:
        summarise_stream(io.BytesIO(stored_data[:cut]), source="f.json.gz", thresholds=SummaryThresholds())
    except DiagnosticsFileError as error:
        assert error.reason
    else:
        raise AssertionError(f"a gzip file cut at byte {cut} of {len(stored_data)} was summarised")


@given(valid_texts(max_records=6), st.lists(st.tuples(st.integers(0), st.integers(0, 255)), min_size=1, max_size=4))
def test_corrupt_gzip_bytes_give_a_summary_or_a_typed_error(text: bytes, changes: list[tuple[int, int]]) -> None:
    corrupt = bytearray(gzip.compress(text, mtime=0))
    for position, value in changes:
        corrupt[position % len(corrupt)] = value
    judged_by = SummaryThresholds()
    try:
        summary = summarise_stream(io.BytesIO(bytes(corrupt)), source="f.json.gz", thresholds=judged_by)
    except DiagnosticsFileError as error:
        assert error.reason
        return
    assert_sane(summary, judged_by)


@st.composite
def spread_texts(draw: st.DrawFn) -> bytes:
    """Normal, anomalous and machine-off records at moments from year 50 to 9950, a few or many seconds
    apart, in any order: every width of the timeline, and its merging, is reached."""
    span = draw(st.sampled_from([10, 600, 86_400, 30 * 86_400, 3_000 * 86_400, 200_000 * 86_400]))
    centre = draw(st.datetimes(min_value=datetime(600, 1, 1), max_value=datetime(9400, 1, 1)))
    offsets = draw(st.lists(st.floats(-span, span, allow_nan=False), min_size=1, max_size=60))
    records = []
    for offset in offsets:
        kind = draw(st.sampled_from(["normal", "anomalous", "off"]))
        record: dict[str, Any] = {
            "timestamp": (centre + timedelta(seconds=offset)).isoformat(),
            "prediction": 1 if kind == "anomalous" else 0,
        }
        if kind == "off":
            record["prediction_reason"] = MACHINE_OFF
        if draw(st.booleans()):
            record["anomaly_score"] = draw(st.floats(0, 1))
        records.append(json.dumps(record).encode())
    return b"\n".join(records)


@st.composite
def dense_texts(draw: st.DrawFn) -> bytes:
    """Records at a steady pace (1 s to 15 min apart) from an unaligned moment, hundreds of them: the range
    crosses the bins' count one record at a time, in order, as real files do."""
    start = draw(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 1, 1)))
    step = timedelta(seconds=draw(st.sampled_from([1, 3, 60, 300, 900])))
    count = draw(st.integers(100, 600))
    return b"\n".join(
        json.dumps({"timestamp": (start + i * step).isoformat(), "prediction": i % 3 == 0}).replace("true", "1")
        .replace("false", "0").encode()
        for i in range(count)
    )  # fmt: skip


@given(st.one_of(spread_texts(), dense_texts()), st.randoms(use_true_random=False))
def test_the_timeline_is_the_references_in_any_order_and_never_more_than_its_bins(text: bytes, order: Any) -> None:
    lines = text.split(b"\n")
    shuffled = b"\n".join(order.sample(lines, len(lines)))
    thresholds = SummaryThresholds()
    timelines = [
        summarise_stream(io.BytesIO(t), source="f.jsonl", thresholds=thresholds).timeline for t in (text, shuffled)
    ]
    expected_timeline = reference(text, thresholds)["timeline"]
    for timeline in timelines:
        # (a mean's sum depends on the order it is added in: equal to its sixth decimal, give or take one)
        assert timeline is not None and _without_means(timeline.model_dump()) == _without_means(expected_timeline)
        for got, want in zip(timeline.bins, expected_timeline["bins"], strict=True):
            assert (got.mean_anomaly_score is None) == (want["mean_anomaly_score"] is None)
            assert math.isclose(got.mean_anomaly_score or 0, want["mean_anomaly_score"] or 0, abs_tol=1.5e-6)
    assert timelines[0] is not None and len(timelines[0].bins) <= TIMELINE_BINS
    assert sum(b.normal + b.anomalous + b.machine_off for b in timelines[0].bins) == len(lines)  # each record once
    event(f"bin width {timelines[0].bin_seconds} s")


def _without_means(timeline: dict[str, Any]) -> dict[str, Any]:
    return timeline | {"bins": [{**b, "mean_anomaly_score": None} for b in timeline["bins"]]}


# --------------------------------------------------------------------------- a summary of parts, merged


def _parts_summary(text: bytes, cuts: list[int], grouping: str, thresholds: SummaryThresholds) -> dict[str, Any]:
    """The file's lines cut into parts, each folded into an aggregate of its own, merged: left to right, or the
    last two parts first (associativity)."""
    from lookout_diagnostics.domain.summary import _Aggregate

    lines = text.split(b"\n")
    bounds = [0, *sorted(set(cut % (len(lines) + 1) for cut in cuts)), len(lines)]
    parts = []
    for number, (start, end) in enumerate(itertools.pairwise(bounds)):
        part = _Aggregate(thresholds, first_part=number == 0)
        part.add_lines(lines[start:end], start)
        parts.append(part)
    if grouping == "right" and len(parts) >= 3:
        parts[-2].absorb(parts[-1])
        parts.pop()
    merged = parts[0]
    for part in parts[1:]:
        merged.absorb(part)
    return merged.summary("whole").model_dump(exclude={"summary_version", "source", "severity_reason"})


def _close(a: Any, b: Any) -> bool:
    """Equal, floats to 9 significant digits (a sum's last bits depend on the order it was added in)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@given(
    st.one_of(valid_texts(), dense_texts()),
    st.lists(st.integers(0, 10_000), max_size=5),
    st.sampled_from(["left", "right"]),
    thresholds,
)
def test_summarising_any_split_of_a_file_and_merging_the_parts_equals_summarising_it_whole(
    text: bytes, cuts: list[int], grouping: str, judged_by: SummaryThresholds
) -> None:
    note(text.decode(errors="replace"))
    whole = outcome(lambda: summarise_stream(io.BytesIO(text), source="f.jsonl", thresholds=judged_by))
    if isinstance(whole, tuple):  # no records: nothing to merge
        return
    merged = _parts_summary(text, cuts, grouping, judged_by)
    event(f"{len(set(cuts)) + 1} parts, {whole['event_count']} events")
    assert _close(merged, whole)
