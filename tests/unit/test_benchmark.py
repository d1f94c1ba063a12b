"""The throughput benchmark compares like with like: its naive baseline and the project agree."""

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


def test_the_baseline_and_the_project_produce_the_same_summary(tmp_path: Path) -> None:
    # Given a small realistic diagnostics file, with non-ASCII sensor names
    path = tmp_path / "model_diagnostics_results.json.gz"
    truth = write_diagnostics_file(path, TINY)
    # When the benchmark summarises it both ways
    summaries = compare(path)
    # Then both summaries are the same, and they are the file's
    assert summaries["project"] == summaries["baseline"]
    project = summaries["project"]
    assert (project.rows, project.normal, project.anomalous, project.machine_off) == (
        truth.rows,
        truth.normal,
        truth.anomalous,
        truth.machine_off,
    )
    assert project.event_count == len(truth.episodes)
