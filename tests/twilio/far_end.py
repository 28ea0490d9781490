"""A simulated Twilio: the far end of a bidirectional media stream, speaking Twilio's
documented messages over a real websocket (the ``websockets`` client) to
``voxpipe serve``'s ``/twilio``. It is a simulation (no Twilio account reaches a test):
its messages follow Twilio's documentation's shapes (connected, start, media, dtmf,
mark, stop in; media, mark, clear out) and its buffer behaves as the documentation
says Twilio's does: audio sent to it plays in order at 8 kHz, a mark is echoed once
the audio before it has played (plus ``mark_lag_s`` for the way back), and ``clear``
empties the buffer and echoes every mark still pending.

mu-law both ways uses the numpy reference codec (``tests/reference/g711_ref.py``), not
the kernel the edge uses.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from websockets.asyncio.client import ClientConnection, connect

from tests.reference.g711_ref import ulaw_decode, ulaw_encode

RATE = 8000
CHUNK = 160  # Twilio sends 20 ms chunks
CHUNK_S = CHUNK / RATE


@dataclass
class PendingMark:
    name: str
    due: float  # monotonic s: when its audio has played, plus the lag back
    samples: int  # agent samples received before it (cumulative)


class TwilioFarEnd:
    """One simulated call: ``await start()``, speak with :meth:`say`, read what was
    heard, ``await stop()``."""

    def __init__(self, url: str, *, mark_lag_s: float = 0.1) -> None:
        self.url = url
        self.mark_lag_s = mark_lag_s
        self.stream_sid = "MZ" + secrets.token_hex(16)
        self.call_sid = "CA" + secrets.token_hex(16)
        self.ws: ClientConnection | None = None
        self.sequence = 0
        self.chunk = 0
        self.received = bytearray()  # the agent's audio as int16 at 8 kHz, in arrival order
        self.marks_received: list[str] = []
        self.marks_echoed: list[str] = []
        self.acked_samples = 0  # agent samples before the last mark echoed
        self.clears = 0
        self.samples_at_clear: list[int] = []
        self.acked_at_clear: list[int] = []
        self.unexpected: list[Any] = []
        self.frozen = False  # playback paused: no mark is echoed until a clear
        self._pending: deque[PendingMark] = deque()
        self._play_end = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._arrived = asyncio.Event()

    # -- the stream -------------------------------------------------------------------
    async def connect(self, path: str = "/twilio") -> None:
        """Open the websocket (Twilio's first act, before any message)."""
        self.ws = await connect(self.url.replace("http://", "ws://") + path)
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._echo())]

    async def start(self, custom: dict[str, str] | None = None) -> None:
        """``connected`` then ``start``, as Twilio opens every stream."""
        await self.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self.send_json({
            "event": "start", "sequenceNumber": self._next(), "streamSid": self.stream_sid,
            "start": {"accountSid": "AC" + "0" * 32, "streamSid": self.stream_sid,
                      "callSid": self.call_sid, "tracks": ["inbound"],
                      "customParameters": custom or {},
                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                      "channels": 1}}})

    async def say(self, pcm: npt.NDArray[np.int16]) -> None:
        """Stream ``pcm`` (8 kHz) as 20 ms ``media`` messages, paced in real time."""
        t0 = time.monotonic()
        for k, i in enumerate(range(0, len(pcm), CHUNK)):
            piece = pcm[i : i + CHUNK]
            if len(piece) < CHUNK:
                piece = np.pad(piece, (0, CHUNK - len(piece)))
            await self.send_media(ulaw_encode(piece.astype("<i2").tobytes()))
            delay = t0 + (k + 1) * CHUNK_S - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def send_media(self, payload: bytes) -> None:
        self.chunk += 1
        await self.send_json({
            "event": "media", "sequenceNumber": self._next(), "streamSid": self.stream_sid,
            "media": {"track": "inbound", "chunk": str(self.chunk),
                      "timestamp": str(self.chunk * 20),
                      "payload": base64.b64encode(payload).decode()}})

    async def dtmf(self, digit: str) -> None:
        await self.send_json({"event": "dtmf", "streamSid": self.stream_sid,
                              "sequenceNumber": self._next(),
                              "dtmf": {"track": "inbound_track", "digit": digit}})

    async def stop(self) -> None:
        """``stop``, then the socket closes (Twilio's end of a stream)."""
        await self.send_json({"event": "stop", "sequenceNumber": self._next(),
                              "streamSid": self.stream_sid,
                              "stop": {"accountSid": "AC" + "0" * 32, "callSid": self.call_sid}})
        await self.close()

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()

    async def send_json(self, msg: dict[str, Any]) -> None:
        await self.send_raw(json.dumps(msg))

    async def send_raw(self, data: str | bytes) -> None:
        assert self.ws is not None
        await self.ws.send(data)

    def _next(self) -> str:
        self.sequence += 1
        return str(self.sequence)

    # -- what comes back ----------------------------------------------------------------
    @property
    def heard(self) -> npt.NDArray[np.float64]:
        """Everything the agent sent, as floats at 8 kHz."""
        return np.frombuffer(bytes(self.received), dtype="<i2").astype(np.float64) / 32768.0

    async def wait_for(self, samples: int, timeout_s: float) -> None:
        """Until ``samples`` of agent audio have arrived."""
        async def enough() -> None:
            while len(self.received) // 2 < samples:
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(enough(), timeout_s)

    async def _read(self) -> None:
        assert self.ws is not None
        async for raw in self.ws:
            msg = json.loads(raw)
            event = msg.get("event")
            if msg.get("streamSid") != self.stream_sid:
                self.unexpected.append(msg)
            elif event == "media":
                self._play(ulaw_decode(base64.b64decode(msg["media"]["payload"])))
            elif event == "mark":
                name = msg["mark"]["name"]
                self.marks_received.append(name)
                self._pending.append(PendingMark(name, self._play_end + self.mark_lag_s,
                                                 len(self.received) // 2))
            elif event == "clear":
                await self._clear()
            else:
                self.unexpected.append(msg)
            self._arrived.set()

    def _play(self, pcm: bytes) -> None:
        now = time.monotonic()
        self._play_end = max(now, self._play_end) + len(pcm) / 2 / RATE
        self.received += pcm

    async def _clear(self) -> None:
        """Twilio's clear: the buffer empties and every pending mark is echoed."""
        self.clears += 1
        self.samples_at_clear.append(len(self.received) // 2)
        self.acked_at_clear.append(self.acked_samples)
        self._play_end = time.monotonic()
        pending, self._pending = list(self._pending), deque()
        for mark in pending:
            await self._send_echo(mark.name)
        self.frozen = False

    async def _echo(self) -> None:
        while True:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            while self._pending and not self.frozen and self._pending[0].due <= now:
                mark = self._pending.popleft()
                self.acked_samples = mark.samples
                await self._send_echo(mark.name)

    async def _send_echo(self, name: str) -> None:
        self.marks_echoed.append(name)
        await self.send_json({"event": "mark", "sequenceNumber": self._next(),
                              "streamSid": self.stream_sid, "mark": {"name": name}})
