"""Throughput of the diagnostics summariser against its peers, on a realistic file, at 1 CPU and at all CPUs.

    python -m local.benchmark                        # L4E's cap: 1.5 million rows x 30 sensors (3.6 GB)
    python -m local.benchmark --quick                # 100,000 rows x 30 sensors (240 MB)
    python -m local.benchmark --rows N --sensors K [--worst-case] [--repeat 3] [--profile]

The file is written by the project's generator (local.generator) and cached in out/bench/ under a name derived
from its spec, so a rerun skips the generation. Then each method runs in a fresh process (so that its peak RSS
is its own), pinned to 1 CPU and then to all the CPUs this process may use:

- project: `summarise_stream`, with as many worker processes as CPUs (none at 1 CPU);
- duckdb: the same answers in SQL (local/peers.py), with as many threads as CPUs;
- naive: the obvious loop, stdlib gzip + one `json.loads` per line feeding the project's aggregation. It has
  one thread whatever the CPUs, so it is measured once, at 1 CPU, and compared with both;
- floor: decompression alone (isal, what the project reads with), the least any method that reads the file
  must spend; at 1 CPU.

It prints seconds, uncompressed MB/s, peak RSS and the ratios against the targets, and checks the answers:
the project's summary, the naive loop's and DuckDB's answers must agree, and match the generator's ground
truth. `--profile` also prints where the project's time goes at 1 CPU (cProfile). Exit status: 1 if the
answers differ, 2 if a target is missed, 0 otherwise.

A command, not a test: it takes minutes at the full size and its figures depend on the machine.
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import hashlib
import io
import json
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from local.generator import PRESETS, GeneratorSpec, GroundTruth, write_diagnostics_file
from local.peers import PeerAnswers, answers_of, summarise_duckdb
from lookout_diagnostics.domain.summary import DiagnosticsSummary, _Aggregate, summarise_stream
from lookout_diagnostics.errors import DiagnosticsFileError
from lookout_diagnostics.settings import SummaryThresholds

Method = Literal["project", "duckdb", "naive", "floor"]
METHODS: tuple[Method, ...] = ("project", "duckdb", "naive", "floor")
ONE_THREAD: tuple[Method, ...] = ("naive", "floor")  # measured at 1 CPU only
QUICK_ROWS = 100_000
CACHE = Path(__file__).resolve().parent.parent / "out" / "bench"
MB = 1e6

# The targets: the project's speed over DuckDB's at 1 CPU and at all CPUs, over the naive loop on a file whose
# rows are nearly all anomalous, and its peak memory (every process) at L4E's largest file.
TARGET_VS_DUCKDB_ONE_CPU = 1.3
TARGET_VS_DUCKDB_ALL_CPUS = 1.2
TARGET_WORST_CASE_VS_NAIVE = 4.0
TARGET_PEAK_RSS_MB = 150.0


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


def decompress_only(path: Path) -> int:
    """The floor: the file decompressed by isal (the project's decompressor) and thrown away."""
    from isal import igzip

    size = 0
    with igzip.open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            size += len(chunk)
    return size


def compare(path: Path, thresholds: SummaryThresholds | None = None) -> dict[str, PeerAnswers]:
    """Every method's answers for one file, in this process (what the unit test checks)."""
    thresholds = thresholds or SummaryThresholds()
    return {
        "project": answers_of(summarise_project(path, thresholds)),
        "naive": answers_of(summarise_baseline(path, thresholds)),
        "duckdb": summarise_duckdb(path, threads=1, thresholds=thresholds),
    }


class Measurement(BaseModel):
    method: Method
    cpus: int
    seconds: float
    cpu_seconds: float  # this process and its workers
    peak_rss_mb: float  # every process's memory together (PSS, sampled), and at least this process's peak RSS
    answers: PeerAnswers | None  # None for the floor
    summary: DiagnosticsSummary | None  # the project's and the naive loop's


class _PeakMemory:
    """The peak of this process's and its children's memory, sampled: the sum of their proportional set sizes
    (PSS: a page shared by n processes counts 1/n in each), so a forked worker's pages shared with the reader
    count once, as the machine holds them. Linux only (/proc); elsewhere it reports nothing."""

    def __init__(self, every: float = 0.02) -> None:
        self.peak_kib = 0
        self._every, self._done = every, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            self.peak_kib = max(self.peak_kib, sum(map(_pss_kib, _tree(os.getpid()))))
            if self._done.wait(self._every):
                return


def _tree(pid: int) -> list[int]:
    """The process and its descendants."""
    found, index = [pid], 0
    while index < len(found):
        try:
            children = Path(f"/proc/{found[index]}/task/{found[index]}/children").read_text().split()
        except OSError:
            children = []
        found.extend(int(child) for child in children)
        index += 1
    return found


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:  # ended meanwhile, or no /proc
        pass
    return 0


def measure(method: Method, path: Path, cpus: int) -> Measurement:
    """Run once in this process; meant to run in a fresh one (peak memory is per process tree)."""
    thresholds = SummaryThresholds()
    with _PeakMemory() as sampler:
        started, cpu_started = time.perf_counter(), time.process_time()
        summary: DiagnosticsSummary | None = None
        answers: PeerAnswers | None = None
        if method == "project":
            summary = summarise_project(path, thresholds)
        elif method == "naive":
            summary = summarise_baseline(path, thresholds)
        elif method == "duckdb":
            answers = summarise_duckdb(path, threads=cpus, thresholds=thresholds)
        else:
            decompress_only(path)
        seconds = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    rss = _megabytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return Measurement(
        method=method,
        cpus=cpus,
        seconds=seconds,
        cpu_seconds=time.process_time() - cpu_started + children.ru_utime + children.ru_stime,
        # The sampled peak of every process's PSS; at least the reading process's own peak RSS.
        peak_rss_mb=max(rss, sampler.peak_kib * 1024 / (1 << 20)),
        answers=answers if summary is None else answers_of(summary),
        summary=summary,
    )


def _megabytes(maxrss: int) -> float:
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    return maxrss / (1 << 20) * (1 if sys.platform == "darwin" else 1024)


def measure_in_fresh_process(method: Method, path: Path, cpus: int) -> Measurement:
    command = [sys.executable, "-m", "local.benchmark", "--measure", method, "--cpus", str(cpus), str(path)]
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


def pin(cpus: int) -> None:
    """Run this process (and what it starts) on its first `cpus` allowed CPUs."""
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cpus])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.benchmark", description="Summariser throughput against DuckDB and a naive loop."
    )
    parser.add_argument("--rows", type=int, help=f"rows in the file (default {PRESETS['benchmark'].rows:,})")
    parser.add_argument("--sensors", type=int, default=PRESETS["benchmark"].sensors, help="sensors per row")
    parser.add_argument("--quick", action="store_true", help=f"a small file: {QUICK_ROWS:,} rows")
    parser.add_argument("--worst-case", action="store_true", help="about 88%% of the rows anomalous")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of runs; each method's median time is kept")
    parser.add_argument("--profile", action="store_true", help="print where the project's time goes at 1 CPU")
    parser.add_argument(
        "--methods", default=",".join(METHODS), help="the methods to run, comma-separated (default: all)"
    )
    parser.add_argument("--cache", type=Path, default=CACHE, help="where generated files are kept")
    parser.add_argument("--measure", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--cpus", type=int, help=argparse.SUPPRESS)
    parser.add_argument("file", nargs="?", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.measure:  # the child process
        pin(arguments.cpus)
        print(measure(arguments.measure, arguments.file, arguments.cpus).model_dump_json())
        return 0

    rows = arguments.rows or (QUICK_ROWS if arguments.quick else PRESETS["benchmark"].rows)
    try:
        spec = spec_for(rows, arguments.sensors, arguments.worst_case)
    except ValidationError as error:
        parser.error(f"no realistic file of that size: {error}")
    path, truth, generated_in = cached_file(spec, arguments.cache)
    made = f"generated in {generated_in:.1f} s" if generated_in is not None else "cached"
    print(f"file     {path}  ({made})")
    print(
        f"         {truth.rows:,} rows x {spec.sensors} sensors, {truth.anomalous / truth.rows:.1%} anomalous, "
        f"{truth.uncompressed_bytes / MB:,.1f} MB uncompressed, {path.stat().st_size / MB:,.1f} MB gzip"
    )
    every = len(os.sched_getaffinity(0))
    print(f"cpus     1, then {every} (all this process may use, of {os.cpu_count()})")
    _warm_page_cache(path)

    modes = [1] if every == 1 else [1, every]
    chosen = [method for method in METHODS if method in arguments.methods.split(",")]
    plan = [(method, cpus) for cpus in modes for method in chosen if cpus == 1 or method not in ONE_THREAD]
    runs: dict[tuple[Method, int], list[Measurement]] = {key: [] for key in plan}
    for _ in range(max(1, arguments.repeat)):  # round by round, so that the machine's load falls on all alike
        for method, cpus in plan:
            runs[method, cpus].append(measure_in_fresh_process(method, path, cpus))
    results: dict[tuple[Method, int], Measurement] = {}
    for key, measured in runs.items():
        median = statistics.median(run.seconds for run in measured)
        results[key] = min(measured, key=lambda run: abs(run.seconds - median)).model_copy(
            update={"peak_rss_mb": max(run.peak_rss_mb for run in measured)}
        )
    _print_table(results, modes, truth.uncompressed_bytes)
    missed = _print_targets(results, modes, spec, arguments.worst_case)
    same = _print_answers(results, truth)
    if arguments.profile:
        _print_profile(path)
    return 1 if not same else 2 if missed else 0


def _print_table(results: dict[tuple[Method, int], Measurement], modes: list[int], size: int) -> None:
    heading = "".join(f" | {f'{cpus} CPU' + ('s' if cpus > 1 else ''):^31}" for cpus in modes)
    print(f"\n{'method':<8}{heading}")
    print(f"{'':<8}" + " | seconds  cpu s    MB/s    memory" * len(modes))
    for method in METHODS:
        if (method, 1) not in results:
            continue
        cells = []
        for cpus in modes:
            result = results.get((method, cpus)) or results[method, 1]
            shown = f"{result.seconds:7.2f} {result.cpu_seconds:6.2f} {size / result.seconds / MB:7.0f} "
            shown += f"{result.peak_rss_mb:6.0f} MB"
            cells.append(shown if (method, cpus) in results else f"{'(as at 1 CPU)':^31}")
        print(f"{method:<8}" + "".join(f" | {cell}" for cell in cells))


def _print_targets(
    results: dict[tuple[Method, int], Measurement], modes: list[int], spec: GeneratorSpec, worst_case: bool
) -> bool:
    """Print each ratio and whether its target is met; True when one is missed."""
    lines: list[tuple[str, float, float, bool]] = []  # what, value, target, higher is better
    for cpus in modes:
        project = results.get(("project", cpus))
        if project is None:
            continue
        duckdb, naive, floor = results.get(("duckdb", cpus)), results.get(("naive", 1)), results.get(("floor", 1))
        if duckdb is not None:
            target = TARGET_VS_DUCKDB_ONE_CPU if cpus == 1 else TARGET_VS_DUCKDB_ALL_CPUS
            lines.append((f"project / duckdb, {cpus} CPU(s)", duckdb.seconds / project.seconds, target, True))
        if naive is not None:
            naive_target = TARGET_WORST_CASE_VS_NAIVE if worst_case else 0.0
            lines.append((f"project / naive, {cpus} CPU(s)", naive.seconds / project.seconds, naive_target, True))
        if floor is not None:
            ratio = project.seconds / floor.seconds
            lines.append((f"project / decompression floor, {cpus} CPU(s)", ratio, 0.0, False))
        big = spec.rows >= PRESETS["benchmark"].rows and spec.sensors >= 100
        target = TARGET_PEAK_RSS_MB if big else 0
        lines.append((f"project peak memory MB, {cpus} CPU(s)", project.peak_rss_mb, target, False))
    print()
    missed = False
    for what, value, target, higher in lines:
        if not target:
            print(f"{what:<44} {value:8.2f}")
            continue
        met = value >= target if higher else value < target
        missed |= not met
        print(f"{what:<44} {value:8.2f}   target {'>=' if higher else '<'} {target:g}: {'met' if met else 'MISSED'}")
    return missed


def _print_answers(results: dict[tuple[Method, int], Measurement], truth: GroundTruth) -> bool:
    answered = {key: result.answers for key, result in results.items() if result.answers is not None}
    if not answered:
        return True
    first = next(iter(answered.values()))
    same = all(answers == first for answers in answered.values())
    summaries = [result.summary for result in results.values() if result.summary is not None]
    same = same and all(summary == summaries[0] for summary in summaries)
    names = ", ".join(f"{method} at {cpus}" for method, cpus in answered)
    print(f"\nsame answers ({names}): {'yes' if same else 'NO'}")
    planted = (truth.rows, truth.normal, truth.anomalous, truth.machine_off, len(truth.episodes))
    found = (first.rows, first.normal, first.anomalous, first.machine_off, first.event_count)
    print(f"ground truth (rows, normal, anomalous, machine off, events): {'matches' if planted == found else found}")
    return same and planted == found


def _print_profile(path: Path) -> None:
    """Where the project's time goes on one CPU: the functions with the most time of their own."""
    pin(1)
    profiler = cProfile.Profile()
    profiler.runcall(summarise_project, path, SummaryThresholds())
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(14)
    print("\nprofile of the project at 1 CPU (cProfile; its own overhead inflates Python calls):")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:4000])


def _warm_page_cache(path: Path) -> None:
    """Read the stored file once, so that no method pays for the disk."""
    with path.open("rb") as stored, open(os.devnull, "wb") as sink:
        shutil.copyfileobj(stored, sink, 1 << 20)


if __name__ == "__main__":
    sys.exit(main())
