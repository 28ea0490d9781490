"""The agent's API surface without processes: argument checks, participant linking,
and the supervisor-side session's commands (what it sends the model stage)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ipc.schema import (
    CancelResponse,
    ConversationItemAcked,
    CreateItem,
    CreateResponse,
    DeleteItem,
    MessageItem,
    ModelCommand,
    ModelConnected,
    ModelContextReplayed,
    ModelDisconnected,
    ResponseCreated,
    ResponseDone,
    SessionEvent,
    StageEvent,
    TextPart,
    UpdateSession,
    UserSpeechCommitted,
    UserTranscript,
)
from pipeline.agents import llm
from pipeline.agents.multimodal import AgentTranscriptionOptions, MultimodalAgent
from pipeline.agents.realtime.session import RealtimeSession
from pipeline.agents.vad import VAD
from pipeline.plugins.offline import realtime as offline
from pipeline.plugins.openai import realtime as openai
from pipeline.providers.base import Capabilities
from pipeline.transports.file.room import FileRoom

ROOT = Path(__file__).resolve().parents[2]
WAV = ROOT / "examples" / "audio" / "three_turns.wav"


def test_bad_arguments_name_the_argument() -> None:
    model = offline.RealtimeModel()
    with pytest.raises(TypeError, match="model"):
        MultimodalAgent(model=object())
    with pytest.raises(TypeError, match="vad"):
        MultimodalAgent(model=model, vad="silero")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_text_response_retries"):
        MultimodalAgent(model=model, max_text_response_retries=-1)
    with pytest.raises(ValueError, match="agent_transcription_speed"):
        AgentTranscriptionOptions(agent_transcription_speed=-1.0)
    with pytest.raises(ValueError, match="min_speech_ms"):
        VAD(min_speech_ms=0)
    with pytest.raises(ValueError, match="protocol"):
        openai.RealtimeModel(protocol="v3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="on_duplicate"):
        MultimodalAgent(model=model).generate_reply("both")  # type: ignore[arg-type]


def test_capabilities_and_defaults() -> None:
    model = openai.RealtimeModel(api_key="k")
    assert model.capabilities.supports_truncate is True
    assert model.capabilities.input_audio_sample_rate == 24000
    opts = AgentTranscriptionOptions()
    assert (opts.user_transcription, opts.agent_transcription,
            opts.agent_transcription_speed) == (True, True, 1.0)
    parts = opts.hyphenate_word("transcription")
    assert "".join(parts) == "transcription" and len(parts) == 3


class _Linked(MultimodalAgent):
    """Records the calls it would start instead of starting pipeline sessions."""

    started: list[str]

    async def _start_call(self, track: Any) -> None:
        self.started.append(str(track.path))


async def _room(join_after_s: float = 0.0) -> FileRoom:
    room = FileRoom(WAV, ROOT / "out" / "unused", join_after_s=join_after_s)
    room.runtime = None
    room._connected = True
    if join_after_s <= 0:
        room._caller_joins()
    return room


def test_start_links_first_participant_and_refuses_twice() -> None:
    async def main() -> None:
        room = await _room()
        agent = _Linked(model=offline.RealtimeModel())
        agent.started = []
        agent.start(room)
        await asyncio.sleep(0)
        assert agent.started == [str(WAV)]
        with pytest.raises(RuntimeError, match="already started"):
            agent.start(room)

    asyncio.run(main())


def test_participant_who_joins_later_is_linked() -> None:
    # The seed's handler returns early when no participant is linked: backwards.
    async def main() -> None:
        room = FileRoom(WAV, ROOT / "out" / "unused")
        room._connected = True
        agent = _Linked(model=offline.RealtimeModel())
        agent.started = []
        agent.start(room)
        assert agent.started == []
        room._caller_joins()
        await asyncio.sleep(0)
        assert agent.started == [str(WAV)]

        other = _Linked(model=offline.RealtimeModel())
        other.started = []
        room2 = FileRoom(WAV, ROOT / "out" / "unused", caller_identity="bob")
        room2._connected = True
        other.start(room2, participant="alice")  # waits for alice, not bob
        room2._caller_joins()
        await asyncio.sleep(0)
        assert other.started == []

    asyncio.run(main())


class _Runtime:
    """Captures what the session sends to the model stage and to the timeline."""

    def __init__(self) -> None:
        self.sent: list[ModelCommand] = []
        self.notes: list[SessionEvent] = []

    def send_model_commands(self, sid: str, commands: list[ModelCommand]) -> None:
        self.sent.extend(commands)

    def note(self, sid: str, event: SessionEvent) -> None:
        self.notes.append(event)


def _event(event: SessionEvent, t_ms: float | None = None) -> StageEvent:
    return StageEvent("s", "playout", 0, event, t_ms)


class Tools(llm.FunctionContext):
    @llm.ai_callable()
    async def get_weather(self, location: str) -> str:
        """Weather in a city."""
        return "sunny"


def _texts(commands: list[ModelCommand]) -> list[str]:
    return [part.text for c in commands if isinstance(c, CreateItem)
            if isinstance(c.item, MessageItem)
            for part in c.item.content if isinstance(part, TextPart)]


def test_session_replays_context_on_every_connect_and_settings_only_when_changed() -> None:
    async def main() -> None:
        ctx = llm.ChatContext().append(text="Be brief.", role="system")
        session = RealtimeSession(offline.RealtimeModel(instructions="Your name is Ava."),
                                  chat_ctx=ctx, fnc_ctx=Tools())
        rt = _Runtime()
        session._runtime, session.session_id = rt, "s"  # type: ignore[assignment]
        # What the session's spec carries: the model stage sets every connection up
        # with it (instructions and tools), so the session does not send it again.
        start = session.start_settings()
        assert start.instructions == "Your name is Ava."
        assert [t.name for t in start.tools] == ["get_weather"]
        assert start.tools[0].parameters["required"] == ["location"]
        session.create_response()  # before the link is up: held
        assert rt.sent == []
        session._on_event(_event(ModelConnected("")))
        assert [type(c) for c in rt.sent] == [CreateItem, CreateResponse]
        # A user turn and its transcript join the mirror; a reconnect replays them.
        session._on_event(_event(UserSpeechCommitted("u1")))
        session._on_event(_event(UserTranscript("u1", "hi there", final=True)))
        session._on_event(_event(ModelDisconnected(1011, None, recycled=False)))
        rt.sent.clear()
        session._on_event(_event(ModelConnected("")))
        assert [type(c) for c in rt.sent] == [CreateItem, CreateItem]
        assert _texts(rt.sent) == ["Be brief.", "hi there"]
        # Tools changed after the start: sent now, and again on every later connect.
        rt.sent.clear()
        session.fnc_ctx = None
        assert rt.sent == [UpdateSession(settings=session.session_settings())]
        assert rt.sent[0].settings.tools == () and rt.sent[0].settings.instructions == (
            "Your name is Ava.")
        session._on_event(_event(ModelDisconnected(1011, None, recycled=False)))
        rt.sent.clear()
        session._on_event(_event(ModelConnected("")))
        assert [type(c) for c in rt.sent] == [UpdateSession, CreateItem, CreateItem]
        assert [type(n) for n in rt.notes] == [ModelContextReplayed] * 3

    asyncio.run(main())


def test_on_duplicate_policies_and_set_chat_ctx() -> None:
    async def main() -> None:
        session = RealtimeSession(offline.RealtimeModel(), chat_ctx=None, fnc_ctx=None)
        rt = _Runtime()
        session._runtime, session.session_id = rt, "s"  # type: ignore[assignment]
        session._on_event(_event(ModelConnected("")))
        rt.sent.clear()
        session.create_response("cancel_existing")
        session.create_response("cancel_new")  # one requested: ignored
        session.create_response("cancel_existing")  # cancel it; ask again once it ended
        session.create_response("keep_both")  # queued too: its own response after that
        assert rt.sent == [CreateResponse(), CancelResponse()]
        session._on_event(_event(ResponseCreated("r1"), t_ms=0.0))
        session._on_event(_event(ResponseDone("r1", "cancelled", None, None, None)))
        assert rt.sent[2:] == [CreateResponse()]  # the cancelled one ended: the next
        session._on_event(_event(ResponseCreated("r2"), t_ms=1.0))
        session._on_event(_event(ResponseDone("r2", "completed", None, None, None)))
        assert rt.sent[3:] == [CreateResponse()]  # keep_both's own
        session._on_event(_event(ResponseCreated("r3"), t_ms=2.0))
        session._on_event(_event(ResponseDone("r3", "completed", None, None, None)))
        assert len(rt.sent) == 4  # nothing more was asked for
        rt.sent.clear()
        session._on_event(_event(UserSpeechCommitted("u1")))
        sync = asyncio.create_task(
            session.set_chat_ctx(llm.ChatContext().append(text="hello", role="user")))
        await asyncio.sleep(0)
        assert [type(c) for c in rt.sent] == [DeleteItem, CreateItem]
        assert rt.sent[0] == DeleteItem(item_id="u1") and _texts(rt.sent) == ["hello"]
        assert [m.text for m in session.chat_ctx_copy().messages] == ["hello"]
        # It returns once the model acknowledged both changes.
        created = rt.sent[1].item.item_id  # type: ignore[union-attr]
        session._on_event(_event(ConversationItemAcked("u1", created=False)))
        await asyncio.sleep(0)
        assert not sync.done()
        session._on_event(_event(ConversationItemAcked(created, created=True)))
        await asyncio.wait_for(sync, 1.0)

    asyncio.run(main())


def test_set_chat_ctx_sends_the_fewest_changes() -> None:
    async def main() -> None:
        ctx = llm.ChatContext()
        for text in ("a", "b", "c", "d"):
            ctx.append(text=text, role="user")
        session = RealtimeSession(offline.RealtimeModel(), chat_ctx=ctx, fnc_ctx=None)
        rt = _Runtime()
        session._runtime, session.session_id = rt, "s"  # type: ignore[assignment]
        session._on_event(_event(ModelConnected("")))
        rt.sent.clear()
        a, b, c, d = session.chat_ctx_copy().messages
        new = session.chat_ctx_copy()
        new.messages = [b, c, d]
        new.append(text="e", role="user")
        sync = asyncio.create_task(session.set_chat_ctx(new))
        await asyncio.sleep(0)
        # 0.12's example: [a b c d] -> [b c d e] is "delete a, insert e after d".
        assert rt.sent[0] == DeleteItem(item_id=a.id)
        assert [type(x) for x in rt.sent] == [DeleteItem, CreateItem] and _texts(rt.sent) == ["e"]
        assert rt.sent[1].previous_item_id == d.id  # type: ignore[union-attr]
        for cmd in rt.sent:
            acked = (ConversationItemAcked(cmd.item_id, created=False)
                     if isinstance(cmd, DeleteItem)
                     else ConversationItemAcked(cmd.item.item_id, created=True))  # type: ignore[union-attr, arg-type]
            session._on_event(_event(acked))
        await asyncio.wait_for(sync, 1.0)

    asyncio.run(main())


class _SpecRuntime(_Runtime):
    """Also starts sessions: keeps the spec the agent asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.specs: list[Any] = []
        self.sessions: dict[str, Any] = {}

    def start_session(self, spec: Any) -> Any:
        self.specs.append(spec)
        live = _LiveSession()
        self.sessions[live.id] = live
        return live


