"""What the model says: the reply engine behind the protocol.

The protocol layer (`session`, `response_run`) hands an engine a
`ReplyRequest` — the user's latest turn (its transcript still being decoded,
as a task), the response's context, instructions and tools — and streams the
`Reply` that comes back: words to speak (synthesized sentence by sentence by
`response_run`), ready-made audio (the echo engine), or a function call.

Engines: `echo` (`EchoReplyEngine`, speaks the user's own audio back) and
`dialogue` (`dialogue.engine.DialogueReplyEngine`, rules and tool calls over the
transcript); `make_engine` in `server` picks one per session.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from .conversation import Item
from .wire import SAMPLE_RATE, ms_to_samples

log = logging.getLogger(__name__)

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
    transcript: asyncio.Task[str] | None = None
    """The audio's transcript, decoding or decoded (None: no transcription was run)."""

    async def words(self) -> str:
        """The turn as text: its text, else its awaited transcript ("" if decoding failed)."""
        if self.text:
            return self.text
        task = self.transcript
        if task is None:
            return ""
        # wait() rather than await: a cancelled decode must not cancel the caller.
        await asyncio.wait({task})
        if task.cancelled() or task.exception() is not None:
            return ""
        return task.result()


@dataclass(frozen=True)
class ReplyRequest:
    """Everything an engine may use to answer."""

    turn: UserTurn | None
    instructions: str
    """Effective instructions: the response's own if it gave some, else the session's."""
    audio_output: bool
    prefix_padding_ms: int = 300
    session_instructions: str = ""
    response_instructions: str | None = None
    """`response.create`'s `instructions` (None: not given)."""
    context: tuple[Item, ...] = ()
    """The items the response answers (conversation or `response.input`), oldest first."""
    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: str | dict[str, Any] = "auto"


@dataclass(frozen=True)
class FunctionCall:
    """A tool the model calls: its name and JSON-encoded arguments."""

    name: str
    arguments: str


@dataclass(frozen=True)
class Reply:
    """An answer: words to say, ready-made audio for them, or a function call."""

    text: str
    audio: npt.NDArray[np.int16] | None = None
    """pcm16 24 kHz audio of `text`; None: `response_run` synthesizes `text`."""
    function_call: FunctionCall | None = None


class ReplyEngine(Protocol):
    """Produces one reply per response; must not block the event loop."""

    @property
    def needs_transcript(self) -> bool:
        """True if the engine reads the user's words (the session then always transcribes)."""
        ...

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

    @property
    def needs_transcript(self) -> bool:
        """The echo never reads words."""
        return False

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
