"""A benchmark peer: the same answers as the project's summariser, computed with DuckDB SQL.

    python -m local.peers FILE [--threads N]

`summarise_duckdb` reads a gzipped (or plain) JSON Lines diagnostics file with DuckDB's JSON reader and
answers, in SQL, what `lookout_diagnostics.domain.summary.summarise_stream` answers: the counts and the
maximum score, the top sensors (UNNEST of the diagnostics), the events (gaps and islands) and each kept
event's top sensors. `answers_of` maps the project's summary onto the same model, so the two compare
with `==`. DuckDB is a benchmark-only dependency: it is imported inside the function, never from src/.

The peer answers for valid files only: it does not check records as the project does (a `prediction`
of 2, a non-ISO `timestamp` or a diagnostics entry without a name is an error there, not here).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from lookout_diagnostics.domain.summary import DiagnosticsSummary, SensorContribution, summarise_stream
from lookout_diagnostics.settings import SummaryThresholds

# Typed explicitly: sampling would make `timestamp` a TIMESTAMP (its text is an answer, kept as written)
# and could type `anomaly_score` BIGINT from a sample of whole numbers.
COLUMNS = (
    "{'timestamp': 'VARCHAR', 'prediction': 'BIGINT', 'prediction_reason': 'VARCHAR', "
    "'anomaly_score': 'DOUBLE', 'diagnostics': 'STRUCT(name VARCHAR, value DOUBLE)[]'}"
)

# Each record's class, and its diagnostics where it is anomalous (the only ones read). With
# preserve_insertion_order the table is filled in the reader's order (a "Batch Create Table As"):
# its rowid is the record's place in the file, which the events need.
LOAD_RECORDS = f"""
CREATE TEMP TABLE records AS
SELECT
    timestamp,
    anomaly_score,
    CASE
        WHEN prediction_reason = 'MACHINE_OFF' THEN 'machine_off'
        WHEN prediction = 0 THEN 'normal'
        ELSE 'anomalous'
    END AS class,
    CASE WHEN prediction_reason IS DISTINCT FROM 'MACHINE_OFF' AND prediction = 1 THEN diagnostics END AS diagnostics
FROM read_json($path, format = 'newline_delimited', compression = 'auto', columns = {COLUMNS})
"""

COUNTS = """
SELECT
    count(*) AS rows,
    count(*) FILTER (WHERE class = 'normal') AS normal,
    count(*) FILTER (WHERE class = 'anomalous') AS anomalous,
    count(*) FILTER (WHERE class = 'machine_off') AS machine_off,
    max(anomaly_score) AS max_anomaly_score
FROM records
"""

# Gaps and islands: among the anomalous records, a run of consecutive places in the file has a constant
# place minus rank. Any other record between two anomalous ones breaks the run.
LOAD_ANOMALOUS = """
CREATE TEMP TABLE anomalous AS
SELECT
    rowid AS n,
    rowid - row_number() OVER (ORDER BY rowid) AS island,
    timestamp,
    anomaly_score,
    diagnostics
FROM records
WHERE class = 'anomalous'
"""

LOAD_EVENTS = """
CREATE TEMP TABLE events AS
SELECT
    island,
    min(n) AS first_n,
    count(*) AS points,
    arg_min(timestamp, n) AS start,
    arg_max(timestamp, n) AS "end",
    max(anomaly_score) AS max_anomaly_score
