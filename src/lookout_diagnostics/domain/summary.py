"""Streaming summary of a pointwise diagnostics file (gzipped JSON Lines).

The file can be several GB uncompressed, so it is read in fixed-size chunks and every
record is folded into running totals as soon as it is parsed: memory depends on the
number of sensors and on the number of events kept, never on the size of the file.
Pure domain code: it reads a binary stream and knows nothing about S3 or Lambda.
"""

from __future__ import annotations

import functools
import gzip
import heapq
import io
import json
import math
import operator
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import IO, Any, Literal, NamedTuple, Protocol, cast

from pydantic import Field

from lookout_diagnostics.domain.workers import START_AFTER_BYTES, Block, InOrder, available_cpus
from lookout_diagnostics.errors import DiagnosticsFileError
from lookout_diagnostics.models import Model
from lookout_diagnostics.settings import SummaryThresholds


class _Codecs(NamedTuple):
    gzip_file: Callable[..., _Readable]
    decompression_errors: tuple[type[BaseException], ...]
    loads: Callable[[bytes], Any]
    lazy_parser: Callable[[], Any] | None
    batch: _Batch | None


class _Batch(NamedTuple):
    """msgspec's typed decoders: a line into a record, an anomalous record's diagnostics."""

    record: Callable[[Any], Any]  # a line: bytes or a memoryview
    contributions: Callable[[Any], list[Any] | None]
    errors: tuple[type[BaseException], ...]
    newlines: Callable[[bytes], list[int]] | None  # where a block's newlines are (numpy), or None: split it


@functools.cache
def _codecs() -> _Codecs:
    """The native decompressor and JSON parsers, imported when the first file is read.

    Every handler imports this module for its models and names; only a summary needs these
    (about 20 ms of imports at a cold start). Each has a fallback where its wheel is missing.
    """
    try:  # Native decompression is 3-4x faster; the standard library is the fallback.
        from isal import igzip
        from isal.isal_zlib import error as isal_error

        gzip_file: Callable[..., _Readable] = igzip.GzipFile
        errors: tuple[type[BaseException], ...] = (
            gzip.BadGzipFile,
            EOFError,
            zlib.error,
            cast(type[BaseException], isal_error),
        )
    except ImportError:  # pragma: no cover - exercised only where the wheel is missing
        gzip_file, errors = gzip.GzipFile, (gzip.BadGzipFile, EOFError, zlib.error)
    try:  # orjson parses JSON 2-3x faster than the standard library.
        from orjson import loads
    except ImportError:  # pragma: no cover
        loads = json.loads
    lazy_parser: Callable[[], Any] | None
    try:  # simdjson validates a whole line (structure, UTF-8, numbers) at over 1 GB/s and builds Python
        # objects only for the fields read: a normal row's diagnostics, most of its bytes, are never built.
        from simdjson import Parser as lazy_parser
    except ImportError:  # pragma: no cover - without the wheel every line takes the exact path
        lazy_parser = None
    return _Codecs(gzip_file, errors, loads, lazy_parser, _batch())


def _batch() -> _Batch | None:
    """Typed decoding of a line: its record's five fields, checked for type in native code, and its diagnostics
    kept as unread bytes (a normal record's are never decoded). Unknown fields are skipped."""
    try:
        import msgspec
    except ImportError:  # pragma: no cover - without the wheel blocks take the line-by-line paths
        return None

    # Made with defstruct: this module's annotations are strings, which msgspec would resolve in its globals.
    record = msgspec.defstruct(
        "Record",
        [
            ("timestamp", str),
            ("prediction", int),
            ("anomaly_score", float | None, None),
            ("prediction_reason", str | None, None),
            ("diagnostics", msgspec.Raw, msgspec.Raw()),
        ],
        gc=False,
    )
    contribution = msgspec.defstruct("Contribution", [("name", str), ("value", float)], gc=False)
    return _Batch(
        msgspec.json.Decoder(record).decode,
        msgspec.json.Decoder(list[contribution] | None).decode,  # type: ignore[valid-type]
        (msgspec.MsgspecError, RecursionError),
        _newlines(),
    )


def _newlines() -> Callable[[bytes], list[int]] | None:
    """numpy's search for a block's newlines (several times faster than splitting it), or None without numpy."""
    try:
        import numpy
    except ImportError:  # pragma: no cover - where the wheel is missing, blocks are split
        return None
    newline = ord("\n")

    def positions(block: bytes) -> list[int]:
        found: list[int] = numpy.flatnonzero(numpy.frombuffer(block, numpy.uint8) == newline).tolist()
        return found

    return positions


GZIP_MAGIC = b"\x1f\x8b"
CHUNK_BYTES = 1 << 18  # fits in L2 cache with its lines: 256 KiB beat 1 and 4 MiB by 6-10%
# A block handed out with more than one CPU: larger, as each costs a round trip through a pipe and a merge
# (a worker reads it in CHUNK_BYTES pieces, which stay in cache).
WORKER_BLOCK_BYTES = 2 << 20
# A record of L4E's with 100 sensors is about 6 KB; a line of this size is not a record
# but a broken or hostile file, and holding it would break the constant-memory promise.
MAX_LINE_BYTES = 16 << 20
# Sensors tracked for the ranking. L4E models take at most a few thousand; past this
# the file is not a diagnostics file.
MAX_SENSORS = 20_000

