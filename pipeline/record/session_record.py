"""One session's record, whatever its transport: ``events.jsonl`` (the timeline of
events) and ``conversation.wav`` (user left, agent right, on the same timeline).

Written by playout, the process that owns the session clock. Both files survive a
SIGKILL of playout: the log is appended line by line, the audio tracks are raw files
written positionally, so a restarted playout opens the same record and carries on;
``finalize`` folds the tracks into the WAV when the session ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from pipeline.record.event_log import EventLog
from pipeline.record.timeline_recorder import TimelineRecorder

EVENTS_FILE: Final = "events.jsonl"
CONVERSATION_FILE: Final = "conversation.wav"


class SessionRecord:
    """The open record of one session in ``out_dir``."""

    def __init__(self, out_dir: Path, sample_rate: int) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.sample_rate = sample_rate
        self.wav_path = self.out_dir / CONVERSATION_FILE
        self._timeline = TimelineRecorder(self.out_dir, sample_rate)
        try:
            self._events = EventLog(self.out_dir / EVENTS_FILE)
        except BaseException:
            self._timeline.close()
            raise

    def log(self, record: Mapping[str, Any]) -> None:
        """Append one event line; OSError when the disk refuses it."""
        self._events.append(record)

    def write_user(self, pos: int, pcm: bytes | bytearray | memoryview) -> None:
        """The caller's audio (mono int16 at the record's rate) at timeline sample ``pos``."""
        self._timeline.write_user(pos, pcm)

    def write_agent(self, pos: int, pcm: bytes | bytearray | memoryview) -> None:
        """The agent's audio as played (mono int16 at the record's rate) at sample ``pos``."""
        self._timeline.write_agent(pos, pcm)

    def finalize(self) -> int:
        """Write ``conversation.wav`` (the event log stays open for the closing line);
        returns its frame count."""
        return self._timeline.finalize(self.wav_path)

    def close(self) -> None:
        """Close both files (the audio tracks are kept unless finalized); idempotent."""
        self._timeline.close()
        self._events.close()
