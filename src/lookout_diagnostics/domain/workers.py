"""Folding a file's blocks in worker processes, merged in file order.

The reading process decompresses and cuts the file into blocks of whole lines; each block goes to one of the
worker processes (one per CPU but the reader's), which folds it into an aggregate of its own (a *part*) and
sends the part back, or, when every worker is busy, the reader folds it itself; the reader merges the parts
into the whole in the order of the file. Memory stays flat: at most two blocks per worker are in flight, and a
part holds totals, never records.

Only `multiprocessing.Process` and `Pipe` are used: AWS Lambda has no `/dev/shm`, where `Pool` and `Queue`
keep their semaphores. Processes are forked where the platform can (Linux, Lambda), spawned elsewhere.
Pure domain code: it knows blocks and parts, not JSON, S3 or Lambda.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import struct
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any, Generic, Protocol, Self, TypeVar

from lookout_diagnostics.errors import DiagnosticsFileError

# Lambda gives a function one vCPU per 1,769 MB of memory (6 at most, at 10,240 MB), whatever it lets it see.
LAMBDA_MB_PER_VCPU = 1769
# Below this much of a file (uncompressed), workers cost more to start than they save: the reader folds it alone.
START_AFTER_BYTES = 16 << 20
# Each worker's slots of memory shared with the reader: a block is about 2 MiB and a line at most 16 MiB, so a
# block outgrows one only where lines are megabytes long (the reader then folds it itself). Two per worker: one
# it reads while the reader fills the other.
SLOT_BYTES = 4 << 20
SLOTS_PER_WORKER = 2
# Blocks handed out and not yet merged, per CPU: past this the reader waits for the oldest instead of folding the
# next block itself, so that parts waiting behind a slow worker stay few.
WAITING_PER_CPU = 4
_SLOT = struct.Struct("<IQ")  # a message: the slot holding the block, and its length


# A block of whole lines, in pieces to be joined (the reader cuts blocks without copying them).
Block = tuple[bytes | memoryview, ...]


class Part(Protocol):
    """What workers fold blocks into: an aggregate of consecutive lines that merges with the next one's."""

    def add_block(self, block: bytes, line_number: int) -> int:
        """Fold in a block of whole lines, the first being line `line_number + 1`; return how many lines."""
        ...

    def absorb(self, later: Self) -> None:
        """Merge in the part of the file right after this one's; raise a refusal only the whole can see."""
        ...


P = TypeVar("P", bound=Part)


class WorkerFailedError(RuntimeError):
    """A worker process died, or folding a block failed for a reason of its own (not the file's): a bug, or the
    memory limit."""


