"""The Gemini provider against the fake server, in process: a connection that drops is
resumed from the latest handle, new settings are a new setup on a resumed session,
a refused key is fatal, and a resumption the server refuses ends the events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from ipc.schema import (
    CommitInput,
    CreateItem,
    CreateResponse,
    MessageItem,
    ModelSpec,
    SessionSettings,
    TextPart,
    UpdateSession,
)
from pipeline.providers import base as pe
from pipeline.providers.gemini import GeminiProvider, create_provider, gemini_url
from tests.providers.gemini.fake_server import FakeGemini
from tests.providers.gemini.script import Reply

SCRIPT = [Reply(heard="", say="First answer.", tone_hz=440.0, seconds=0.3),
          Reply(heard="", say="Second answer after {turns}.", tone_hz=550.0, seconds=0.3)]


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGemini]:
    with FakeGemini(SCRIPT) as server:
        monkeypatch.setenv("SSL_CERT_FILE", str(server.write_ca(tmp_path / "ca.pem")))
        yield server


def _spec(fake: FakeGemini, key: str | None = None) -> ModelSpec:
    return ModelSpec(url=gemini_url(fake.ws_base), api_key=fake.api_key if key is None else key,
                     name="gemini-test", settings=SessionSettings(voice="Puck"))


async def _until(cond: Callable[[], object], timeout: float = 5.0) -> None:
    async def poll() -> None:
        while not cond():
            await asyncio.sleep(0.02)
    await asyncio.wait_for(poll(), timeout)


async def _reply(events: AsyncIterator[pe.ProviderEvent]) -> list[pe.ProviderEvent]:
    out: list[pe.ProviderEvent] = []
    async for event in events:
        out.append(event)
        if isinstance(event, pe.ResponseDone):
            break
    return out


ASK = [CreateItem(item=MessageItem(role="user", content=(TextPart("hi"),))), CreateResponse()]


def test_a_dropped_connection_resumes_and_new_settings_are_a_resumed_setup(
        fake: FakeGemini) -> None:
    async def main() -> GeminiProvider:
        p = create_provider()
        await p.connect(_spec(fake), input_rate=16000, output_rate=24000)
        events = aiter(p.events())
        await _until(lambda: p._handle == "handle-1-0")
        fake.drop(1)
        await _until(lambda: p.resumptions == 1)
        await p.send(ASK)
        first = await _reply(events)
        await _until(lambda: p._handle == "handle-2-1")
        await p.send([UpdateSession(settings=SessionSettings(voice="Kore")), *ASK])
        second = await _reply(events)
        assert [type(e).__name__ for e in first][-1] == "ResponseDone"
        said = [e.transcript for e in second if isinstance(e, pe.TranscriptDone)]
        assert said == ["Second answer after 1. "]
        await p.close()
        return p

    p = asyncio.run(main())
    assert p.resumptions == 2 and p.close_code == 1000
    assert fake.resumed_from == [None, "handle-1-0", "handle-2-1"]
    voices = [s["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"][
        "voiceName"] for s in fake.setups]
    assert voices == ["Puck", "Puck", "Kore"]
    # The question went to the connection in use each time, never to a closed one.
    assert fake.kinds(2).count("clientContent") == 2 and fake.kinds(3).count("clientContent") == 2


def test_a_refused_key_is_fatal(fake: FakeGemini) -> None:
    async def main() -> None:
        await create_provider().connect(_spec(fake, key="wrong"), input_rate=16000,
                                        output_rate=24000)

    with pytest.raises(pe.ProviderConnectError, match="closed the session at setup") as err:
        asyncio.run(main())
    assert err.value.fatal and fake.refused == ["key"]


def test_a_refused_resumption_ends_the_events(fake: FakeGemini) -> None:
    async def main() -> GeminiProvider:
        p = create_provider()
        await p.connect(_spec(fake), input_rate=16000, output_rate=24000)
        await _until(lambda: p._handle is not None)
        fake.handles.clear()  # the server forgot the session
        fake.drop(1)
        assert [e async for e in p.events()] == []
        return p

    p = asyncio.run(asyncio.wait_for(main(), 10))
    assert p.close_code == 1006 and p.resumptions == 0
    with pytest.raises(pe.ProviderClosed):
        asyncio.run(p.append_audio(b"\x00\x00"))


def test_manual_turns_are_marked_and_answered_once(fake: FakeGemini) -> None:
    manual = SessionSettings(voice="Puck", turn_detection=None)

    async def main() -> list[pe.ProviderEvent]:
        p = create_provider()
        spec = ModelSpec(url=gemini_url(fake.ws_base), api_key=fake.api_key,
                         name="gemini-test", settings=manual)
        await p.connect(spec, input_rate=16000, output_rate=24000)
        for _ in range(5):
            await p.append_audio(b"\x00\x10" * 1600)
        # generate_reply without server turn detection: commit, then ask for a response.
        await p.send([CommitInput(), CreateResponse()])
        reply = await _reply(aiter(p.events()))
        await p.close()
        return reply

    reply = asyncio.run(main())
    assert isinstance(reply[-1], pe.ResponseDone) and reply[-1].status == "completed"
    kinds = [next(iter(m["realtimeInput"])) for _n, m in fake.received if "realtimeInput" in m]
    assert kinds == ["activityStart", *["audio"] * 5, "activityEnd"]
    assert fake.setups[0]["realtimeInputConfig"] == {
        "automaticActivityDetection": {"disabled": True}}
    assert "clientContent" not in fake.kinds()
    assert fake.heard_samples == {1: 5 * 1600}