MACHINE_OFF = "MACHINE_OFF"
_ABSENT: Any = object()
# The timeline: at most this many bins over the file's time range, each as wide as the first of these widths
# (seconds) at which the range fits. Each width is a whole multiple of the one before, and bins are aligned
# on whole multiples of their width since 1970-01-01T00:00: narrower bins merge into wider ones exactly, in
# any order the records come (and two parts of a file summarised apart merge the same way).
TIMELINE_BINS = 120
TIMELINE_WIDTHS = (1, 5, 15, 60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 4 * 86400)


def timeline_width(step: int) -> int:
    """The bin width of the `step`-th coarsening (seconds): the ladder above, then doubling without end."""
    last = len(TIMELINE_WIDTHS) - 1
    return TIMELINE_WIDTHS[step] if step <= last else TIMELINE_WIDTHS[last] << (step - last)


_EPOCH = datetime(1970, 1, 1)
_ANOMALOUS, _NORMAL, _OFF, _MAX, _SUM, _SCORED = range(6)
_NAME, _VALUE = operator.attrgetter("name"), operator.attrgetter("value")  # of a decoded contribution


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Severity(StrEnum):
    OK = "OK"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


class SensorContribution(Model):
    name: str
    mean_contribution: float = Field(description="Mean diagnostics value over the anomalous records")
    # Only where `name` was made readable (SiteWise ids): absent from the JSON otherwise.
    raw_name: str | None = Field(
        default=None, description="The name as the file writes it", exclude_if=lambda value: value is None
    )


class AnomalousEvent(Model):
    start: str
    end: str
    points: int
    max_anomaly_score: float | None
    top_sensors: list[SensorContribution]


class TimelineBin(Model):
    """The records of one stretch of time: [start, end), in the file's time scale (UTC where it gives zones)."""

    start: str
    end: str
    anomalous: int
    normal: int
    machine_off: int
    max_anomaly_score: float | None
    mean_anomaly_score: float | None


class Timeline(Model):
    """The file's time range in at most TIMELINE_BINS bins of `bin_seconds`; bins without records are left out."""

    bin_seconds: int
    bins: list[TimelineBin]


class DiagnosticsSummary(Model):
    """The public JSON contract of a summary (documented in docs/contracts.md). Version 2 added `timeline`;
    a version 1 summary (stored before) reads with `timeline` None."""

    summary_version: Literal[1, 2] = 2
    source: str
    rows: int
    normal: int
    anomalous: int
    machine_off: int
    anomaly_rate: float
    first_timestamp: str | None
    last_timestamp: str | None
    max_anomaly_score: float | None
    in_time_order: bool
    out_of_order_rows: int
    duplicate_timestamps: int
    event_count: int
    longest_event_points: int
    events: list[AnomalousEvent]
    events_truncated: bool
    top_sensors: list[SensorContribution]
    severity: Severity
    severity_reason: str
    timeline: Timeline | None = None


def summarise_stream(
    raw: IO[bytes],
    *,
    source: str,
    thresholds: SummaryThresholds,
    progress: Callable[[int], None] | None = None,
    cpus: int | None = None,
    parallel_after: int = START_AFTER_BYTES,
) -> DiagnosticsSummary:
    """Summarise a diagnostics file read from a binary stream (gzip, or plain JSON Lines).

    `progress`, if given, is called with the number of stored (compressed) bytes read so far. `cpus` is how many
    CPUs to use (default: those available, `available_cpus`); with more than one, once `parallel_after` bytes
    (uncompressed) have been read, `cpus - 1` worker processes parse blocks while this one decompresses, parses
    when they are all busy, and merges. Raises DiagnosticsFileError naming the reason and, where there is one,
    the line.
    """
    codecs = _codecs()
    counted = _CountingReader(raw, progress)
    head = counted.peek(2)
    if not head:
        raise DiagnosticsFileError("the file is empty (0 bytes)")
    if head[:2] == GZIP_MAGIC:
        stream: _Readable = codecs.gzip_file(fileobj=counted, mode="rb")
    elif source.endswith(".gz"):
        raise DiagnosticsFileError("not a gzip file (the name ends in .gz but the content is not gzip)")
    else:  # AWS IoT SiteWise writes the same records as plain .jsonl
        stream = counted
    aggregate = _Aggregate(thresholds)
    try:
        _fold(stream, aggregate, available_cpus() if cpus is None else cpus, parallel_after)
    except codecs.decompression_errors as error:
        raise DiagnosticsFileError(_decompression_reason(error)) from error
    if aggregate.rows == 0:
        raise DiagnosticsFileError("the file holds no records (only blank lines or nothing)")
    return aggregate.summary(source)


def with_readable_names(summary: DiagnosticsSummary, names: Mapping[str, str]) -> DiagnosticsSummary:
    """The summary with each sensor named by `names` (raw name -> readable name), the raw name kept."""
    if not names:
        return summary

    def renamed(sensors: list[SensorContribution]) -> list[SensorContribution]:
        return [
            sensor.model_copy(update={"name": names[sensor.name], "raw_name": sensor.name})
            if sensor.name in names
            else sensor
            for sensor in sensors
        ]

    return summary.model_copy(
        update={
            "top_sensors": renamed(summary.top_sensors),
            "events": [e.model_copy(update={"top_sensors": renamed(e.top_sensors)}) for e in summary.events],
        }
    )


def sensor_names(summary: DiagnosticsSummary) -> list[str]:
    """Every sensor name the summary holds, once each, in order of first mention."""
    sensors = [*summary.top_sensors, *(sensor for event in summary.events for sensor in event.top_sensors)]
    return list(dict.fromkeys(sensor.name for sensor in sensors))


def _decompression_reason(error: BaseException) -> str:
    if isinstance(error, EOFError):
        return "truncated gzip file: the compressed stream ends before its end marker"
    return f"corrupt gzip data: {error}"


