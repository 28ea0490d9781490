"""The file transport's ``Sink``: a file call has no far end, so the agent's frames
go nowhere but the session record, which playout writes for every transport."""

from __future__ import annotations


class FileSink:
    """Accepts every frame and keeps none (the recording is the record's job)."""

    heard_on_timeline = True

    def write(self, seq: int, position: int, pcm: bytes | bytearray | memoryview) -> None:
        pass

    def flush(self, reason: str) -> None:
        pass

    def close(self) -> None:
        pass
