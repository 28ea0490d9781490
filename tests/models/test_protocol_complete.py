"""Protocol completeness of the offline model server: G.711 audio, session.update fields,
rate limits and usage, ids, errors, a bounded outgoing path, and the protocol trace.

Ordinary protocol flows (VAD turns, cancel, truncate/retrieve/delete, out-of-band
responses) are in test_local_server.py; these tests cover the rest.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from ipc.protocol_trace import TRACE_ENV
from pipeline.model_server.protocol import audio_format as af
from pipeline.model_server.server import RunningServer, ServerConfig, start_server
from tests.models.test_local_server_support import RealtimeClient, connect_client
from tests.protocol_trace_check import check_trace_dir

G711_RATE = 8_000


def run(scenario: Any, timeout: float = 20.0, **config: Any) -> None:
    async def main() -> None:
        server = await start_server(ServerConfig(**config))
        try:
            await asyncio.wait_for(scenario(server), timeout)
        finally:
            await server.close()

    asyncio.run(main())


async def opened(ws: Any, beta: bool = False) -> RealtimeClient:
    client = RealtimeClient(ws, beta)
    assert (await client.recv())["type"] == "session.created"
    return client


def echo_url(server: RunningServer, query: str = "") -> str:
    return f"{server.url}?engine=echo{'&' + query if query else ''}"


# -- G.711 -------------------------------------------------------------------------------


def quantisation_step(fmt: af.AudioFormat, pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.int64]:
    """Gap between the two decode levels around each sample (the codec's step there)."""
    levels = np.unique(af.g711_decode(np.arange(256, dtype=np.uint8), fmt).astype(np.int64))
    i = np.clip(np.searchsorted(levels, pcm.astype(np.int64)), 1, levels.size - 1)
    step: npt.NDArray[np.int64] = levels[i] - levels[i - 1]
    return step


@pytest.mark.parametrize("fmt", ["g711_ulaw", "g711_alaw"])
def test_g711_codec_error_is_within_its_quantisation(fmt: af.AudioFormat) -> None:
    pcm = np.arange(-32768, 32768, dtype=np.int16)
    back = af.g711_decode(af.g711_encode(pcm, fmt), fmt)
    err = np.abs(back.astype(np.int64) - pcm)
    assert np.all(err <= quantisation_step(fmt, pcm)), int(err.max())
    codes = np.arange(256, dtype=np.uint8)
    stable = af.g711_encode(af.g711_decode(codes, fmt), fmt)
    ambiguous = {0x7F} if fmt == "g711_ulaw" else set()  # µ-law has two zeros
    assert [c for c in range(256) if stable[c] != c] == sorted(ambiguous)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")  # the classic reference, gone in 3.13
    lin2 = audioop.lin2ulaw if fmt == "g711_ulaw" else audioop.lin2alaw
    assert af.g711_encode(pcm, fmt).tobytes() == lin2(pcm.tobytes(), 2)


def test_24k_to_8k_edges_are_chunk_local_and_inverse() -> None:
    rng = np.random.default_rng(7)
    pcm8k = rng.integers(-20000, 20000, 800).astype(np.int16)
    codes = af.g711_encode(pcm8k, "g711_alaw").tobytes()
    pcm24k = af.decode_input(codes, "g711_alaw")
    assert pcm24k.size == 3 * pcm8k.size
    whole = af.encode_output(pcm24k, "g711_alaw")
    chunked = b"".join(af.encode_output(pcm24k[i : i + 1200], "g711_alaw")
                       for i in range(0, pcm24k.size, 1200))
    assert whole == chunked == codes
    assert af.encode_output(pcm24k, "pcm16") == pcm24k.tobytes()


@pytest.mark.parametrize("beta", [False, True])
def test_g711_round_trip_through_the_server(beta: bool) -> None:
    t = np.arange(G711_RATE // 2) / G711_RATE  # 0.5 s
    sent = (8000 * np.sin(2 * np.pi * 300 * t) + 3000 * np.sin(2 * np.pi * 1100 * t))
    sent_pcm = sent.astype(np.int16)
    fmt: af.AudioFormat = "g711_alaw" if beta else "g711_ulaw"
    codes = af.g711_encode(sent_pcm, fmt).tobytes()
    if beta:
        update: dict[str, Any] = {"input_audio_format": fmt, "output_audio_format": fmt,
                                  "turn_detection": None}
        delta_type = "response.audio.delta"
    else:
        pcmu = {"type": "audio/pcmu"}
        update = {"type": "realtime", "audio": {"input": {"format": pcmu, "turn_detection": None},
                                                "output": {"format": pcmu}}}
        delta_type = "response.output_audio.delta"

    async def scenario(server: RunningServer) -> None:
        async with connect_client(echo_url(server), beta=beta) as ws:
            client = await opened(ws, beta)
            await client.send(type="session.update", session=update)
            session = (await client.until("session.updated"))[0]["session"]
            if beta:
                assert (session["input_audio_format"], session["output_audio_format"]) == (fmt,) * 2
            else:
                assert session["audio"]["input"]["format"] == pcmu
                assert session["audio"]["output"]["format"] == pcmu
            for i in range(0, len(codes), 800):  # 100 ms appends
                await client.send(type="input_audio_buffer.append",
                                  audio=base64.b64encode(codes[i : i + 800]).decode())
            await client.send(type="input_audio_buffer.commit")
            await client.send(type="response.create")
            events = await client.until("response.done")
            got = b"".join(base64.b64decode(e["delta"]) for e in events
                           if e["type"] == delta_type)
            assert len(got) == len(codes)
            back = af.g711_decode(np.frombuffer(got, dtype=np.uint8), fmt)
            err = np.abs(back.astype(np.int64) - sent_pcm)
            assert np.all(err <= quantisation_step(fmt, sent_pcm)), int(err.max())
            done = events[-1]["response"]
            if beta:
                assert done["output_audio_format"] == fmt
            else:
                assert done["audio"]["output"]["format"] == pcmu
            # An odd pcm16 byte count is an error; one µ-law/A-law byte is a whole sample.
            await client.send(type="input_audio_buffer.append", audio="AA==")
            await client.send(type="input_audio_buffer.clear")
            assert [e["type"] for e in await client.until("input_audio_buffer.cleared")] == [
                "input_audio_buffer.cleared"]

    run(scenario)


# -- session.update, response.create, rate limits, ids -------------------------------------


@pytest.mark.parametrize("beta", [False, True])
def test_session_update_tools_choice_transcription_and_turn_detection(beta: bool) -> None:
    tool = {"type": "function", "name": "get_weather", "description": "Weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
    on = {"model": "whisper-1"}
    if beta:
        first = {"tools": [tool], "tool_choice": "required", "voice": "verse",
                 "input_audio_transcription": on, "turn_detection": None}
        second = {"input_audio_transcription": None,
                  "turn_detection": {"type": "server_vad", "silence_duration_ms": 200}}
    else:
        first = {"type": "realtime", "tools": [tool], "tool_choice": "required",
                 "audio": {"input": {"transcription": on, "turn_detection": None},
                           "output": {"voice": "verse"}}}
        second = {"type": "realtime", "audio": {"input": {
            "transcription": None, "turn_detection": {"type": "server_vad",
                                                      "silence_duration_ms": 200}}}}

    def fields(session: dict[str, Any]) -> tuple[Any, ...]:
        if beta:
            return (session["voice"], session["input_audio_transcription"],
                    session["turn_detection"])
        audio = session["audio"]
        return (audio["output"]["voice"], audio["input"]["transcription"],
                audio["input"]["turn_detection"])

    async def scenario(server: RunningServer) -> None:
        async with connect_client(echo_url(server), beta=beta) as ws:
            client = await opened(ws, beta)
            await client.send(type="session.update", session=first)
            session = (await client.until("session.updated"))[0]["session"]
            assert session["tools"][0]["name"] == "get_weather"
            assert session["tool_choice"] == "required"
            voice, transcription, td = fields(session)
            assert (voice, td) == ("verse", None)
            assert transcription["model"] == "whisper-1"
            await client.send(type="session.update", session=second)
            session = (await client.until("session.updated"))[0]["session"]
            voice, transcription, td = fields(session)
            assert (voice, transcription) == ("verse", None)
            assert (td["type"], td["silence_duration_ms"]) == ("server_vad", 200)
            assert session["tools"][0]["name"] == "get_weather"  # untouched fields stay

    run(scenario)


def test_ids_previous_items_usage_and_rate_limits() -> None:
    async def scenario(server: RunningServer) -> None:
        async with connect_client(echo_url(server)) as ws:
            client = await opened(ws)
            item = {"type": "message", "role": "user",
                    "content": [{"type": "input_text", "text": "first words"}]}
            await client.send(type="conversation.item.create", item=item, event_id="c1")
            added = (await client.until("conversation.item.added"))[0]
            user_id = added["item"]["id"]
            assert user_id.startswith("item_") and added["previous_item_id"] is None
            await client.send(type="response.create", response={"instructions": "Be terse."})
            events = await client.until("response.done")
            created = next(e for e in events if e["type"] == "response.created")
            resp_id = created["response"]["id"]
            assert resp_id.startswith("resp_")
            out_added = next(e for e in events if e["type"] == "conversation.item.added")
            assert out_added["previous_item_id"] == user_id
            assert all(e.get("response_id", resp_id) == resp_id for e in events)
            usage = events[-1]["response"]["usage"]
            # The response's own instructions replaced the session's: "Be terse." and
            # "first words" are 3 estimated tokens each (4 characters a token).
            assert usage["input_token_details"]["text_tokens"] == 6
            assert usage["output_token_details"]["audio_tokens"] > 0
            assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
            limits = await client.recv()
            assert limits["type"] == "rate_limits.updated"
            by_name = {r["name"]: r for r in limits["rate_limits"]}
            tokens = by_name["tokens"]
            assert tokens["limit"] - tokens["remaining"] == usage["total_tokens"]
            assert by_name["requests"]["limit"] - by_name["requests"]["remaining"] == 1
            ids = [e["event_id"] for e in client.events]
            assert len(set(ids)) == len(ids) and all(i.startswith("event_") for i in ids)

    run(scenario)


def test_errors_name_type_code_message_and_the_offending_event() -> None:
    async def scenario(server: RunningServer) -> None:
        async with connect_client(echo_url(server)) as ws:
            client = await opened(ws)
            await client.send(type="conversation.item.explode", event_id="evt_unknown")
            await client.send(type="conversation.item.delete", item_id="nope", event_id="evt_del")
            await client.send_raw("{not json")
            await client.send(type="session.update", session={"voice": 7}, event_id="evt_voice")
            errors = [(await client.until("error"))[0]["error"] for _ in range(4)]
            assert [(e["code"], e["event_id"]) for e in errors] == [
                ("invalid_value", "evt_unknown"), ("item_not_found", "evt_del"),
                ("invalid_json", None), ("invalid_type", "evt_voice")]
            assert all(e["type"] == "invalid_request_error" and e["message"] for e in errors)
            await client.send(type="session.update", session={"instructions": "still here"})
            session = (await client.until("session.updated"))[0]["session"]
            assert session["instructions"] == "still here"

    run(scenario)


# -- bounded outgoing path -----------------------------------------------------------------


def test_a_client_that_stops_reading_is_dropped_with_bounded_buffers() -> None:
    noise = np.random.default_rng(3).integers(-3000, 3000, 24_000 * 10).astype(np.int16)
    audio = base64.b64encode(noise.tobytes()).decode()
    item = {"type": "message", "role": "user",
            "content": [{"type": "input_audio", "audio": audio}]}

    async def scenario(server: RunningServer) -> None:
        # max_queue=1: the client stops draining its socket at once; a small receive
        # buffer keeps the kernel from absorbing megabytes, so the server's writes back up.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        sock.connect((server.host, server.port))
        async with connect_client(echo_url(server, "chunk_ms=100"), max_queue=1,
                                  max_size=2**24, sock=sock, compression=None,
                                  close_timeout=0.2) as ws:
            await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
            for _ in range(24):  # 24 × 10 s of echo, ~15 MB of base64 deltas
                await ws.send(json.dumps({"type": "response.create",
                                          "response": {"conversation": "none"}}))
            peak = 0
            # send_timeout_s=1 once the buffer is full; the 30 s only catches "never".
            start = time.monotonic()
            deadline = start + 30.0
            while server.connections and time.monotonic() < deadline:
                for conn in server.open_connections():
                    peak = max(peak, conn.transport.get_write_buffer_size())
                await asyncio.sleep(0.02)
            print(f"slow reader dropped after {time.monotonic() - start:.2f} s")
            assert server.connections == 0, "the slow reader was never dropped"
            # Sends wait at websockets' high-water mark (32 KiB), one frame at a time
            # (a 100 ms delta is ~6.5 KB), whatever the number of responses.
            assert 32 * 1024 <= peak <= 48 * 1024, peak

    run(scenario, send_timeout_s=1.0)


def test_a_burst_of_deltas_goes_out_in_few_writes_whole_and_in_order() -> None:
    """An unpaced reply sends a second of deltas between two yields: they are queued and
    written together (one write per loop turn, or per buffer's worth), not one each."""
    speech = (np.sin(np.arange(24_000 * 3) / 7.0) * 8000).astype(np.int16)
    item = {"type": "message", "role": "user",
            "content": [{"type": "input_audio",
                         "audio": base64.b64encode(speech.tobytes()).decode()}]}

    async def scenario(server: RunningServer) -> None:
        async with connect_client(echo_url(server, "chunk_ms=20"), max_size=2**24,
                                  compression=None) as ws:
            client = await opened(ws)
            (conn,) = server.open_connections()
            writes = 0
            write, writelines = conn.transport.write, conn.transport.writelines

            def counted_write(data: Any) -> None:
                nonlocal writes
                writes += 1
                write(data)

            def counted_writelines(datas: Any) -> None:
                nonlocal writes
                writes += 1
                writelines(datas)

            conn.transport.write = counted_write  # type: ignore[method-assign]
            conn.transport.writelines = counted_writelines  # type: ignore[method-assign]
            await client.send(type="conversation.item.create", item=item)
            await client.send(type="response.create")
            deltas: list[bytes] = []
            while (event := await client.recv())["type"] != "response.done":
                if event["type"] == "response.output_audio.delta":
                    deltas.append(base64.b64decode(event["delta"]))
            heard = np.frombuffer(b"".join(deltas), dtype=np.int16)
            assert len(deltas) == 150  # 3 s in 20 ms deltas
            np.testing.assert_array_equal(heard, speech)  # whole, in order
            # 150 deltas plus the response's other events; ~6 KB a delta in JSON, so a
            # 32 KiB buffer's worth is ~5 deltas a write at the very least.
            assert writes <= 150 // 4, writes

    run(scenario)


# -- the protocol trace itself ----------------------------------------------------------------


def test_trace_check_names_each_invalid_event(tmp_path: Path) -> None:
    lines = [
        {"dialect": "ga", "event": {"type": "session.updated", "event_id": "e1"}},
        {"dialect": "ga", "event": {"type": "response.bogus", "event_id": "e2"}},
        {"dialect": "beta", "event": {"type": "input_audio_buffer.cleared", "event_id": "e3"}},
        {"dialect": "ga", "event": {"type": "input_audio_buffer.cleared", "event_id": "e4",
                                    "item_idd": "x"}},
    ]
    (tmp_path / "server-1.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (tmp_path / "client-1.jsonl").write_text(json.dumps(
        {"dialect": "ga", "event": {"type": "input_audio_buffer.append", "audio": 5}}) + "\n")
    report = check_trace_dir(tmp_path)
    assert report.checked == {"server/ga": 3, "server/beta": 1, "client/ga": 1}
    assert len(report.invalid) == 4, report.summary()
    assert "server-1.jsonl:1 server/ga session.updated: session: Field required" in report.invalid
    assert any("response.bogus" in x and "does not match any of the expected tags" in x
               for x in report.invalid)
    assert any("input_audio_buffer.append: audio: Input should be a valid string" in x
               for x in report.invalid)
    assert ("server-1.jsonl:4 server/ga input_audio_buffer.cleared: fields outside the "
            "schema: ['<event>.item_idd']") in report.invalid


def test_a_child_process_client_is_traced_with_audio_shortened() -> None:
    trace_dir = Path(os.environ[TRACE_ENV])  # set for the whole run by tests/conftest.py
    child = """
import asyncio, sys
from pipeline.providers.openai.config import RealtimeSessionConfig
from pipeline.providers.openai.connection import RealtimeConnection

async def main():
    conn = await RealtimeConnection.connect(sys.argv[1], api_key=None,
                                            config=RealtimeSessionConfig(turn_detection=None))
    await conn.append_audio(bytes(48_000))
    await conn.close()

asyncio.run(main())
"""

    async def scenario(server: RunningServer) -> None:
        # The child inherits the environment, as the pipeline's model stage does.
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", child, server.url)
        assert await proc.wait() == 0
        lines = (trace_dir / f"client-{proc.pid}.jsonl").read_text().splitlines()
        events = [json.loads(x)["event"] for x in lines]
        assert [e["type"] for e in events] == ["session.update", "input_audio_buffer.append"]
        assert events[1]["audio"] == "AAAA"

    run(scenario)
