"""The model server as a process and over HTTP: CLI, auth, paths, the official SDK."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from pipeline.model_server.server import ServerConfig, main, start_server
from tests.models.test_local_server_support import (
    SR,
    RealtimeClient,
    connect_client,
    speech_track,
)

ROOT = Path(__file__).resolve().parents[2]


async def _status(url: str, **kwargs: Any) -> int:
    try:
        async with connect_client(url, **kwargs) as ws:
            client = RealtimeClient(ws)
            assert (await client.recv())["type"] == "session.created"
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def test_api_key_and_path_checks() -> None:
    async def scenario() -> None:
        server = await start_server(ServerConfig(api_key="s3cret"))
        try:
            assert await _status(server.url) == 401
            bad = {"Authorization": "Bearer nope"}
            assert await _status(server.url, additional_headers=bad) == 401
            good = {"Authorization": "Bearer s3cret"}
            assert await _status(server.url + "?model=gpt-realtime",
                                 additional_headers=good) == 101
            other = server.url.replace("/v1/realtime", "/v1/other")
            assert await _status(other, additional_headers=good) == 404
            assert await _status(server.url + "?pace=-1", additional_headers=good) == 400
        finally:
            await server.close()

    asyncio.run(scenario())


def test_non_loopback_without_key_is_refused() -> None:
    assert main(["--host", "0.0.0.0"]) == 2
    with pytest.raises(ValueError, match="non-loopback"):
        asyncio.run(start_server(ServerConfig(host="0.0.0.0")))


def test_subprocess_prints_url_serves_and_stops_on_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VOXPIPE_MODEL_SERVER_KEY": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.model_server.server", "--chunk-ms", "20"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        prefix = "voxpipe model-server listening on "
        assert line.startswith(prefix) and line.endswith("/v1/realtime"), line
        url = line[len(prefix):]

        async def one_turn() -> None:
            async with connect_client(url) as ws:
                client = RealtimeClient(ws)
                await client.recv()
                pcm, _ = speech_track([0.8])
                await client.append(pcm)
                events = await client.until("response.done")
                deltas = [e for e in events if e["type"] == "response.output_audio.delta"]
                assert len(base64.b64decode(deltas[0]["delta"])) == 2 * SR * 20 // 1000

        asyncio.run(one_turn())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.read() == ""  # exactly one line on stdout
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_official_sdk_holds_a_spoken_turn() -> None:
    """The openai SDK speaks to the dialogue engine: a recorded request, its transcript,
    a spoken answer."""
    openai = pytest.importorskip("openai")
    from tests.models.test_reply_streaming import request_pcm

    pcm = request_pcm("your_name")

    async def scenario() -> None:
        server = await start_server(ServerConfig(engine="dialogue"))
        try:
            base = server.url.removesuffix("/realtime")
            client = openai.AsyncOpenAI(api_key="x", websocket_base_url=base)
            async with client.realtime.connect(model="gpt-realtime") as conn:
                await conn.session.update(session={
                    "type": "realtime", "output_modalities": ["audio"],
                    "audio": {"input": {"turn_detection": {"type": "server_vad"},
                                        "transcription": {"model": "whisper-1"}}}})
                step = SR // 10
                for i in range(0, pcm.size, step):
                    await conn.input_audio_buffer.append(
                        audio=base64.b64encode(pcm[i:i + step].tobytes()).decode())
                seen: list[str] = []
                audio = 0
                transcript = reply = ""
                async for event in conn:
                    seen.append(event.type)
                    if event.type == "conversation.item.input_audio_transcription.completed":
                        transcript = event.transcript
                    if event.type == "response.output_audio.delta":
                        audio += len(base64.b64decode(event.delta)) // 2
                    if event.type == "response.output_audio_transcript.done":
                        reply = event.transcript
                    if event.type == "response.done":
                        assert event.response.status == "completed"
                    if transcript and "response.done" in seen:  # they may come in any order
                        break
                assert seen[:2] == ["session.created", "session.updated"]
                assert "input_audio_buffer.speech_stopped" in seen
                assert "your name" in transcript.lower(), transcript
                assert reply == "My name is voxpipe."
                assert audio > SR // 2
        finally:
            await server.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
