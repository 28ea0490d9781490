"""One user turn's decode: which audio reaches the recognizer, and when.

A live partial decode re-reads the whole growing utterance, so feeding every
append would spend a core per speaker. The policy:

- Appended audio is held and passed on in steps of at least `LIVE_STEP_MS`
  that contain some sound (`SILENCE_RMS`); silence adds no words.
- Nothing is passed on while the shared speech pool is backlogged: busy
  sessions pay one decode at the end instead of many while speaking.
- Early finish: once `EARLY_FINISH_MS` of quiet follows speech, the final
  decode starts at once, as urgent work, inside the VAD's silence window
  (which must run out before the turn is committed), so the transcript is
  usually ready when `speech_stopped` comes. If the user speaks again before
  that, the early result is dropped and a fresh stream re-reads the whole turn.

Deltas: each stream reports its stable text; `on_text` gets the stream's text
so far, from the start of the turn, so a restarted stream's repeat of words
already reported can be told apart from new words.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ..protocol.wire import ms_to_samples

if TYPE_CHECKING:
    from .transcription import LiveTranscription

LIVE_STEP_MS = 300
EARLY_FINISH_MS = 200
SILENCE_RMS = 100
"""Chunks quieter than this RMS (about -50 dBFS) count as silence."""

OpenStream = Callable[[Callable[[str], None]], "LiveTranscription"]
"""Opens a recognizer stream that reports stable text increments to the callable."""


def _rms(samples: npt.NDArray[np.int16]) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


class TurnDecode:
    """Feeds one turn to the recognizer by the module's policy; `transcript()` ends it."""

    def __init__(
        self, item_id: str, *, events: bool, open_stream: OpenStream,
        on_text: Callable[[TurnDecode, str], None], backlogged: Callable[[], bool],
    ) -> None:
        self.item_id = item_id
        self.events = events
        """Whether this turn's transcription events are sent."""
        self.sent = ""
        """Delta text already sent for this turn."""
        self.samples = 0
        """Audio of the turn seen so far, in samples."""
        self.finished = False
        self.restarts = 0
        self._open_stream = open_stream
        self._on_text = on_text
        self._backlogged = backlogged
        self._fed: list[npt.NDArray[np.int16]] = []
        self._held: list[npt.NDArray[np.int16]] = []
        self._held_samples = 0
        self._held_sound = False
        self._sound_heard = False
        self._quiet = 0
        self._early: asyncio.Task[str] | None = None
        self._generation = 0
        self._live = self._new_stream()

    def _new_stream(self) -> LiveTranscription:
        self._generation += 1
        generation, text = self._generation, [""]

        def on_delta(delta: str) -> None:
            if generation == self._generation:  # a dropped stream's words are stale
                text[0] += delta
                self._on_text(self, text[0])

        return self._open_stream(on_delta)

    def hold(self, samples: npt.NDArray[np.int16]) -> None:
        """Audio to decode at the end, with no live decode (a manual commit)."""
        self.samples += samples.size
        self._held.append(samples)

    def feed(self, samples: npt.NDArray[np.int16]) -> None:
        """Audio appended while the user speaks."""
        from .speech_runtime import urgent

        if not samples.size:
            return
        self.samples += samples.size
        sound = _rms(samples) >= SILENCE_RMS
        if self._early is not None:
            if not sound:
                return
            self._restart()
        self._held.append(samples)
        self._held_samples += samples.size
        self._held_sound |= sound
        self._sound_heard |= sound
        self._quiet = 0 if sound else self._quiet + samples.size
        if self._sound_heard and self._quiet >= ms_to_samples(EARLY_FINISH_MS):
            with urgent():  # the task copies this context: its decode job is urgent
                self._release()
                self._early = asyncio.ensure_future(self._live.finish())
        elif self._held_sound and self._held_samples >= ms_to_samples(LIVE_STEP_MS) and (
                not self._backlogged()):
            self._release()

    async def transcript(self) -> str:
        """The turn's final transcript (decoding the rest as urgent work)."""
        from .speech_runtime import urgent

        try:
            if self._early is not None:
                return (await self._early).strip()
            with urgent():
                self._release()
                return (await self._live.finish()).strip()
        finally:
            self.finished = True

    def cancel(self) -> None:
        """Abandon the turn (no more deltas; a pending `transcript()` is cancelled)."""
        if self._early is not None:
            self._early.cancel()
        self._live.cancel()

    def _release(self) -> None:
        if self._held:
            chunk = np.concatenate(self._held) if len(self._held) > 1 else self._held[0]
            self._fed.append(chunk)
            self._live.feed(chunk)
        self._held, self._held_samples, self._held_sound = [], 0, False

    def _restart(self) -> None:
        assert self._early is not None
        self._early.cancel()
        self._early = None
        self._live.cancel()
        self.restarts += 1
        self._live = self._new_stream()
        if self._fed:
            self._live.feed(np.concatenate(self._fed))
