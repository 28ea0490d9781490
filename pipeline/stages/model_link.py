"""One session's websocket to the realtime model, inside the model stage.

It turns dsp's chunks into ``input_audio_buffer.append`` and the model's events
into playout messages and session events; it owns the protocol state voxpipe
needs (the response and audio item in flight, received samples per item) and
answers playout's truncate points: truncate at min(played, received), or delete
the item when nothing of it was played.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from ipc.schema import (
    AgentAudio,
    AgentItemDone,
    AgentText,
    DataMsg,
    PlayoutFlush,
    SessionConfig,
    TruncatePoint,
    UserAudio,
)
from ipc.stats import StageStats
from pipeline.logs import session_extra
from pipeline.providers.openai import server_events as ev
from pipeline.providers.openai.config import RealtimeSessionConfig, TurnDetection
from pipeline.providers.openai.connection import (
    ModelConnectError,
    ModelConnectionClosed,
    RealtimeConnection,
)

log = logging.getLogger("voxpipe.model")

# Audio waiting for the websocket (connect, reconnect, slow link): 5 s of chunks.
# Past that the oldest goes: a caller's words from 5 s ago are no use to a reply.
SEND_QUEUE_CHUNKS: Final = 50
# Agent audio is forwarded to playout in slices no longer than this.
SLICE_MS: Final = 100
CONNECT_BACKOFF_S: Final = (0.2, 0.5, 1.0, 2.0)
# A link that dies sooner than this after connecting counts as a failed attempt.
LINK_MIN_LIFE_S: Final = 2.0

SendFn = Callable[[DataMsg], None]
EmitFn = Callable[[str, dict[str, Any]], None]


def session_config(cfg: SessionConfig) -> RealtimeSessionConfig:
    """The protocol-level session.update for a voxpipe session."""
    td = None
    if cfg.server_vad:
        td = TurnDetection(threshold=cfg.vad_threshold, prefix_padding_ms=cfg.prefix_padding_ms,
                           silence_duration_ms=cfg.silence_duration_ms)
    return RealtimeSessionConfig(
        model=cfg.model_name, instructions=cfg.instructions, voice=cfg.voice,
        input_sample_rate=cfg.model_rate, output_sample_rate=cfg.output_rate,
        turn_detection=td, protocol=cfg.protocol,
    )


@dataclass
class AudioItemState:
    item_id: str
    content_index: int
    received: int = 0
    seq: int = 0
    done: bool = False
    pending_text: list[str] = field(default_factory=list)  # deltas awaiting their audio
    response_id: str | None = None


@dataclass
class ModelLink:
    cfg: SessionConfig
    to_playout: SendFn  # the model stage pushes only to playout
    emit: EmitFn  # session event for the timeline/bus
    stats: StageStats
    outbox: asyncio.Queue[UserAudio] = field(
        default_factory=lambda: asyncio.Queue(SEND_QUEUE_CHUNKS))
    conn: RealtimeConnection | None = None
    items: dict[str, AudioItemState] = field(default_factory=dict)
    response_id: str | None = None
    closed: bool = False
    recycling: bool = False
    link_no: int = 0  # websockets opened so far; every event carries it
    _task: asyncio.Task[None] | None = None

    @property
    def session(self) -> str:
        return self.cfg.session

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        # Events of one link reach the supervisor by two roads (straight, or placed on
        # the timeline by playout): the link number lets it drop a stale one.
        self.emit(kind, {**data, "link": f"{os.getpid()}.{self.link_no}"})

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"model-link-{self.session}")

    async def close(self) -> None:
        self.closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.conn is not None:
            await self.conn.close()

    # -- inbound from the pipeline --------------------------------------------
    def on_user_audio(self, msg: UserAudio) -> None:
        if self.outbox.full():
            self.outbox.get_nowait()
            self.stats.count("user_audio_dropped.backlog")
        self.outbox.put_nowait(msg)

    async def send_events(self, events: list[dict[str, Any]]) -> None:
        """Client events from the agent, in order; without a link they are dropped
        (the agent replays its state on ``model_connected``)."""
        conn = self.conn
        if conn is None:
            self.stats.count("commands_dropped.no_link", len(events))
            return
        try:
            for event in events:
                await conn.send(event)
        except ModelConnectionClosed:
            self.stats.count("commands_dropped.closed")

    async def on_truncate_point(self, tp: TruncatePoint) -> None:
        """Playout reports what of an interrupted item was heard; fix the item."""
        state = self.items.get(tp.item_id)
        received = state.received if state else tp.received_samples
        played = min(tp.played_samples, received)
        conn = self.conn
        if conn is None:
            return
        try:
            if tp.reason != "speech_started" and self.response_id is not None:
                # The server cancels on its own VAD's speech start; any other cut
                # (local VAD, user code) must cancel the reply itself.
                await conn.cancel_response()
            if played == 0:
                # Truncating at 0 ms leaves an empty item the model may still "remember".
                await conn.delete_item(tp.item_id)
                self._emit("agent_item_deleted", {"item_id": tp.item_id})
            else:
                end_ms = played * 1000 // tp.sample_rate
                await conn.truncate(tp.item_id, tp.content_index, end_ms)
                self._emit("agent_item_truncated", {"item_id": tp.item_id,
                                                   "audio_end_ms": end_ms})
        except ModelConnectionClosed:
            # The link dropped; the item went with the model-side conversation.
            self.stats.count("truncate_on_closed_link")

    # -- the link --------------------------------------------------------------
    async def _run(self) -> None:
        attempt = 0  # consecutive failures: refused connects or links that died young
        while not self.closed:
            try:
                self.conn = await RealtimeConnection.connect(
                    self.cfg.model_url, api_key=self.cfg.api_key or None,
                    config=session_config(self.cfg))
            except ModelConnectError as exc:
                fatal = "API key" in str(exc) or attempt >= len(CONNECT_BACKOFF_S)
                self._emit("error", {"fatal": fatal, "message": str(exc), "source": "model"})
                log.warning("%s", exc, extra=session_extra(self.session))
                if fatal:
                    return
                await asyncio.sleep(CONNECT_BACKOFF_S[attempt])
                attempt += 1
                continue
            connected_at = time.monotonic()
            self.link_no += 1
            self._emit("model_connected", {"url": self.cfg.model_url})
            helpers = [asyncio.create_task(self._send_audio(self.conn))]
            if self.cfg.max_session_s > 0:
                helpers.append(asyncio.create_task(self._recycle_after(self.conn)))
            try:
                async for event in self.conn.events():
                    await self._on_server_event(event)
            finally:
                for helper in helpers:
                    helper.cancel()
            if self.closed:
                return
            self._abandon_items()
            self._emit("model_disconnected", {"code": self.conn.close_code,
                                             "reason": self.conn.close_reason,
                                             "recycled": self.recycling})
            if self.recycling:
                self.recycling = False
                attempt = 0
                continue
            # A link that keeps dying right after connecting counts as a failure, so a
            # server that accepts and drops cannot make us spin.
            if time.monotonic() - connected_at < LINK_MIN_LIFE_S:
                if attempt >= len(CONNECT_BACKOFF_S):
                    self._emit("error", {"fatal": True, "source": "model",
                                        "message": "the model keeps closing the connection "
                                        f"(code {self.conn.close_code})"})
                    return
                await asyncio.sleep(CONNECT_BACKOFF_S[attempt])
                attempt += 1
            else:
                attempt = 0

    async def _recycle_after(self, conn: RealtimeConnection) -> None:
        """Reconnect before the provider's session time cap, between two responses
        (the agent replays the conversation on ``model_connected``)."""
        await asyncio.sleep(self.cfg.max_session_s)
        while self.response_id is not None or any(not i.done for i in self.items.values()):
            await asyncio.sleep(0.05)
        self.recycling = True
        self.stats.count("model_recycled")
        await conn.close()

    async def _send_audio(self, conn: RealtimeConnection) -> None:
        hop = self.stats.hop("dsp_to_model_sent")
        while True:
            msg = await self.outbox.get()
            try:
                await conn.append_audio(msg.pcm)
            except ModelConnectionClosed:
                return  # the event loop in _run sees the close and reconnects
            hop.record_ns(time.monotonic_ns() - msg.dsp_ns)
            self.stats.count("chunks_sent")

    def _abandon_items(self) -> None:
        """The link dropped mid-response: whatever was in flight is over."""
        for item in self.items.values():
            if not item.done:
                self.to_playout(AgentItemDone(self.session, item.item_id, True))
        self.items.clear()
        self.response_id = None

    # -- server events ---------------------------------------------------------
    async def _on_server_event(self, e: ev.ServerEvent) -> None:
        s = self.session
        if isinstance(e, ev.AudioDelta):
            self._forward_audio(e)
        elif isinstance(e, ev.TranscriptDelta):
            self.to_playout(AgentText(s, e.item_id, e.content_index, e.delta))
            state = self.items.get(e.item_id)
            if state is None:
                state = self.items[e.item_id] = AudioItemState(
                    e.item_id, e.content_index, response_id=self.response_id)
            # A word's audio starts somewhere in the audio that follows its text: the
            # delta is reported once that audio has arrived, with its end as the word's
            # earliest start, so the agent never shows a word before it is heard.
            state.pending_text.append(e.delta)
        elif isinstance(e, ev.SpeechStarted):
            # Barge-in: playout goes silent at its next frame and reports what played.
            self.to_playout(PlayoutFlush(s, "speech_started", time.monotonic_ns()))
            self._emit("user_started_speaking", {"item_id": e.item_id,
                                                "audio_start_ms": e.audio_start_ms})
        elif isinstance(e, ev.SpeechStopped):
            self._emit("user_stopped_speaking", {"item_id": e.item_id,
                                                "audio_end_ms": e.audio_end_ms})
        elif isinstance(e, ev.InputCommitted):
            self._emit("user_speech_committed", {"item_id": e.item_id})
        elif isinstance(e, ev.InputTranscriptDelta):
            self._emit("user_transcript", {"item_id": e.item_id, "text": e.delta,
                                          "final": False})
        elif isinstance(e, ev.InputTranscriptCompleted):
            self._emit("user_transcript", {"item_id": e.item_id, "text": e.transcript,
                                          "final": True})
        elif isinstance(e, ev.InputTranscriptFailed):
            self._emit("user_transcript_failed", {"item_id": e.item_id, "message": e.message})
        elif isinstance(e, ev.TextDone):
            # A text-only answer (no audio): the agent layer decides how to recover.
            self._emit("agent_text", {"item_id": e.item_id, "text": e.text})
        elif isinstance(e, ev.OutputItemDone) and e.item_type == "function_call":
            # The done item, not the arguments event: the beta protocol names the
            # function only on the item.
            self._emit("function_call", {"item_id": e.item_id, "call_id": e.call_id,
                                        "name": e.name, "arguments": e.arguments,
                                        "response_id": e.response_id})
        elif isinstance(e, ev.ResponseCreated):
            self.response_id = e.response_id
            self._emit("response_created", {"response_id": e.response_id})
        elif isinstance(e, ev.ContentPartAdded):
            if e.part_type == "audio":
                self.items.setdefault(e.item_id, AudioItemState(
                    e.item_id, e.content_index, response_id=self.response_id))
            self._emit("response_content_added", {"item_id": e.item_id,
                                                 "content_index": e.content_index,
                                                 "content_type": e.part_type})
        elif isinstance(e, ev.AudioDone):
            self._item_done(e.item_id, interrupted=False)
        elif isinstance(e, ev.TranscriptDone):
            self._emit("agent_transcript", {"item_id": e.item_id, "text": e.transcript})
        elif isinstance(e, ev.ResponseDone):
            self._response_done(e)
        elif isinstance(e, ev.ServerError):
            self.stats.count("model_errors")
            self._emit("model_error", {"code": e.code, "message": e.message,
                                      "event_id": e.event_id})

    def _forward_audio(self, e: ev.AudioDelta) -> None:
        state = self.items.get(e.item_id)
        if state is None:
            state = self.items[e.item_id] = AudioItemState(
                e.item_id, e.content_index, response_id=self.response_id)
        rx = time.monotonic_ns()
        step = 2 * self.cfg.output_rate * SLICE_MS // 1000
        pcm = e.pcm
        for off in range(0, len(pcm), step):
            piece = pcm[off : off + step]
            self.to_playout(AgentAudio(self.session, e.item_id, e.content_index, state.seq,
                                            self.cfg.output_rate, piece, rx))
            state.seq += 1
        state.received += len(pcm) // 2
        self._release_text(state)

    def _release_text(self, state: AudioItemState) -> None:
        for delta in state.pending_text:
            self._emit("agent_transcript_delta", {
                "item_id": state.item_id, "content_index": state.content_index,
                "delta": delta, "position": state.received})
        state.pending_text.clear()

    def _item_done(self, item_id: str, interrupted: bool) -> None:
        state = self.items.get(item_id)
        if state is None or state.done:
            return
        self._release_text(state)
        state.done = True
        self.to_playout(AgentItemDone(self.session, item_id, interrupted))

    def _response_done(self, e: ev.ResponseDone) -> None:
        interrupted = e.status != "completed"
        for item_id, state in list(self.items.items()):
            if interrupted and state.done and state.response_id == e.response_id:
                # Its audio ended cleanly (the server closes open parts on cancel), but
                # the reply was cut: what is still playing of it ends as interrupted.
                self.to_playout(AgentItemDone(self.session, item_id, True))
            self._item_done(item_id, interrupted)
        self._emit("response_done", {
            "response_id": e.response_id, "status": e.status, "reason": e.status_reason,
            "input_tokens": e.input_tokens, "output_tokens": e.output_tokens,
        })
        self.response_id = None
        # Keep received counts for truncation of what is still playing; forget the rest.
        if len(self.items) > 16:
            for item_id in list(self.items)[:-16]:
                del self.items[item_id]
