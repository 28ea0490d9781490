"""Twilio simulations of the stream's socket and life (see ``test_twilio_simulation.py``):
refusals before the websocket opens, the hand-over byte for byte, a far end that
vanishes, a server stopped with a stream live."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import socket
import urllib.error
import urllib.request
import wave
from pathlib import Path

import numpy as np
from websockets.frames import OP_TEXT, Frame

from pipeline.record.event_log import read_event_log
from tests.serve.harness import ServeProcess
from tests.twilio.calls import (
    CALL_TIMEOUT_S,
    TOKEN,
    new_record,
    silence,
    turn_8k,
    wait_closed,
)
from tests.twilio.far_end import RATE, TwilioFarEnd


def test_twilio_simulation_refusals(server: tuple[ServeProcess, Path]) -> None:
    srv, _ = server

    def status(path: str, headers: dict[str, str]) -> int:
        req = urllib.request.Request(srv.url + path, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                return int(res.status)
        except urllib.error.HTTPError as err:
            return int(err.code)

    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    assert status("/twilio", upgrade) == 401  # no token
    assert status("/twilio/wrong", upgrade) == 401
    assert status(f"/twilio/{TOKEN}", {}) == 400  # not a websocket


def test_twilio_simulation_serve_writes_nothing_on_a_handed_over_socket(
        server: tuple[ServeProcess, Path]) -> None:
    """Byte for byte, what the stream's socket carries is the edge's: the 101 answer,
    then (no audio was said) only the edge's close frame, then the end of the
    connection; not one byte of serve's own HTTP response. This client does not wait
    for the 101 before its messages: what serve read of them goes to the edge too."""
    srv, record = server
    before = set(record.glob("tw-*"))
    host, port = srv.url.removeprefix("http://").split(":")
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    with socket.create_connection((host, int(port)), timeout=CALL_TIMEOUT_S) as sock:
        sock.sendall(
            f"GET /twilio/{TOKEN} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        for msg in ({"event": "connected", "protocol": "Call", "version": "1.0.0"},
                    {"event": "start", "streamSid": "MZ1", "start": {"streamSid": "MZ1"}},
                    {"event": "stop", "streamSid": "MZ1"}):
            sock.sendall(Frame(OP_TEXT, json.dumps(msg).encode()).serialize(
                mask=True, extensions=[]))
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 "), received
    assert rest == b"\x88\x02\x03\xe8", rest  # a close frame, code 1000, and nothing else
    wait_closed(new_record(record, before))


def test_twilio_simulation_a_vanished_far_end_ends_the_call(
        server: tuple[ServeProcess, Path]) -> None:
    """No ``stop``, no close frame: the TCP connection just goes. The call ends and its
    recording is finalized."""
    srv, record = server
    before = set(record.glob("tw-*"))
    said, _ = turn_8k(0)

    async def call() -> None:
        fe = TwilioFarEnd(srv.url)
        await fe.connect(f"/twilio/{TOKEN}")
        await fe.start()
        await fe.say(said)
        await fe.say(silence(0.5))
        assert fe.ws is not None
        fe.ws.transport.abort()
        await fe.close()

    asyncio.run(call())
    folder = new_record(record, before)
    events = wait_closed(folder)
    assert events[-1]["type"] == "session_closed"
    with wave.open(str(folder / "conversation.wav")) as w:
        assert w.getnchannels() == 2
        user = np.frombuffer(w.readframes(w.getnframes()), "<i2")[0::2]
    assert np.abs(user).max() > 1000  # what the caller said before vanishing is recorded


def test_twilio_simulation_sigterm_ends_a_live_stream_and_finalizes_it(tmp_path: Path) -> None:
    record = tmp_path / "calls"
    said, _ = turn_8k(0)
    with ServeProcess("--record", str(record)) as srv:
        async def call() -> tuple[TwilioFarEnd, int]:
            fe = TwilioFarEnd(srv.url)
            await fe.connect()
            await fe.start()
            await fe.say(said[: RATE // 2])
            code = await asyncio.to_thread(srv.stop)
            assert fe.ws is not None
            await asyncio.wait_for(fe.ws.wait_closed(), CALL_TIMEOUT_S)
            await fe.close()
            return fe, code

        _, code = asyncio.run(call())
    assert code == 0, srv.output
    (folder,) = record.glob("tw-*")
    events = read_event_log(folder / "events.jsonl")
    assert events[-1]["type"] == "session_closed"
    assert "Traceback" not in srv.output, srv.output
