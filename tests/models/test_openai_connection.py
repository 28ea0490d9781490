"""RealtimeConnection against real sockets: connect errors, the handshake, a scripted
server with good and bad frames, and what the client puts on the wire."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import Awaitable, Callable, Coroutine
from http import HTTPStatus
from typing import Any, TypeVar

import pydantic
import pytest
from openai.types.beta.realtime import realtime_client_event as beta_client
from openai.types.realtime import realtime_client_event as ga_client
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from ipc.schema import (
    CreateItem,
    CreateResponse,
    MessageItem,
    ModelSpec,
    SessionSettings,
    TextPart,
    ToolSpec,
    UpdateSession,
)
from pipeline.providers import base as pe
from pipeline.providers.openai import server_events as se
from pipeline.providers.openai.config import CAPABILITIES, RealtimeSessionConfig
from pipeline.providers.openai.connection import (
    ModelConnectError,
    ModelConnectionClosed,
    RealtimeConnection,
    openai_url,
)
from pipeline.providers.openai.provider import OpenAIProvider, create_provider

T = TypeVar("T")
GA_CLIENT: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ga_client.RealtimeClientEvent)
BETA_CLIENT: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(beta_client.RealtimeClientEvent)
CONFIG = RealtimeSessionConfig(instructions="Be brief.")


def run(coro: Coroutine[Any, Any, T], timeout: float = 5.0) -> T:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def url_of(server: Server) -> str:
    host, port = server.sockets[0].getsockname()[:2]
    return f"ws://{host}:{port}/v1/realtime?model=gpt-realtime"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Recorder:
    """A fixture server's memory: request headers and every frame the client sent."""

    def __init__(self) -> None:
        self.headers: Headers | None = None
        self.frames: list[str | bytes] = []
        self.closed = asyncio.Event()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(f) for f in self.frames]


async def scripted_server(
    script: list[str | bytes],
    recorder: Recorder,
    *,
    then: Callable[[ServerConnection], Awaitable[None]] | None = None,
) -> Server:
    """Waits for the client's first frame, sends ``script``, runs ``then``, records all."""

    async def handler(ws: ServerConnection) -> None:
        recorder.headers = ws.request.headers if ws.request else None
        try:
            recorder.frames.append(await ws.recv())
            for frame in script:
                await ws.send(frame)
            if then is not None:
                await then(ws)
            async for frame in ws:
                recorder.frames.append(frame)
        finally:
            recorder.closed.set()

    return await serve(handler, "127.0.0.1", 0, compression=None)


# -- connect errors -------------------------------------------------------------------


def test_refused_port_names_the_url() -> None:
    url = f"ws://127.0.0.1:{free_port()}/v1/realtime"
    with pytest.raises(ModelConnectError) as err:
        run(RealtimeConnection.connect(url, api_key="sk-x", config=CONFIG))
    msg = str(err.value)
    assert msg.startswith(f"cannot reach the model at {url}: ") and "\n" not in msg
    assert "sk-x" not in msg


def test_unknown_host_names_the_url() -> None:
    url = "ws://voxpipe-test.invalid:9/v1/realtime"
    with pytest.raises(ModelConnectError) as err:
        run(RealtimeConnection.connect(url, api_key=None, config=CONFIG, open_timeout=2.0))
    # Resolvers differ: most fail at once, a slow one hits the open timeout.
    assert str(err.value).startswith(
        (f"cannot reach the model at {url}: ", "timed out after 2 s connecting to the model")
    )


def _status_server(status: HTTPStatus) -> Callable[[], Awaitable[Server]]:
    def reject(conn: ServerConnection, request: Request) -> Response:
        return conn.respond(status, '{"error": {"message": "nope"}}\n')

    async def handler(ws: ServerConnection) -> None:  # pragma: no cover - never upgraded
        await ws.close()

    async def start() -> Server:
        return await serve(handler, "127.0.0.1", 0, process_request=reject)

    return start


