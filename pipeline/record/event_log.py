"""Append-only JSON-lines event log that stays readable after a SIGKILL.

Each record is encoded to one line and handed to the kernel with a single
``os.write`` on an ``O_APPEND`` descriptor: there is no userspace buffer to
lose, and the line lands whole at the current end of the file. A torn line
is still possible on a full disk, a power loss, or (rarely) a SIGKILL landing
while the kernel copies a record that spans pages; it is closed off on reopen
and skipped by :func:`read_event_log`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import msgspec

_ENCODER: Final = msgspec.json.Encoder()
_DECODER: Final = msgspec.json.Decoder(dict[str, Any])


class EventLog:
    """An open JSON-lines file; every :meth:`append` is one complete line on disk."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            self._terminate_torn_line()
        except BaseException:
            os.close(self._fd)
            raise

    def _terminate_torn_line(self) -> None:
        # Without this, the first new record would be glued onto the torn one and lost too.
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        with open(self.path, "rb") as f:
            f.seek(size - 1)
            last = f.read(1)
        if last != b"\n":
            os.write(self._fd, b"\n")

    def append(self, record: Mapping[str, Any]) -> None:
        """Encode ``record`` as one JSON line and write it with a single ``os.write``."""
        if self._fd < 0:
            raise ValueError(f"{self.path}: event log is closed")
        line = _ENCODER.encode(record if isinstance(record, dict) else dict(record)) + b"\n"
        n = os.write(self._fd, line)
        if n != len(line):
            # A regular file only takes part of a write when the disk is full.
            raise OSError(f"{self.path}: short write ({n} of {len(line)} bytes)")

    def close(self) -> None:
        """Close the descriptor; idempotent."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_event_log(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Return the records of a log, skipping a trailing incomplete line.

    A complete line that does not decode as a JSON object (a torn record closed
    off by a later reopen) is skipped as well.
    """
    data = Path(path).read_bytes()
    lines = data.split(b"\n")
    records: list[dict[str, Any]] = []
    for line in lines[:-1]:  # the last piece is b"" or a line with no newline yet
        if not line:
            continue
        try:
            records.append(_DECODER.decode(line))
        except msgspec.DecodeError:
            continue
    return records
