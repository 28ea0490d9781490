"""The caller of a loopback call: a TCP server on 127.0.0.1 the edge stage connects to.

It plays a WAV as the caller's microphone, paced in real time from the edge's first
connection, to whichever connection is current (a reconnecting edge hears the call
where the clock stands; what was said meanwhile is lost, as on a live line), then a
tail of silence, then half-closes its side (the caller's input ended). It records
every agent frame it receives at the frame's playout tick, as a phone would play it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pipeline.transports.file.wav_reader import WavSource
from tests.transports.loopback.wire import (
    AUDIO,
    FLUSH,
    HELLO,
    PLAYED,
    PLAYED_HEADER,
    encode,
    read_message,
)


class LoopbackPeer:
    def __init__(self, wav: Path, chunk_ms: int = 20, tail_silence_ms: int = 1500) -> None:
        with WavSource.open(wav) as src:
            self.sample_rate, self.channels = src.sample_rate, src.channels
            pcm = src.read_s16(0, src.frames)
        tail = 2 * self.channels * (self.sample_rate * tail_silence_ms // 1000)
        self._audio = pcm + bytes(tail)
        self._chunk_bytes = 2 * self.channels * (self.sample_rate * chunk_ms // 1000)
        self._chunk_s = chunk_ms / 1000
        self.connections = 0
        self.received: dict[int, bytes] = {}  # timeline sample -> mono int16 from there
        self.received_rate = 0
        self.flushes = 0
        self.chunks_lost = 0  # played while no edge was connected
        self.input_done = False
        self._writer: asyncio.StreamWriter | None = None
        self._server: asyncio.Server | None = None
        self._player: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        """Listen; returns the ``LoopbackTransport.address``."""
        self._server = await asyncio.start_server(self._on_connection, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"127.0.0.1:{port}"

    async def _on_connection(self, reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        hello = {"sample_rate": self.sample_rate, "channels": self.channels}
        writer.write(encode(HELLO, json.dumps(hello).encode()))
        if self.input_done:
            writer.write_eof()
        else:
            self._writer = writer
        if self._player is None:
            self._player = asyncio.create_task(self._play())
        try:
            while (msg := await read_message(reader)) is not None:
                kind, body = msg
                if kind == PLAYED:
                    _, self.received_rate, at = PLAYED_HEADER.unpack_from(body)
                    self.received[at] = body[PLAYED_HEADER.size :]
                elif kind == FLUSH:
                    self.flushes += 1
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the edge died: it will reconnect, or the call is over
        finally:
            if self._writer is writer:
                self._writer = None
            writer.close()
            if task is not None:
                self._handlers.discard(task)

    async def _play(self) -> None:
        t0 = time.monotonic()
        for k, off in enumerate(range(0, len(self._audio), self._chunk_bytes)):
            await asyncio.sleep(max(0.0, t0 + k * self._chunk_s - time.monotonic()))
            w = self._writer
            if w is None or w.is_closing():
                self.chunks_lost += 1
                continue
            w.write(encode(AUDIO, self._audio[off : off + self._chunk_bytes]))
        self.input_done = True
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write_eof()

    def received_audio(self) -> npt.NDArray[np.float64]:
        """What the caller heard, on the session timeline, as floats in [-1, 1)."""
        if not self.received:
            return np.zeros(0)
        end = max(at + len(pcm) // 2 for at, pcm in self.received.items())
        out = np.zeros(end)
        for at, pcm in self.received.items():
            out[at : at + len(pcm) // 2] = np.frombuffer(pcm, dtype="<i2") / 32768.0
        return out

    async def stop(self) -> None:
        if self._player is not None:
            self._player.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._player
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