@pytest.mark.parametrize("status", [HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN])
def test_rejected_key_is_reported_as_such(status: HTTPStatus) -> None:
    async def scenario() -> ModelConnectError:
        async with await _status_server(status)() as server:
            with pytest.raises(ModelConnectError) as err:
                await RealtimeConnection.connect(url_of(server), api_key="sk-bad", config=CONFIG)
            return err.value

    err = run(scenario())
    assert str(err) == f"the model rejected the API key (HTTP {int(status)})"
    assert err.fatal  # retrying the same key cannot help


def test_other_http_status_names_url_and_status() -> None:
    async def scenario() -> tuple[str, str]:
        async with await _status_server(HTTPStatus.SERVICE_UNAVAILABLE)() as server:
            with pytest.raises(ModelConnectError) as err:
                await RealtimeConnection.connect(url_of(server), api_key=None, config=CONFIG)
            assert not err.value.fatal  # the server may be back soon
            return str(err.value), url_of(server)

    msg, url = run(scenario())
    assert msg == f"the model at {url} refused the session (HTTP 503 Service Unavailable)"


def test_silent_server_times_out() -> None:
    async def scenario() -> str:
        async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()  # accept TCP, never answer the upgrade

        server = await asyncio.start_server(mute, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            with pytest.raises(ModelConnectError) as err:
                await RealtimeConnection.connect(
                    f"ws://127.0.0.1:{port}/", api_key=None, config=CONFIG, open_timeout=0.3
                )
            return str(err.value)

    assert run(scenario()).startswith("timed out after 0.3 s connecting to the model at ws://")


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/v1/realtime", "api.openai.com/v1", ""])
def test_bad_url_scheme(url: str) -> None:
    with pytest.raises(ModelConnectError, match="the scheme must be ws:// or wss://"):
        run(RealtimeConnection.connect(url, api_key=None, config=CONFIG))


def test_openai_url_and_capabilities() -> None:
    assert openai_url("gpt-realtime") == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    assert (
        openai_url("m x", "ws://127.0.0.1:8080/v1/")
        == "ws://127.0.0.1:8080/v1/realtime?model=m%20x"
    )
    assert CAPABILITIES.supports_truncate is True
    assert CAPABILITIES.input_audio_sample_rate == 24000
    assert CAPABILITIES.output_sample_rate == 24000


# -- a session ------------------------------------------------------------------------

PCM = b"\x10\x00\xf0\xff" * 480
AUDIO_FRAME = {
    "type": "response.output_audio.delta", "event_id": "e3", "response_id": "resp_1",
    "item_id": "item_2", "output_index": 0, "content_index": 0,
    "delta": base64.b64encode(PCM).decode(),
}  # fmt: skip
SCRIPT: list[str | bytes] = [
    json.dumps({"type": "session.created", "event_id": "e1", "session": {"id": "sess_1"}}),
    "{not json",
    json.dumps({"type": "input_audio_buffer.speech_started", "event_id": "e2",
                "item_id": "item_1", "audio_start_ms": 40}),
    json.dumps({"type": "output_audio_buffer.started", "event_id": "x", "response_id": "r"}),
    json.dumps({**AUDIO_FRAME, "delta": "AAA"}),  # odd byte count
    json.dumps({"type": "response.brand_new", "event_id": "x"}),
    json.dumps(AUDIO_FRAME).encode(),  # a binary frame is parsed too
    json.dumps({"type": "input_audio_buffer.speech_stopped", "event_id": "e4"}),  # no fields
    "[]",
    json.dumps({"type": "response.done", "event_id": "e5",
                "response": {"id": "resp_1", "status": "completed", "output": []}}),
]  # fmt: skip
EXPECTED: list[se.ServerEvent] = [
    se.SessionCreated(session_id="sess_1", model=None),
    se.SpeechStarted(item_id="item_1", audio_start_ms=40),
    se.AudioDelta(response_id="resp_1", item_id="item_2", output_index=0, content_index=0,
                  pcm=PCM),
    se.ResponseDone(
        response_id="resp_1", status="completed", status_reason=None, error_type=None,
        error_code=None, input_tokens=None, input_text_tokens=None, input_audio_tokens=None,
        input_cached_tokens=None, output_tokens=None, output_text_tokens=None,
        output_audio_tokens=None, output_item_ids=(),
    ),
]  # fmt: skip


async def _close_after_script(ws: ServerConnection) -> None:
    await ws.close(1001, "going away")


def test_session_yields_good_events_in_order_and_counts_bad_ones() -> None:
    async def scenario() -> tuple[Recorder, list[se.ServerEvent], RealtimeConnection]:
        rec = Recorder()
        async with await scripted_server(SCRIPT, rec, then=_close_after_script) as server:
            conn = await RealtimeConnection.connect(
                url_of(server), api_key="sk-test", config=CONFIG,
                extra_headers={"X-Session": "s1"},
            )  # fmt: skip
            events = [ev async for ev in conn.events()]
            await conn.close()
            return rec, events, conn

    rec, events, conn = run(scenario())
    assert events == EXPECTED
    assert conn.rejected == {
        "invalid_json": 1, "bad_audio": 1, "unknown_type": 1, "bad_fields": 1, "not_object": 1,
    }  # fmt: skip
    assert (conn.close_code, conn.close_reason) == (1001, "going away")
    assert rec.headers is not None
    assert rec.headers["Authorization"] == "Bearer sk-test"
    assert rec.headers["X-Session"] == "s1" and "OpenAI-Beta" not in rec.headers
    # The first frame is a text frame holding a valid GA session.update for CONFIG.
    first = rec.frames[0]
    assert isinstance(first, str)
    update = GA_CLIENT.validate_json(first)
    assert update.type == "session.update" and update.session.instructions == "Be brief."


def test_pushed_events_are_the_pulled_ones_including_those_received_before() -> None:
    # The script arrives while the test sleeps: queued for recv, then pushed first.
    async def scenario() -> tuple[list[se.ServerEvent], RealtimeConnection]:
        rec = Recorder()
        async with await scripted_server(SCRIPT, rec, then=_close_after_script) as server:
            conn = await RealtimeConnection.connect(url_of(server), api_key="sk-test",
                                                    config=CONFIG)
            await asyncio.sleep(0.3)
            events: list[se.ServerEvent] = []
            await conn.push_events(events.append)
            await conn.close()
            return events, conn

    events, conn = run(scenario())
    assert events == EXPECTED
    assert conn.rejected == {
        "invalid_json": 1, "bad_audio": 1, "unknown_type": 1, "bad_fields": 1, "not_object": 1,
    }  # fmt: skip
    assert (conn.close_code, conn.close_reason) == (1001, "going away")


def test_reading_paused_on_a_full_queue_resumes_when_pushing_starts() -> None:
    # 40 frames before anyone reads: websockets pauses the socket past 16 queued.
    script: list[str | bytes] = [json.dumps(AUDIO_FRAME)] * 40

    async def scenario() -> list[se.ServerEvent]:
        async with await scripted_server(script, Recorder(), then=_close_after_script) as server:
            conn = await RealtimeConnection.connect(url_of(server), api_key="sk-test",
                                                    config=CONFIG)
            await asyncio.sleep(0.3)
            events: list[se.ServerEvent] = []
            await conn.push_events(events.append)
            return events

    assert run(scenario()) == [EXPECTED[2]] * 40


def test_a_fragmented_message_is_pushed_whole() -> None:
    whole = json.dumps(AUDIO_FRAME)

    async def fragments(ws: ServerConnection) -> None:
        await ws.send([whole[:100], whole[100:3000], whole[3000:]])  # three frames
        await ws.close()

    async def scenario() -> list[se.ServerEvent]:
        async with await scripted_server([], Recorder(), then=fragments) as server:
            conn = await RealtimeConnection.connect(url_of(server), api_key="sk-test",
                                                    config=CONFIG)
            events: list[se.ServerEvent] = []
            await conn.push_events(events.append)
            return events

    assert run(scenario()) == [EXPECTED[2]]


def test_a_failing_handler_ends_the_connection_and_is_raised() -> None:
    async def scenario() -> tuple[list[se.ServerEvent], RealtimeConnection]:
        async with await scripted_server(SCRIPT, Recorder(), then=_close_after_script) as server:
            conn = await RealtimeConnection.connect(url_of(server), api_key="sk-test",
                                                    config=CONFIG)
            seen: list[se.ServerEvent] = []

            def handler(event: se.ServerEvent) -> None:
                seen.append(event)
                if isinstance(event, se.SpeechStarted):
                    raise RuntimeError("handler broke")

            with pytest.raises(RuntimeError, match="handler broke"):
                await conn.push_events(handler)
            return seen, conn

    seen, conn = run(scenario())
    assert seen == EXPECTED[:2]  # nothing after the failure
    assert conn.close_code is not None


def test_provider_pushes_what_it_yields() -> None:
    async def scenario(push: bool) -> list[pe.ProviderEvent]:
        async with await scripted_server(SCRIPT, Recorder(), then=_close_after_script) as server:
            provider = create_provider()
            await provider.connect(ModelSpec(url=url_of(server), api_key="sk-test"),
                                   input_rate=24000, output_rate=24000)
            got: list[pe.ProviderEvent] = []
            if push:
                await pe.deliver_events(provider, got.append)
            else:
                got += [event async for event in provider.events()]
            await provider.close()
            return got

    pulled = run(scenario(False))
    assert pulled == [pe.SpeechStarted("item_1", 40), pe.AudioDelta("item_2", 0, PCM),
                      pe.ResponseDone("resp_1", "completed")]
    assert run(scenario(True)) == pulled


def test_beta_session_sends_beta_header_and_beta_session_update() -> None:
    cfg = RealtimeSessionConfig(protocol="beta", temperature=0.7)

    async def scenario() -> Recorder:
        rec = Recorder()
        async with await scripted_server([], rec, then=_close_after_script) as server:
            conn = await RealtimeConnection.connect(url_of(server), api_key=None, config=cfg)
            assert [ev async for ev in conn.events()] == []
            return rec

    rec = run(scenario())
    assert rec.headers is not None
    assert rec.headers["OpenAI-Beta"] == "realtime=v1" and "Authorization" not in rec.headers
    update = BETA_CLIENT.validate_json(rec.frames[0])
    assert update.type == "session.update" and update.session.temperature == 0.7


def test_convenience_methods_put_valid_events_on_the_wire() -> None:
    async def scenario() -> Recorder:
        rec = Recorder()
        async with await scripted_server([], rec) as server:
            conn = await RealtimeConnection.connect(url_of(server), api_key="k", config=CONFIG)
            await conn.append_audio(PCM)
            await conn.commit()
            await conn.clear()
            await conn.create_item(
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hi"}],
                }
            )
            await conn.create_response(instructions="Greet.", conversation="none")
            await conn.cancel_response("resp_1")
            await conn.truncate("item_2", 0, 640)
            await conn.delete_item("item_2")
            await conn.retrieve_item("item_1")
            await conn.update_session(RealtimeSessionConfig(turn_detection=None))
            with pytest.raises(ValueError, match="protocol"):
                await conn.update_session(RealtimeSessionConfig(protocol="beta"))
            await conn.close()
            await rec.closed.wait()
            with pytest.raises(ModelConnectionClosed, match="code 1000"):
                await conn.commit()
            return rec

    rec = run(scenario())
    assert all(isinstance(f, str) for f in rec.frames)  # text frames, as the API wants
    sent = [GA_CLIENT.validate_json(f) for f in rec.frames]
    assert [e.type for e in sent] == [
        "session.update", "input_audio_buffer.append", "input_audio_buffer.commit",
        "input_audio_buffer.clear", "conversation.item.create", "response.create",
        "response.cancel", "conversation.item.truncate", "conversation.item.delete",
        "conversation.item.retrieve", "session.update",
    ]  # fmt: skip
    assert base64.b64decode(sent[1].audio) == PCM
    assert sent[5].response.conversation == "none" and sent[6].response_id == "resp_1"
    assert (sent[7].item_id, sent[7].content_index, sent[7].audio_end_ms) == ("item_2", 0, 640)
    assert sent[10].session.audio.input.turn_detection is None
    assert len({e.event_id for e in sent}) == len(sent)


