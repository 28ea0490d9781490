"""One response, from `response.created` to `response.done`, as an asyncio task.

The run asks the reply engine for a `Reply`, then streams it as audio deltas
of `chunk_ms` interleaved with transcript deltas (or text deltas in text
mode), yielding to the event loop after every delta so a cancel or a
speech-start is handled between two deltas. `pace` 0 sends as fast as the
socket drains; `pace` X paces the audio at X times real time.

Cancelling (client `response.cancel` or a VAD barge-in) closes whatever is
open in order — audio done, transcript done, content part done, output item
done (status `incomplete`) — and ends with `response.done` status
`cancelled`, as the real API does.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from . import wire
from .conversation import ContentPart, Conversation, Item
from .dialect import Dialect, ResponseRecord, Usage
from .reply_engine import Reply, ReplyEngine, ReplyRequest

Emit = Callable[[str, dict[str, Any]], Awaitable[None]]
"""Sends one server event: (GA event type, payload without `type`/`event_id`)."""

# Token estimates: ~10 tokens per second of input audio, ~20 per second of
# output audio, ~4 characters per text token (the API's published ballparks).
INPUT_AUDIO_TOKENS_PER_S = 10
OUTPUT_AUDIO_TOKENS_PER_S = 20
CHARS_PER_TOKEN = 4


def text_tokens(text: str) -> int:
    """Estimated tokens in `text`."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def audio_tokens(samples: int, per_second: int) -> int:
    """Estimated tokens in `samples` of 24 kHz audio."""
    return math.ceil(samples * per_second / wire.SAMPLE_RATE)


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
        self._task: asyncio.Task[None] | None = None
        self.finished = False
        self.item: Item | None = None
        self._part: ContentPart | None = None
        self._prev_id: str | None = None
        self._sent_samples = 0
        self._sent_text = ""

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
        rec = self.record
        reply = await self._until_cancelled(self._engine.reply(self._request))
        if reply is not None and self._cancel_reason is None:
            await self._open_output()
            if rec.audio_output:
                await self._stream_audio(reply)
            else:
                await self._stream_text(reply)
        await self._finish()

    async def _until_cancelled(self, work: Coroutine[Any, Any, Reply]) -> Reply | None:
        work_task = asyncio.ensure_future(work)
        wake_task = asyncio.ensure_future(self._wake.wait())
        await asyncio.wait({work_task, wake_task}, return_when=asyncio.FIRST_COMPLETED)
        wake_task.cancel()
        if not work_task.done():
            work_task.cancel()
            return None
        return work_task.result()

    async def _open_output(self) -> None:
        item = Item(id=wire.new_id("item"), type="message", status="in_progress", role="assistant")
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

    async def _stream_audio(self, reply: Reply) -> None:
        assert self._part is not None
        part = self._part
        chunk = max(1, wire.ms_to_samples(self._pacing.chunk_ms))
        n_chunks = max(1, -(-reply.audio.size // chunk))
        words = reply.text.split(" ")
        words_sent = 0
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for i in range(n_chunks):
            pcm = reply.audio[i * chunk : (i + 1) * chunk]
            if pcm.size:
                await self._send(
                    "response.output_audio.delta", **self._where(),
                    delta=wire.encode_b64(pcm.tobytes()),
                )
                self._sent_samples += pcm.size
                if not part.truncated:
                    part.audio = reply.audio[: self._sent_samples]
            due = math.ceil((i + 1) * len(words) / n_chunks)
            if due > words_sent:
                delta = " ".join(words[words_sent:due])
                if words_sent:
                    delta = " " + delta
                words_sent = due
                self._sent_text += delta
                if not part.truncated:
                    part.transcript = self._sent_text
                await self._send(
                    "response.output_audio_transcript.delta", **self._where(), delta=delta
                )
            if await self._pause(t0 + self._sent_samples / wire.SAMPLE_RATE / self._pace()):
                return

    async def _stream_text(self, reply: Reply) -> None:
        assert self._part is not None
        for i, word in enumerate(reply.text.split(" ")):
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

    async def _finish(self) -> None:
        cancelled = self._cancel_reason is not None
        item, part = self.item, self._part
        if item is not None and part is not None:
            item.status = "incomplete" if cancelled else "completed"
            if part.type == "output_audio":
                await self._send("response.output_audio.done", **self._where())
                await self._send(
                    "response.output_audio_transcript.done", **self._where(),
                    transcript=self._sent_text,
                )
                wire_part: dict[str, Any] = {"type": "audio", "transcript": self._sent_text}
            else:
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
        rec = self.record
        rec.status = "cancelled" if cancelled else "completed"
        rec.status_details = (
            {"type": "cancelled", "reason": self._cancel_reason} if cancelled else None
        )
        self._usage.output_text_tokens = text_tokens(self._sent_text)
        self._usage.output_audio_tokens = audio_tokens(
            self._sent_samples, OUTPUT_AUDIO_TOKENS_PER_S
        )
        rec.usage = self._usage
        output = [item] if item is not None else []
        await self._send("response.done", response=self._dialect.response(rec, output))
        self.finished = True

