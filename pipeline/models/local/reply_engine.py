"""What the model says: the reply engine behind the protocol.

The protocol layer (`session`, `response_run`) hands an engine the user's
latest turn and streams whatever `Reply` comes back, so a real STT → reply →
TTS engine can replace `EchoReplyEngine` without touching the protocol code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from .wire import SAMPLE_RATE, ms_to_samples

_BEEP_HZ = 440.0
_BEEP_SECONDS = 0.5
_BEEP_AMPLITUDE = 3277  # -20 dBFS peak
_FADE_SECONDS = 0.01


@dataclass(frozen=True)
class UserTurn:
    """The user's latest message: committed audio and/or text."""

    audio: npt.NDArray[np.int16] | None = None
    speech_span: tuple[int, int] | None = None
    """[start, end) samples of `audio` the VAD heard as speech (None: manual commit)."""
    text: str | None = None


@dataclass(frozen=True)
class ReplyRequest:
    """Everything an engine may use to answer."""

    turn: UserTurn | None
    instructions: str
    audio_output: bool
    prefix_padding_ms: int = 300


@dataclass(frozen=True)
class Reply:
    """An answer: its text (the audio transcript) and pcm16 24 kHz audio."""

    text: str
    audio: npt.NDArray[np.int16]


class ReplyEngine(Protocol):
    """Produces one reply per response; must not block the event loop."""

    async def reply(self, request: ReplyRequest) -> Reply:
        """Answer `request`."""
        ...


def beep(seconds: float = _BEEP_SECONDS) -> npt.NDArray[np.int16]:
    """A soft 440 Hz tone with 10 ms fades, said in place of speech we cannot echo."""
    n = round(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    envelope = np.minimum(1.0, np.minimum(t, t[::-1]) / _FADE_SECONDS)
    tone = _BEEP_AMPLITUDE * envelope * np.sin(2 * np.pi * _BEEP_HZ * t)
    return tone.astype(np.int16)


class EchoReplyEngine:
    """Speaks the user's own speech back (from onset minus prefix padding to offset)."""

    async def reply(self, request: ReplyRequest) -> Reply:
        """Echo the turn's speech; text turns and empty turns get a beep."""
        turn = request.turn
        if turn is not None and turn.audio is not None and turn.audio.size:
            start, end = 0, turn.audio.size
            if turn.speech_span is not None:
                start = max(0, turn.speech_span[0] - ms_to_samples(request.prefix_padding_ms))
                end = min(end, turn.speech_span[1])
            audio = turn.audio[start:end]
            text = f"(echo of {audio.size / SAMPLE_RATE:.1f} s of your speech)"
        elif turn is not None and turn.text:
            audio = beep()
            text = f"(echo) {turn.text}"
        else:
            audio = beep()
            text = "(nothing to echo)"
        if not request.audio_output:
            audio = np.empty(0, dtype=np.int16)
        return Reply(text=text, audio=audio)