class _LiveSession:
    id = "s"

    def on(self, listener: Any) -> None:
        self.listener = listener


class _SixteenKModel(offline.RealtimeModel):
    """A model whose provider takes 16 kHz audio and cannot truncate."""

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(supports_truncate=False, input_audio_sample_rate=16000)


def test_session_spec_takes_the_models_capabilities_and_settings() -> None:
    async def main() -> None:
        rt = _SpecRuntime()
        room = await _room()
        room.runtime = rt  # type: ignore[assignment]
        model = _SixteenKModel(instructions="Hi.", url="ws://127.0.0.1:9/v1")  # no server
        agent = MultimodalAgent(model=model, fnc_ctx=Tools())
        agent.start(room)
        await asyncio.sleep(0.01)
        (spec,) = rt.specs
        assert (spec.model_rate, spec.provider, spec.model_name) == (16000, "openai",
                                                                     "voxpipe-offline")
        assert spec.settings.instructions == "Hi."
        assert [t.name for t in spec.settings.tools] == ["get_weather"]
        assert spec.model_spec().settings == spec.settings
        # The model stage sends these settings at every connect: the agent does not.
        rt.sessions["s"].listener(_event(ModelConnected("")))
        assert not any(isinstance(c, UpdateSession) for c in rt.sent)
        await agent.aclose()

    asyncio.run(main())
