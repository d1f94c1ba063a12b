"""Streams made as they are read: a file of any size in little memory, plain or gzipped."""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterable, Iterator


class Generated(io.RawIOBase):
    """A stream whose bytes are produced as they are read: a file of any size in little memory."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        super().__init__()
        self._pieces = iter(pieces)
        self._buffer = b""
        self.produced = 0

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            piece = next(self._pieces, b"")
            if not piece:
                break
            self._buffer += piece
        cut = len(self._buffer) if size < 0 else size
        data, self._buffer = self._buffer[:cut], self._buffer[cut:]
        self.produced += len(data)
        return data

    def readable(self) -> bool:
        return True


def gzipped(pieces: Iterable[bytes], level: int = 1) -> Iterator[bytes]:
    """The pieces as one gzip stream, compressed as they are read (level 0: stored, as long as the text)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    for piece in pieces:
        if out := compressor.compress(piece):
            yield out
    yield compressor.flush()
