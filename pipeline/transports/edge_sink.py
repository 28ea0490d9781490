"""The ``Sink`` of every edge-served transport, in playout: each paced agent frame
(and each barge-in) goes to the edge stage, which writes it to the connection."""

from __future__ import annotations

from collections.abc import Callable

from ipc.schema import DataMsg, EdgeFlush, EdgeFrame


class EdgeSink:
    """Pushes a session's frames to the edge stage's inbox through ``send``."""

    heard_on_timeline = False

    def __init__(self, session: str, sample_rate: int, send: Callable[[DataMsg], bool]) -> None:
        self._session = session
        self._rate = sample_rate
        self._send = send

    def write(self, seq: int, position: int, pcm: bytes | bytearray | memoryview) -> None:
        self._send(EdgeFrame(self._session, seq, self._rate, bytes(pcm), position))

    def flush(self, reason: str) -> None:
        self._send(EdgeFlush(self._session, reason))

    def close(self) -> None:
        pass