def _fold(stream: _Readable, aggregate: _Aggregate, cpus: int, parallel_after: int) -> None:
    """Fold in the stream's lines a block at a time, on one CPU or more (domain/workers.py)."""
    new_part = functools.partial(_Aggregate.part_after, aggregate.thresholds)
    folding = InOrder(aggregate, new_part, cpus=cpus, start_after=parallel_after)
    try:
        folding.fold(_blocks(stream, CHUNK_BYTES if cpus <= 1 else WORKER_BLOCK_BYTES))
    except _LineTooLong:
        raise DiagnosticsFileError(
            f"a line is longer than {MAX_LINE_BYTES >> 20} MiB", line=folding.lines + 1
        ) from None


class _LineTooLong(Exception):
    """The line after the blocks read so far is longer than MAX_LINE_BYTES."""


def _blocks(stream: _Readable, chunk_bytes: int) -> Iterator[Block]:
    """The stream's lines in blocks of whole lines, read `chunk_bytes` at a time; a block is its lines joined by
    newlines, without the last one, in two pieces: the end of the line the chunk before began, and the chunk up to
    its last newline (workers.Block: a worker's block is copied once, into shared memory). Raises _LineTooLong
    when the line after the last block outgrows MAX_LINE_BYTES."""
    pending = b""
    while chunk := stream.read(chunk_bytes):
        cut = chunk.rfind(b"\n")
        if cut < 0:
            pending += chunk
        else:
            if pending and len(pending) + chunk.find(b"\n") > MAX_LINE_BYTES:  # the line it ends is too long
                raise _LineTooLong
            yield (pending, memoryview(chunk)[:cut])
            pending = chunk[cut + 1 :]
        if len(pending) > MAX_LINE_BYTES:
            raise _LineTooLong
    if pending:
        yield (pending,)


