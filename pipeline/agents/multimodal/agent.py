"""``MultimodalAgent``: livekit-agents' multimodal agent on voxpipe's process pipeline.

User code (this object, its event handlers, the tools) runs in the supervisor
process; the caller's audio, the model websocket and the agent's voice run in
the stage processes. What the agent does with the audio it never touches:

* barge-in: the model's speech start (or, earlier, the local ``vad`` in dsp)
  flushes playout at its next frame; playout reports what was actually played and
  the model stage truncates the item there (clamped to what was received), or
  deletes it when nothing played, and cancels the reply;
* the agent transcript is released word by word as playout reports progress,
  never before the word's audio played; what was heard (plus "...") is what the
  conversation keeps and what ``agent_speech_interrupted`` carries.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from ipc.schema import (
    AgentPlayoutProgress,
    AgentStartedSpeaking,
    AgentStoppedSpeaking,
    LocalSpeechStarted,
    StageEvent,
    UserStoppedSpeaking,
)
from pipeline.agents.event_emitter import EventEmitter
from pipeline.agents.llm import ChatContext, FunctionContext
from pipeline.agents.multimodal.agent_playout import AgentPlayout, PlayoutHandle
from pipeline.agents.multimodal.call_link import AgentState, CallLink
from pipeline.agents.multimodal.metrics import ResponseMetrics
from pipeline.agents.multimodal.model_check import check_model
from pipeline.agents.multimodal.options import AgentTranscriptionOptions
from pipeline.agents.realtime.session import ON_DUPLICATE, OnDuplicate, RealtimeSession
from pipeline.agents.realtime.session_events import ContentInfo, InputTranscription, ResponseTiming
from pipeline.agents.room import (
    RemoteParticipant,
    Room,
    Track,
)
from pipeline.agents.vad import VAD

log = logging.getLogger("voxpipe.agent")

EventTypes = Literal[
    "user_started_speaking", "user_stopped_speaking", "agent_started_speaking",
    "agent_stopped_speaking", "user_speech_committed", "agent_speech_committed",
    "agent_speech_interrupted", "function_calls_collected", "function_calls_finished",
    "metrics_collected", "agent_state_changed", "error",
]


class MultimodalAgent(CallLink, EventEmitter[EventTypes]):
    def __init__(
        self,
        *,
        model: Any,
        vad: VAD | None = None,
        chat_ctx: ChatContext | None = None,
        fnc_ctx: FunctionContext | None = None,
        transcription: AgentTranscriptionOptions = AgentTranscriptionOptions(),  # noqa: B008
        max_text_response_retries: int = 5,
        loop: asyncio.AbstractEventLoop | None = None,
        tool_timeout_s: float = 30.0,
    ) -> None:
        """``model``: a realtime model (``pipeline.plugins.openai.realtime.RealtimeModel`` or
        ``pipeline.plugins.offline.realtime.RealtimeModel``); ``vad``: a local VAD that barges in
        from dsp before the model hears the user; ``tool_timeout_s``: how long a tool
        may run before the model is told it failed."""
        super().__init__()
        check_model(model)
        if vad is not None and not isinstance(vad, VAD):
            raise TypeError("vad must be a pipeline.agents.vad.VAD or None, got "
                            f"{type(vad).__name__}")
        if not isinstance(transcription, AgentTranscriptionOptions):
            raise TypeError("transcription must be AgentTranscriptionOptions")
        if max_text_response_retries < 0:
            raise ValueError("max_text_response_retries must be >= 0, got "
                             f"{max_text_response_retries!r}")
        if tool_timeout_s <= 0:
            raise ValueError(f"tool_timeout_s must be > 0, got {tool_timeout_s!r}")
        self._loop = loop  # None: the loop running start()
        self._model = model
        self._vad = vad
        self._chat_ctx = chat_ctx
        self._fnc_ctx = fnc_ctx
        self._opts = transcription
        self._max_text_response_retries = max_text_response_retries
        self._text_response_retries = 0
        self._tool_timeout_s = tool_timeout_s
        self._started = self._closed = False
        self._room: Room | None = None
        self._linked_participant: RemoteParticipant | None = None
        self._subscribed_track: Track | None = None
        self._session: RealtimeSession | None = None
        self._playout = AgentPlayout()
        self._playout.on("playout_started", self._on_playout_started)
        self._playout.on("playout_stopped", self._on_playout_stopped)
        self._state: AgentState | None = None
        self._metrics = ResponseMetrics(lambda m: self.emit("metrics_collected", m),
                                        label=f"{RealtimeSession.__module__}.RealtimeSession")
        self._user_interim: dict[str, str] = {}  # item -> its transcript so far
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- properties and the seed's API ---------------------------------------------
    @property
    def vad(self) -> VAD | None:
        return self._vad

    @property
    def state(self) -> AgentState | None:
        return self._state

    @property
    def session(self) -> RealtimeSession:
        if self._session is None:
            raise RuntimeError("the agent is not started")
        return self._session

    @property
    def _playing_handle(self) -> PlayoutHandle | None:
        """The seed's name for the latest item's handle (0.12 agents read it)."""
        return self._playout.playing

    @property
    def fnc_ctx(self) -> FunctionContext | None:
        return self._session.fnc_ctx if self._session is not None else self._fnc_ctx

    @fnc_ctx.setter
    def fnc_ctx(self, value: FunctionContext | None) -> None:
        self._fnc_ctx = value
        if self._session is not None:
            self._session.fnc_ctx = value

    def chat_ctx_copy(self) -> ChatContext:
        return self.session.chat_ctx_copy()

    async def set_chat_ctx(self, ctx: ChatContext) -> None:
        await self.session.set_chat_ctx(ctx)

    def start(self, room: Room, participant: RemoteParticipant | str | None = None) -> None:
        if self._started:
            raise RuntimeError("voice assistant already started")
        if not isinstance(room, Room):
            raise TypeError("room must implement pipeline.agents.room.Room, got "
                            f"{type(room).__name__}")
        if participant is not None and not isinstance(participant, RemoteParticipant | str):
            raise TypeError("participant must be a participant, an identity or None")
        self._started = True
        self._room = room
        self._participant = participant
        room.on("participant_connected", self._on_participant_connected)
        room.on("track_published", self._subscribe_to_microphone)
        room.on("track_subscribed", self._subscribe_to_microphone)
        self._session = self._model.session(chat_ctx=self._chat_ctx, fnc_ctx=self._fnc_ctx)
        self._session._calls.timeout_s = self._tool_timeout_s
        self._wire_session(self._session)
        self._update_state("initializing")
        if participant is not None:
            self._link_participant(participant if isinstance(participant, str)
                                   else participant.identity)
        else:
            for p in room.remote_participants.values():
                self._link_participant(p.identity)
                break

    def interrupt(self) -> None:
        if self._playout.playing is not None:
            self._playout.playing.interrupt()
        self._update_state("listening")

    def _interrupt_handle(self, handle: PlayoutHandle) -> None:
        if self._room is not None:
            runtime, sid = self._room.runtime, self._room.session_id
            if runtime is not None and sid is not None:
                # Playout stops at its next frame and reports what played; the model
                # stage cancels the reply and truncates (or deletes) the item there.
                runtime.interrupt(sid, "interrupt", handle.item_id)
            if not handle.started:
                # Cut before a sample played: playout never reports it; the model
                # stage deletes the item.
                handle.stopped = handle.interrupted = True
                self._metrics.never_played(handle.item_id)

    def generate_reply(self, on_duplicate: OnDuplicate = "cancel_existing") -> None:
        """Ask the model to speak now (commits the user's audio first without server VAD)."""
        if on_duplicate not in ON_DUPLICATE:
            raise ValueError(f"on_duplicate must be one of {ON_DUPLICATE}, got {on_duplicate!r}")
        if not self.session.server_vad_enabled:
            self.session.commit_audio_buffer()
        self.session.create_response(on_duplicate=on_duplicate)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        if self._session is not None:
            await self._session.aclose()

    # -- session events (the model's view) ----------------------------------------------
    def _wire_session(self, s: RealtimeSession) -> None:
        s.on("input_speech_started", self._input_speech_started)
        s.on("input_speech_stopped", self._input_speech_stopped)
        s.on("input_speech_committed", lambda: self._publish_user("", final=False))
        s.on("input_speech_transcription_delta", self._user_transcript_delta)
        s.on("input_speech_transcription_completed", self._user_transcript_done)
        s.on("response_created", self._response_created)
        s.on("response_content_added", self._content_added)
        s.on("response_transcript_delta", self._transcript_delta)
        s.on("response_content_done", self._content_done)
        s.on("response_done", self._response_done)
        s.on("function_calls_collected", lambda calls: self.emit("function_calls_collected",
                                                                 calls))
        s.on("function_calls_finished", lambda called: self.emit("function_calls_finished",
                                                                 called))
        s.on("error", lambda d: self.emit("error", d))
        # The seed's path for a model without truncation (Gemini): the whole transcript
        # is committed, and the end of the reply's audio means "listening".
        s.on("agent_speech_transcription_completed", self._agent_transcript_done)
        s.on("agent_speech_stopped", self.interrupt)

    def _input_speech_started(self) -> None:
        self.emit("user_started_speaking")
        self.interrupt()

    def _input_speech_stopped(self) -> None:
        self.emit("user_stopped_speaking")
        self._update_state("thinking")

    def _user_transcript_delta(self, ev: InputTranscription) -> None:
        # Interim: the words so far of the turn being transcribed.
        text = self._user_interim.get(ev.item_id, "") + ev.transcript
        self._user_interim = {ev.item_id: text}
        self._publish_user(text, final=False)

    def _user_transcript_done(self, ev: InputTranscription) -> None:
        self._user_interim.pop(ev.item_id, None)
        self._publish_user(ev.transcript, final=True)
        self.emit("user_speech_committed", ev.transcript)

    def _agent_transcript_done(self, ev: InputTranscription) -> None:
        # The room already has the transcript, released word by word as it played.
        self.emit("agent_speech_committed", ev.transcript)

    def _response_created(self, response_id: str) -> None:
        if self._state != "speaking":
            self._update_state("thinking")

    def _content_added(self, info: ContentInfo) -> None:
        if info.content_type != "audio":
            return
        self._playout.play(info.item_id, info.content_index, self._opts, self._publish_agent,
                           self._interrupt_handle)
        self._metrics.audio_item(info.response_id, info.item_id)

    def _transcript_delta(self, item_id: str, delta: str, position: int) -> None:
        handle = self._playout.get(item_id)
        if handle is not None:
            handle.on_text(delta, position)

    def _content_done(self, info: ContentInfo) -> None:
        if info.content_type != "text":
            handle = self._playout.get(info.item_id)
            if handle is not None:
                handle.on_text_done()
            self._text_response_retries = 0
            return
        if self._text_response_retries >= self._max_text_response_retries:
            error = RuntimeError(
                f"The realtime model returned a text response after "
                f"{self._max_text_response_retries} retries. Please try to reduce the number "
                "of text system or assistant messages in the chat context.")
            self.emit("error", error)
            raise error
        self._text_response_retries += 1
        log.warning("the model answered in text instead of audio; recovering (retry %d)",
                    self._text_response_retries)
        self.session._recover_from_text_response(info.item_id)

    def _response_done(self, timing: ResponseTiming) -> None:
        self._metrics.response_done(timing)

    # -- pipeline events (the stages' view: playout, dsp) ------------------------------
    def _on_pipeline_event(self, ev: StageEvent) -> None:
        e = ev.event
        match e:
            case AgentPlayoutProgress():
                handle = self._playout.get(e.item_id)
                if handle is not None:
                    handle.on_progress(e.played)
            case AgentStartedSpeaking():
                self._metrics.started(e.item_id, ev.t_ms or 0.0, e.rx_to_play_ms)
                self._playout.started(e.item_id)
            case AgentStoppedSpeaking():
                self._playout.stopped(e.item_id, e.played_samples, e.received_ms,
                                      e.interrupted)
            case UserStoppedSpeaking():
                self._metrics.user_end_ms = ev.t_ms or 0.0
            case LocalSpeechStarted():
                # dsp's VAD already flushed playout; the model stage cancels and truncates.
                self._update_state("listening")

    def _on_playout_started(self) -> None:
        self.emit("agent_started_speaking")
        self._update_state("speaking")

    def _on_playout_stopped(self, interrupted: bool, handle: PlayoutHandle | None,
                            text: str) -> None:
        self.emit("agent_stopped_speaking")
        self._update_state("listening")
        if handle is not None and text and self._model.capabilities.supports_truncate:
            # Without truncation (Gemini) the seed commits on the transcript instead:
            # ``agent_speech_transcription_completed``.
            self.session._update_conversation_item_content(handle.item_id, text)
            self.emit("agent_speech_interrupted" if interrupted else "agent_speech_committed",
                      text)
