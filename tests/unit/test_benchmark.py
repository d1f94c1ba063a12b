"""The throughput benchmark compares like with like: the project, its naive baseline and DuckDB agree."""

from __future__ import annotations

from pathlib import Path

from local.benchmark import compare
from local.generator import GeneratorSpec, write_diagnostics_file

TINY = GeneratorSpec(
    rows=3_000,
    sensors=8,
    components=2,
    episodes=4,
    episode_points=(5, 40),
    machine_off_stretches=2,
    machine_off_points=(10, 60),
    non_ascii=True,
)


def test_the_project_the_naive_loop_and_duckdb_give_the_same_answers(tmp_path: Path) -> None:
    # Given a small realistic diagnostics file, with non-ASCII sensor names
    path = tmp_path / "model_diagnostics_results.json.gz"
    truth = write_diagnostics_file(path, TINY)
    # When the benchmark summarises it every way
    answers = compare(path)
    # Then the answers are the same, and they are the file's
    assert answers["project"] == answers["naive"] == answers["duckdb"]
    project = answers["project"]
    assert (project.rows, project.normal, project.anomalous, project.machine_off) == (
        truth.rows,
        truth.normal,
        truth.anomalous,
        truth.machine_off,
    )
    assert project.event_count == len(truth.episodes)