def available_cpus() -> int:
    """The CPUs this process may use: those it is allowed to run on, and in Lambda those its memory buys."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    if memory.isdigit():
        cpus = min(cpus, max(1, int(memory) // LAMBDA_MB_PER_VCPU))
    return max(1, cpus)


class InOrder(Generic[P]):
    """Folds blocks into `whole` with `cpus` CPUs: alone with one, and with more once START_AFTER_BYTES have been
    read, with `cpus - 1` worker processes while this process reads, hands blocks out and merges the parts.

    When every worker holds all the blocks it may, this process folds the next block itself (into a part of its
    own, merged in its turn): it is never idle while a worker has work, and no worker waits on it for long.
    A part is made with `new_part(the part made before it by the same process, or None)`: a part may start from
    what the one before it learnt (such as how wide its timeline's bins had to be).

    `lines` is how many lines have been folded, in order: after an error from reading it is where the reading
    stopped (the caller words such an error). An error in a block is raised with its line in the whole file,
    and the first in the file wins.
    """

    def __init__(
        self, whole: P, new_part: Callable[[P | None], P], *, cpus: int, start_after: int = START_AFTER_BYTES
    ) -> None:
        self.whole = whole
        self.new_part = new_part
        self.cpus = cpus
        self.start_after = start_after
        self.lines = 0

    def fold(self, blocks: Iterator[Block]) -> None:
        read = 0
        for pieces in blocks:
            block = b"".join(pieces)
            self.lines += self.whole.add_block(block, self.lines)
            read += len(block)
            if self.cpus > 1 and read >= self.start_after:
                break
        else:
            return
        with _Workers(self.cpus - 1, self.new_part) as workers:
            # The blocks handed out, in the file's order: a worker's number, or HERE with the result made here.
            waiting: deque[tuple[int, tuple[Any, ...] | None]] = deque()
            mine: P | None = None  # the last part made here
            while True:
                try:
                    pieces = next(blocks)
                except StopIteration:
                    break
                except BaseException:
                    # An error in a block read before comes first, as it would reading alone.
                    while waiting:
                        self._merge(waiting.popleft(), workers)
                    raise
                # Merge what is ready, in order; past WAITING_PER_CPU blocks per CPU, wait for the oldest.
                while waiting and (
                    waiting[0][0] == HERE or workers.ready(waiting[0][0]) or len(waiting) >= WAITING_PER_CPU * self.cpus
                ):
                    self._merge(waiting.popleft(), workers)
                size = sum(map(len, pieces))
                worker = workers.free(size)
                if worker is not None:
                    workers.send(worker, pieces, size)
                    waiting.append((worker, None))
                    continue
                mine = self.new_part(mine)
                waiting.append((HERE, _fold_part(mine, b"".join(pieces))))
            while waiting:
                self._merge(waiting.popleft(), workers)

    def _merge(self, entry: tuple[int, tuple[Any, ...] | None], workers: _Workers) -> None:
        worker, result = entry
        match result if result is not None else workers.result(worker):
            case ("part", part, lines):
                self.whole.absorb(part)
                self.lines += lines
            case ("refused", reason, line, part):
                # What the part read before its refusal comes first: merged, it may hold an earlier refusal that
                # only the whole can see (one sensor too many in all, say).
                before = self.lines
                self.whole.absorb(part)
                raise DiagnosticsFileError(reason, line=None if line is None else before + line)
            case ("failed", trace):
                raise WorkerFailedError(f"summarising a block failed:\n{trace}")


HERE = -1  # a block folded by the reading process itself


def _fold_part(part: Part, block: bytes) -> tuple[Any, ...]:
    """A block folded into a part: the part and its lines, or the file's refusal, or a bug's trace."""
    try:
        return ("part", part, part.add_block(block, 0))
    except DiagnosticsFileError as error:  # with what the part read before it
        return ("refused", error.reason, error.line, part)
    except Exception:  # a bug, not the file: the reader raises it with this trace
        return ("failed", traceback.format_exc())


class _Workers:
    """N worker processes, each with a pipe it reads blocks from and writes results to.

    A forked worker also shares `depth` slots of memory with the reader (anonymous shared memory, which needs
    no `/dev/shm`): a block is copied into the next slot and only the slot and the length go through the pipe,
    so the reader never waits on a pipe for a block, and a worker finds its next block ready when it finishes
    one. A spawned worker (where the platform cannot fork) reads its blocks through its pipe.
    """

    def __init__(self, count: int, new_part: Callable[[Any], Part]) -> None:
        forked = "fork" in multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork") if forked else multiprocessing.get_context("spawn")
        self.depth = SLOTS_PER_WORKER if forked else 1
        self.connections: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        self.slots: list[list[mmap.mmap]] = []
        self.sent = [0] * count  # blocks sent to each worker: the next one's slot
        self.held = [0] * count  # blocks each worker holds: sent, their result not yet read
        for _ in range(count):
            mine, theirs = context.Pipe()
            slots = [mmap.mmap(-1, SLOT_BYTES) for _ in range(SLOTS_PER_WORKER)] if forked else []
            # A forked worker inherits the reader's ends of its pipe and of those made before: it closes them, or
            # it and those workers would never read the end of their pipe.
            inherited = [*self.connections, mine] if forked else []
            process = context.Process(target=_work, args=(theirs, slots, new_part, inherited), daemon=True)
            process.start()
            theirs.close()
            self.connections.append(mine)
            self.processes.append(process)
            self.slots.append(slots)

    def free(self, size: int) -> int | None:
        """A worker that may take a block of `size` bytes now, the one holding fewest; None if none may.

        Forked workers hold `depth` blocks at most, each in a slot of its own; a block larger than a slot is
        folded by the reader. A spawned worker takes one block at a time, through its pipe: with none held,
        it is reading its pipe, so the reader's write never waits on a worker writing a result.
        """
        if self.depth > 1 and size > SLOT_BYTES:
            return None
        fewest = min(range(len(self.held)), key=self.held.__getitem__)
        return fewest if self.held[fewest] < self.depth else None

    def send(self, worker: int, pieces: Block, size: int) -> None:
        connection, slots = self.connections[worker], self.slots[worker]
        try:
            if slots:
                number = self.sent[worker] % len(slots)
                slot, start = slots[number], 0
                for piece in pieces:  # the block's one copy
                    slot[start : start + len(piece)] = piece
                    start += len(piece)
                connection.send_bytes(_SLOT.pack(number, size))
            else:
                connection.send_bytes(b"".join(pieces))
        except OSError as error:  # its end closed: it died
            raise WorkerFailedError(f"a summarising worker stopped ({self._exit_of(worker)})") from error
        self.sent[worker] += 1
        self.held[worker] += 1

    def ready(self, worker: int) -> bool:
        """Whether the worker's oldest result can be read without waiting."""
        return self.connections[worker].poll()

    def result(self, worker: int) -> tuple[Any, ...]:
        """The worker's oldest result (its blocks are folded in the order they were sent)."""
        try:
            result: tuple[Any, ...] = self.connections[worker].recv()
        except (EOFError, OSError) as error:
            raise WorkerFailedError(f"a summarising worker stopped ({self._exit_of(worker)})") from error
        self.held[worker] -= 1
        return result

    def _exit_of(self, worker: int) -> str:
        process = self.processes[worker]
        process.join(timeout=5)
        return f"exit code {process.exitcode}; -9 is the kill of a process out of memory"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        for connection in self.connections:  # a worker reads the end of its pipe and returns
            connection.close()
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():  # pragma: no cover - only if a worker hangs
                process.kill()
                process.join()
        for slots in self.slots:
            for slot in slots:
                slot.close()


def _work(
    connection: Connection, slots: list[mmap.mmap], new_part: Callable[[Any], Part], inherited: list[Connection]
) -> None:
    """A worker: fold each block it is sent into a part of its own and send the part back, until the pipe ends."""
    for other in inherited:
        other.close()
    part = None
    while True:
        try:
            message = connection.recv_bytes()
        except (EOFError, OSError):  # the reader is done (or stopped early, on an error of its own)
            return
        if slots:
            number, length = _SLOT.unpack(message)
            block = slots[number][:length]
        else:
            block = message
        part = new_part(part)
        result = _fold_part(part, block)
        try:
            message = bytes(ForkingPickler.dumps(result))
        except Exception:  # a part that cannot be sent is a bug too
            message = bytes(ForkingPickler.dumps(("failed", traceback.format_exc())))
        connection.send_bytes(message)
