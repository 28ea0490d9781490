"""ModelLink's policy against a scripted provider: no server, no processes.

What the link does with the model connection (settings once per connect, audio up,
events down, barge-in, truncation by what was heard and what the provider can do,
reconnects, link numbers, giving up) is checked signal by signal.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ipc.schema import (
    AgentAudio,
    AgentItemDeleted,
    AgentItemDone,
    AgentItemTruncated,
    CancelResponse,
    ConversationItemAcked,
    CreateItem,
    CreateResponse,
    DataMsg,
    DeleteItem,
    FileTransport,
    MessageItem,
    ModelConnected,
    ModelDisconnected,
    ModelSpec,
    PlayoutFlush,
    ResponseDone,
    SessionConfig,
    SessionError,
    SessionEvent,
    SessionSettings,
    TextPart,
    ToolSpec,
    Truncate,
    TruncatePoint,
    UserAudio,
    UserStartedSpeaking,
)
from ipc.stats import StageStats
from pipeline.providers import base as ev
from pipeline.providers.base import Capabilities, ProviderConnectError
from pipeline.providers.registry import ENTRY_POINT_GROUP, PROVIDER_MODULES_ENV, provider_factory
from pipeline.stages.model_link import ModelLink
from tests.providers import fake
from tests.providers.fake import FakeModel, FakeProvider

T = TypeVar("T")
E = TypeVar("E", bound=SessionEvent)
SETTINGS = SessionSettings(instructions="Be brief.", input_transcription_model="whisper-1",
                           tools=(ToolSpec(name="f", parameters={"type": "object"}),))
SPEC = ModelSpec(url="fake://model", name="m", settings=SETTINGS)
RATE = 24000


class Recorder:
    """What the link sent to playout and emitted as session events."""

    def __init__(self) -> None:
        self.events: list[SessionEvent] = []
        self.data: list[DataMsg] = []

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]


async def until(check: Callable[[], T | None], timeout: float = 5.0) -> T:
    """Wait (bounded, never asserting on time) until ``check()`` is truthy."""
    async def poll() -> T:
        while not (value := check()):
            await asyncio.sleep(0.002)
        return value
    return await asyncio.wait_for(poll(), timeout)


def make_link(model: FakeModel | None = None, **kw: Any) -> tuple[ModelLink, Recorder]:
    rec = Recorder()
    cfg = SessionConfig(session="s", t0_ns=0, out_dir="/tmp",
                        transport=FileTransport("x", RATE, 1, 0), model_rate=16000,
                        provider=kw.pop("provider", "fake"), model=kw.pop("spec", SPEC))
    factory = model.create_provider if model is not None else None
    link = ModelLink(cfg, rec.data.append, rec.events.append, StageStats(),
                     factory=factory, backoff_s=kw.pop("backoff_s", (0.0, 0.0)),
                     min_life_s=kw.pop("min_life_s", 0.0))
    return link, rec


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 20))


async def connected(model: FakeModel, **kw: Any) -> tuple[ModelLink, Recorder, FakeProvider]:
    link, rec = make_link(model, **kw)
    link.start()
    provider = await model.wait_links(1)
    await until(lambda: rec.of(ModelConnected))
    return link, rec, provider


async def reply_with_audio(provider: FakeProvider, rec: Recorder, samples: int) -> None:
    """A response in progress whose audio item ``it1`` received ``samples``."""
    provider.push(ev.ResponseCreated("r1"), ev.ContentPartAdded("it1", 0, "audio"),
                  ev.AudioDelta("it1", 0, bytes(2 * samples)))
    await until(lambda: [m for m in rec.data if isinstance(m, AgentAudio)])


def test_connect_gives_the_settings_once_through_the_registry(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROVIDER_MODULES_ENV, "fake=tests.providers.fake")
    model = FakeModel()
    monkeypatch.setattr(fake, "MODEL", model)

    async def scenario() -> None:
        link, rec = make_link()  # no factory: SessionConfig.provider picks it
        link.start()
        provider = await model.wait_links(1)
        await until(lambda: rec.of(ModelConnected))
        assert provider.spec == SPEC and provider.spec.settings == SETTINGS
        assert provider.rates == (16000, 24000)  # model_rate in, output_rate out
        assert provider.commands == []  # the settings went with the connect, not again
        assert rec.of(ModelConnected) == [ModelConnected("fake://model", link=f"{os.getpid()}.1")]
        await link.close()
        assert len(model.links) == 1

    run(scenario)


def test_user_audio_and_agent_commands_are_forwarded() -> None:
    async def scenario() -> None:
        link, _rec, provider = await connected(FakeModel())
        link.on_user_audio(UserAudio("s", 0, 16000, b"\x01\x00" * 160, 0, 0, 0))
        await until(lambda: provider.audio)
        assert provider.audio == [b"\x01\x00" * 160]
        await link.send_commands([CreateResponse()])
        assert provider.commands == [CreateResponse()]
        await link.close()

    run(scenario)


def test_speech_start_flushes_playout_and_is_reported() -> None:
    async def scenario() -> None:
        link, rec, provider = await connected(FakeModel())
        provider.push(ev.SpeechStarted("u1", 1200))
        started = await until(lambda: rec.of(UserStartedSpeaking))
        assert started[0].item_id == "u1" and started[0].audio_start_ms == 1200
        flushes = [m for m in rec.data if isinstance(m, PlayoutFlush)]
        assert [(m.session, m.reason) for m in flushes] == [("s", "speech_started")]
        await link.close()

    run(scenario)


def test_truncation_at_what_was_heard_clamped_to_what_was_received() -> None:
    async def scenario() -> None:
        link, rec, provider = await connected(FakeModel())
        await reply_with_audio(provider, rec, 9600)  # 400 ms received
        # The server's own VAD cut it: it cancels itself, the link only truncates.
        await link.on_truncate_point(TruncatePoint("s", "it1", 0, 4800, 9600, RATE))
        assert provider.commands == [Truncate(item_id="it1", content_index=0, audio_end_ms=200)]
        # Playout claims more than ever arrived; a cut by user code also cancels.
        await link.on_truncate_point(
            TruncatePoint("s", "it1", 0, 20000, 9600, RATE, "interrupt"))
        assert provider.commands[1:] == [
            CancelResponse(), Truncate(item_id="it1", content_index=0, audio_end_ms=400)]
        assert [d.audio_end_ms for d in rec.of(AgentItemTruncated)] == [200, 400]
        assert rec.of(AgentItemDeleted) == []
        await link.close()

    run(scenario)


def test_nothing_played_deletes_the_item() -> None:
    async def scenario() -> None:
        link, rec, provider = await connected(FakeModel())
        await reply_with_audio(provider, rec, 4800)
        await link.on_truncate_point(TruncatePoint("s", "it1", 0, 0, 4800, RATE, "local_vad"))
        assert provider.commands == [CancelResponse(), DeleteItem(item_id="it1")]
        assert [d.item_id for d in rec.of(AgentItemDeleted)] == ["it1"]
        assert rec.of(AgentItemTruncated) == []
        await link.close()

    run(scenario)


def test_no_truncation_when_the_provider_cannot_truncate() -> None:
    async def scenario() -> None:
        model = FakeModel(capabilities=Capabilities(supports_truncate=False))
        link, rec, provider = await connected(model)
        await reply_with_audio(provider, rec, 4800)
        await link.on_truncate_point(TruncatePoint("s", "it1", 0, 2400, 4800, RATE, "interrupt"))
        await link.on_truncate_point(TruncatePoint("s", "it1", 0, 0, 4800, RATE, "local_vad"))
        # The item is left as it is; the reply is still cancelled.
        assert provider.commands == [CancelResponse(), CancelResponse()]
        assert rec.of(AgentItemTruncated) == [] and rec.of(AgentItemDeleted) == []
        await link.close()

    run(scenario)


def test_the_models_own_interruption_flushes_and_sends_nothing() -> None:
    """Gemini's ``interrupted``: playout goes silent, and neither a cancel nor a cut is
    sent (the model stopped the reply itself and keeps it whole)."""
    async def scenario() -> None:
        model = FakeModel(capabilities=Capabilities(supports_truncate=False))
        link, rec, provider = await connected(model)
        await reply_with_audio(provider, rec, 4800)
        provider.push(ev.Interrupted("r1"), ev.ResponseDone("r1", "cancelled"))
        await until(lambda: rec.of(ResponseDone))
        flushes = [m for m in rec.data if isinstance(m, PlayoutFlush)]
        assert [m.reason for m in flushes] == ["model_interrupted"]
        assert rec.of(UserStartedSpeaking) == []  # no speech event to tell the agent
        await link.on_truncate_point(
            TruncatePoint("s", "it1", 0, 2400, 4800, RATE, "model_interrupted"))
        assert provider.commands == []
        await link.close()

    run(scenario)


def test_a_dropped_link_ends_its_items_and_reconnects_with_the_settings() -> None:
    async def scenario() -> None:
        model = FakeModel()
        link, rec, first = await connected(model)
        await reply_with_audio(first, rec, 4800)
        first.drop(1006, "gone")
        second = await model.wait_links(2)
        await until(lambda: len(rec.of(ModelConnected)) == 2)
        assert second.spec == SPEC and second.commands == []
        pid = os.getpid()
        gone = rec.of(ModelDisconnected)
        assert [(d.code, d.reason, d.recycled, d.link) for d in gone] == [
            (1006, "gone", False, f"{pid}.1")]
        assert [d.link for d in rec.of(ModelConnected)] == [f"{pid}.1", f"{pid}.2"]
        done = [m for m in rec.data if isinstance(m, AgentItemDone)]
        assert [(m.item_id, m.interrupted) for m in done] == [("it1", True)]
        # The new link owns the session: commands go to it, none to the old one.
        await link.send_commands([CreateResponse()])
        assert (first.commands, second.commands) == ([], [CreateResponse()])
        await link.close()

    run(scenario)


def test_repeated_connect_failures_become_fatal() -> None:
    async def scenario() -> None:
        model = FakeModel(connect_errors=[ProviderConnectError("refused")] * 3)
        link, rec = make_link(model, backoff_s=(0.0, 0.0))
        link.start()
        await until(lambda: any(d.fatal for d in rec.of(SessionError)))
        assert [d.fatal for d in rec.of(SessionError)] == [False, False, True]
        assert model.attempts == 3 and model.links == []
        assert link._task is not None
        await until(link._task.done)
        await link.close()

    run(scenario)


def test_a_rejected_key_is_fatal_at_once() -> None:
    async def scenario() -> None:
        model = FakeModel(connect_errors=[ProviderConnectError("bad key", fatal=True)])
        link, rec = make_link(model)
        link.start()
        await until(lambda: rec.of(SessionError))
        assert link._task is not None
        await until(link._task.done)
        assert rec.of(SessionError) == [SessionError(True, "bad key", source="model",
                                                     link=f"{os.getpid()}.0")]
        assert model.attempts == 1

    run(scenario)


def test_a_model_that_keeps_closing_the_connection_is_given_up() -> None:
    async def scenario() -> None:
        model = FakeModel()
        link, rec = make_link(model, backoff_s=(0.0,), min_life_s=60.0)
        link.start()
        for n in (1, 2):
            (await model.wait_links(n)).drop(1011, "")
        await until(lambda: any(d.fatal for d in rec.of(SessionError)))
        assert len(model.links) == 2 and len(rec.of(ModelDisconnected)) == 2
        assert "keeps closing" in rec.of(SessionError)[-1].message
        await link.close()

    run(scenario)


def test_an_unknown_provider_is_a_fatal_error() -> None:
    async def scenario() -> None:
        link, rec = make_link(provider="nosuch")
        link.start()
        await until(lambda: rec.of(SessionError))
        error = rec.of(SessionError)[0]
        assert error.fatal and "nosuch" in error.message
        await link.close()

    run(scenario)


def test_registry_finds_in_tree_and_configured_providers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.providers.openai import create_provider

    assert provider_factory("openai") is create_provider
    monkeypatch.setenv(PROVIDER_MODULES_ENV, " other=x.y , fake = tests.providers.fake")
    assert provider_factory("fake") is fake.create_provider
    with pytest.raises(ValueError, match="invalid provider name"):
        provider_factory("../x")
    with pytest.raises(ValueError, match="unknown model provider 'other'"):
        provider_factory("other")


def _install_entry_point(root: Path, name: str, value: str) -> None:
    """A minimal installed distribution in ``root`` declaring provider ``name``: what
    ``pip install`` of a package with ``[project.entry-points."voxpipe.providers"]``
    leaves in site-packages."""
    info = root / "voxpipe_test_provider-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: voxpipe-test-provider\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{name} = {value}\n")


def test_a_provider_installed_under_the_entry_point_group_serves_sessions(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(PROVIDER_MODULES_ENV, raising=False)
    _install_entry_point(tmp_path, "fake", "tests.providers.fake")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert provider_factory("fake") is fake.create_provider
    model = FakeModel()
    monkeypatch.setattr(fake, "MODEL", model)

    async def scenario() -> None:
        link, rec = make_link()  # no factory: SessionConfig.provider ("fake") picks it
        link.start()
        provider = await model.wait_links(1)
        await until(lambda: rec.of(ModelConnected))
        assert provider.spec == SPEC
        await link.close()

    run(scenario)


def test_an_entry_point_may_name_the_factory_itself(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(PROVIDER_MODULES_ENV, raising=False)
    _install_entry_point(tmp_path, "scripted", "tests.providers.fake:create_provider")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert provider_factory("scripted") is fake.create_provider
    with pytest.raises(ValueError, match=r"'voxpipe\.providers' entry point group"):
        provider_factory("nowhere")


def test_the_models_acks_of_the_agents_item_changes_reach_the_agent() -> None:
    async def scenario() -> None:
        link, rec, provider = await connected(FakeModel())
        item = MessageItem(item_id="m1", role="user", content=(TextPart("hi"),))
        await link.send_commands([DeleteItem(item_id="old"), CreateItem(item=item)])
        # The model's own items (a user turn, a reply) are no acks: only what was asked.
        provider.push(ev.ItemCreated("user_turn"), ev.ItemDeleted("old"),
                      ev.ItemCreated("m1"), ev.ItemCreated("m1"))
        await until(lambda: len(rec.of(ConversationItemAcked)) == 2)
        await asyncio.sleep(0.05)
        assert [(a.item_id, a.created) for a in rec.of(ConversationItemAcked)] == [
            ("old", False), ("m1", True)]
        await link.close()

    run(scenario)