FROM anomalous
GROUP BY island
"""

EVENT_TOTALS = """
SELECT count(*) AS event_count, coalesce(max(points), 0) AS longest_event_points FROM events
"""

# The most severe events: most points, then highest score (none counts as 0), then the earliest.
LOAD_KEPT = """
CREATE TEMP TABLE kept AS
SELECT *
FROM events
ORDER BY points DESC, coalesce(max_anomaly_score, 0.0) DESC, first_n
LIMIT $max_events
"""

KEPT_EVENTS = """
SELECT island, start, "end", points, max_anomaly_score FROM kept ORDER BY first_n
"""

# Each sensor's sum over the anomalous records, added in file order (record, then place in its list):
# the order the project adds them in, so that the sums are the same to the last bit.
TOP_SENSORS = """
SELECT u.d.name AS name, sum(u.d.value ORDER BY a.n, u.k) AS total
FROM anomalous AS a, unnest(a.diagnostics) WITH ORDINALITY AS u(d, k)
GROUP BY u.d.name
ORDER BY total DESC, name DESC
LIMIT $top
"""

KEPT_EVENT_SENSORS = """
SELECT a.island, u.d.name AS name, sum(u.d.value ORDER BY a.n, u.k) AS total
FROM anomalous AS a
JOIN kept USING (island), unnest(a.diagnostics) WITH ORDINALITY AS u(d, k)
GROUP BY a.island, u.d.name
QUALIFY row_number() OVER (PARTITION BY a.island ORDER BY total DESC, name DESC) <= $top
ORDER BY a.island, total DESC, name DESC
"""


class PeerEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: str
    end: str
    points: int
    max_anomaly_score: float | None
    top_sensors: list[tuple[str, float]]


class PeerAnswers(BaseModel):
    """The answers a peer and the project are compared on, with `==`.

    Means are rounded to 6 places, as the project rounds them, and always from the same sums: the SQL adds
    each sensor's values in file order (`sum(value ORDER BY n, k)`), the order in which the project adds
    them, so the sums agree to the last bit and the comparison can be exact: names, order and rounded means.
    (An unordered `sum` would add in the order the threads meet the rows and may differ in the last bits;
    a mean close to a half unit in the 6th place could then round differently, and near-equal sensors trade
    places.) The division and the rounding are Python's, as in the project: DuckDB's `round` is not Python's.
    """

    model_config = ConfigDict(frozen=True)

    rows: int
    normal: int
    anomalous: int
    machine_off: int
    max_anomaly_score: float | None
    event_count: int
    longest_event_points: int
    top_sensors: list[tuple[str, float]]
    events: list[PeerEvent]


def summarise_duckdb(path: Path, *, threads: int, thresholds: SummaryThresholds) -> PeerAnswers:
    """The answers for the file at `path`, computed by DuckDB (in memory) with `threads` threads."""
    import duckdb  # the benchmark's dependency only

    with duckdb.connect(":memory:") as connection:
        connection.execute(f"SET threads = {int(threads)}")
        connection.execute("SET preserve_insertion_order = true")  # the default; the events depend on it
        connection.execute(LOAD_RECORDS, {"path": str(path)})
        rows, normal, anomalous, machine_off, max_score = _one(connection.execute(COUNTS).fetchone())
        connection.execute(LOAD_ANOMALOUS)
        connection.execute(LOAD_EVENTS)
        event_count, longest = _one(connection.execute(EVENT_TOTALS).fetchone())
        connection.execute(LOAD_KEPT, {"max_events": thresholds.max_events})
        kept = connection.execute(KEPT_EVENTS).fetchall()
        top = connection.execute(TOP_SENSORS, {"top": thresholds.top_sensors}).fetchall()
        sensors: dict[int, list[tuple[str, float]]] = {}
        for island, name, total in connection.execute(KEPT_EVENT_SENSORS, {"top": thresholds.top_sensors}).fetchall():
            sensors.setdefault(island, []).append((name, total))
    return PeerAnswers(
        rows=rows,
        normal=normal,
        anomalous=anomalous,
        machine_off=machine_off,
        max_anomaly_score=max_score,
        event_count=event_count,
        longest_event_points=longest,
        top_sensors=_means(top, anomalous),
        events=[
            PeerEvent(
                start=start,
                end=end,
                points=points,
                max_anomaly_score=score,
                top_sensors=_means(sensors.get(island, []), points),
            )
            for island, start, end, points, score in kept
        ],
    )


def answers_of(summary: DiagnosticsSummary) -> PeerAnswers:
    """The project's summary as the same answers (sensors by the name the file writes)."""
    return PeerAnswers(
        rows=summary.rows,
        normal=summary.normal,
        anomalous=summary.anomalous,
        machine_off=summary.machine_off,
        max_anomaly_score=summary.max_anomaly_score,
        event_count=summary.event_count,
        longest_event_points=summary.longest_event_points,
        top_sensors=_pairs(summary.top_sensors),
        events=[
            PeerEvent(
                start=event.start,
                end=event.end,
                points=event.points,
                max_anomaly_score=event.max_anomaly_score,
                top_sensors=_pairs(event.top_sensors),
            )
            for event in summary.events
        ],
    )


def _one(row: tuple[Any, ...] | None) -> tuple[Any, ...]:
    if row is None:  # an aggregate without GROUP BY always returns one row
        raise RuntimeError("the query returned no row")
    return row


def _means(totals: list[tuple[str, float]], records: int) -> list[tuple[str, float]]:
    """Each sensor's mean over `records`, rounded as the project's `_ranked` rounds it."""
    return [(name, round(total / records, 6)) for name, total in totals] if records else []


def _pairs(sensors: list[SensorContribution]) -> list[tuple[str, float]]:
    return [
        (sensor.name if sensor.raw_name is None else sensor.raw_name, sensor.mean_contribution) for sensor in sensors
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.peers", description="The summary's answers by DuckDB SQL, checked against the project."
    )
    parser.add_argument("file", type=Path, help="a diagnostics file (gzipped or plain JSON Lines)")
    parser.add_argument("--threads", type=int, default=1, help="DuckDB's threads (default 1)")
    arguments = parser.parse_args(argv)
    thresholds = SummaryThresholds()
    started = time.perf_counter()
    peer = summarise_duckdb(arguments.file, threads=arguments.threads, thresholds=thresholds)
    peer_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with arguments.file.open("rb") as raw:
        project = answers_of(summarise_stream(raw, source=arguments.file.name, thresholds=thresholds))
    project_seconds = time.perf_counter() - started
    print(peer.model_dump_json(indent=2))
    same = peer == project
    print(
        f"duckdb {peer_seconds:.2f} s ({arguments.threads} threads), project {project_seconds:.2f} s; "
        f"same answers as the project: {'yes' if same else 'NO'}"
    )
    if not same:
        print(project.model_dump_json(indent=2), file=sys.stderr)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
