"""Throughput of the diagnostics summariser against a naive baseline, on a realistic file.

    python -m local.benchmark                        # L4E's cap: 1.5 million rows x 30 sensors (3.6 GB)
    python -m local.benchmark --quick                # 100,000 rows x 30 sensors (240 MB)
    python -m local.benchmark --rows N --sensors K [--worst-case] [--cpus 1] [--repeat 3]

The file is written by the project's generator (local.generator) and cached in out/bench/ under
a name derived from its spec, so a rerun skips the generation. Then, each in a fresh process
(so that peak RSS is its own): the project's summariser, `lookout_diagnostics.domain.summary.summarise_stream`,
and the baseline below, the obvious loop (stdlib gzip + json.loads per line) feeding the same
aggregation. It prints for each: uncompressed MB/s, rows/s, CPU seconds, peak RSS, and the
ratios project / baseline. It exits 1 if the two summaries differ. `--cpus 1` pins both to one
CPU, as a Lambda function with up to 1769 MB has one vCPU.

A command, not a test: it takes minutes at the full size and its figures depend on the machine.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from local.generator import PRESETS, GeneratorSpec, GroundTruth, write_diagnostics_file
from lookout_diagnostics.domain.summary import DiagnosticsSummary, _Aggregate, summarise_stream
from lookout_diagnostics.errors import DiagnosticsFileError
from lookout_diagnostics.settings import SummaryThresholds

Method = Literal["project", "baseline"]
METHODS: tuple[Method, ...] = ("project", "baseline")
QUICK_ROWS = 100_000
CACHE = Path(__file__).resolve().parent.parent / "out" / "bench"
MB = 1e6


def summarise_project(path: Path, thresholds: SummaryThresholds) -> DiagnosticsSummary:
    with path.open("rb") as raw:
        return summarise_stream(raw, source=path.name, thresholds=thresholds)


def summarise_baseline(path: Path, thresholds: SummaryThresholds) -> DiagnosticsSummary:
    """The naive loop: stdlib gzip, one json.loads per line, the project's aggregation."""
    aggregate = _Aggregate(thresholds)
    with gzip.open(path, "rb") as lines:
        for line_number, line in enumerate(lines, 1):
            if line.strip():
                aggregate.add_record(line_number, json.loads(line))
    if aggregate.rows == 0:
        raise DiagnosticsFileError("the file holds no records (only blank lines or nothing)")
    return aggregate.summary(path.name)


SUMMARISERS: dict[Method, Callable[[Path, SummaryThresholds], DiagnosticsSummary]] = {
    "project": summarise_project,
    "baseline": summarise_baseline,
}


def compare(path: Path, thresholds: SummaryThresholds | None = None) -> dict[Method, DiagnosticsSummary]:
    """Both summaries of one file, in this process (what the unit test checks)."""
    thresholds = thresholds or SummaryThresholds()
    return {method: SUMMARISERS[method](path, thresholds) for method in METHODS}


class Measurement(BaseModel):
    method: Method
    seconds: float
    cpu_seconds: float
    rss_before_mb: float
    peak_rss_mb: float
    summary: DiagnosticsSummary


def measure(method: Method, path: Path) -> Measurement:
    """Summarise once in this process; meant to run in a fresh one (peak RSS is per process)."""
    thresholds = SummaryThresholds()
    rss_before = _peak_rss_mb()
    started, cpu_started = time.perf_counter(), time.process_time()
    summary = SUMMARISERS[method](path, thresholds)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return Measurement(
        method=method,
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        rss_before_mb=rss_before,
        peak_rss_mb=_peak_rss_mb(),
        summary=summary,
    )


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) * (1 if sys.platform == "darwin" else 1024)


