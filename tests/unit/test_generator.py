"""The diagnostics file generator: L4E's format, a truthful ground truth, determinism, flat memory.

The file is read back with the standard library only (gzip + json), independently of the generator's
fast paths (isal, orjson).
"""

from __future__ import annotations

import gzip
import io
import json
import re
import sys
import tracemalloc
from datetime import datetime, timedelta, timezone
from itertools import groupby
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from local.generator import GeneratorSpec, GroundTruth, PlantedEpisode, main, write_diagnostics_file

TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}")
SENSOR_NAME = re.compile(r"component_[0-9a-f]{8}\\[^\\]+")
SMALL = GeneratorSpec(
    rows=3_000,
    sensors=8,
    components=3,
    episodes=4,
    episode_points=(5, 40),
    machine_off_stretches=3,
    machine_off_points=(20, 200),
    seed=7,
)


class _Discard(io.RawIOBase):
    """A raw stream that forgets what it is given."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return memoryview(data).nbytes


def discard() -> io.BufferedWriter:
    """A binary stream that forgets what it is given."""
    return io.BufferedWriter(_Discard())


def read_records(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def recount(records: list[dict[str, Any]]) -> dict[str, int]:
    reasons = [record["prediction_reason"] for record in records]
    return {
        "rows": len(records),
        "normal": reasons.count("NO_ANOMALY_DETECTED"),
        "anomalous": reasons.count("ANOMALY_DETECTED"),
        "machine_off": reasons.count("MACHINE_OFF"),
    }


def anomalous_runs(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The maximal runs of consecutive rows with prediction 1."""
    return [list(run) for anomalous, run in groupby(records, key=lambda r: r["prediction"] == 1) if anomalous]


def episode_seen_in(run: list[dict[str, Any]], dominant_count: int) -> PlantedEpisode:
    totals: dict[str, float] = {}
    for record in run:
        for entry in record["diagnostics"]:
            totals[entry["name"]] = totals.get(entry["name"], 0.0) + entry["value"]
    return PlantedEpisode(
        start=run[0]["timestamp"],
        end=run[-1]["timestamp"],
        points=len(run),
        max_anomaly_score=max(record["anomaly_score"] for record in run),
        dominant_sensors=tuple(sorted(totals, key=totals.__getitem__, reverse=True)[:dominant_count]),
    )


def test_the_file_is_gzipped_json_lines_with_the_documented_fields_and_types(tmp_path: Path) -> None:
    # Given a small spec with every kind of row
    path = tmp_path / "model_diagnostics_results.json.gz"

    # When the file is written and read back line by line
    truth = write_diagnostics_file(path, SMALL)
    records = read_records(path)

    # Then every row has L4E's fields, types and value ranges, on a regular time axis
    step = timedelta(seconds=SMALL.interval_seconds)
    for index, record in enumerate(records):
        assert TIMESTAMP.fullmatch(record["timestamp"])
        assert datetime.fromisoformat(record["timestamp"]) == SMALL.start + index * step
        assert type(record["prediction"]) is int
        if record["prediction_reason"] == "MACHINE_OFF":
            assert record == {"timestamp": record["timestamp"], "prediction": 0, "prediction_reason": "MACHINE_OFF"}
            continue
        assert set(record) == {"timestamp", "prediction", "prediction_reason", "anomaly_score", "diagnostics"}
        score = record["anomaly_score"]
        assert type(score) is float
        if record["prediction_reason"] == "ANOMALY_DETECTED":
            assert record["prediction"] == 1
            assert 0.5 < score <= 1.0
        else:
            assert (record["prediction"], record["prediction_reason"]) == (0, "NO_ANOMALY_DETECTED")
            assert 0.0 <= score < 0.5
        assert [entry["name"] for entry in record["diagnostics"]] == list(truth.sensors)
        assert all(set(entry) == {"name", "value"} for entry in record["diagnostics"])
        assert all(type(entry["value"]) is float and entry["value"] > 0 for entry in record["diagnostics"])
        assert sum(entry["value"] for entry in record["diagnostics"]) == pytest.approx(1.0, abs=1e-9)


