"""Decoding user turns while they are spoken, and reporting their transcripts.

With server VAD a decode starts at `speech_started` (fed the buffered prefix
padding, then every appended sample; see `turn_decode` for what reaches the
recognizer when), so at commit little or nothing is left to decode; a manual
commit decodes the committed audio at commit. The result is a task on the user
item's audio part (`ContentPart.transcription`): the reply engine awaits it
inside the response task, and it sets the part's `transcript`.

The session always transcribes when its engine reads words; the
`conversation.item.input_audio_transcription.delta` / `.completed` /
`.failed` events are sent only when input transcription is enabled in the
session config. Deltas are sent while the user speaks, under the item id that
`speech_started` announced; the deltas of one item add up to its transcript.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..dialogue.tool_matcher import tool_hints
from ..protocol.conversation import ContentPart, Item
from ..protocol.session_config import ServerSessionConfig
from ..protocol.wire import SAMPLE_RATE
from .turn_decode import TurnDecode

if TYPE_CHECKING:
    from .transcription import LiveTranscription

log = logging.getLogger(__name__)

Emit = Callable[[str, dict[str, Any]], Awaitable[None]]


class TurnTranscriber:
    """One session's user-turn decoding (see the module docstring)."""

    def __init__(self, emit: Emit, config: Callable[[], ServerSessionConfig], always: bool) -> None:
        self._emit = emit
        self._config = config
        self._always = always
        self._live: TurnDecode | None = None
        self._outbox: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[str]] = set()

    def _wanted(self) -> tuple[bool, bool]:
        events = self._config().input_transcription is not None
        return self._always or events, events

    def _open(self, item_id: str, events: bool) -> TurnDecode:
        from .speech_runtime import shared_runtime

        runtime = shared_runtime()
        hints = tool_hints(self._config().tools)
        loop = asyncio.get_running_loop()

        def open_stream(on_delta: Callable[[str], None]) -> LiveTranscription:
            def on_delta_in_loop(text: str) -> None:  # the recognizer may call from a thread
                loop.call_soon_threadsafe(on_delta, text)

            return runtime.live_transcription(hints, on_delta_in_loop)

        return TurnDecode(item_id, events=events, open_stream=open_stream,
                          on_text=self._text, backlogged=lambda: runtime.backlogged)

    def begin(self, item_id: str, audio: npt.NDArray[np.int16]) -> None:
        """Speech started: decode `audio` (the buffered prefix) and what `feed` adds."""
        self.cancel_live()
        wanted, events = self._wanted()
        if wanted:
            self._live = self._open(item_id, events)
            self._live.feed(audio)

    def feed(self, samples: npt.NDArray[np.int16]) -> None:
        """Audio appended while the user speaks (ignored when no decode is live)."""
        if self._live is not None:
            self._live.feed(samples)

    def complete(self, item: Item, *, events_allowed: bool = True) -> None:
        """`item` was committed: finish its decode (or decode its audio now) as a task."""
        part = next((p for p in item.content if p.type == "input_audio"), None)
        wanted, events = self._wanted()
        decode, self._live = self._live, None
        if part is None or part.audio is None or not wanted:
            if decode is not None:
                decode.cancel()
            return
        if decode is None or decode.item_id != item.id:
            if decode is not None:
                decode.cancel()
            decode = self._open(item.id, events and events_allowed)
            decode.hold(part.audio)
        task = asyncio.create_task(self._finish(decode, part), name=f"transcribe {item.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        part.transcription = task

    def cancel_live(self) -> None:
        """Drop the decode of a turn that will not be committed (buffer cleared, VAD reset)."""
        if self._live is not None:
            self._live.cancel()
        self._live = None

    def close(self) -> None:
        """The session ended: stop every decode and the event pump."""
        self.cancel_live()
        for task in list(self._tasks):
            task.cancel()
        if self._pump is not None:
            self._pump.cancel()

    async def _finish(self, decode: TurnDecode, part: ContentPart) -> str:
        try:
            text = await decode.transcript()
        except Exception as exc:
            log.warning("transcription of %s failed: %s", decode.item_id, exc)
            if decode.events:
                self._queue("conversation.item.input_audio_transcription.failed", {
                    "item_id": decode.item_id, "content_index": 0,
                    "error": {"type": "server_error", "code": "transcription_failed",
                              "message": str(exc), "param": None},
                })
            raise
        part.transcript = text
        if decode.events:
            if text.startswith(decode.sent) and len(text) > len(decode.sent):
                self._queue_delta(decode, text[len(decode.sent):])
            self._queue("conversation.item.input_audio_transcription.completed", {
                "item_id": decode.item_id, "content_index": 0, "transcript": text,
                "usage": {"type": "duration",
                          "seconds": round(decode.samples / SAMPLE_RATE, 3)},
            })
        return text

    def _text(self, decode: TurnDecode, stream_text: str) -> None:
        """A stream's stable text so far: send what goes beyond the deltas already sent."""
        sent = decode.sent
        if decode.events and not decode.finished and stream_text.startswith(sent) and (
                len(stream_text) > len(sent)):
            self._queue_delta(decode, stream_text[len(sent):])

    def _queue_delta(self, decode: TurnDecode, text: str) -> None:
        decode.sent += text
        self._queue("conversation.item.input_audio_transcription.delta",
                    {"item_id": decode.item_id, "content_index": 0, "delta": text})

    def _queue(self, ga_type: str, payload: dict[str, Any]) -> None:
        # One pump keeps the events of a session in the order they were queued.
        self._outbox.put_nowait((ga_type, payload))
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._drain(), name="transcription events")

    async def _drain(self) -> None:
        while not self._outbox.empty():
            ga_type, payload = self._outbox.get_nowait()
            await self._emit(ga_type, payload)
