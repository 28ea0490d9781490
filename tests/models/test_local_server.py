"""Protocol tests for the offline model server, driven over real websockets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest

from pipeline.model_server.server import RunningServer, ServerConfig, start_server
from tests.models.test_local_server_support import (
    SR,
    RealtimeClient,
    connect_client,
    max_ncc,
    pcm_of,
    speech_track,
    types_of,
)

PREFIX = round(0.3 * SR)
TURN_EVENTS = [
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.committed",
    "conversation.item.added",
    "conversation.item.done",
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
]

Scenario = Callable[[RunningServer], Awaitable[None]]


def run(scenario: Scenario, **config: Any) -> None:
    async def main() -> None:
        server = await start_server(ServerConfig(**config))
        try:
            await asyncio.wait_for(scenario(server), 25)
        finally:
            await server.close()

    asyncio.run(main())


async def opened(ws: Any, beta: bool = False) -> RealtimeClient:
    client = RealtimeClient(ws, beta)
    created = await client.recv()
    assert created["type"] == "session.created"
    return client


def test_vad_turns_are_echoed_with_accurate_boundaries() -> None:
    pcm, turns = speech_track([1.2, 2.0, 1.5])

    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url) as ws:
            client = await opened(ws)
            sender = asyncio.create_task(client.append(pcm, realtime=5.0))
            prev_id: str | None = None
            for turn in turns:
                events = await client.until("response.done")
                assert types_of(events) == TURN_EVENTS
                started, stopped, committed = events[0], events[1], events[2]
                assert abs(started["audio_start_ms"] - turn.onset * 1000 / SR) <= 60
                assert abs(stopped["audio_end_ms"] - turn.offset * 1000 / SR) <= 60
                assert started["item_id"] == stopped["item_id"] == committed["item_id"]
                assert committed["previous_item_id"] == prev_id
                done = events[-1]["response"]
                assert done["status"] == "completed"
                assert done["usage"]["output_token_details"]["audio_tokens"] > 0
                assert done["usage"]["input_token_details"]["audio_tokens"] > 0
                assistant_id = done["output"][0]["id"]
                prev_id = assistant_id
                echo = pcm_of(events)
                user = pcm[turn.onset - PREFIX:turn.offset]
                assert abs(echo.size - user.size) <= 0.1 * (turn.offset - turn.onset)
                assert max_ncc(echo, user) >= 0.9
                transcript = events[-5]["transcript"]
                assert transcript == f"(echo of {echo.size / SR:.1f} s of your speech)"
                deltas = [e["delta"] for e in events
                          if e["type"] == "response.output_audio_transcript.delta"]
                assert "".join(deltas) == transcript
            await sender

    run(scenario)


def test_real_speech_from_example_wav() -> None:
    import json
    import pathlib
    import wave

    import soxr

    root = pathlib.Path(__file__).resolve().parents[2] / "examples" / "audio"
    if not (root / "three_turns.wav").exists():
        pytest.skip("examples/audio/three_turns.wav not present")
    meta = json.loads((root / "three_turns.json").read_text())
    with wave.open(str(root / "three_turns.wav")) as w:
        raw = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    pcm = soxr.resample(raw, meta["sample_rate"], SR).astype(np.int16)

    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url) as ws:
            client = await opened(ws)
            sender = asyncio.create_task(client.append(pcm, realtime=5.0))
            for turn in meta["turns"]:
                events = await client.until("response.done")
                assert types_of(events) == TURN_EVENTS, turn["text"]
                assert abs(events[0]["audio_start_ms"] - turn["onset_s"] * 1000) <= 60
                assert abs(events[1]["audio_end_ms"] - turn["offset_s"] * 1000) <= 60
                on, off = round(turn["onset_s"] * SR), round(turn["offset_s"] * SR)
                assert max_ncc(pcm_of(events), pcm[on - PREFIX:off]) >= 0.9
            await sender

    run(scenario)


def test_noise_at_minus_60_dbfs_does_not_trigger() -> None:
    pcm, _ = speech_track([], lead=5.0, tail=0.0, noise_dbfs=-60.0)

    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url) as ws:
            client = await opened(ws)
            await client.append(pcm)
            await client.send(type="input_audio_buffer.clear")
            events = await client.until("input_audio_buffer.cleared")
            assert types_of(events) == ["input_audio_buffer.cleared"]

    run(scenario)


def test_barge_in_cancels_the_active_response() -> None:
    first, _ = speech_track([2.0], tail=0.7)
    second, _ = speech_track([1.0], lead=0.2, seed=7)

    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url + "?pace=1") as ws:
            client = await opened(ws)
            await client.append(first)
            events = await client.until("response.content_part.added")
            response_id = events[-1]["response_id"]
            await client.until("response.output_audio.delta")
            await client.append(second)
            events = await client.until("response.done")
            kinds = types_of(events)
            assert kinds[0] == "input_audio_buffer.speech_started"
            assert kinds[1:] == [
                "response.output_audio.done", "response.output_audio_transcript.done",
                "response.content_part.done", "response.output_item.done",
                "conversation.item.done", "response.done",
            ]
            done = events[-1]["response"]
            assert done["id"] == response_id
            assert done["status"] == "cancelled"
            assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
            assert done["output"][0]["status"] == "incomplete"
            # The interrupting turn still gets its own complete answer.
            events = await client.until("response.done")
            assert events[-1]["response"]["status"] == "completed"
            assert events[-1]["response"]["id"] != response_id

    run(scenario)


def test_response_cancel_active_and_none() -> None:
    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url + "?pace=1") as ws:
            client = await opened(ws)
            await client.send(type="response.cancel", event_id="evt_cancel_1")
            (err,) = await client.until("error")
            assert err["error"]["code"] == "response_cancel_not_active"
            assert err["error"]["event_id"] == "evt_cancel_1"
            await client.send(type="conversation.item.create", item={
                "type": "message", "role": "user",
                "content": [{"type": "input_text", "text": "hello there"}]})
            await client.until("conversation.item.done")
            await client.send(type="response.create")
            events = await client.until("response.output_audio.delta")
            await client.send(type="response.create")
            busy = (await client.until("error"))[-1]
            assert busy["error"]["code"] == "conversation_already_has_active_response"
            await client.send(type="response.cancel", response_id=events[0]["response"]["id"])
            events = await client.until("response.done")
            done = events[-1]["response"]
            assert done["status"] == "cancelled"
            assert done["status_details"]["reason"] == "client_cancelled"
            await client.send(type="response.cancel")
            (err,) = await client.until("error")
            assert err["error"]["code"] == "response_cancel_not_active"

    run(scenario)


def test_truncate_retrieve_and_delete() -> None:
    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url) as ws:
            client = await opened(ws)
            await client.send(type="conversation.item.create", item={
                "type": "message", "role": "user",
                "content": [{"type": "input_text", "text": "say something"}]})
            user_id = (await client.until("conversation.item.done"))[-1]["item"]["id"]
            await client.send(type="response.create")
            events = await client.until("response.done")
            item = events[-1]["response"]["output"][0]
            assert pcm_of(events).size == SR // 2  # the 0.5 s beep for a text turn
            await client.send(type="conversation.item.truncate", item_id=item["id"],
                              content_index=0, audio_end_ms=501)
            (err,) = await client.until("error")
            assert err["error"]["code"] == "invalid_value"
            assert err["error"]["param"] == "audio_end_ms"
            await client.send(type="conversation.item.truncate", item_id=user_id,
                              content_index=0, audio_end_ms=10)
            (err,) = await client.until("error")
            assert err["error"]["code"] == "unsupported_content_type"
            await client.send(type="conversation.item.truncate", item_id=item["id"],
                              content_index=0, audio_end_ms=200)
            (truncated,) = await client.until("conversation.item.truncated")
            assert truncated["audio_end_ms"] == 200
            assert truncated["item_id"] == item["id"]
            await client.send(type="conversation.item.retrieve", item_id=item["id"])
            (got,) = await client.until("conversation.item.retrieved")
            part = got["item"]["content"][0]
            assert part["transcript"] == ""
            assert pcm_of([{"type": "x", "delta": part["audio"]}], "x").size == SR // 5
            await client.send(type="conversation.item.delete", item_id=item["id"])
            (deleted,) = await client.until("conversation.item.deleted")
            assert deleted["item_id"] == item["id"]
            for etype in ("conversation.item.delete", "conversation.item.retrieve"):
                await client.send(type=etype, item_id=item["id"])
                (err,) = await client.until("error")
                assert err["error"]["code"] == "item_not_found"

    run(scenario)


def test_manual_commit_mode() -> None:
    pcm, _ = speech_track([1.0], lead=0.3, tail=0.3)

    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url) as ws:
            client = await opened(ws)
            await client.send(type="session.update", session={
                "type": "realtime", "audio": {"input": {"turn_detection": None}}})
            (updated,) = await client.until("session.updated")
            assert updated["session"]["audio"]["input"]["turn_detection"] is None
            await client.append(pcm[:SR // 20])
            await client.send(type="input_audio_buffer.commit")
            (err,) = await client.until("error")
            assert err["error"]["code"] == "input_audio_buffer_commit_empty"
            await client.append(pcm[SR // 20:])
            await client.send(type="input_audio_buffer.commit")
            events = await client.until("conversation.item.done")
            assert types_of(events) == ["input_audio_buffer.committed",
                                        "conversation.item.added", "conversation.item.done"]
            await client.send(type="response.create")
            events = await client.until("response.done")
            assert np.array_equal(pcm_of(events), pcm)
            await client.append(pcm[:SR // 2])
            await client.send(type="input_audio_buffer.clear")
            await client.until("input_audio_buffer.cleared")
            await client.send(type="input_audio_buffer.commit")
            (err,) = await client.until("error")
            assert err["error"]["code"] == "input_audio_buffer_commit_empty"

    run(scenario)


def test_malformed_events_get_errors_and_the_session_goes_on() -> None:
    pcm, _ = speech_track([1.0])
    bad: list[tuple[str, str, str | None]] = [
        ("{not json", "invalid_json", None),
        ("[1, 2]", "invalid_type", None),
        ('{"type": "no.such.event", "event_id": "e1"}', "invalid_value", "type"),
        ('{"event_id": "e2"}', "missing_required_parameter", "type"),
        ('{"type": "conversation.item.delete", "event_id": "e3"}',
         "missing_required_parameter", "item_id"),
        ('{"type": "conversation.item.truncate", "item_id": "x", "content_index": 0,'
         ' "audio_end_ms": "10", "event_id": "e4"}', "item_not_found", "item_id"),
        ('{"type": "input_audio_buffer.append", "audio": "@@@", "event_id": "e5"}',
         "invalid_value", "audio"),
        ('{"type": "input_audio_buffer.append", "audio": "AAAA", "event_id": "e6"}',
         "invalid_value", "audio"),
        ('{"type": "input_audio_buffer.append", "audio": 5}', "invalid_type", "audio"),
        ('{"type": "session.update", "session": {"bogus": 1}}', "unknown_parameter",
         "session.bogus"),
        ('{"type": "session.update", "session": {"type": "realtime", "audio": {"input":'
         ' {"turn_detection": {"type": "server_vad", "threshold": 3}}}}}', "invalid_value",
         "session.audio.input.turn_detection.threshold"),
        ('{"type": "conversation.item.create", "item": {"type": "message", "role": "robot",'
         ' "content": []}}', "invalid_value", "item.role"),
    ]

    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url) as ws:
            client = await opened(ws)
            for text, code, param in bad:
                await client.send_raw(text)
                (err,) = await client.until("error")
                assert (err["error"]["code"], err["error"]["param"]) == (code, param), text
                assert err["error"]["type"] == "invalid_request_error"
                sent_id = "e" + text.split('"event_id": "e')[1][0] if '"e' in text else None
                if sent_id and sent_id[1:].isdigit():
                    assert err["error"]["event_id"] == sent_id
            await client.append(pcm)
            events = await client.until("response.done")
            assert types_of(events) == TURN_EVENTS

    run(scenario)


def test_two_concurrent_sessions_do_not_interfere() -> None:
    tracks = [speech_track([1.0], seed=3), speech_track([2.0], seed=5)]

    async def one(server: RunningServer, index: int) -> None:
        pcm, (turn,) = tracks[index]
        async with connect_client(server.url + "?pace=4") as ws:
            client = await opened(ws)
            await client.append(pcm, realtime=8.0)
            events = await client.until("response.done")
            echo = pcm_of(events)
            assert max_ncc(echo, pcm[turn.onset - PREFIX:turn.offset]) >= 0.9
            _, (other,) = tracks[1 - index]
            assert abs(echo.size - (turn.offset - turn.onset + PREFIX)) < 0.1 * echo.size
            assert abs(echo.size - (other.offset - other.onset + PREFIX)) > 0.3 * SR

    async def scenario(server: RunningServer) -> None:
        await asyncio.gather(one(server, 0), one(server, 1))

    run(scenario)


def test_item_create_honours_previous_item_id() -> None:
    def msg(text: str, item_id: str) -> dict[str, Any]:
        return {"id": item_id, "type": "message", "role": "system",
                "content": [{"type": "input_text", "text": text}]}

    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url) as ws:
            client = await opened(ws)
            await client.send(type="conversation.item.create", item=msg("a", "item_a"))
            first = (await client.until("conversation.item.done"))[0]
            assert first["previous_item_id"] is None
            await client.send(type="conversation.item.create", item=msg("b", "item_b"))
            assert (await client.until("conversation.item.done"))[0]["previous_item_id"] == "item_a"
            await client.send(type="conversation.item.create", item=msg("c", "item_c"),
                              previous_item_id="item_a")
            assert (await client.until("conversation.item.done"))[0]["previous_item_id"] == "item_a"
            await client.send(type="conversation.item.create", item=msg("d", "item_d"),
                              previous_item_id="root")
            assert (await client.until("conversation.item.done"))[0]["previous_item_id"] is None
            await client.send(type="conversation.item.create", item=msg("e", "item_e"),
                              previous_item_id="item_zz")
            (err,) = await client.until("error")
            assert err["error"]["param"] == "previous_item_id"
            await client.send(type="conversation.item.create", item=msg("f", "item_a"))
            (err,) = await client.until("error")
            assert err["error"]["code"] == "invalid_value"
            await client.send(type="conversation.item.create", item={
                "type": "function_call_output", "call_id": "call_1", "output": "{\"ok\": true}"})
            added, _ = await client.until("conversation.item.done")
            assert added["item"]["type"] == "function_call_output"
            assert added["previous_item_id"] == "item_b"

    run(scenario)


def test_out_of_band_text_response() -> None:
    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url) as ws:
            client = await opened(ws)
            await client.send(type="response.create", response={
                "conversation": "none", "output_modalities": ["text"],
                "metadata": {"topic": "test"},
                "input": [{"type": "message", "role": "user",
                           "content": [{"type": "input_text", "text": "ping pong"}]}]})
            events = await client.until("response.done")
            assert types_of(events) == [
                "response.created", "response.output_item.added", "response.content_part.added",
                "response.output_text.done", "response.content_part.done",
                "response.output_item.done", "response.done",
            ]
            done = events[-1]["response"]
            assert done["conversation_id"] is None
            assert done["metadata"] == {"topic": "test"}
            assert done["output_modalities"] == ["text"]
            assert events[-4]["text"] == "(echo) ping pong"

    run(scenario)


def test_session_update_ga_and_beta_shapes() -> None:
    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url) as ws:
            client = await opened(ws)
            await client.send(type="session.update", session={
                "type": "realtime", "instructions": "be brief",
                "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000},
                                    "turn_detection": {"type": "server_vad", "threshold": 0.7,
                                                       "silence_duration_ms": 300}},
                          "output": {"voice": "marin"}},
                "tools": [{"type": "function", "name": "get_time", "parameters": {}}]})
            session = (await client.until("session.updated"))[0]["session"]
            assert session["instructions"] == "be brief"
            td = session["audio"]["input"]["turn_detection"]
            assert (td["threshold"], td["silence_duration_ms"], td["prefix_padding_ms"]) == (
                0.7, 300, 300)
            assert session["audio"]["output"]["voice"] == "marin"
            assert session["tools"][0]["name"] == "get_time"
            await client.send(type="session.update", session={
                "input_audio_format": "pcm16", "voice": "echo", "modalities": ["text"],
                "turn_detection": {"type": "server_vad", "prefix_padding_ms": 100}})
            session = (await client.until("session.updated"))[0]["session"]
            assert session["output_modalities"] == ["text"]
            assert session["audio"]["output"]["voice"] == "echo"
            # g711_ulaw/g711_alaw are served (tests/models/test_protocol_complete.py); g722 is not.
            await client.send(type="session.update", session={"input_audio_format": "g722"})
            (err,) = await client.until("error")
            assert err["error"]["param"] == "session.input_audio_format"

    run(scenario)


def test_beta_header_gives_beta_event_names() -> None:
    pcm, _ = speech_track([1.0])

    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url, beta=True) as ws:
            client = await opened(ws, beta=True)
            assert client.events[0]["session"]["input_audio_format"] == "pcm16"
            await client.send(type="session.update", session={
                "modalities": ["text", "audio"], "voice": "alloy",
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 400}})
            await client.until("session.updated")
            await client.append(pcm)
            events = await client.until("response.done")
            assert types_of(events) == [
                "input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                "input_audio_buffer.committed", "conversation.item.created",
                "response.created", "response.output_item.added", "conversation.item.created",
                "response.content_part.added", "response.audio.done",
                "response.audio_transcript.done", "response.content_part.done",
                "response.output_item.done", "response.done",
            ]
            assert pcm_of(events, "response.audio.delta").size > SR
            assert events[-1]["response"]["output"][0]["content"][0]["type"] == "audio"

    run(scenario)


def test_input_buffer_is_bounded() -> None:
    pcm, _ = speech_track([], lead=1.5, tail=0.0)

    async def scenario(server: RunningServer) -> None:
        async with connect_client(server.url) as ws:
            client = await opened(ws)
            await client.send(type="session.update", session={"turn_detection": None})
            await client.until("session.updated")
            await client.append(pcm, chunk_ms=500)
            (err,) = await client.until("error")
            assert err["error"]["code"] == "input_audio_buffer_full"
            await client.send(type="input_audio_buffer.commit")
            events = await client.until("conversation.item.done")
            assert types_of(events)[0] == "input_audio_buffer.committed"

    run(scenario, max_buffer_seconds=1.2)
