"""Folding blocks in worker processes (lookout_diagnostics/domain/workers.py), with parts that only count.

The parts here are as plain as can be: a part is the list of the blocks it read, so the whole shows the order
in which parts were merged, and any mistake of order, of line numbers or of flow is visible in it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from lookout_diagnostics.domain import workers
from lookout_diagnostics.domain.workers import Block, InOrder, WorkerFailedError, available_cpus
from lookout_diagnostics.errors import DiagnosticsFileError


class Lines:
    """A part: the blocks it read, in order; a block `bad N` is refused at its line N."""

    def __init__(self) -> None:
        self.blocks: list[bytes] = []

    @classmethod
    def after(cls, before: Lines | None) -> Lines:
        return cls()

    def add_block(self, block: bytes, line_number: int) -> int:
        if block.startswith(b"bad"):
            raise DiagnosticsFileError("a bad line", line=line_number + int(block.split()[1]))
        if block == b"exit":
            os._exit(3)  # a worker dying as one killed for its memory does
        if block == b"bug":
            raise KeyError("a bug")
        self.blocks.append(block)
        return block.count(b"\n") + 1

    def absorb(self, later: Lines) -> None:
        self.blocks.extend(later.blocks)


def texts(count: int) -> list[bytes]:
    return [f"block {n}\nsecond line".encode() for n in range(count)]


def blocks(count: int) -> Iterator[Block]:
    """Blocks as the reader cuts them: in pieces (here, the head of the first line and the rest)."""
    return ((text[:3], memoryview(text)[3:]) for text in texts(count))


@pytest.mark.parametrize("count", [1, 2, 3])
def test_every_block_is_merged_once_in_the_files_order_whatever_the_workers(count: int) -> None:
    # Given 50 blocks of two lines, the first 10 read alone
    whole = Lines()
    folding = InOrder(whole, Lines.after, cpus=count, start_after=10 * len(b"block 0\nsecond line"))
    # When they are folded with `count` CPUs
    folding.fold(blocks(50))
    # Then the whole holds every block once, in order, and every line is counted
    assert whole.blocks == texts(50)
    assert folding.lines == 100


def test_a_refused_line_is_named_by_its_line_in_the_file_and_the_first_one_wins() -> None:
    # Given blocks of two lines where the 31st block refuses its line 2 and the 40th its line 1
    def with_bad() -> Iterator[Block]:
        for n, block in enumerate(blocks(50)):
            yield (b"bad 2",) if n == 30 else (b"bad 1",) if n == 39 else block

    # When they are folded with two CPUs, from the first block
    with pytest.raises(DiagnosticsFileError) as refused:
        InOrder(Lines(), Lines.after, cpus=2, start_after=0).fold(with_bad())
    # Then the refusal names line 62: 30 blocks of two lines before it, and its own second line
    assert (refused.value.line, refused.value.reason) == (62, "a bad line")


def test_an_error_reading_comes_after_the_refusal_of_a_block_read_before_it() -> None:
    # Given a block refused at its first line, and then the reading failing
    def failing() -> Iterator[Block]:
        yield from blocks(3)
        yield (b"bad 1",)
        raise EOFError("truncated")

    # When they are folded with two CPUs, Then the refusal of the line comes first, as reading alone
    with pytest.raises(DiagnosticsFileError) as refused:
        InOrder(Lines(), Lines.after, cpus=2, start_after=0).fold(failing())
    assert refused.value.line == 7


def test_an_error_reading_leaves_the_lines_counted_up_to_it() -> None:
    # Given good blocks and then the reading failing
    def failing() -> Iterator[Block]:
        yield from blocks(9)
        raise EOFError("truncated")

    folding = InOrder(Lines(), Lines.after, cpus=2, start_after=0)
    # When they are folded, Then the reading's error comes out, with every line before it counted
    with pytest.raises(EOFError):
        folding.fold(failing())
    assert folding.lines == 18


@pytest.mark.parametrize(("block", "says"), [(b"exit", "exit code 3"), (b"bug", "KeyError: 'a bug'")])
def test_a_worker_that_dies_or_fails_is_an_error_that_says_so_not_a_hang(block: bytes, says: str) -> None:
    # Given a block that kills its worker, or meets a bug, right after the first (read alone): the worker, free,
    # takes it
    def deadly() -> Iterator[Block]:
        yield from blocks(1)
        yield (block,)
        yield from blocks(5)

    # When the blocks are folded with two CPUs, Then WorkerFailedError says what happened
    with pytest.raises(WorkerFailedError, match=says):
        InOrder(Lines(), Lines.after, cpus=2, start_after=0).fold(deadly())


class Noting(Lines):
    """The whole: notes, at each merge, how many blocks the reader had handed out and not yet merged."""

    handed_out = 0

    def __init__(self) -> None:
        super().__init__()
        self.held: list[int] = []

    def absorb(self, later: Lines) -> None:
        super().absorb(later)
        self.held.append(Noting.handed_out - len(self.blocks))


def test_no_more_blocks_are_held_than_the_workers_slots() -> None:
    # Given a reader that counts the blocks it hands out
    def counted() -> Iterator[Block]:
        for block in blocks(40):
            Noting.handed_out += 1
            yield block

    Noting.handed_out = 0
    whole = Noting()
    # When 40 blocks are folded with three CPUs
    InOrder(whole, Lines.after, cpus=3, start_after=0).fold(counted())
    # Then each block after the first (read alone, before the workers start) was merged
    assert len(whole.held) == 39
    # and at no merge were more blocks out than the bound on those waiting, besides the one being read
    assert max(whole.held) <= workers.WAITING_PER_CPU * 3 + 1


def test_a_part_that_cannot_be_sent_back_is_an_error_that_says_so() -> None:
    # Given parts that hold what cannot be pickled
    class Unsendable(Lines):
        pass

    # When blocks are folded with two CPUs, Then WorkerFailedError names the pickling
    with pytest.raises(WorkerFailedError, match="Can't"):
        InOrder(Lines(), lambda before: Unsendable(), cpus=2, start_after=0).fold(blocks(4))


def test_a_spawned_worker_reads_its_blocks_through_the_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a platform that cannot fork (macOS, Windows)
    monkeypatch.setattr(workers.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    whole = Lines()
    # When blocks are folded with two CPUs, Then every block is merged in order all the same
    InOrder(whole, Lines.after, cpus=2, start_after=0).fold(blocks(6))
    assert whole.blocks == texts(6)


def test_a_block_larger_than_the_shared_slot_goes_through_the_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given slots of 16 bytes, and blocks of 20
    monkeypatch.setattr(workers, "SLOT_BYTES", 16)
    whole = Lines()
    # When they are folded with two CPUs, Then every block arrives whole
    InOrder(whole, Lines.after, cpus=2, start_after=0).fold(blocks(6))
    assert whole.blocks == texts(6)


@pytest.mark.parametrize(("memory", "cpus"), [("1769", 1), ("3000", 1), ("3538", 2), ("10240", 5), ("128", 1)])
def test_in_lambda_the_workers_are_the_vcpus_the_memory_buys(
    monkeypatch: pytest.MonkeyPatch, memory: str, cpus: int
) -> None:
    # Given a function with this much memory on a machine showing 8 CPUs
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory)
    monkeypatch.setattr(workers.os, "sched_getaffinity", lambda _: set(range(8)), raising=False)
    # Then the CPUs used are one per 1,769 MB, whole ones, at least one
    assert available_cpus() == cpus


def test_outside_lambda_the_workers_are_the_cpus_this_process_may_run_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a process pinned to 3 CPUs of 8, outside Lambda
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", raising=False)
    monkeypatch.setattr(workers.os, "sched_getaffinity", lambda _: {0, 2, 5}, raising=False)
    # Then it uses 3
    assert available_cpus() == 3
