"""One response, from `response.created` to `response.done`, as an asyncio task.

The run awaits the engine's `Reply` (which may itself await the user's
transcript), then streams one output item:

- speech: the reply is spoken sentence by sentence (`SentenceSpeaker`, one
  sentence synthesized ahead) as audio deltas of `chunk_ms`; each word's
  `response.output_audio_transcript.delta` is sent just before the audio delta
  holding the word's first sample;
- text (text-only responses): `response.output_text.delta` word by word;
- a function call: `response.function_call_arguments.delta` pieces, then
  `.done` with the full arguments.

It yields to the event loop after every delta, so a cancel or a speech-start
is handled between two deltas or while a sentence is being synthesized.
`pace` 0 sends as fast as the socket drains; `pace` X paces the audio at X
times real time.

Cancelling (client `response.cancel` or a VAD barge-in) closes whatever is
open in order — audio done, transcript done, content part done, output item
done (status `incomplete`) — and ends with `response.done` status
`cancelled`, as the real API does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from . import wire
from .audio_format import encode_output
from .conversation import ContentPart, Conversation, Item
from .dialect import Dialect, ResponseRecord, Usage
from .reply_engine import FunctionCall, Reply, ReplyEngine, ReplyRequest
from .token_estimate import OUTPUT_AUDIO_TOKENS_PER_S, audio_tokens, text_tokens

if TYPE_CHECKING:
    from ..speech.tts import SpokenSentence

log = logging.getLogger(__name__)

Emit = Callable[[str, dict[str, Any]], Awaitable[None]]
"""Sends one server event: (GA event type, payload without `type`/`event_id`)."""

T = TypeVar("T")

ARGUMENT_DELTAS = 3
"""Function call arguments are streamed in about this many pieces."""


UNPACED_YIELD_SAMPLES = 24_000
"""Unpaced (`pace` 0), a response yields to the loop once per this much audio (1 s),
not after every delta: with hundreds of sessions on the loop, one yield per delta held
each reply to one delta per loop turn, slower than real time (OpenAI streams a reply
faster than real time)."""


@dataclass(frozen=True)
class Pacing:
    """How response audio is chunked and timed."""

    chunk_ms: int = 50
    pace: float = 0.0


class ResponseRun:
    """Streams one response; `cancel()` stops it between two deltas."""

    def __init__(
        self,
        *,
        record: ResponseRecord,
        request: ReplyRequest,
        engine: ReplyEngine,
        dialect: Dialect,
        emit: Emit,
        conversation: Conversation | None,
        pacing: Pacing,
        input_usage: Usage,
    ) -> None:
        self.record = record
        self._request = request
        self._engine = engine
        self._dialect = dialect
        self._emit = emit
        self._conversation = conversation
        self._pacing = pacing
        self._usage = input_usage
        self._wake = asyncio.Event()
        self._cancel_reason: str | None = None
        self._failure: str | None = None
        self._task: asyncio.Task[None] | None = None
        self.finished = False
        self.item: Item | None = None
        self._part: ContentPart | None = None
        self._prev_id: str | None = None
        self._sent_samples = 0
        self._sent_text = ""
        self._spoken = np.empty(0, dtype=np.int16)
        """All audio of the sentences begun so far; the part's audio is a view of it."""
        self._t0 = 0.0

    @property
    def id(self) -> str:
        """The response id (`resp_…`)."""
        return self.record.id

    async def begin(self) -> asyncio.Task[None]:
        """Send `response.created`, then stream the rest from a task on this loop.

        `response.created` goes out before the caller handles its next client
        event, so it directly follows whatever triggered the response.
        """
        await self._send("response.created", response=self._dialect.response(self.record, []))
        self._task = asyncio.create_task(self._run(), name=f"response {self.id}")
        return self._task

    async def cancel(self, reason: str) -> None:
        """Stop streaming and wait for `response.done` (status cancelled) to be sent."""
        if self.finished or self._task is None:
            return
        if self._cancel_reason is None:
            self._cancel_reason = reason
        self._wake.set()
        await asyncio.shield(self._task)

    def abort(self) -> None:
        """Drop the task without sending anything more (the connection is gone)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _send(self, ga_type: str, **payload: Any) -> None:
        await self._emit(ga_type, payload)

    async def _run(self) -> None:
        try:
            reply = await self._until_cancelled(self._engine.reply(self._request))
            if reply is not None and self._cancel_reason is None:
                await self._stream(reply)
        except Exception as exc:  # an engine fault fails this response, not the session
            log.exception("response %s failed", self.id)
            self._failure = f"{type(exc).__name__}: {exc}"
        await self._finish()

    async def _stream(self, reply: Reply) -> None:
        if reply.function_call is not None:
            await self._stream_call(reply.function_call)
            return
        await self._open_message()
        if self.record.audio_output:
            await self._stream_speech(reply)
        else:
            await self._stream_text(reply)

    async def _until_cancelled(self, work: Awaitable[T]) -> T | None:
        """`work`'s result, or None if the response is cancelled first."""
        work_task = asyncio.ensure_future(work)
        wake_task = asyncio.ensure_future(self._wake.wait())
        await asyncio.wait({work_task, wake_task}, return_when=asyncio.FIRST_COMPLETED)
        wake_task.cancel()
        if not work_task.done():
            work_task.cancel()
            return None
        return work_task.result()

    async def _add_item(self, item: Item) -> None:
        self.item = item
        if self._conversation is not None:
            self._prev_id = self._conversation.insert(item)
        await self._send(
            "response.output_item.added",
            response_id=self.id, output_index=0, item=self._dialect.item(item),
        )
        if self._conversation is not None:
            await self._send(
                "conversation.item.added",
                previous_item_id=self._prev_id, item=self._dialect.item(item),
            )

    async def _open_message(self) -> None:
        item = Item(id=wire.new_id("item"), type="message", status="in_progress", role="assistant")
        await self._add_item(item)
        if self.record.audio_output:
            part = ContentPart(type="output_audio", transcript="")
            wire_part: dict[str, Any] = {"type": "audio", "transcript": ""}
        else:
            part = ContentPart(type="output_text", text="")
            wire_part = {"type": "text", "text": ""}
        item.content.append(part)
        self._part = part
        await self._send("response.content_part.added", **self._where(), part=wire_part)

    def _where(self) -> dict[str, Any]:
        assert self.item is not None
        return {
            "response_id": self.id, "item_id": self.item.id, "output_index": 0,
            "content_index": 0,
        }

    async def _stream_call(self, call: FunctionCall) -> None:
        item = Item(id=wire.new_id("item"), type="function_call", status="in_progress",
                    name=call.name, call_id=wire.new_id("call"), arguments="")
        await self._add_item(item)
        size = max(1, -(-len(call.arguments) // ARGUMENT_DELTAS))
        for i in range(0, len(call.arguments), size):
            piece = call.arguments[i : i + size]
            item.arguments = (item.arguments or "") + piece
            await self._send(
                "response.function_call_arguments.delta", response_id=self.id,
                item_id=item.id, output_index=0, call_id=item.call_id, delta=piece,
            )
            if await self._pause(None):
                return

    async def _stream_speech(self, reply: Reply) -> None:
        from ..speech.speech_runtime import SentenceSpeaker, prerecorded, shared_runtime

        self._t0 = asyncio.get_running_loop().time()
        if reply.audio is not None:
            await self._stream_sentence(prerecorded(reply.text, reply.audio))
            return
        runtime, voice = shared_runtime(), self.record.voice
        speaker = SentenceSpeaker(reply.text, lambda s: runtime.speak(s, voice))
        try:
            while True:
                sentence = await self._until_cancelled(speaker.next())
                if sentence is None or await self._stream_sentence(sentence):
                    return
        finally:
            speaker.cancel()

    async def _stream_sentence(self, sentence: SpokenSentence) -> bool:
        """Stream one sentence's audio and words; True if cancelled meanwhile."""
        chunk = max(1, wire.ms_to_samples(self._pacing.chunk_ms))
        self._spoken = np.concatenate((self._spoken, sentence.audio))
        words = list(sentence.words)
        next_word = 0
        for start in range(0, sentence.audio.size, chunk):
            while next_word < len(words) and words[next_word].start_sample < start + chunk:
                await self._say_word(words[next_word].text)
                next_word += 1
            await self._send_audio(sentence.audio[start : start + chunk])
            if self._cancel_reason is not None:
                return True
            if math.isinf(self._pace()) and self._sent_samples % UNPACED_YIELD_SAMPLES >= chunk:
                continue  # unpaced: the loop gets a turn once per UNPACED_YIELD_SAMPLES
            until = self._t0 + self._sent_samples / wire.SAMPLE_RATE / self._pace()
            if await self._pause(until):
                return True
        for word in words[next_word:]:
            await self._say_word(word.text)
        return await self._pause(None)

    async def _say_word(self, word: str) -> None:
        assert self._part is not None
        delta = f" {word}" if self._sent_text else word
        self._sent_text += delta
        if not self._part.truncated:
            self._part.transcript = self._sent_text
        await self._send("response.output_audio_transcript.delta", **self._where(), delta=delta)

    async def _send_audio(self, pcm: npt.NDArray[np.int16]) -> None:
        assert self._part is not None
        part = self._part
        await self._send(
            "response.output_audio.delta", **self._where(),
            delta=wire.encode_b64(encode_output(pcm, self.record.output_format)),
        )
        self._sent_samples += pcm.size
        if not part.truncated:
            part.audio = self._spoken[: self._sent_samples]

    async def _stream_text(self, reply: Reply) -> None:
        assert self._part is not None
        for i, word in enumerate(reply.text.split()):
            delta = word if i == 0 else " " + word
            self._sent_text += delta
            self._part.text = self._sent_text
            await self._send("response.output_text.delta", **self._where(), delta=delta)
            if await self._pause(None):
                return

    def _pace(self) -> float:
        return self._pacing.pace if self._pacing.pace > 0 else math.inf

    async def _pause(self, until: float | None) -> bool:
        """Yield to the loop (until `until`, loop time); True if cancelled meanwhile."""
        delay = 0.0
        if until is not None and math.isfinite(until):
            delay = until - asyncio.get_running_loop().time()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
        else:
            await asyncio.sleep(0)
        return self._cancel_reason is not None

    async def _close_item(self, item: Item) -> None:
        cancelled = self._cancel_reason is not None
        item.status = "incomplete" if cancelled or self._failure else "completed"
        part = self._part
        if item.type == "function_call":
            done: dict[str, Any] = {"name": item.name} if not self._dialect.beta else {}
            await self._send(
                "response.function_call_arguments.done", response_id=self.id, item_id=item.id,
                output_index=0, call_id=item.call_id, arguments=item.arguments or "", **done,
            )
        elif part is not None and part.type == "output_audio":
            await self._send("response.output_audio.done", **self._where())
            await self._send(
                "response.output_audio_transcript.done", **self._where(),
                transcript=self._sent_text,
            )
            wire_part: dict[str, Any] = {"type": "audio", "transcript": self._sent_text}
            await self._send("response.content_part.done", **self._where(), part=wire_part)
        elif part is not None:
            await self._send("response.output_text.done", **self._where(), text=self._sent_text)
            wire_part = {"type": "text", "text": self._sent_text}
            await self._send("response.content_part.done", **self._where(), part=wire_part)
        await self._send(
            "response.output_item.done",
            response_id=self.id, output_index=0, item=self._dialect.item(item),
        )
        if self._conversation is not None and item.id in self._conversation:
            await self._send(
                "conversation.item.done",
                previous_item_id=self._prev_id, item=self._dialect.item(item),
            )

    async def _finish(self) -> None:
        if self.item is not None:
            await self._close_item(self.item)
        rec = self.record
        if self._cancel_reason is not None:
            rec.status = "cancelled"
            rec.status_details = {"type": "cancelled", "reason": self._cancel_reason}
        elif self._failure is not None:
            rec.status = "failed"
            rec.status_details = {"type": "failed", "error": {
                "type": "server_error", "code": "engine_error", "message": self._failure}}
        else:
            rec.status, rec.status_details = "completed", None
        arguments = self.item.arguments if self.item is not None else None
        self._usage.output_text_tokens = text_tokens(self._sent_text + (arguments or ""))
        self._usage.output_audio_tokens = audio_tokens(
            self._sent_samples, OUTPUT_AUDIO_TOKENS_PER_S
        )
        rec.usage = self._usage
        output = [self.item] if self.item is not None else []
        await self._send("response.done", response=self._dialect.response(rec, output))
        self.finished = True
