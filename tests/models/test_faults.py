"""Faults on demand (`?fault=…`), each against a real server over real websockets."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from pipeline.model_server.protocol.faults import UNKNOWN_EVENT_TYPE
from pipeline.model_server.server import RunningServer, ServerConfig, start_server
from pipeline.providers.openai import server_events as se
from pipeline.providers.openai.config import RealtimeSessionConfig
from pipeline.providers.openai.connection import RealtimeConnection
from tests.models.test_local_server_support import SR, pcm_of

Scenario = Callable[[RunningServer], Awaitable[None]]
BEEP_SAMPLES = SR // 2  # the echo engine's answer to a text turn: a 0.5 s beep
DELTA_SAMPLES = SR // 20  # 50 ms per audio delta


def run(scenario: Scenario, timeout: float = 15.0) -> None:
    async def main() -> None:
        server = await start_server(ServerConfig())
        try:
            await asyncio.wait_for(scenario(server), timeout)
        finally:
            await server.close()

    asyncio.run(main())


def url(server: RunningServer, query: str) -> str:
    return f"{server.url}?engine=echo&{query}"


async def recv(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    """The next frame, parsed; a frame that is not JSON comes back as {"raw": text}."""
    raw = await asyncio.wait_for(ws.recv(), timeout)
    try:
        event: dict[str, Any] = json.loads(raw)
    except ValueError:
        return {"raw": raw}
    return event


async def ask_text_turn(ws: ClientConnection, text: str = "hello") -> None:
    """A user text item and a response for it (`response.created` follows at once)."""
    created = await recv(ws)
    assert created["type"] == "session.created"
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
    await ws.send(json.dumps({"type": "response.create"}))


async def until_done(ws: ClientConnection, timeout: float = 5.0) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while not events or events[-1].get("type") != "response.done":
        events.append(await recv(ws, timeout))
    return events


async def until_closed(ws: ClientConnection) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    with pytest.raises(ConnectionClosed):
        while True:
            events.append(await recv(ws))
    return events


def test_close_mid_response_closes_1011_after_the_first_delta() -> None:
    async def scenario(server: RunningServer) -> None:
        async with connect(url(server, "fault=close_mid_response")) as ws:
            await ask_text_turn(ws)
            events = await until_closed(ws)
            types = [e["type"] for e in events]
            assert "response.created" in types
            assert types.count("response.output_audio.delta") == 1
            assert types[-1] == "response.output_audio.delta"
            assert "response.done" not in types
            assert ws.close_code == 1011
            assert ws.close_reason is not None and "mid-response" in ws.close_reason

    run(scenario)


def test_fault_fires_once_per_fault_id_and_a_reconnect_is_clean() -> None:
    async def scenario(server: RunningServer) -> None:
        query = "fault=close_mid_response&fault_id=reconnect-1"
        async with connect(url(server, query)) as ws:
            await ask_text_turn(ws)
            await until_closed(ws)
            assert ws.close_code == 1011
        for _ in range(2):  # the same URL again: clean sessions, every time
            async with connect(url(server, query)) as ws:
                await ask_text_turn(ws)
                events = await until_done(ws)
                assert events[-1]["response"]["status"] == "completed"
                assert pcm_of(events).size == BEEP_SAMPLES
        # Another id is a fault of its own.
        async with connect(url(server, "fault=close_mid_response&fault_id=reconnect-2")) as ws:
            await ask_text_turn(ws)
            await until_closed(ws)
            assert ws.close_code == 1011

    run(scenario)


def test_a_faulty_session_does_not_affect_a_concurrent_clean_one() -> None:
    async def faulty(server: RunningServer) -> int | None:
        async with connect(url(server, "fault=close_mid_response&chunk_ms=10")) as ws:
            await ask_text_turn(ws)
            await until_closed(ws)
            return ws.close_code

    async def clean(server: RunningServer) -> list[dict[str, Any]]:
        async with connect(url(server, "chunk_ms=10&pace=4")) as ws:
            await ask_text_turn(ws)
            return await until_done(ws)

    async def scenario(server: RunningServer) -> None:
        code, events = await asyncio.gather(faulty(server), clean(server))
        assert code == 1011
        assert events[-1]["response"]["status"] == "completed"
        assert pcm_of(events).size == BEEP_SAMPLES

    run(scenario)


def test_no_pong_makes_a_pinging_client_time_out() -> None:
    async def session_lifetime(server: RunningServer, query: str, wait_s: float
                               ) -> tuple[float, str]:
        start = time.monotonic()
        async with connect(url(server, query), ping_interval=0.2, ping_timeout=0.4) as ws:
            await recv(ws)  # session.created: the session itself works
            try:
                await asyncio.wait_for(ws.recv(), wait_s)
            except TimeoutError:
                return time.monotonic() - start, "still open"
            except ConnectionClosed as exc:
                # The client's keepalive gave up and failed the connection itself.
                assert exc.sent is not None and exc.sent.code == 1011
                return time.monotonic() - start, exc.sent.reason
            raise AssertionError("no event was expected")

    async def scenario(server: RunningServer) -> None:
        # The keepalive fails the link after ping_interval + ping_timeout (0.6 s); the
        # 10 s window only gives a loaded machine room, the close reason is the proof.
        lifetime, why = await session_lifetime(server, "fault=no_pong&fault_id=np", 10.0)
        print(f"dead link detected after {lifetime:.2f} s")
        assert why == "keepalive ping timeout"
        # Reconnecting with the same fault id: pongs come back, the session stays up.
        lifetime, why = await session_lifetime(server, "fault=no_pong&fault_id=np", 2.0)
        assert lifetime >= 2.0
        assert why == "still open"

    run(scenario)


def test_stall_sends_nothing_for_stall_s_then_everything_in_order() -> None:
    async def scenario(server: RunningServer) -> None:
        # Only lower bounds on the clock: a stall cannot end early whatever the load, so a
        # response that took less than stall_s was not stalled.
        stall_s = 2.0
        async with connect(url(server, f"fault=stall&stall_s={stall_s}")) as ws:
            asked = time.monotonic()
            await ask_text_turn(ws)
            added = await recv(ws)
            assert added["type"] == "conversation.item.added"
            assert (await recv(ws))["type"] == "conversation.item.done"
            created = await recv(ws, timeout=stall_s + 10.0)
            waited = time.monotonic() - asked
            assert created["type"] == "response.created"
            assert waited >= stall_s
            events = [created, *await until_done(ws)]
            assert pcm_of(events).size == BEEP_SAMPLES
            # A second response is not stalled.
            await ws.send(json.dumps({"type": "response.create"}))
            asked = time.monotonic()
            await until_done(ws)
            print(f"stalled {waited:.2f} s, then {time.monotonic() - asked:.2f} s")
            assert time.monotonic() - asked < stall_s

    run(scenario)


def _session_config() -> RealtimeSessionConfig:
    return RealtimeSessionConfig(instructions="Be brief.", turn_detection=None)


@pytest.mark.parametrize(
    ("fault", "reason"), [("malformed_json", se.INVALID_JSON), ("unknown_event", se.UNKNOWN_TYPE)]
)
def test_a_bad_frame_is_counted_by_voxpipes_client_and_the_session_goes_on(
    fault: str, reason: str
) -> None:
    async def scenario(server: RunningServer) -> None:
        conn = await RealtimeConnection.connect(
            url(server, f"fault={fault}"), api_key=None, config=_session_config()
        )
        try:
            await conn.create_item(
                {"type": "message", "role": "user",
                 "content": [{"type": "input_text", "text": "hi"}]}
            )
            await conn.create_response()
            kinds = []
            async for event in conn.events():
                kinds.append(type(event).__name__)
                if isinstance(event, se.ResponseDone):
                    assert event.status == "completed"
                    break
            assert conn.rejected == {reason: 1}
            assert "ResponseCreated" in kinds and kinds.count("AudioDelta") == 10
        finally:
            await conn.close()

    run(scenario)


def test_bad_frames_are_exactly_what_was_asked_for() -> None:
    async def frames_before_created(server: RunningServer, fault: str) -> list[dict[str, Any]]:
        async with connect(url(server, f"fault={fault}")) as ws:
            await ask_text_turn(ws)
            events = await until_done(ws)
            return events[: [e.get("type") for e in events].index("response.created")]

    async def scenario(server: RunningServer) -> None:
        bad = (await frames_before_created(server, "malformed_json"))[-1]
        assert set(bad) == {"raw"}
        with pytest.raises(ValueError):
            json.loads(bad["raw"])
        unknown = (await frames_before_created(server, "unknown_event"))[-1]
        assert unknown["type"] == UNKNOWN_EVENT_TYPE
        assert unknown["event_id"].startswith("event_")

    run(scenario)


def test_text_responses_answers_the_first_n_in_text() -> None:
    async def scenario(server: RunningServer) -> None:
        async with connect(url(server, "text_responses=1")) as ws:
            await ask_text_turn(ws)
            first = await until_done(ws)
            await ws.send(json.dumps({"type": "response.create"}))
            second = await until_done(ws)
        first_types = {e["type"] for e in first}
        assert "response.output_text.delta" in first_types
        assert "response.output_audio.delta" not in first_types
        assert first[-1]["response"]["output_modalities"] == ["text"]
        assert pcm_of(second).size > 0
        assert second[-1]["response"]["output_modalities"] == ["audio"]

    run(scenario)


def test_bad_fault_queries_are_refused_at_the_handshake() -> None:
    async def scenario(server: RunningServer) -> None:
        from websockets.exceptions import InvalidStatus

        for query in ("fault=nope", "fault=stall&stall_s=0", "fault_id=" + "x" * 200):
            with pytest.raises(InvalidStatus) as info:
                async with connect(url(server, query)):
                    pass
            assert info.value.response.status_code == 400

    run(scenario)