class _Aggregate:
    """Running totals. One instance per file; `add_lines` is the hot path, kept flat on purpose."""

    def __init__(self, thresholds: SummaryThresholds, *, first_part: bool = True) -> None:
        self.thresholds = thresholds
        # A later part of a file (summarised apart, then merged: `absorb`) holds its leading anomalous run
        # aside: it may continue the event the part before it ended in.
        self.first_part = first_part
        self.leading: _OpenEvent | None = None
        self.first: datetime | None = None  # the part's first record's moment: its order against the part before
        self.rows = self.normal = self.anomalous = self.machine_off = 0
        self.max_score: float | None = None
        self.earliest: tuple[datetime, str] | None = None
        self.latest: tuple[datetime, str] | None = None
        self.previous: datetime | None = None
        self.out_of_order = self.duplicates = 0
        self.sensor_sums: dict[str, float] = {}
        # Each sensor's first line, as this part numbers its lines: where a merge finds one sensor too many.
        self.first_seen: dict[str, int] = {}
        self.lines = 0  # lines folded by add_block: the numbering of the part merged after this one starts there
        self.event_count = 0
        self.longest_event = 0
        # The open event: start, end, points, max score, per-sensor sums.
        self.open: _OpenEvent | None = None
        # The most severe events kept, as a min-heap on (points, max score, sequence).
        self.kept: list[tuple[int, float, int, AnomalousEvent]] = []
        self.timeline = _Timeline()
        self._attach_parsers()

    @classmethod
    def part_after(cls, thresholds: SummaryThresholds, before: _Aggregate | None) -> _Aggregate:
        """A worker's aggregate of a later part of the file, its bins as wide as those of the worker's part before
        (no narrower than the whole file's: merging gives the same bins) and its parser reused."""
        part = cls(thresholds, first_part=False)
        if before is not None:
            part.timeline.widen_to(before.timeline.width_index)
            part._parse = before._parse
        return part

    def __getstate__(self) -> dict[str, Any]:
        """What a worker sends back: the totals, not the parsers (made again where it is read)."""
        return {name: value for name, value in self.__dict__.items() if name not in ("_loads", "_parse", "_batch")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._attach_parsers()

    def _attach_parsers(self) -> None:
        """The parsers (not sent with a part): msgspec's, orjson's, and simdjson's made when first needed (one
        per aggregate: it keeps its buffer from line to line)."""
        codecs = _codecs()
        self._loads, self._batch = codecs.loads, codecs.batch
        self._parse: Callable[[bytes], Any] | None = None

    def add_block(self, block: bytes, line_number: int) -> int:
        """Fold in a block of whole lines (joined by newlines), the first being line `line_number + 1`; returns
        how many lines it holds.

        The fast path decodes each line with msgspec into a typed record (its five fields checked in native
        code, its diagnostics kept as unread bytes), the block's lines in one pass. It is taken only where every
        line is exactly one record: a line that is not sends the block to `add_lines`, and a record it does not
        fold (anything but a plain normal, machine-off or anomalous one) sends the rest of the block there,
        which decides and words every error: the outcome is the same either way.
        """
        if len(block) > 2 * CHUNK_BYTES:  # a worker's block: read in pieces of CHUNK_BYTES, which stay in cache
            lines_read, start, end = 0, 0, len(block)
            while start <= end:  # each piece ends before a newline; the last one is the rest (maybe empty)
                cut = end
                if end - start > CHUNK_BYTES:
                    cut = block.rfind(b"\n", start, start + CHUNK_BYTES)
                    if cut < 0:  # a line longer than a piece
                        cut = block.find(b"\n", start + CHUNK_BYTES)
                    if cut < 0:
                        cut = end
                lines_read += self._add_lines_of(block[start:cut], line_number + lines_read)
                start = cut + 1
            self.lines += lines_read
            return lines_read
        lines_read = self._add_lines_of(block, line_number)
        self.lines += lines_read
        return lines_read

    def _add_lines_of(self, block: bytes, line_number: int) -> int:
        records = self._records(block)
        if records is None:
            lines = block.split(b"\n")
            self.add_lines(lines, line_number)
            return len(lines)
        add_record, add_normals = self._add_decoded, self._add_plain_normals
        index, count = 0, len(records)
        while index < count:
            index = add_normals(records, index, line_number)
            if index < count:
                if not add_record(records[index], line_number + index + 1):
                    self.add_lines(block.split(b"\n")[index:], line_number + index)
                    break
                index += 1
        return count

    def _add_plain_normals(self, records: list[Any], start: int, line_number: int) -> int:
        """Fold in the run of records from `start` that are the usual case, and return where the run ends: normal
        records, each later than the one before and in its timeline bin, with no event open. `_count`'s work for
        them, in one loop over local variables (the same sums, in the same order)."""
        previous, latest, timeline = self.previous, self.latest, self.timeline
        if previous is None or latest is None or self.open is not None or not timeline.current:
            return start
        end_of_bin, counts = timeline.last[1], timeline.current
        highest, bin_highest, bin_total, scored = self.max_score, counts[_MAX], counts[_SUM], 0
        index, stop, text = start, len(records), ""
        while index < stop:
            record = records[index]
            if record.prediction != 0 or record.prediction_reason == MACHINE_OFF:
                break
            timestamp = record.timestamp
            moment = _parse_timestamp(timestamp, line_number + index + 1)
            if not previous < moment < end_of_bin:
                break
            score = record.anomaly_score
            if score is not None:
                if highest is None or score > highest:
                    highest = score
                if bin_highest is None or score > bin_highest:
                    bin_highest = score
                bin_total += score
                scored += 1
            previous, text = moment, timestamp
            index += 1
        folded = index - start
        if folded:
            self.rows += folded
            self.normal += folded
            self.previous, self.max_score = previous, highest
            if previous > latest[0]:
                self.latest = (previous, text)
            counts[_NORMAL] += folded
            counts[_MAX], counts[_SUM], counts[_SCORED] = bin_highest, bin_total, counts[_SCORED] + scored
        return index

    def _records(self, block: bytes) -> list[Any] | None:
        """Each line's record, or None where a line is anything but one record msgspec reads."""
        batch = self._batch
        if batch is None:
            return None
        if not block.isascii():
            try:  # msgspec does not check the UTF-8 of what it skips; orjson refuses a line that is not UTF-8
                block.decode()
            except UnicodeDecodeError:
                return None
        record = batch.record
        try:
            if batch.newlines is None:
                return list(map(record, block.split(b"\n")))
            # Each line decoded where it lies in the block (numpy finds the newlines): no line is copied out.
            view, ends = memoryview(block), batch.newlines(block)
            starts = [0, *(end + 1 for end in ends)]
            return [record(view[start:end]) for start, end in zip(starts, [*ends, len(block)], strict=True)]
        except batch.errors:
            return None

    def _add_decoded(self, record: Any, line_number: int) -> bool:
        """Fold in a record msgspec decoded, if it is a plain one; False (nothing folded) for any other."""
        prediction, off = record.prediction, record.prediction_reason == MACHINE_OFF
        if prediction == 0 or (prediction == 1 and off):
            timestamp = record.timestamp
            self._count(_parse_timestamp(timestamp, line_number), timestamp, record.anomaly_score, off, prediction)
            return True
        if prediction != 1:
            return False
        batch = cast(_Batch, self._batch)
        try:  # the diagnostics of an anomalous record: a list of {name: string, value: number}, or null
            entries = batch.contributions(record.diagnostics) if record.diagnostics else None
        except batch.errors:
            return False
        timestamp, score = record.timestamp, record.anomaly_score
        self._count(_parse_timestamp(timestamp, line_number), timestamp, score, False, 1)
        if entries:
            self._add_anomalous(line_number, timestamp, score, tuple(map(_NAME, entries)), map(_VALUE, entries))
        else:
            self._add_anomalous(line_number, timestamp, score, (), ())
        return True

    def add_lines(self, lines: list[bytes], line_number: int) -> None:
        """Fold in consecutive lines, the first being line `line_number + 1`; blank lines are no records.

        The fast path: simdjson validates the whole line (structure, UTF-8, numbers, depth) and a
        normal or machine-off row with well-typed fields is counted from the four fields read. Every
        other line (anomalous rows, whose diagnostics are needed, and anything odd or invalid) takes
        `add`, the exact path, which decides and words every error: the outcome is the same either way.
        """
        parse = self._parse
        if parse is None and (parser := _codecs().lazy_parser) is not None:
            parse = self._parse = parser().parse
        if parse is None:
            for line in lines:
                line_number += 1
                if line.strip():
                    self.add(line_number, line)
            return
        absent, machine_off, isfinite = _ABSENT, MACHINE_OFF, math.isfinite
        for line in lines:
            line_number += 1
            if not line.startswith(b"{"):  # blank, or anything but an object at the first byte
                if line.strip():
                    self.add(line_number, line)
                continue
            try:
                document = parse(line)
            except (ValueError, RuntimeError):  # invalid, or valid beyond simdjson's range (big integers)
                self.add(line_number, line)
                continue
            get = document.get
            timestamp, prediction = get("timestamp", absent), get("prediction", absent)
            score, reason = get("anomaly_score", absent), get("prediction_reason", absent)
            # A repeated name: simdjson reads its first value, orjson and json its last. Such a line
            # takes the exact path. Checking costs a length when the names are only the known ones.
            fields = len(document)
            unique = fields == (
                (timestamp is not absent)
                + (prediction is not absent)
                + (score is not absent)
                + (reason is not absent)
                + ("diagnostics" in document)
            ) or fields == len(set(document.keys()))
            off = reason == machine_off
            # No proxy into this document may outlive it: the parser refuses to reuse its buffer then.
            del document, get, reason
            if score is absent:
                score = None
            if (
                unique
                and type(timestamp) is str
                and type(prediction) is int
                and (prediction == 0 or (prediction == 1 and off))
                and (score is None or (type(score) in (float, int) and isfinite(score)))
            ):
                self._count(_parse_timestamp(timestamp, line_number), timestamp, score, off, prediction)
            else:
                timestamp = prediction = score = None
                self.add(line_number, line)

    def add(self, line_number: int, line: bytes) -> None:
        """The exact path: parse the whole line and fold the record in."""
        try:
            record = self._loads(line)
        except (ValueError, RecursionError) as error:
            if self._add_past_the_parser(line_number, line):
                return
            raise DiagnosticsFileError(f"not valid JSON ({_short(error)})", line=line_number) from error
        self.add_record(line_number, record)

    def _add_past_the_parser(self, line_number: int, line: bytes) -> bool:
        """Fold in a UTF-8 line the exact parser refused if msgspec reads it as a plain record: what was refused
        lay in what a summary never reads (a normal record's diagnostics, an unknown field), such as a number
        beyond a double's range or nesting past 1,024 levels. The fast path skips such parts unread: both paths
        give the same outcome."""
        batch = self._batch
        if batch is None:
            return False
        try:
            line.decode()
            record = batch.record(line)
        except UnicodeDecodeError:
            return False
        except batch.errors:
            return False
        return self._add_decoded(record, line_number)

    def add_record(self, line_number: int, record: Any) -> None:
        """Check a parsed record and fold it in (the benchmark's baseline feeds this directly)."""
        if type(record) is not dict:
            raise DiagnosticsFileError("a record must be a JSON object", line=line_number)
        timestamp = record.get("timestamp")
        prediction = record.get("prediction")
        if type(timestamp) is not str:
            raise DiagnosticsFileError("'timestamp' is missing or not a string", line=line_number)
        if type(prediction) is not int or prediction not in (0, 1):
            raise DiagnosticsFileError("'prediction' is missing or not 0 or 1", line=line_number)
        moment = _parse_timestamp(timestamp, line_number)
        score = record.get("anomaly_score")
        if score is not None and (type(score) not in (float, int) or not math.isfinite(score)):
            raise DiagnosticsFileError("'anomaly_score' is not a finite number", line=line_number)
        off = record.get("prediction_reason") == MACHINE_OFF
        self._count(moment, timestamp, score, off, prediction)
        if off or prediction == 0:
            return
        names, values = _contributions(record.get("diagnostics"), line_number)
        self._add_anomalous(line_number, timestamp, score, names, values)

    def _add_anomalous(
        self, line_number: int, timestamp: str, score: float | None, names: tuple[str, ...], values: Iterable[float]
    ) -> None:
        """An anomalous record's diagnostics, once it is counted, into the open event. The sensors' totals over
        the file are the events' totals, added as each event is counted; a name is listed there when first seen,
        so that the sensors are counted on the line that brings one too many."""
        event = self.open
        if event is None:
            event = self.open = _OpenEvent(timestamp)
            event.leads = self.normal + self.machine_off == 0 and self.event_count == 0 and self.leading is None
        if event.extend(timestamp, score, names, values):  # names in another order than the record before
            sums, first_seen = self.sensor_sums, self.first_seen
            for name in names:
                if name not in sums:
                    sums[name] = 0.0
                    first_seen[name] = line_number
            if len(sums) > MAX_SENSORS:
                raise DiagnosticsFileError(f"more than {MAX_SENSORS} distinct sensors", line=line_number)

    def _count(self, moment: datetime, timestamp: str, score: float | None, off: bool, prediction: int) -> None:
        """Count a valid record: its time, its score, its class. Any but an anomalous one ends the open event."""
        self.rows += 1
        self._order(moment, timestamp)
        if score is not None and (self.max_score is None or score > self.max_score):
            self.max_score = float(score)
        kind = _OFF if off else _NORMAL if prediction == 0 else _ANOMALOUS
        self.timeline.add(moment, score, kind)
        if off:
            self.machine_off += 1
        elif prediction == 0:
            self.normal += 1
        else:
            self.anomalous += 1
            return
        if self.open is not None:
            self._close_event()

    def _order(self, moment: datetime, timestamp: str) -> None:
        previous = self.previous
        if previous is None:
            self.first = moment
        elif moment < previous:
            self.out_of_order += 1
        elif moment == previous:
            self.duplicates += 1
        self.previous = moment
        if self.earliest is None or moment < self.earliest[0]:
            self.earliest = (moment, timestamp)
        if self.latest is None or moment > self.latest[0]:
            self.latest = (moment, timestamp)

    def _close_event(self) -> None:
        event = self.open
        if event is None:
            return
        self.open = None
        if event.leads and not self.first_part:
            self.leading = event  # counted when merged with the part before (absorb), or as the part's own
            return
        self._count_event(event)

    def _count_event(self, event: _OpenEvent) -> None:
        self.event_count += 1
        self.longest_event = max(self.longest_event, event.points)
        finished = event.finish(self.thresholds.top_sensors)
        sums = self.sensor_sums
        for name, total in event.sums.items():
            sums[name] = sums.get(name, 0.0) + total
        entry = (event.points, event.max_score or 0.0, -self.event_count, finished)
        if len(self.kept) < self.thresholds.max_events:
            heapq.heappush(self.kept, entry)
        else:
            heapq.heappushpop(self.kept, entry)

    def absorb(self, later: _Aggregate) -> None:
        """Fold in the aggregate of the part of the file that comes right after this one's (summarised apart):
        afterwards this one is as if it had read both parts in order. An event running across the seam is one
        event; the seam's order (out of order, duplicate) is counted. Associative: parts merge in any grouping."""
        self.rows += later.rows
        self.normal += later.normal
        self.anomalous += later.anomalous
        self.machine_off += later.machine_off
        if later.max_score is not None and (self.max_score is None or later.max_score > self.max_score):
            self.max_score = later.max_score
        if later.earliest is not None and (self.earliest is None or later.earliest[0] < self.earliest[0]):
            self.earliest = later.earliest
        if later.latest is not None and (self.latest is None or later.latest[0] > self.latest[0]):
            self.latest = later.latest
        if self.previous is not None and later.first is not None:
            if later.first < self.previous:
                self.out_of_order += 1
            elif later.first == self.previous:
                self.duplicates += 1
        self.out_of_order += later.out_of_order
        self.duplicates += later.duplicates
        if self.first is None:
            self.first = later.first
        if later.previous is not None:
            self.previous = later.previous
        known, count = self.sensor_sums, len(self.sensor_sums)
        for name, line in later.first_seen.items():  # in the order they first came: the crossing is on a line
            if name not in known:
                count += 1
                if count > MAX_SENSORS:
                    raise DiagnosticsFileError(f"more than {MAX_SENSORS} distinct sensors", line=self.lines + line)
                self.first_seen[name] = self.lines + line
        for name, value in later.sensor_sums.items():
            known[name] = known.get(name, 0.0) + value
        self.lines += later.lines
        self.timeline.absorb(later.timeline)
        # The seam: the later part's leading run continues this part's open event, or is an event of its own.
        head = later.leading if later.leading is not None else (later.open if later.open and later.open.leads else None)
        if head is not None:
            if self.open is not None:
                self.open.join(head)
            else:
                self.open = _OpenEvent.copy_of(head, leads=self.rows == later.rows and not self.first_part)
        # Unless the later part is empty or one anomalous run to its end, it went past its leading run: what was
        # open here is over.
        if not (later.rows == 0 or (head is not None and head is later.open)):
            self._close_event()
        offset = self.event_count
        self.event_count += later.event_count
        self.longest_event = max(self.longest_event, later.longest_event)
        for points, score, sequence, finished in later.kept:
            entry = (points, score, sequence - offset, finished)  # sequences count down: -1 is the first event
            if len(self.kept) < self.thresholds.max_events:
                heapq.heappush(self.kept, entry)
            else:
                heapq.heappushpop(self.kept, entry)
        if later.open is not None and head is not later.open:
            self.open = later.open

    def summary(self, source: str) -> DiagnosticsSummary:
        if self.leading is not None:  # never merged with a part before it: its leading run is its first event
            leading, self.leading = self.leading, None
            self.kept = [(points, score, sequence - 1, finished) for points, score, sequence, finished in self.kept]
            heapq.heapify(self.kept)
            counted, self.event_count = self.event_count, 0
            self._count_event(leading)
            self.event_count += counted
        self.first_part = True
        self._close_event()
        judged = self.normal + self.anomalous
        rate = self.anomalous / judged if judged else 0.0
        severity, reason = judge(rate, self.anomalous, self.longest_event, self.thresholds)
        if not judged:
            reason = "the machine was off for every record: nothing was judged"
        events = [entry[3] for entry in sorted(self.kept, key=lambda entry: -entry[2])]
        return DiagnosticsSummary(
            source=source,
            rows=self.rows,
            normal=self.normal,
            anomalous=self.anomalous,
            machine_off=self.machine_off,
            anomaly_rate=round(rate, 6),
            first_timestamp=self.earliest[1] if self.earliest else None,
            last_timestamp=self.latest[1] if self.latest else None,
            max_anomaly_score=self.max_score,
            in_time_order=self.out_of_order == 0,
            out_of_order_rows=self.out_of_order,
            duplicate_timestamps=self.duplicates,
            event_count=self.event_count,
            longest_event_points=self.longest_event,
            events=events,
            events_truncated=self.event_count > len(events),
            top_sensors=_ranked(self.sensor_sums, self.anomalous, self.thresholds.top_sensors),
            severity=severity,
            severity_reason=reason,
            timeline=self.timeline.result(),
        )


class _Timeline:
    """Bins of the records' times, in constant memory: at most TIMELINE_BINS live at once. When a record falls
    outside the range the bins can span at the current width, every bin merges into the next width's."""

    __slots__ = ("bins", "bounds", "current", "high", "last", "low", "step", "width_index")

    def __init__(self) -> None:
        self.width_index = 0
        self.step = timedelta(seconds=timeline_width(0))
        self.bins: dict[int, list[Any]] = {}  # index (start = epoch + index x width) -> counts, max, sum, scored
        self.bounds: dict[int, tuple[datetime, datetime]] = {}  # each bin's [start, end): out-of-order records
        self.low = self.high = 0  # the lowest and highest index held
        # The last record's bin, and its bounds: most records share it (no record is in the empty range).
        self.current: list[Any] = []
        self.last = (datetime.max, datetime.min)

    def add(self, moment: datetime, score: float | None, kind: int) -> None:
        last = self.last
        counts = self.current if last[0] <= moment < last[1] else self._bin(moment)
        counts[kind] += 1
        if score is not None:
            if counts[_MAX] is None or score > counts[_MAX]:
                counts[_MAX] = float(score)
            counts[_SUM] += score
            counts[_SCORED] += 1

    def _bin(self, moment: datetime) -> list[Any]:
        index = (moment - _EPOCH) // self.step
        bins = self.bins
        if index not in bins:
            low, high = (index, index) if not bins else (min(self.low, index), max(self.high, index))
            if high - low + 1 > TIMELINE_BINS:
                while high - low + 1 > TIMELINE_BINS:
                    factor = self._coarsen()
                    index, low, high = (moment - _EPOCH) // self.step, low // factor, high // factor
                bins = self.bins
                self.bounds = {i: (_bound(i, self.step), _bound(i + 1, self.step)) for i in bins}
            self.low, self.high = low, high
            # After a merge the record's bin may hold records already: it is added to, never replaced.
            if index not in bins:
                bins[index] = [0, 0, 0, None, 0.0, 0]
                self.bounds[index] = (_bound(index, self.step), _bound(index + 1, self.step))
        self.last, self.current = self.bounds[index], bins[index]
        return bins[index]

    def absorb(self, other: _Timeline) -> None:
        """Fold in another part's bins: both at the wider of the two widths, then as wide as the range needs."""
        if not other.bins:
            return
        theirs = other.bins
        for step in range(other.width_index, self.width_index):  # theirs up to my width
            factor = timeline_width(step + 1) // timeline_width(step)
            coarser: dict[int, list[Any]] = {}
            for index, counts in theirs.items():
                _merge_into(coarser.setdefault(index // factor, [0, 0, 0, None, 0.0, 0]), counts)
            theirs = coarser
        width = self.width_index
        while self.width_index < other.width_index:  # mine up to theirs
            self._coarsen()
        for index, counts in theirs.items():
            _merge_into(self.bins.setdefault(index, [0, 0, 0, None, 0.0, 0]), counts)
        self.low, self.high = min(self.bins), max(self.bins)
        while self.high - self.low + 1 > TIMELINE_BINS:
            self._coarsen()
        bounds = self.bounds
        if self.width_index != width:  # every bin is new
            bounds.clear()
        for index in self.bins.keys() - bounds.keys():
            bounds[index] = (_bound(index, self.step), _bound(index + 1, self.step))
        self.current, self.last = [], (datetime.max, datetime.min)

    def widen_to(self, width_index: int) -> None:
        """Bins as wide as the `width_index`-th width at least (no bin is held: none merges)."""
        while self.width_index < width_index:
            self._coarsen()

    def _coarsen(self) -> int:
        """Every bin into the next width's; returns the factor between the widths."""
        factor = timeline_width(self.width_index + 1) // timeline_width(self.width_index)
        self.width_index += 1
        self.step = timedelta(seconds=timeline_width(self.width_index))
        merged: dict[int, list[Any]] = {}
        for index, counts in self.bins.items():
            _merge_into(merged.setdefault(index // factor, [0, 0, 0, None, 0.0, 0]), counts)
        self.bins = merged
        if merged:
            self.low, self.high = min(merged), max(merged)
        return factor

    def result(self) -> Timeline | None:
        if not self.bins:
            return None
        step = self.step
        return Timeline(
            bin_seconds=timeline_width(self.width_index),
            bins=[
                TimelineBin(
                    start=_bound(index, step).isoformat(),
                    end=_bound(index + 1, step).isoformat(),
                    anomalous=counts[_ANOMALOUS],
                    normal=counts[_NORMAL],
                    machine_off=counts[_OFF],
                    max_anomaly_score=counts[_MAX],
                    mean_anomaly_score=round(counts[_SUM] / counts[_SCORED], 6) if counts[_SCORED] else None,
                )
                for index, counts in sorted(self.bins.items())
            ],
        )


def _bound(index: int, step: timedelta) -> datetime:
    """Where bin `index` starts, kept within the calendar (a wide bin at year 1 or 9999 would run past it)."""
    try:
        return _EPOCH + index * step
    except OverflowError:
        return datetime.min if index < 0 else datetime.max


def _merge_into(total: list[Any], counts: list[Any]) -> None:
    for position in (_ANOMALOUS, _NORMAL, _OFF, _SUM, _SCORED):
        total[position] += counts[position]
    if counts[_MAX] is not None and (total[_MAX] is None or counts[_MAX] > total[_MAX]):
        total[_MAX] = counts[_MAX]


class _OpenEvent:
    """An anomalous run being read. Its records' contributions are summed by position while the records list the
    same sensors in the same order, as they usually do (`layout`, `totals`), and by name otherwise (`sums`)."""

    __slots__ = ("end", "layout", "leads", "max_score", "points", "start", "sums", "totals")

    def __init__(self, start: str) -> None:
        self.start = start
        self.end = start
        self.points = 0
        self.max_score: float | None = None
        self.sums: dict[str, float] = {}
        self.layout: tuple[str, ...] | None = None
        self.totals: list[float] = []
        self.leads = False  # the run its part begins with (a later part's: it may continue the part before)

    @classmethod
    def copy_of(cls, other: _OpenEvent, *, leads: bool) -> _OpenEvent:
        event = cls(other.start)
        event.join(other)
        event.start, event.leads = other.start, leads
        return event

    def join(self, later: _OpenEvent) -> None:
        """The run continued by `later` (the records right after this one's)."""
        self.end = later.end
        self.points += later.points
        if later.max_score is not None and (self.max_score is None or later.max_score > self.max_score):
            self.max_score = later.max_score
        sums = self.settled()
        for name, value in later.settled().items():
            sums[name] = sums.get(name, 0.0) + value

    def extend(self, timestamp: str, score: float | None, names: tuple[str, ...], values: Iterable[float]) -> bool:
        """Add a record; True when its sensors are not those of the record before, in the same order."""
        self.end = timestamp
        self.points += 1
        if score is not None and (self.max_score is None or score > self.max_score):
            self.max_score = float(score)
        if names == self.layout:
            self.totals = list(map(operator.add, self.totals, values))
            return False
        self.settled()
        self.layout, self.totals = names, list(values)
        return True

    def settled(self) -> dict[str, float]:
        """The totals by name, the running ones by position folded in."""
        if self.layout:
            sums = self.sums
            for name, total in zip(self.layout, self.totals, strict=True):
                sums[name] = sums.get(name, 0.0) + total
        self.layout, self.totals = None, []
        return self.sums

    def finish(self, top: int) -> AnomalousEvent:
        return AnomalousEvent(
            start=self.start,
            end=self.end,
            points=self.points,
            max_anomaly_score=self.max_score,
            top_sensors=_ranked(self.settled(), self.points, top),
        )


def judge(
    anomaly_rate: float, anomalous: int, longest_event_points: int, thresholds: SummaryThresholds
) -> tuple[Severity, str]:
    """The severity of a summary and the rule that decided it."""
    if anomalous == 0:
        return Severity.OK, "no anomalous records"
    if anomaly_rate >= thresholds.critical_anomaly_rate:
        return Severity.CRITICAL, (
            f"anomaly rate {anomaly_rate:.2%} >= critical threshold {thresholds.critical_anomaly_rate:.2%}"
        )
    if longest_event_points >= thresholds.critical_event_points:
        return Severity.CRITICAL, (
            f"longest event {longest_event_points} points >= critical threshold {thresholds.critical_event_points}"
        )
    if anomaly_rate >= thresholds.warning_anomaly_rate:
        return Severity.WARNING, (
            f"anomaly rate {anomaly_rate:.2%} >= warning threshold {thresholds.warning_anomaly_rate:.2%}"
        )
    if longest_event_points >= thresholds.warning_event_points:
        return Severity.WARNING, (
            f"longest event {longest_event_points} points >= warning threshold {thresholds.warning_event_points}"
        )
    return Severity.OK, "anomalies below every threshold"


def _ranked(sums: dict[str, float], records: int, top: int) -> list[SensorContribution]:
    if not records:
        return []
    best = heapq.nlargest(top, sums.items(), key=lambda item: (item[1], item[0]))
    return [SensorContribution(name=name, mean_contribution=round(total / records, 6)) for name, total in best]


def _contributions(diagnostics: Any, line_number: int) -> tuple[tuple[str, ...], list[float]]:
    """The names and values of a parsed record's diagnostics, checked."""
    if diagnostics is None:
        return (), []
    if type(diagnostics) is not list:
        raise DiagnosticsFileError("'diagnostics' is not a list", line=line_number)
    names, values = [], []
    for entry in diagnostics:
        if type(entry) is not dict:
            raise DiagnosticsFileError("a 'diagnostics' entry is not an object", line=line_number)
        name: Any = entry.get("name")
        value: Any = entry.get("value")
        if type(name) is not str or type(value) not in (float, int) or not math.isfinite(value):
            raise DiagnosticsFileError(
                "a 'diagnostics' entry needs a string 'name' and a finite number 'value'", line=line_number
            )
        names.append(name)
        values.append(float(value))
    return tuple(names), values


def _parse_timestamp(timestamp: str, line_number: int) -> datetime:
    try:
        moment = datetime.fromisoformat(timestamp)
        if moment.tzinfo is not None:  # compare zoned and unzoned stamps on one (UTC) scale
            moment = moment.astimezone(UTC).replace(tzinfo=None)
    except ValueError as error:
        raise DiagnosticsFileError(f"'timestamp' is not ISO 8601: {timestamp[:40]!r}", line=line_number) from error
    except OverflowError as error:  # a zoned stamp at the calendar's ends: 0001-01-01T00:00+01:00 is in year 0 in UTC
        raise DiagnosticsFileError(
            f"'timestamp' is out of range in UTC: {timestamp[:40]!r}", line=line_number
        ) from error
    return moment


def _short(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 120 else text[:117] + "..."


class _CountingReader(io.RawIOBase):
    """Wraps the stored bytes: counts them for progress and lets the format be sniffed."""

    def __init__(self, raw: IO[bytes], progress: Callable[[int], None] | None) -> None:
        super().__init__()
        self._raw = raw
        self._progress = progress
        self._buffer = b""
        self.bytes_read = 0

    def peek(self, size: int) -> bytes:
        while len(self._buffer) < size:
            more = self._raw.read(size - len(self._buffer))
            if not more:
                break
            self._buffer += more
        return self._buffer

    def read(self, size: int = -1) -> bytes:
        if self._buffer:
            data, self._buffer = self._buffer, b""
            if size < 0 or size > len(data):
                data += self._raw.read(-1 if size < 0 else size - len(data))
        else:
            data = self._raw.read(size)
        self.bytes_read += len(data)
        if self._progress is not None:
            self._progress(self.bytes_read)
        return data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