def test_the_ground_truth_counts_match_a_recount_of_the_file(tmp_path: Path) -> None:
    # Given a file written from the small spec
    path = tmp_path / "diagnostics.json.gz"
    truth = write_diagnostics_file(path, SMALL)

    # When its rows are counted again from the file
    records = read_records(path)

    # Then the counts, the first and last timestamps and the size all agree with the ground truth
    assert recount(records) == truth.model_dump(include={"rows", "normal", "anomalous", "machine_off"})
    assert truth.rows == SMALL.rows
    assert truth.machine_off > 0 and truth.anomalous > 0
    assert (truth.first_timestamp, truth.last_timestamp) == (records[0]["timestamp"], records[-1]["timestamp"])
    assert truth.uncompressed_bytes == len(gzip.decompress(path.read_bytes()))


@pytest.mark.parametrize(
    ("sensors", "components", "seed"),
    [(1, 1, 1), (2, 1, 2), (3, 2, 3), (8, 3, 4), (30, 6, 5), (100, 10, 6)],
)
def test_planted_episodes_are_the_maximal_anomalous_runs_of_the_file(
    tmp_path: Path, sensors: int, components: int, seed: int
) -> None:
    # Given a spec with several episodes (from one sensor, where every sensor dominates, to many)
    spec = SMALL.model_copy(update={"sensors": sensors, "components": components, "seed": seed})
    path = tmp_path / "diagnostics.json.gz"

    # When the file is written and its runs of prediction 1 are found
    truth = write_diagnostics_file(path, spec)
    runs = anomalous_runs(read_records(path))

    # Then each run is one planted episode, with its span, score and dominant sensors in order
    assert len(truth.episodes) == spec.episodes
    assert [
        episode_seen_in(run, len(planted.dominant_sensors)) for run, planted in zip(runs, truth.episodes, strict=True)
    ] == list(truth.episodes)
    # ... and the dominant sensors lead, in that order, in every single row of their episode
    for run, planted in zip(runs, truth.episodes, strict=True):
        assert 1 <= len(planted.dominant_sensors) <= 3
        for record in run:
            ranked = sorted(record["diagnostics"], key=lambda entry: entry["value"], reverse=True)
            leaders = tuple(entry["name"] for entry in ranked[: len(planted.dominant_sensors)])
            assert leaders == planted.dominant_sensors


def test_the_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    # Given two specs that differ only by seed
    other_seed = SMALL.model_copy(update={"seed": SMALL.seed + 1})

    # When the first is written twice, under different names, and the second once
    write_diagnostics_file(tmp_path / "a.json.gz", SMALL)
    write_diagnostics_file(tmp_path / "b.json.gz", SMALL)
    write_diagnostics_file(tmp_path / "c.json.gz", other_seed)

    # Then the first two are the same bytes (no name or time in the gzip header) and the third differs
    first = (tmp_path / "a.json.gz").read_bytes()
    assert first == (tmp_path / "b.json.gz").read_bytes()
    assert first != (tmp_path / "c.json.gz").read_bytes()
    flags, mtime = first[3], int.from_bytes(first[4:8], "little")
    assert (flags & 0x08, mtime) == (0, 0)  # FNAME unset, MTIME zero: rewriting later changes nothing


def test_without_orjson_and_isal_the_standard_library_writes_the_same_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a file written with the fast libraries
    fast = write_diagnostics_file(tmp_path / "fast.json.gz", SMALL)

    # When neither orjson nor isal can be imported
    for module in ("orjson", "isal", "isal.igzip"):
        monkeypatch.setitem(sys.modules, module, None)
    slow = write_diagnostics_file(tmp_path / "slow.json.gz", SMALL)

    # Then the same records are written (float spelling aside), with the same ground truth
    assert read_records(tmp_path / "slow.json.gz") == read_records(tmp_path / "fast.json.gz")
    assert slow.model_dump(exclude={"uncompressed_bytes"}) == fast.model_dump(exclude={"uncompressed_bytes"})


def test_a_binary_stream_receives_the_same_bytes_and_is_left_open(tmp_path: Path) -> None:
    # Given an in-memory binary stream
    stream = io.BytesIO()

    # When the file is written to it and, for comparison, to a path
    from_stream = write_diagnostics_file(stream, SMALL)
    from_path = write_diagnostics_file(tmp_path / "diagnostics.json.gz", SMALL)

    # Then the caller can still use the stream, and it holds the very same file
    assert not stream.closed
    assert stream.getvalue() == (tmp_path / "diagnostics.json.gz").read_bytes()
    assert from_stream == from_path


