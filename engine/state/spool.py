"""The spool: the append-only file beside a state file where `etl serve` makes a delivery durable
before it answers, to be moved into the DuckDB inbox later (State.move_spool).

Layout: MAGIC (8 bytes) and the file's id (16 random bytes), then frames, each the body's
length (u32, little-endian), its CRC-32 (u32) and the bytes. An append is written at the end
and fdatasync'ed before anyone is answered; a failed one is cut off again. A torn last frame
(a crash mid-append: never answered) fails its length or CRC and is cut off when the file is
opened. The state records (file id, offset) of what it moved in the same transaction as the
moved events; rewriting the file (`rotate`) gives it a new id, so an offset recorded against
an older file is never applied to this one: nothing is skipped, and nothing moved twice.

Only one process uses a spool: the one that holds its state file (DuckDB's lock says which).
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import zlib
from collections.abc import Sequence
from pathlib import Path

import duckdb

from engine.errors import StateError

log = logging.getLogger(__name__)

MAGIC = b"LOOPSPL1"
HEADER = len(MAGIC) + 16
_FRAME = struct.Struct("<II")
MAX_UNMOVED = 256 << 20  # past this the mover is stuck: refuse (503, which Loop retries)
ROTATE_BYTES = 16 << 20  # a file this large starts again once moved (it would only grow)
READ_BYTES = 8 << 20  # read at most this much per move (a frame larger is read alone)
META_KEY = "spool"
_sync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


class SpoolFull(StateError):
    """More than `max_unmoved` bytes wait to be moved: the mover is stuck."""


def spool_path(state_path: str) -> Path:
    return Path(f"{state_path}.spool")


def parse(data: bytes, base: int) -> tuple[list[bytes], int]:
    """The whole, intact frames at the start of `data` (which begins at offset `base`), and the
    offset after the last one; a short or damaged frame ends the list."""
    frames: list[bytes] = []
    at = 0
    while at + _FRAME.size <= len(data):
        length, crc = _FRAME.unpack_from(data, at)
        end = at + _FRAME.size + length
        if end > len(data):
            break
        body = data[at + _FRAME.size : end]
        if zlib.crc32(body) != crc:
            break
        frames.append(body)
        at = end
    return frames, base + at


def frame(raw: bytes) -> bytes:
    return _FRAME.pack(len(raw), zlib.crc32(raw)) + raw


class Spool:
    """An open spool file. `append` is thread-safe; `frames`, `moved` and `rotate` are for one
    mover at a time (State holds its move lock around them)."""

    def __init__(self, path: Path, max_unmoved: int = MAX_UNMOVED) -> None:
        self.path = path
        self.max_unmoved = max_unmoved
        self._lock = threading.Lock()
        if not path.exists():
            _create(path, b"")
        self._fd = os.open(path, os.O_RDWR)
        try:
            self.ident, self.size = self._open()
        except BaseException:
            os.close(self._fd)
            raise
        self._moved = HEADER

    def _open(self) -> tuple[bytes, int]:
        head = os.pread(self._fd, HEADER, 0)
        if len(head) != HEADER or not head.startswith(MAGIC):
            raise StateError(f"{self.path} is not a loop-etl spool file; move it aside")
        size, at = os.fstat(self._fd).st_size, HEADER
        while at < size:
            want = min(size - at, max(READ_BYTES, _length(self._fd, at)))
            found, stop = parse(os.pread(self._fd, want, at), at)
            if not found:
                break
            at = stop
        if at < size:  # a crash mid-append: that delivery was never answered
            log.warning("the spool %s ends in %d unreadable bytes: cut off", self.path, size - at)
            os.ftruncate(self._fd, at)
            os.fsync(self._fd)
        return head[len(MAGIC) :], at

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    @property
    def unmoved(self) -> int:
        """Bytes appended and not yet moved."""
        return self.size - self._moved

    def append(self, raws: Sequence[bytes]) -> None:
        """Write the bodies and make them durable; SpoolFull past `max_unmoved`, StateError
        when the file cannot take them (nothing of them is left in it)."""
        data = b"".join(frame(raw) for raw in raws)
        with self._lock:
            if self.unmoved + len(data) > self.max_unmoved:
                raise SpoolFull(
                    f"the spool {self.path} holds {self.unmoved} bytes not yet moved into the "
                    "inbox: the state is not taking events"
                )
            try:
                view = memoryview(data)
                while view:
                    view = view[os.pwrite(self._fd, view, self.size + len(data) - len(view)) :]
                _sync(self._fd)
            except OSError as exc:
                self._cut()
                raise StateError(f"cannot write the spool {self.path}: {exc}") from None
            self.size += len(data)

    def _cut(self) -> None:
        try:  # so that the next append does not land behind a torn frame
            os.ftruncate(self._fd, self.size)
        except OSError as exc:
            log.error("cannot cut a failed append off the spool %s: %s", self.path, exc)

    def frames(self, start: int) -> tuple[list[bytes], int]:
        """Frames from `start` (at most READ_BYTES' worth, or one larger frame), and the offset
        after them."""
        with self._lock:
            fd, end = self._fd, self.size
        if start >= end:
            return [], start
        size = min(end - start, max(READ_BYTES, _length(fd, start)))
        return parse(os.pread(fd, size, start), start)

    def moved(self, offset: int) -> None:
        """Everything before `offset` is in the inbox now."""
        with self._lock:
            self._moved = offset

    def rotate(self) -> None:
        """Rewrite the file with what is not moved yet, under a new id (so that it stops
        growing); appends wait meanwhile."""
        with self._lock:
            tail = os.pread(self._fd, self.size - self._moved, self._moved)
            ident = _create(self.path, tail)
            fd = os.open(self.path, os.O_RDWR)
            os.close(self._fd)
            self._fd, self.ident = fd, ident
            self.size, self._moved = HEADER + len(tail), HEADER


def _length(fd: int, at: int) -> int:
    """The whole size of the frame at `at`, as its header says."""
    head = os.pread(fd, _FRAME.size, at)
    return _FRAME.size + _FRAME.unpack(head)[0] if len(head) == _FRAME.size else 0


def _create(path: Path, frames: bytes) -> bytes:
    """Write a spool file with a new id and these frames, durably, in place of `path`."""
    ident = os.urandom(16)
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, MAGIC + ident + frames)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:  # the rename itself must survive a crash
        os.fsync(folder)
    finally:
        os.close(folder)
    return ident


# -- the offset moved so far, recorded in the state (state_meta) ----------------------------


def recorded(db: duckdb.DuckDBPyConnection, ident: bytes) -> int:
    """Where moving resumes in the spool with this id (its start when another file's offset is
    recorded, or none); also makes sure the row exists, for `record` to update."""
    db.execute("INSERT INTO state_meta VALUES (?, '') ON CONFLICT DO NOTHING", [META_KEY])
    row = db.execute("SELECT value FROM state_meta WHERE key = ?", [META_KEY]).fetchone()
    found, _, offset = (row[0] if row else "").partition(":")
    return int(offset) if found == ident.hex() and offset.isdigit() else HEADER


def record(db: duckdb.DuckDBPyConnection, ident: bytes, offset: int) -> None:
    db.execute(
        "UPDATE state_meta SET value = ? WHERE key = ?", [f"{ident.hex()}:{offset}", META_KEY]
    )
