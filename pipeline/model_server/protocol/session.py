"""One connection's protocol state: session, conversation, input audio, responses.

`ServerSession` is transport-free: the server feeds it each websocket text
message and gives it a `send` coroutine for outgoing JSON. Every malformed or
refused client event becomes one `error` event and the session carries on.

Server VAD timeline: sample indices count every sample ever appended to the
input buffer in this session; `audio_start_ms` is the detected speech onset and
`audio_end_ms` the end of speech (trailing silence excluded), both on that
timeline. A VAD-committed user item holds the audio from onset minus
`prefix_padding_ms` to the point the silence timeout ran out.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from ..speech.turn_transcriber import TurnTranscriber
from . import wire
from .audio_buffer import BufferFull, InputAudioBuffer
from .audio_format import bytes_per_frame, decode_append, decode_input
from .conversation import ContentPart, Conversation, Item, item_not_found, parse_item
from .dialect import Dialect, ResponseRecord
from .rate_limits import RateLimits
from .reply_engine import ReplyEngine
from .response_params import input_usage, parse_response_params, reply_request
from .response_run import ResponseRun
from .server_vad import FRAME_SAMPLES, ServerVad, SpeechStart, VadEvent
from .session_config import ServerSessionConfig
from .session_options import SessionOptions
from .wire import ProtocolError, ms_to_samples, samples_to_ms

log = logging.getLogger(__name__)

SendText = Callable[[bytes], Awaitable[None]]
"""Sends one JSON text message (utf-8 bytes) to the client."""

MIN_COMMIT_MS = 100
# Audio kept before the VAD's position while nobody speaks: the prefix padding
# plus the 3-frame onset confirmation and one partial frame.
_VAD_LOOKBACK_SAMPLES = 4 * FRAME_SAMPLES

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


class _Append(msgspec.Struct):
    """An ``input_audio_buffer.append``, its audio base64-decoded by msgspec in the parse."""

    type: str
    audio: bytes
    event_id: str | None = None


_append_decoder = msgspec.json.Decoder(_Append)
_APPEND = "input_audio_buffer.append"


class ServerSession:
    """Protocol state machine for one realtime connection."""

    def __init__(self, options: SessionOptions, send: SendText, engine: ReplyEngine) -> None:
        self.options = options
        self._send = send
        self._engine = engine
        self.dialect = Dialect(options.beta)
        self.config = ServerSessionConfig(id=wire.new_id("sess"), model=options.model)
        self.conversation = Conversation()
        self.conversation_id = wire.new_id("conv")
        self.buffer = InputAudioBuffer(options.max_buffer_samples)
        self._vad: ServerVad | None = None
        self._vad_base = 0
        self._speech_item_id: str | None = None
        self._speech_onset = 0
        self.active: ResponseRun | None = None
        self._out_of_band: set[ResponseRun] = set()
        self.errors_sent = 0
        self._responses_started = 0
        self._transcriber = TurnTranscriber(self.emit, lambda: self.config,
                                            always=engine.needs_transcript)
        self._rate_limits = RateLimits()
        self._reset_vad()
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._buffer_append,
            "input_audio_buffer.commit": self._buffer_commit,
            "input_audio_buffer.clear": self._buffer_clear,
            "conversation.item.create": self._item_create,
            "conversation.item.truncate": self._item_truncate,
            "conversation.item.delete": self._item_delete,
            "conversation.item.retrieve": self._item_retrieve,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
            "output_audio_buffer.clear": self._output_buffer_clear,
        }

    # -- outgoing ---------------------------------------------------------------------

    async def emit(self, ga_type: str, payload: dict[str, Any]) -> None:
        """Send one server event, named and shaped for this connection's dialect."""
        name = self.dialect.event_type(ga_type)
        if name is None:
            return
        event = {"type": name, "event_id": wire.new_id("event"), **payload}
        await self._send(_encoder.encode(event))
        if ga_type == "response.done":  # the API reports the budget after each response
            await self.emit("rate_limits.updated", self._rate_limits.charge(payload["response"]))

    async def _error(self, exc: ProtocolError, client_event_id: str | None) -> None:
        self.errors_sent += 1
        log.debug("session %s: %s (%s)", self.config.id, exc.message, exc.code)
        error = {
            "type": exc.error_type, "code": exc.code, "message": exc.message,
            "param": exc.param, "event_id": client_event_id,
        }
        await self.emit("error", {"error": error})

    # -- lifecycle ----------------------------------------------------------------------

    async def open(self) -> None:
        """Announce the session (`session.created`)."""
        await self.emit("session.created", {"session": self.dialect.session(self.config)})

    def close(self) -> None:
        """The connection is gone: stop all responses without sending more."""
        self._transcriber.close()
        for run in (self.active, *self._out_of_band):
            if run is not None:
                run.abort()

    async def handle_message(self, raw: str | bytes) -> None:
        """Handle one client message; a bad one yields an `error` event, never an exception."""
        if await self._fast_append(raw):
            return
        try:
            event = _decoder.decode(raw)
        except msgspec.DecodeError as exc:
            await self._error(ProtocolError("invalid_json", f"Invalid JSON: {exc}."), None)
            return
        if not isinstance(event, dict):
            await self._error(
                ProtocolError("invalid_type", "A client event must be a JSON object."), None
            )
            return
        client_event_id = event.get("event_id")
        try:
            if client_event_id is not None and not isinstance(client_event_id, str):
                client_event_id = None
                raise ProtocolError("invalid_type", "Invalid type for 'event_id'.", "event_id")
            etype = wire.req_str(event, "type")
            handler = self._handlers.get(etype)
            if handler is None:
                wire.one_of(etype, tuple(self._handlers), "type")
                return
            await handler(event)
        except ProtocolError as exc:
            await self._error(exc, client_event_id)

    # -- session ------------------------------------------------------------------------

    async def _session_update(self, event: dict[str, Any]) -> None:
        old_td = self.config.turn_detection
        self.config = self.config.updated(wire.req_obj(event, "session"))
        if self.config.turn_detection != old_td:
            self._reset_vad()
        await self.emit("session.updated", {"session": self.dialect.session(self.config)})

    def _reset_vad(self) -> None:
        td = self.config.turn_detection
        self._vad = ServerVad(td.vad_params()) if td is not None else None
        self._vad_base = self.buffer.end
        self._speech_item_id = None
        self._transcriber.cancel_live()

    # -- input audio --------------------------------------------------------------------

    async def _fast_append(self, raw: str | bytes) -> bool:
        """Most messages are appends (ten a second per session): one parse straight to
        the audio bytes, no dict and no base64 text. False for anything else, or
        anything the general road must judge (escapes, a bad length, bad base64)."""
        if ("\\" in raw) if isinstance(raw, str) else (b"\\" in raw):
            return False  # an escape in the base64 is refused by the general road
        try:
            append = _append_decoder.decode(raw)
        except msgspec.DecodeError:
            return False
        if append.type != _APPEND or len(append.audio) % bytes_per_frame(
                self.config.input_format):
            return False
        try:
            await self._append_samples(decode_input(append.audio, self.config.input_format))
        except ProtocolError as exc:
            await self._error(exc, append.event_id)
        return True

    async def _buffer_append(self, event: dict[str, Any]) -> None:
        await self._append_samples(
            decode_append(wire.req_str(event, "audio"), self.config.input_format))

    async def _append_samples(self, samples: npt.NDArray[np.int16]) -> None:
        try:
            self.buffer.append(samples)
        except BufferFull as exc:
            raise ProtocolError("input_audio_buffer_full", f"Audio not appended: {exc}.",
                                "audio") from exc
        self._transcriber.feed(samples)
        if self._vad is None:
            return
        for vad_event in self._vad.process(samples):
            await self._on_vad(vad_event)
        if self._vad is not None and self._speech_item_id is None:
            # Nobody is speaking: keep only what a future onset's prefix padding needs.
            keep = ms_to_samples(self._vad.params.prefix_padding_ms) + _VAD_LOOKBACK_SAMPLES
            self.buffer.drop(self._vad_base + self._vad.samples_seen - keep)

    async def _on_vad(self, vad_event: VadEvent) -> None:
        td = self.config.turn_detection
        assert td is not None and self._vad is not None
        if isinstance(vad_event, SpeechStart):
            onset = self._vad_base + vad_event.sample
            self._speech_onset = onset
            self._speech_item_id = wire.new_id("item")
            self.buffer.drop(onset - ms_to_samples(td.prefix_padding_ms))
            self._transcriber.begin(self._speech_item_id, self.buffer.peek())
            await self.emit(
                "input_audio_buffer.speech_started",
                {"audio_start_ms": samples_to_ms(onset), "item_id": self._speech_item_id},
            )
            if td.interrupt_response and self.active is not None and not self.active.finished:
                await self.active.cancel("turn_detected")
            return
        item_id = self._speech_item_id or wire.new_id("item")
        self._speech_item_id = None
        end = self._vad_base + vad_event.sample
        await self.emit(
            "input_audio_buffer.speech_stopped",
            {"audio_end_ms": samples_to_ms(end), "item_id": item_id},
        )
        start = self.buffer.start
        span = (self._speech_onset - start, end - start)
        await self._commit(self._vad_base + vad_event.detected_at, item_id, span)
        if td.create_response and (self.active is None or self.active.finished):
            await self._start_response(None)

    async def _commit(self, until: int, item_id: str, span: tuple[int, int] | None) -> None:
        audio = self.buffer.take(until)
        item = Item(
            id=item_id, type="message", role="user",
            content=[ContentPart(type="input_audio", audio=audio, speech_span=span)],
        )
        prev = self.conversation.insert(item)
        self._transcriber.complete(item)
        await self.emit("input_audio_buffer.committed", {"item_id": item_id,
                                                         "previous_item_id": prev})
        await self._announce_item(item, prev)

    async def _buffer_commit(self, event: dict[str, Any]) -> None:
        if len(self.buffer) < ms_to_samples(MIN_COMMIT_MS):
            raise ProtocolError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has "
                f"{len(self.buffer) * 1000 / wire.SAMPLE_RATE:.2f}ms of audio.",
            )
        if self._vad is not None:
            self._vad.reset()
        self._speech_item_id = None
        await self._commit(self.buffer.end, wire.new_id("item"), None)

    async def _buffer_clear(self, event: dict[str, Any]) -> None:
        self.buffer.clear()
        self._transcriber.cancel_live()
        if self._vad is not None:
            self._vad.reset()
        self._speech_item_id = None
        await self.emit("input_audio_buffer.cleared", {})

    async def _output_buffer_clear(self, event: dict[str, Any]) -> None:
        raise ProtocolError(
            "unsupported_event", "output_audio_buffer.clear is only supported over WebRTC/SIP.",
            "type",
        )

    # -- conversation -------------------------------------------------------------------

    async def _announce_item(self, item: Item, prev: str | None) -> None:
        payload = {"previous_item_id": prev, "item": self.dialect.item(item)}
        await self.emit("conversation.item.added", payload)
        await self.emit("conversation.item.done", payload)

    async def _item_create(self, event: dict[str, Any]) -> None:
        item = parse_item(wire.req_obj(event, "item"))
        prev = self.conversation.insert(item, wire.opt_str(event, "previous_item_id"))
        if item.role == "user" and not item.text():
            self._transcriber.complete(item, events_allowed=False)
        await self._announce_item(item, prev)

    def _find(self, event: dict[str, Any]) -> Item:
        item_id = wire.req_str(event, "item_id")
        item = self.conversation.get(item_id)
        if item is None:
            raise item_not_found(str(event["type"]), item_id)
        return item

    async def _item_truncate(self, event: dict[str, Any]) -> None:
        item = self._find(event)
        index = wire.req_int(event, "content_index")
        end_ms = wire.req_int(event, "audio_end_ms")
        part = item.content[index] if item.role == "assistant" and 0 <= index < len(
            item.content) else None
        if part is None or part.type != "output_audio" or part.audio is None:
            raise ProtocolError("unsupported_content_type",
                                "Only model output audio messages can be truncated",
                                "content_index")
        end = ms_to_samples(end_ms)
        if end_ms < 0 or end > part.audio.size:
            raise ProtocolError(
                "invalid_value",
                f"Audio content of {samples_to_ms(part.audio.size)}ms is already shorter "
                f"than {end_ms}ms",
                "audio_end_ms",
            )
        # As the real API: cut the audio and drop the transcript, so the context
        # holds nothing the user did not hear.
        part.audio = part.audio[:end]
        part.transcript = ""
        part.truncated = True
        await self.emit(
            "conversation.item.truncated",
            {"item_id": item.id, "content_index": index, "audio_end_ms": end_ms},
        )

    async def _item_delete(self, event: dict[str, Any]) -> None:
        item = self.conversation.delete(wire.req_str(event, "item_id"))
        await self.emit("conversation.item.deleted", {"item_id": item.id})

    async def _item_retrieve(self, event: dict[str, Any]) -> None:
        item = self._find(event)
        await self.emit(
            "conversation.item.retrieved", {"item": self.dialect.item(item, include_audio=True)}
        )

    # -- responses ----------------------------------------------------------------------

    async def _response_create(self, event: dict[str, Any]) -> None:
        raw = wire.opt_obj(event, "response")
        if self.active is not None and not self.active.finished and (
            raw is None or raw.get("conversation") != "none"
        ):
            raise ProtocolError(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self.active.id}. "
                "Wait until the response is finished before creating a new one.",
            )
        await self._start_response(raw)

    async def _start_response(self, raw: dict[str, Any] | None) -> None:
        params = parse_response_params(raw, self.config, self.conversation)
        self._responses_started += 1
        if self._responses_started <= self.options.text_responses:
            params.audio_output = False
        context = params.input if params.input is not None else self.conversation.items()
        request = reply_request(params, self.config, context)
        record = ResponseRecord(
            id=wire.new_id("resp"),
            conversation_id=self.conversation_id if params.in_conversation else None,
            audio_output=params.audio_output,
            voice=params.voice,
            max_output_tokens=params.max_output_tokens,
            metadata=params.metadata,
            output_format=self.config.output_format,
        )
        run = ResponseRun(
            record=record, request=request, engine=self._engine, dialect=self.dialect,
            emit=self.emit, conversation=self.conversation if params.in_conversation else None,
            pacing=self.options.pacing, input_usage=input_usage(params.instructions, context),
        )
        if params.in_conversation:
            self.active = run
        else:
            self._out_of_band.add(run)
        task = await run.begin()
        task.add_done_callback(lambda _task: self._response_ended(run))

    def _response_ended(self, run: ResponseRun) -> None:
        self._out_of_band.discard(run)
        if self.active is run:
            self.active = None

    async def _response_cancel(self, event: dict[str, Any]) -> None:
        response_id = wire.opt_str(event, "response_id")
        live = [r for r in (self.active, *self._out_of_band) if r is not None and not r.finished]
        if response_id is not None:
            live = [r for r in live if r.id == response_id]
        if not live:
            raise ProtocolError(
                "response_cancel_not_active", "Cancellation failed: no active response found.",
            )
        await live[0].cancel("client_cancelled")
