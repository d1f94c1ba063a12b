"""A file summarised by worker processes gives what it gives read alone: the summary, or the same refusal.

Blocks are made tiny here (a few lines, or less than one) so that small files cross many blocks: every seam
between parts (an event across it, a record out of order or repeated at it, a bad line right after it) is met.
"""

from __future__ import annotations

import gzip
import io
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from local.generator import GeneratorSpec, write_diagnostics_file
from lookout_diagnostics.domain import summary as summary_module
from lookout_diagnostics.domain.summary import summarise_stream
from lookout_diagnostics.errors import DiagnosticsFileError
from lookout_diagnostics.settings import SummaryThresholds
from tests.unit.test_diagnostics_properties import mutated_texts, valid_texts

THRESHOLDS = SummaryThresholds(max_events=3, top_sensors=2)


def outcome(data: bytes, *, cpus: int, block_bytes: int = 64) -> dict[str, Any] | tuple[str, int | None, str]:
    """The summary's figures, or the refusal's line and reason; with workers from the second block on."""
    with patch.object(summary_module, "WORKER_BLOCK_BYTES", block_bytes):
        try:
            summary = summarise_stream(
                io.BytesIO(data), source="f.jsonl", thresholds=THRESHOLDS, cpus=cpus, parallel_after=0
            )
        except DiagnosticsFileError as error:
            return ("refused", error.line, error.reason)
    return summary.model_dump()


@given(valid_texts(max_records=24) | mutated_texts(), st.sampled_from([2, 3]), st.sampled_from([1, 64, 700]))
def test_workers_give_the_summary_or_the_refusal_that_reading_alone_gives(
    text: bytes, workers: int, block_bytes: int
) -> None:
    # Given any valid file, or one with a few bytes spoilt, cut into blocks of a line or less, or a few lines
    note(repr(text))
    # When it is summarised with workers, Then the outcome is the one of reading it alone
    assert outcome(text, cpus=workers, block_bytes=block_bytes) == outcome(text, cpus=1)


def generated(rows: int) -> bytes:
    """A realistic file's records as plain JSON Lines: 12 events, machine-off stretches, 6 sensors."""
    spec = GeneratorSpec(rows=rows, sensors=6, components=2, episodes=12, machine_off_stretches=3, seed=7)
    buffer = io.BytesIO()
    write_diagnostics_file(buffer, spec, compressed=False)
    return buffer.getvalue()


def test_a_generated_file_of_many_blocks_gives_the_same_summary_as_gzip_and_as_plain_lines() -> None:
    # Given a file of 3,000 records with 12 events and machine-off stretches, in blocks of about 4 KiB
    text = generated(3_000)
    for data in (text, gzip.compress(text, mtime=0)):
        # When it is summarised with three CPUs, Then its summary is that of reading it alone
        together = outcome(data, cpus=3, block_bytes=4096)
        assert together == outcome(data, cpus=1)
        assert isinstance(together, dict) and together["event_count"] == 12


def test_a_bad_line_far_into_the_file_is_named_by_its_number_in_the_file() -> None:
    # Given a file of 3,000 records whose line 2,345 is not JSON and whose line 2,900 has no timestamp
    lines = generated(3_000).split(b"\n")
    lines[2344] = lines[2344][:-5]
    lines[2899] = b'{"prediction": 0}'
    # When it is summarised with two CPUs, Then the first bad line is refused, as it is reading alone
    together = outcome(b"\n".join(lines), cpus=2, block_bytes=4096)
    assert together == outcome(b"\n".join(lines), cpus=1)
    assert together[:2] == ("refused", 2345)


def test_a_truncated_file_is_refused_as_truncated_after_every_line_before_the_cut_is_read() -> None:
    # Given a gzip file cut short in its middle, and the same with a bad line before the cut
    text = generated(3_000)
    cut = gzip.compress(text, mtime=0)[:-20_000]
    spoilt = text.split(b"\n")
    spoilt[10] = b"{"
    cut_and_spoilt = gzip.compress(b"\n".join(spoilt), mtime=0)[:-20_000]
    # When each is summarised with two CPUs
    # Then the cut is refused as truncated, and the bad line before it is refused first, as reading alone
    assert outcome(cut, cpus=2, block_bytes=4096)[0:1] == ("refused",)
    assert outcome(cut, cpus=2, block_bytes=4096) == outcome(cut, cpus=1)
    assert outcome(cut_and_spoilt, cpus=2, block_bytes=4096) == outcome(cut_and_spoilt, cpus=1)
    assert outcome(cut_and_spoilt, cpus=2, block_bytes=4096)[:2] == ("refused", 11)