def measure_in_fresh_process(method: Method, path: Path, cpus: int | None) -> Measurement:
    command = [sys.executable, "-m", "local.benchmark", "--measure", method, str(path)]
    if cpus:
        command += ["--cpus", str(cpus)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{method} failed:\n{done.stderr}")
    return Measurement.model_validate_json(done.stdout)


def spec_for(rows: int, sensors: int, worst_case: bool = False) -> GeneratorSpec:
    """The benchmark preset (or its wide variant) at the given size.

    The worst case is a model that flags nearly everything: anomalous episodes of 200-240 rows
    back to back (about 88% of the rows), each of which needs its diagnostics read.
    """
    base = PRESETS["benchmark-wide"] if sensors == PRESETS["benchmark-wide"].sensors else PRESETS["benchmark"]
    size: dict[str, object] = {"rows": rows, "sensors": sensors, "components": min(base.components, sensors)}
    if worst_case:
        size |= {
            "episodes": rows // 250,
            "episode_points": (200, 240),
            "machine_off_stretches": 2,
            "machine_off_points": (60, 100),
        }
    return GeneratorSpec.model_validate(base.model_dump() | size)


def cached_file(spec: GeneratorSpec, directory: Path = CACHE) -> tuple[Path, GroundTruth, float | None]:
    """The file for this spec, written unless a previous run left it; and how long writing took."""
    key = hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:12]
    path = directory / f"diagnostics-{spec.rows}x{spec.sensors}-{key}.json.gz"
    truth_path = path.with_name(path.name.removesuffix(".json.gz") + ".truth.json")
    if path.exists() and truth_path.exists():
        return path, GroundTruth.model_validate_json(truth_path.read_text()), None
    directory.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    started = time.perf_counter()
    truth = write_diagnostics_file(partial, spec)
    elapsed = time.perf_counter() - started
    partial.replace(path)
    truth_path.write_text(truth.model_dump_json(indent=2))
    return path, truth, elapsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.benchmark", description="Summariser throughput against a naive baseline."
    )
    parser.add_argument("--rows", type=int, help=f"rows in the file (default {PRESETS['benchmark'].rows:,})")
    parser.add_argument("--sensors", type=int, default=PRESETS["benchmark"].sensors, help="sensors per row")
    parser.add_argument("--quick", action="store_true", help=f"a small file: {QUICK_ROWS:,} rows")
    parser.add_argument("--worst-case", action="store_true", help="about 88%% of the rows anomalous")
    parser.add_argument("--cpus", type=int, help="pin each measured process to this many CPUs")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each method; the median time is kept")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where generated files are kept")
    parser.add_argument("--measure", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("file", nargs="?", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.cpus:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: arguments.cpus])
    if arguments.measure:  # the child process
        print(measure(arguments.measure, arguments.file).model_dump_json())
        return 0

    rows = arguments.rows or (QUICK_ROWS if arguments.quick else PRESETS["benchmark"].rows)
    try:
        spec = spec_for(rows, arguments.sensors, arguments.worst_case)
    except ValidationError as error:
        parser.error(f"no realistic file of that size: {error}")
    path, truth, generated_in = cached_file(spec, arguments.cache)
    stored = path.stat().st_size
    made = f"generated in {generated_in:.1f} s" if generated_in is not None else "cached"
    print(f"file   {path}  ({made})")
    print(
        f"       {truth.rows:,} rows x {spec.sensors} sensors, {truth.anomalous / truth.rows:.1%} anomalous, "
        f"{truth.uncompressed_bytes / MB:,.1f} MB uncompressed, {stored / MB:,.1f} MB gzip"
    )
    cpus = len(os.sched_getaffinity(0))
    print(f"cpus   {arguments.cpus or cpus} of {os.cpu_count()} ({'pinned' if arguments.cpus else 'all'})")
    _warm_page_cache(path)

    results: dict[Method, Measurement] = {}
    for method in METHODS:
        runs = [measure_in_fresh_process(method, path, arguments.cpus) for _ in range(max(1, arguments.repeat))]
        median = statistics.median(run.seconds for run in runs)
        results[method] = min(runs, key=lambda run: abs(run.seconds - median)).model_copy(
            update={"peak_rss_mb": max(run.peak_rss_mb for run in runs)}
        )

    print(f"\n{'method':<9} {'seconds':>8} {'cpu s':>7} {'MB/s':>7} {'rows/s':>10} {'peak RSS':>9} {'(at start)':>11}")
    for method, result in results.items():
        print(
            f"{method:<9} {result.seconds:>8.2f} {result.cpu_seconds:>7.2f} "
            f"{truth.uncompressed_bytes / result.seconds / MB:>7.0f} {truth.rows / result.seconds:>10,.0f} "
            f"{result.peak_rss_mb:>6.0f} MB {result.rss_before_mb:>8.0f} MB"
        )
    project, baseline = results["project"], results["baseline"]
    print(
        f"\nproject / baseline: {baseline.seconds / project.seconds:.2f}x throughput (MB/s and rows/s), "
        f"{project.peak_rss_mb / baseline.peak_rss_mb:.2f}x peak RSS"
    )

    same = project.summary == baseline.summary
    print(f"same summary: {'yes' if same else 'NO'}", end="")
    summary = project.summary
    print(f" (rows {summary.rows:,}, {summary.event_count} events, severity {summary.severity.value})")
    planted = (truth.rows, truth.normal, truth.anomalous, truth.machine_off, len(truth.episodes))
    found = (summary.rows, summary.normal, summary.anomalous, summary.machine_off, summary.event_count)
    print(f"ground truth (rows, normal, anomalous, machine off, events): {'matches' if planted == found else found}")
    return 0 if same and planted == found else 1


def _warm_page_cache(path: Path) -> None:
    """Read the stored file once, so that neither method pays for the disk."""
    with path.open("rb") as stored, open(os.devnull, "wb") as sink:
        shutil.copyfileobj(stored, sink, 1 << 20)


if __name__ == "__main__":
    sys.exit(main())
