"""``RealtimeSession``: the supervisor-side face of one session's model connection.

The websocket lives in the model stage; this object, in the supervisor with the
user's code, turns the session's bus events into the seed's session events and
its methods into provider-neutral commands sent to the model stage
(``ModelCommands``). The model stage sets the model session up (instructions,
tools ...) at every connect from the session's config; this object keeps the
conversation as the agent knows it (``chat_ctx``) and replays it every time the
model stage (re)connects, so a dropped connection, a recycled session or a
restarted stage keeps the context. It sends the settings itself only when they
differ from the ones the session started with (``fnc_ctx`` set later). Function
calls run here, under a timeout.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Literal

from ipc.schema import (
    DEFAULT_MODEL_RATE,
    AgentItemDeleted,
    AgentStoppedSpeaking,
    AgentTextReply,
    AgentTranscript,
    AgentTranscriptDelta,
    AudioPart,
    CancelResponse,
    CommitInput,
    ConversationItemAcked,
    CreateItem,
    CreateResponse,
    DeleteItem,
    FunctionCallRequested,
    MessageItem,
    ModelCommand,
    ModelConnected,
    ModelContextReplayed,
    ModelDisconnected,
    ModelError,
    ModelEvent,
    ResponseContentAdded,
    ResponseCreated,
    ResponseDone,
    SessionSettings,
    StageEvent,
    Truncate,
    UpdateSession,
    UserSpeechCommitted,
    UserStartedSpeaking,
    UserStoppedSpeaking,
    UserTranscript,
)
from pipeline.agents.event_emitter import EventEmitter
from pipeline.agents.llm import ChatContext, ChatMessage, FunctionContext
from pipeline.agents.realtime.context_sync import ItemAcks, sync_commands, with_ids
from pipeline.agents.realtime.function_calls import FunctionCallRunner, settings_with_tools
from pipeline.agents.realtime.session_events import (
    ContentInfo,
    InputTranscription,
    ResponseTiming,
    SessionEventName,
    SpeechEnds,
)

if TYPE_CHECKING:
    from pipeline.agents.realtime.model import SessionModel
    from pipeline.supervisor.runtime import Runtime

log = logging.getLogger("voxpipe.agent")

OnDuplicate = Literal["cancel_existing", "cancel_new", "keep_both"]
ON_DUPLICATE: tuple[OnDuplicate, ...] = ("cancel_existing", "cancel_new", "keep_both")
SILENCE_ITEM_MS = 1000  # the empty user audio that coaxes the model back to audio


class RealtimeSession(EventEmitter[SessionEventName]):
    def __init__(self, model: SessionModel, *, chat_ctx: ChatContext | None,
                 fnc_ctx: FunctionContext | None, tool_timeout_s: float = 30.0) -> None:
        super().__init__()
        self._model = model
        self._settings = model.settings
        self._chat_ctx = chat_ctx.copy() if chat_ctx is not None else ChatContext()
        self._fnc_ctx = fnc_ctx
        self._runtime: Runtime | None = None
        self.session_id: str | None = None
        self._connected = False
        self._pending: list[ModelCommand] = []  # commands made before the link is up
        self._stage_settings: SessionSettings | None = None  # what each connect starts with
        self._init_sync_task: asyncio.Future[None] = asyncio.get_event_loop().create_future()
        self.active_response: str | None = None
        self._requested = 0  # responses asked for, not yet created
        self._queued_responses = 0  # asked for while one was in progress: each runs next
        self._acks = ItemAcks()
        self._timing: ResponseTiming | None = None
        self._link: str | None = None  # the model link whose events count
        self._calls = FunctionCallRunner(self, tool_timeout_s)
        self.replays = 0
        self._speech = SpeechEnds() if not model.capabilities.supports_truncate else None

    # -- wiring ---------------------------------------------------------------------
    def attach(self, runtime: Runtime, session_id: str) -> None:
        """Bind to a live pipeline session: its events drive this object from now on."""
        self._runtime, self.session_id = runtime, session_id
        runtime.sessions[session_id].on(self._on_event)

    def send(self, commands: list[ModelCommand]) -> None:
        """Commands to the model, in order (held until the link is up)."""
        if self._runtime is None or self.session_id is None or not self._connected:
            self._pending.extend(commands)
            return
        self._runtime.send_model_commands(self.session_id, commands)

    # -- the seed's session API -----------------------------------------------------
    @property
    def fnc_ctx(self) -> FunctionContext | None:
        return self._fnc_ctx

    @fnc_ctx.setter
    def fnc_ctx(self, value: FunctionContext | None) -> None:
        self._fnc_ctx = value
        if self._connected:
            self.send([UpdateSession(settings=self.session_settings())])

    @property
    def server_vad_enabled(self) -> bool:
        return self._settings.session.turn_detection is not None

    def chat_ctx_copy(self) -> ChatContext:
        return self._chat_ctx.copy()

    async def set_chat_ctx(self, ctx: ChatContext) -> None:
        """Make the model's conversation ``ctx`` with the fewest deletions and insertions,
        and wait for the model to acknowledge them (without a link: the next connect
        replays ``ctx`` whole)."""
        new = with_ids(ctx)
        if not self._connected:
            self._chat_ctx = new
            return
        commands = sync_commands(self._chat_ctx, new)
        acks = self._acks.expect(commands)
        self._chat_ctx = new
        self.send(commands)
        await self._acks.wait(acks)

    def cancel_response(self) -> None:
        if self.active_response is not None:
            self.send([CancelResponse()])

    def create_response(self, on_duplicate: OnDuplicate = "keep_both") -> None:
        if on_duplicate not in ON_DUPLICATE:
            raise ValueError(f"on_duplicate must be one of {ON_DUPLICATE}, got {on_duplicate!r}")
        if self.active_response is not None or self._requested:
            if on_duplicate == "cancel_new":
                log.info("a response is in progress; not creating another (cancel_new)")
                return
            if on_duplicate == "cancel_existing":
                self.send([CancelResponse()])
            # The API refuses a second response in one conversation: this one is
            # created once the current one (cancelled or not) has ended.
            self._queued_responses += 1
            return
        self._request_response()

    def _request_response(self) -> None:
        self._requested += 1
        self.send([CreateResponse()])

    def commit_audio_buffer(self) -> None:
        self.send([CommitInput()])

    def _push_audio(self, frame: object) -> None:
        raise RuntimeError("user audio reaches the model through the capture and dsp stages; "
                           "feed it through the room, not the session")

    def _recover_from_text_response(self, item_id: str) -> None:
        """Drop the text answer and ask again after a short empty user turn."""
        rate = self._model.capabilities.input_audio_sample_rate or DEFAULT_MODEL_RATE
        silence = AudioPart(bytes(2 * rate * SILENCE_ITEM_MS // 1000), rate)
        self._forget(item_id)
        self.send([DeleteItem(item_id=item_id),
                   CreateItem(item=MessageItem(role="user", content=(silence,)))])
        self._request_response()

    def _update_conversation_item_content(self, item_id: str, content: Any = None) -> None:
        """Our copy of the conversation holds what was heard (the model's is truncated)."""
        for msg in self._chat_ctx.messages:
            if msg.id == item_id:
                msg.content = content
                return

    def _truncate_conversation_item(self, item_id: str, content_index: int,
                                    audio_end_ms: int) -> None:
        self.send([Truncate(item_id=item_id, content_index=content_index,
                            audio_end_ms=audio_end_ms)])

    async def aclose(self) -> None:
        self._calls.cancel_all()

    # -- settings and replay -------------------------------------------------------
    def session_settings(self) -> SessionSettings:
        """The model's settings with this session's tools."""
        return settings_with_tools(self._settings.session, self._fnc_ctx)

    def start_settings(self) -> SessionSettings:
        """The settings for the session's spec: the model stage sets every connection up
        with them, so a (re)connect replays only what differs."""
        self._stage_settings = self.session_settings()
        return self._stage_settings

    def _context_items(self) -> list[ModelCommand]:
        return [CreateItem(item=item) for item in self._chat_ctx.to_realtime_items()]

    def _on_connected(self) -> None:
        assert self._runtime is not None and self.session_id is not None
        self._connected = True
        # A new model-side session: nothing is in progress there (a killed model stage
        # sends no farewell, so this is also where the old link's state ends).
        self.active_response = None
        self._requested = sum(isinstance(c, CreateResponse) for c in self._pending)
        replay: list[ModelCommand] = []
        settings = self.session_settings()
        if settings != self._stage_settings:
            replay.append(UpdateSession(settings=settings))
        items = self._context_items()
        self.replays += 1
        self._runtime.send_model_commands(self.session_id, replay + items + self._pending)
        self._runtime.note(self.session_id,
                           ModelContextReplayed(items=len(items), pending=len(self._pending)))
        self._pending.clear()
        if not self._init_sync_task.done():
            self._init_sync_task.set_result(None)

    # -- events from the pipeline ---------------------------------------------------
    def _on_event(self, ev: StageEvent) -> None:
        e = ev.event
        if self._speech is not None:
            self._speech_event(e)
        if not isinstance(e, ModelEvent):
            return
        if isinstance(e, ModelConnected):
            self._link = e.link
        elif e.link and e.link != self._link and not isinstance(e, ModelDisconnected):
            # Sent on a link that is gone, overtaken by the new link's (faster, direct)
            # model_connected: its response state is void.
            return
        match e:
            case ModelConnected():
                self._on_connected()
            case ModelDisconnected():
                self._model_disconnected(e)
            case UserStartedSpeaking():
                self.emit("input_speech_started")
            case UserStoppedSpeaking():
                self.emit("input_speech_stopped")
            case UserSpeechCommitted():
                self._committed(e)
            case UserTranscript():
                self._user_transcript(e)
            case ResponseCreated():
                self._response_created(e, ev.t_ms)
            case ResponseContentAdded():
                self._content_added(e)
            case AgentTranscriptDelta():
                self.emit("response_transcript_delta", e.item_id, e.delta, e.position)
            case AgentTranscript():
                self._content_done(e.item_id, e.text, "audio")
            case AgentTextReply():
                self._content_done(e.item_id, e.text, "text")
            case FunctionCallRequested():
                self._calls.collect(e.call_id, e.name, e.arguments, e.item_id)
            case ResponseDone():
                self._response_done(e, ev.t_ms)
            case AgentItemDeleted():
                self._forget(e.item_id)
            case ConversationItemAcked():
                self._acks.acked(e)
            case ModelError():
                self._model_error(e)

    def _speech_event(self, e: object) -> None:
        """The seed's path for a model that cannot truncate (Gemini): the agent hears
        ``agent_speech_stopped`` when the reply's audio stopped playing and
        ``agent_speech_transcription_completed`` with its whole transcript (the model
        keeps the whole reply), whichever of the audio's end and the text comes last."""
        assert self._speech is not None
        if isinstance(e, ResponseContentAdded) and e.content_type == "audio":
            self._speech.latest = e.item_id
        elif isinstance(e, AgentTranscript):
            self._speech.said[e.item_id] = e.text
        elif isinstance(e, AgentStoppedSpeaking):
            self._speech.stopped.add(e.item_id)
            if e.item_id == self._speech.latest:
                self.emit("agent_speech_stopped")
        else:
            return
        for item_id in self._speech.complete():
            text = self._speech.said.pop(item_id)
            if text:
                self.emit("agent_speech_transcription_completed", InputTranscription(item_id, text))

    def _model_disconnected(self, e: ModelDisconnected) -> None:
        if e.link != self._link:
            return  # an older link's farewell, after the new one connected
        self._connected = False
        if self.active_response is not None:
            # The reply in flight is gone with the link; playout reports it interrupted.
            self.emit("response_interrupted", self.active_response)
        self.active_response = None
        self._requested = 0
        self._queued_responses = 0
        self._acks.drop()

    def _committed(self, e: UserSpeechCommitted) -> None:
        self._chat_ctx.messages.append(ChatMessage(role="user", id=e.item_id, content=""))
        self.emit("input_speech_committed")

    def _user_transcript(self, e: UserTranscript) -> None:
        ev = InputTranscription(e.item_id, e.text)
        if e.final:
            self._update_conversation_item_content(ev.item_id, ev.transcript)
            self.emit("input_speech_transcription_completed", ev)
        else:
            self.emit("input_speech_transcription_delta", ev)

    def _response_created(self, e: ResponseCreated, t_ms: float | None) -> None:
        self._requested = max(0, self._requested - 1)
        self.active_response = e.response_id
        self._timing = ResponseTiming(self.active_response, t_ms or 0.0)
        self.emit("response_created", self.active_response)

    def _content_added(self, e: ResponseContentAdded) -> None:
        info = ContentInfo(self.active_response or "", e.item_id, e.content_index,
                           e.content_type)
        if not any(m.id == info.item_id for m in self._chat_ctx.messages):
            self._chat_ctx.messages.append(ChatMessage(role="assistant", id=info.item_id,
                                                       content=""))
        self.emit("response_content_added", info)

    def _content_done(self, item_id: str, text: str, content_type: str) -> None:
        info = ContentInfo(self.active_response or "", item_id, 0, content_type, text)
        self._update_conversation_item_content(info.item_id, text)
        self.emit("response_content_done", info)

    def _response_done(self, e: ResponseDone, t_ms: float | None) -> None:
        timing = self._timing
        self.active_response = None
        if timing is not None:
            timing.done(e, t_ms)
            self.emit("response_done", timing)
        if self._calls.pending:
            self._calls.run_collected()
        elif self._queued_responses and not self._requested:
            self._queued_responses -= 1
            self._request_response()

    def _forget(self, item_id: str) -> None:
        """Drop an item from our copy of the conversation."""
        self._chat_ctx.messages = [m for m in self._chat_ctx.messages if m.id != item_id]

    def _model_error(self, e: ModelError) -> None:
        log.warning("model error: %s (%s)", e.message, e.code)
        if e.code == "conversation_already_has_active_response":
            self._requested = max(0, self._requested - 1)
        self.emit("error", e)