def test_sensor_names_are_component_backslash_sensor(tmp_path: Path) -> None:
    # Given a file of the demo spec
    path = tmp_path / "diagnostics.json.gz"

    # When it is written
    truth = write_diagnostics_file(path, GeneratorSpec())

    # Then every name is component_<8 hex>\<sensor>, distinct, and JSON escapes the backslash
    assert len(set(truth.sensors)) == len(truth.sensors) == 12
    assert all(SENSOR_NAME.fullmatch(name) for name in truth.sensors)
    assert len({name.split("\\")[0] for name in truth.sensors}) == 4
    first_line = gzip.decompress(path.read_bytes()).split(b"\n", 1)[0].decode()
    assert json.dumps(truth.sensors[0]) in first_line
    assert "\\\\" in json.dumps(truth.sensors[0])


@pytest.mark.parametrize("non_ascii", [False, True])
def test_sensor_names_stay_distinct_beyond_the_vocabulary(non_ascii: bool) -> None:
    # Given one component with far more sensors than there are sensor words
    spec = GeneratorSpec(rows=10, sensors=100, components=1, episodes=0, machine_off_stretches=0, non_ascii=non_ascii)

    # When a file is written
    truth = write_diagnostics_file(discard(), spec)

    # Then no two sensors share a name
    assert len(set(truth.sensors)) == 100


def test_non_ascii_sensor_names_round_trip(tmp_path: Path) -> None:
    # Given a spec asking for non-ASCII sensor names
    spec = SMALL.model_copy(update={"non_ascii": True, "sensors": 30, "components": 5})
    path = tmp_path / "diagnostics.json.gz"

    # When the file is written and read back
    truth = write_diagnostics_file(path, spec)
    records = read_records(path)

    # Then the names read back are exactly the planted ones, several of them non-ASCII
    assert sum(not name.isascii() for name in truth.sensors) >= 10
    assert all(SENSOR_NAME.fullmatch(name) for name in truth.sensors)
    diagnosed = next(record for record in records if "diagnostics" in record)
    assert tuple(entry["name"] for entry in diagnosed["diagnostics"]) == truth.sensors
    assert {name for episode in truth.episodes for name in episode.dominant_sensors} <= set(truth.sensors)


def test_memory_stays_flat_while_writing_300k_rows() -> None:
    # Given a spec of 300,000 rows (about 140 MB uncompressed) and a stream that discards its input
    spec = GeneratorSpec(rows=300_000, sensors=4, components=2, seed=3)

    # When the file is written with Python's allocations traced
    tracemalloc.start()
    try:
        truth = write_diagnostics_file(discard(), spec)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Then all rows were written while the peak stayed within a few MB
    assert truth.rows == 300_000
    assert truth.uncompressed_bytes > 100_000_000
    assert peak < 4_000_000


def test_an_aware_start_becomes_a_naive_utc_time_axis() -> None:
    # Given a start in UTC+2
    start = datetime(2021, 3, 12, 0, 25, tzinfo=timezone(timedelta(hours=2)))
    spec = GeneratorSpec(rows=100, episodes=0, machine_off_stretches=0, start=start)

    # When the file is written
    truth = write_diagnostics_file(discard(), spec)

    # Then the timestamps are the UTC instants, in L4E's zone-less format
    assert truth.first_timestamp == "2021-03-11T22:25:00.000000"
    assert truth.last_timestamp == "2021-03-12T00:04:00.000000"


@pytest.mark.parametrize(
    "bad",
    [
        {"rows": 100, "episodes": 3, "episode_points": (10, 40)},
        {"sensors": 2, "components": 3},
        {"episode_points": (50, 10)},
    ],
)
def test_specs_that_cannot_be_planted_are_rejected(bad: dict[str, Any]) -> None:
    # Given a spec that cannot be generated (too few rows, components without sensors, an empty range)
    # When it is built
    # Then it is refused before anything is written
    with pytest.raises(ValidationError):
        GeneratorSpec(**bad)


def test_the_command_line_writes_a_file_and_prints_its_ground_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an output path and command-line overrides of the demo preset
    path = tmp_path / "out.json.gz"

    # When the command runs
    status = main([str(path), "--rows", "5000", "--sensors", "6", "--components", "2", "--seed", "11"])

    # Then it prints the ground truth of the file it wrote, and its throughput
    printed = capsys.readouterr()
    truth = GroundTruth.model_validate_json(printed.out)
    assert status == 0
    assert recount(read_records(path)) == truth.model_dump(include={"rows", "normal", "anomalous", "machine_off"})
    assert (truth.rows, len(truth.sensors)) == (5000, 6)
    assert "rows/s" in printed.err