def test_a_line_too_long_is_named_by_its_number_with_workers_too() -> None:
    # Given a limit of 10 KiB on a line, blocks of 4 KiB, and line 1,501 of 20 KiB
    lines = generated(3_000).split(b"\n")
    lines[1500] = b'{"x": "' + b"a" * 20_000 + b'"}'
    with patch.object(summary_module, "MAX_LINE_BYTES", 10 << 10), patch.object(summary_module, "CHUNK_BYTES", 4096):
        # When the file is summarised with two CPUs, Then line 1,501 is refused, as reading alone
        together = outcome(b"\n".join(lines), cpus=2, block_bytes=4096)
        assert together == outcome(b"\n".join(lines), cpus=1)
    assert together[:2] == ("refused", 1501)


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_start_only_past_the_bytes_worth_their_start(workers: int) -> None:
    # Given a small file (far less than the default 16 MiB after which workers start)
    started: list[int] = []
    real = summary_module.InOrder.fold

    def fold(self: Any, blocks: Any) -> None:
        started.append(self.cpus)
        real(self, blocks)

    with patch.object(summary_module.InOrder, "fold", fold), patch("multiprocessing.context.Process.start") as start:
        # When it is summarised with `workers`
        summarise_stream(io.BytesIO(generated(3_000)), source="f.jsonl", thresholds=THRESHOLDS, cpus=workers)
    # Then no process was started
    assert started == [workers]
    start.assert_not_called()


@pytest.mark.parametrize("ending", [b"", b"\n", b"\n\n", b"\n \n"])
def test_a_workers_block_read_in_pieces_counts_every_line_and_refuses_on_the_right_one(ending: bytes) -> None:
    # Given pieces of 1 KiB, a block of 3,000 records (far more than two pieces) with a line longer than a piece,
    # ending in blank lines or not
    lines = generated(3_000).rstrip(b"\n").split(b"\n")
    lines[100] = lines[100][:-1] + b', "note": "' + b"x" * 3000 + b'"}'
    block = b"\n".join(lines) + ending
    with patch.object(summary_module, "CHUNK_BYTES", 1024):
        # When a worker's part reads it, Then it counts every line, as the block's own lines
        part = summary_module._Aggregate(THRESHOLDS)
        assert part.add_block(block, 0) == block.count(b"\n") + 1
        assert part.rows == 3_000
        # and a bad line in the middle is refused at its number
        spoilt = b"\n".join([*lines[:2222], b"{", *lines[2223:]])
        with pytest.raises(DiagnosticsFileError) as refused:
            summary_module._Aggregate(THRESHOLDS).add_block(spoilt, 10)
        assert refused.value.line == 2233


def sensor_rows(count: int, *, per_row: int = 2) -> list[bytes]:
    """Anomalous rows, each bringing `per_row` sensors not seen before."""
    return [
        b'{"timestamp":"2024-01-01T00:00:%02d","prediction":1,"diagnostics":[%s]}'
        % (row, b",".join(b'{"name":"s%d","value":1}' % (row * per_row + i) for i in range(per_row)))
        for row in range(count)
    ]


@pytest.mark.parametrize(("cpus", "block_bytes"), [(2, 100), (3, 150), (2, 400)])
def test_one_sensor_too_many_in_all_is_refused_on_its_line_whoever_read_it(cpus: int, block_bytes: int) -> None:
    # Given at most 7 sensors, and six rows each bringing two new ones (the 8th comes on line 4), in blocks of a
    # row or two, each read by a part that sees fewer than 8 alone
    text = b"\n".join(sensor_rows(6)) + b"\n"
    with patch.object(summary_module, "MAX_SENSORS", 7):
        # When it is summarised with workers, Then the line that brought one too many is named, as reading alone
        together = outcome(text, cpus=cpus, block_bytes=block_bytes)
        assert together == outcome(text, cpus=1) == ("refused", 4, "more than 7 distinct sensors")


def test_a_refusal_in_a_block_comes_after_one_sensor_too_many_earlier_in_that_block() -> None:
    # Given at most one sensor, a row of sensor a, then (in the next block) a row of sensor b and a line not JSON
    first, second = sensor_rows(2, per_row=1)
    text = first + b" " * 5 + b"\n" + second + b"\n{bad\n"
    with patch.object(summary_module, "MAX_SENSORS", 1):
        # When it is summarised with two CPUs, Then the sensor on line 2 is refused before the bad line 3
        together = outcome(text, cpus=2, block_bytes=len(first) + 5)
        assert together == outcome(text, cpus=1) == ("refused", 2, "more than 1 distinct sensors")


def test_with_workers_a_mean_may_differ_by_one_in_its_last_decimal_and_nothing_else() -> None:
    # Given three anomalous records whose values, added as (a + b) + c alone and as a + (b + c) across two parts,
    # round to means 0.714642 and 0.714641
    values = (0.9922201, 0.325677, 0.8260274)
    text = b"".join(
        b'{"timestamp":"2024-01-01T00:00:0%d","prediction":1,"anomaly_score":%r,"diagnostics":[{"name":"s","value":%r}]}\n'
        % (i, v, v)
        for i, v in enumerate(values)
    )
    first_line = text.index(b"\n") + 1
    # When it is summarised alone, and with two CPUs, the second and third records in a block of their own
    alone = outcome(text, cpus=1)
    together = outcome(text, cpus=2, block_bytes=first_line)
    assert isinstance(alone, dict) and isinstance(together, dict)
    # Then the sensor's means differ by one in the 6th decimal at most (the sums' grouping), and all else is equal
    mean_alone, mean_together = (
        alone["top_sensors"][0]["mean_contribution"],
        together["top_sensors"][0]["mean_contribution"],
    )
    assert abs(mean_alone - mean_together) <= 1.0000001e-6
    for summary in (alone, together):
        summary["top_sensors"][0]["mean_contribution"] = summary["events"][0]["top_sensors"][0]["mean_contribution"] = 0
    assert alone == together
