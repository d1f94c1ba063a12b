"""The benchmark's DuckDB peer gives the project's answers: counts, top sensors, events and their sensors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from local.benchmark import cached_file, spec_for
from local.generator import GeneratorSpec
from local.peers import PeerAnswers, answers_of, summarise_duckdb
from lookout_diagnostics.domain.summary import summarise_stream
from lookout_diagnostics.settings import SummaryThresholds

SMALL = GeneratorSpec(
    rows=3_000,
    sensors=8,
    components=2,
    episodes=6,
    episode_points=(5, 40),
    machine_off_stretches=2,
    machine_off_points=(10, 60),
    non_ascii=True,
)
DEFAULTS = SummaryThresholds()
FEW = SummaryThresholds(top_sensors=3, max_events=4)


def project_answers(path: Path, thresholds: SummaryThresholds) -> PeerAnswers:
    with path.open("rb") as raw:
        return answers_of(summarise_stream(raw, source=path.name, thresholds=thresholds))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("peers")
    return {
        "small": cached_file(SMALL, directory)[0],
        # About 88% of the rows anomalous, in 40 events of 200-240 points, many of the same length.
        "worst case": cached_file(spec_for(10_000, 30, worst_case=True), directory)[0],
    }


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("thresholds", [DEFAULTS, FEW], ids=["defaults", "few"])
@pytest.mark.parametrize("name", ["small", "worst case"])
def test_duckdb_gives_the_projects_answers_on_generated_files(
    generated: dict[str, Path], name: str, thresholds: SummaryThresholds, threads: int
) -> None:
    # Given a generated diagnostics file (non-ASCII sensor names, or nearly every row anomalous)
    path = generated[name]
    # When DuckDB and the project summarise it
    peer = summarise_duckdb(path, threads=threads, thresholds=thresholds)
    project = project_answers(path, thresholds)
    # Then the answers are the same, events and their sensors included
    assert peer == project
    assert all(event.top_sensors for event in peer.events)
    if thresholds is FEW:  # more events than are kept: which ones are kept is compared too
        assert peer.event_count > len(peer.events)


def record(
    minute: int,
    prediction: int,
    score: float | None = None,
    diagnostics: list[tuple[str, float]] | None = None,
    reason: str | None = None,
) -> str:
    line: dict[str, Any] = {
        "timestamp": f"2021-03-11T22:{minute:02d}:00.000000",
        "prediction": prediction,
        "prediction_reason": reason or ("ANOMALY_DETECTED" if prediction else "NO_ANOMALY_DETECTED"),
    }
    if score is not None:
        line["anomaly_score"] = score
    if diagnostics is not None:
        line["diagnostics"] = [{"name": name, "value": value} for name, value in diagnostics]
    return json.dumps(line, ensure_ascii=minute % 2 == 0)  # non-ASCII names escaped and as UTF-8


OFF = "MACHINE_OFF"
LINES = [
    # Event A, at the very start: a whole-number value, a name twice in one record, a record without a score;
    # b and c tie, in the event and over the file, where the top two end (the greater name stays)
    record(0, 1, 0.9, [("a", 1), ("b", 4.0)]),
    record(1, 1, None, [("a", 3.0), ("a", 0.5), ("c", 4)]),
    record(2, 1, 0.2, [("a", 9.0)], reason=OFF),  # machine off, though predicted anomalous: A ends
    record(3, 0, 0.1),
    "",
    record(4, 0, reason=OFF),
    record(5, 1),  # event B: one point, no score, no diagnostics
    record(6, 0, 0.05, [("a", 100.0)]),
    # Event C: a whole-number score, the highest; its two sensors tie (the greater name first)
    record(7, 1, 1, [("x", 1.0), ("y", 1.0)]),
    record(8, 1, 0.6, [("x", 2.0), ("y", 2.0)]),
    record(9, 0, 0.3, reason=OFF),
    # Event D, at the very end: as long as A, with A's max score; three non-ASCII names tie for the top two
    record(10, 1, 0.9, [("é", 0.25), ("z", 0.25), ("軸", 0.25)]),
    record(11, 1, 0.8, [("z", 0.25), ("軸", 0.25), ("é", 0.25)]),
]


@pytest.mark.parametrize("suffix", [".json.gz", ".jsonl"])
@pytest.mark.parametrize(
    ("max_events", "kept"),
    [
        (50, [("00", "01"), ("05", "05"), ("07", "08"), ("10", "11")]),
        (3, [("00", "01"), ("07", "08"), ("10", "11")]),  # the shortest goes
        (2, [("00", "01"), ("07", "08")]),  # of A and D (same points, same score), the earlier stays
        (1, [("07", "08")]),  # the highest score
    ],
)
def test_duckdb_gives_the_projects_answers_on_events_at_both_ends(
    tmp_path: Path, suffix: str, max_events: int, kept: list[tuple[str, str]]
) -> None:
    # Given a hand-written file whose first and last records are anomalous, machine-off records between events
    path = tmp_path / f"diagnostics{suffix}"
    text = ("\n".join(LINES) + "\n").encode()
    path.write_bytes(gzip.compress(text) if suffix.endswith(".gz") else text)
    thresholds = SummaryThresholds(top_sensors=2, max_events=max_events)
    # When DuckDB and the project summarise it
    peer = summarise_duckdb(path, threads=2, thresholds=thresholds)
    # Then the answers are the same
    assert peer == project_answers(path, thresholds)
    # And they are the file's
    assert (peer.rows, peer.normal, peer.anomalous, peer.machine_off) == (12, 2, 7, 3)
    assert (peer.max_anomaly_score, peer.event_count, peer.longest_event_points) == (1.0, 4, 2)
    assert peer.top_sensors == [("a", round(4.5 / 7, 6)), ("c", round(4 / 7, 6))]
    stamp = "2021-03-11T22:{}:00.000000".format
    assert [(event.start, event.end) for event in peer.events] == [(stamp(s), stamp(e)) for s, e in kept]
    by_start = {event.start: event for event in peer.events}
    if stamp("05") in by_start:
        assert by_start[stamp("05")].max_anomaly_score is None
        assert by_start[stamp("05")].top_sensors == []
    if stamp("00") in by_start:
        assert by_start[stamp("00")].top_sensors == [("a", 2.25), ("c", 2.0)]
    if stamp("07") in by_start:
        assert by_start[stamp("07")].top_sensors == [("y", 1.5), ("x", 1.5)]
    if stamp("10") in by_start:
        assert by_start[stamp("10")].top_sensors == [("軸", 0.25), ("é", 0.25)]