def test_server_closing_at_once_is_a_connect_error_or_an_empty_session() -> None:
    # A server that accepts and closes straight away: either the session.update fails
    # (ModelConnectError) or it went out and events() ends at once with the close code.
    async def handler(ws: ServerConnection) -> None:
        await ws.close(4000, "no sessions today")

    async def scenario() -> tuple[int | None, list[se.ServerEvent]] | str:
        async with serve(handler, "127.0.0.1", 0) as server:
            try:
                conn = await RealtimeConnection.connect(url_of(server), api_key=None, config=CONFIG)
            except ModelConnectError as exc:
                return str(exc)
            return conn.close_code, [ev async for ev in conn.events()]

    outcome = run(scenario())
    if isinstance(outcome, str):
        assert "closed the connection at once (code 4000: no sessions today)" in outcome
    else:
        assert outcome == (4000, [])


# -- the provider seam over a real socket ---------------------------------------------

TOOL = ToolSpec(name="get_weather", description="Weather.",
                parameters={"type": "object", "properties": {"city": {"type": "string"}}})


def test_provider_sets_up_once_translates_commands_and_events() -> None:
    settings = SessionSettings(instructions="Be brief.", tools=(TOOL,),
                               input_transcription_model="whisper-1")

    async def scenario() -> tuple[Recorder, list[pe.ProviderEvent], OpenAIProvider]:
        rec = Recorder()
        async with await scripted_server(SCRIPT, rec) as server:
            provider = create_provider()
            spec = ModelSpec(url=url_of(server), api_key="sk-test", settings=settings)
            await provider.connect(spec, input_rate=24000, output_rate=24000)
            await provider.send([
                CreateItem(item=MessageItem(role="user", content=(TextPart("hi"),))),
                CreateResponse(),
                UpdateSession(settings=SessionSettings(turn_detection=None)),
            ])
            await provider.append_audio(PCM)
            got: list[pe.ProviderEvent] = []
            async for event in provider.events():
                got.append(event)
                if isinstance(event, pe.ResponseDone):
                    break
            await provider.close()
            await rec.closed.wait()
            with pytest.raises(pe.ProviderClosed):
                await provider.send([CreateResponse()])
            return rec, got, provider

    rec, got, provider = run(scenario())
    assert got == [
        pe.SpeechStarted("item_1", 40), pe.AudioDelta("item_2", 0, PCM),
        pe.ResponseDone("resp_1", "completed"),
    ]  # fmt: skip
    assert provider.close_code == 1000 and provider.capabilities is CAPABILITIES
    sent = [GA_CLIENT.validate_json(f) for f in rec.frames]
    assert [e.type for e in sent] == [
        "session.update", "conversation.item.create", "response.create", "session.update",
        "input_audio_buffer.append",
    ]  # fmt: skip
    first = sent[0].session  # the one set-up of the connection carries every setting
    assert first.instructions == "Be brief." and first.audio.input.format.rate == 24000
    assert [t.name for t in first.tools] == ["get_weather"]
    assert first.audio.input.transcription.model == "whisper-1"
    # A later update keeps the connection's rates and drops what it does not name.
    assert sent[3].session.audio.input.turn_detection is None
    assert sent[3].session.audio.input.format.rate == 24000 and sent[3].session.tools == []


def test_provider_refuses_settings_the_api_cannot_take() -> None:
    async def scenario() -> pe.ProviderConnectError:
        provider = create_provider()
        spec = ModelSpec(url="ws://127.0.0.1:9/v1/realtime", protocol="beta",
                         settings=SessionSettings(tool_choice="get_weather", tools=(TOOL,)))
        with pytest.raises(pe.ProviderConnectError) as err:
            await provider.connect(spec, input_rate=24000, output_rate=24000)
        return err.value

    err = run(scenario())
    assert err.fatal and "invalid session settings" in str(err) and "protocol 'ga'" in str(err)
