"""Big inputs stream: the summary's memory does not grow with the file.

A file is produced as it is read (tests/support/streams.py), so the test itself holds little; the
summary of 20,000 rows and of 200,000 rows must peak at the same Python allocation, within 256 KiB, on one
CPU, and with two from the first block on (the reading process's allocations: the worker's are its own, and
the benchmark measures its resident memory).
Both services' shapes are covered: L4E's gzipped file and SiteWise's plain JSON Lines. The gzip is
stored uncompressed (level 0) so that the small file already fills the decompressor's fixed input
buffer, which otherwise grows with the compressed bytes read up to its cap (about 0.6 MB).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from unittest.mock import patch

import pytest

from lookout_diagnostics.domain import summary as summary_module
from lookout_diagnostics.domain.summary import DiagnosticsSummary, summarise_stream
from lookout_diagnostics.settings import SummaryThresholds
from tests.support.streams import Generated, gzipped

SENSORS = [b"component_%02d\\\\sensor_%03d" % (i % 7, i) for i in range(40)]


def a_plant(rows: int) -> Iterator[bytes]:
    """`rows` one-second records: every 200th row opens an anomalous episode of 10 rows, with diagnostics."""
    batch: list[bytes] = []
    for row in range(rows):
        day, second = divmod(row, 86_400)
        stamp = b"2021-03-%02dT%02d:%02d:%02d.000000" % (11 + day, second // 3600, second // 60 % 60, second % 60)
        if row % 200 < 10:
            diagnostics = b",".join(
                b'{"name":"%s","value":%.6f}' % (name, (1 + (i + row) % 5) / 100) for i, name in enumerate(SENSORS)
            )
            line = b'{"timestamp":"%s","prediction":1,"anomaly_score":0.9,"diagnostics":[%s]}\n' % (stamp, diagnostics)
        else:
            line = b'{"timestamp":"%s","prediction":0,"anomaly_score":0.1}\n' % stamp
        batch.append(line)
        if len(batch) == 1_000:
            yield b"".join(batch)
            batch = []
    yield b"".join(batch)


def peak_while_summarising(rows: int, *, compressed: bool, cpus: int) -> tuple[DiagnosticsSummary, int]:
    stream = Generated(gzipped(a_plant(rows), level=0) if compressed else a_plant(rows))
    source = "model_diagnostics_results.json.gz" if compressed else "evaluation.jsonl"
    # Blocks of 256 KiB with two CPUs, as with one: the small file already has as many in flight as the large.
    with patch.object(summary_module, "WORKER_BLOCK_BYTES", summary_module.CHUNK_BYTES):
        tracemalloc.start()
        try:
            summary = summarise_stream(
                stream, source=source, thresholds=SummaryThresholds(), cpus=cpus, parallel_after=0
            )
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return summary, peak


@pytest.mark.parametrize("cpus", [1, 2])
@pytest.mark.parametrize("compressed", [True, False], ids=["l4e-gzip", "sitewise-jsonl"])
def test_summarising_ten_times_the_rows_takes_no_more_memory(compressed: bool, cpus: int) -> None:
    # Given a file of 20,000 rows and one of 200,000 rows (about 30 MB as text), both made as they are read
    # When each is summarised on `cpus` CPUs, tracing Python's allocations
    small, small_peak = peak_while_summarising(20_000, compressed=compressed, cpus=cpus)
    large, large_peak = peak_while_summarising(200_000, compressed=compressed, cpus=cpus)

    # Then every row and episode was counted
    assert (small.rows, small.anomalous, small.event_count) == (20_000, 1_000, 100)
    assert (large.rows, large.anomalous, large.event_count) == (200_000, 10_000, 1_000)
    # And ten times the rows peaked at the same allocation, within 256 KiB, and a few MB at most
    assert large_peak < small_peak + 256 * 1024, (small_peak, large_peak)
    assert large_peak < 8 * 1024 * 1024
