"""The loopback transport's edge half: a TCP client of the peer at the spec's address."""

from __future__ import annotations

import asyncio
import contextlib
import json

from ipc.schema import LoopbackTransport, SessionConfig
from pipeline.transports.base import AudioFormat, EdgeConnectionDefaults, EmitEvent
from tests.transports.loopback.wire import (
    AUDIO,
    FLUSH,
    HELLO,
    PLAYED,
    PLAYED_HEADER,
    encode,
    read_message,
)


class LoopbackConnection(EdgeConnectionDefaults):
    """One session's line to its peer (an ``EdgeConnection``; no side channel)."""

    def __init__(self, cfg: SessionConfig, emit: EmitEvent | None = None) -> None:
        if not isinstance(cfg.transport, LoopbackTransport):
            raise TypeError(f"not a loopback transport: {cfg.transport!r}")
        host, _, port = cfg.transport.address.rpartition(":")
        self.host, self.port = host, int(port)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> AudioFormat:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        msg = await read_message(self._reader)
        if msg is None or msg[0] != HELLO:
            raise ConnectionError("loopback: the peer sent no hello")
        hello = json.loads(msg[1])
        return AudioFormat(int(hello["sample_rate"]), int(hello["channels"]))

    async def receive(self) -> bytes:
        assert self._reader is not None
        while (msg := await read_message(self._reader)) is not None:
            if msg[0] == AUDIO and msg[1]:
                return msg[1]
        return b""

    async def send(self, seq: int, sample_rate: int, pcm: bytes,
                   position: int | None = None) -> None:
        assert self._writer is not None
        at = seq * (len(pcm) // 2) if position is None else position
        self._writer.write(encode(PLAYED, PLAYED_HEADER.pack(seq, sample_rate, at) + pcm))
        await self._writer.drain()

    async def flush(self) -> None:
        assert self._writer is not None
        self._writer.write(encode(FLUSH))
        await self._writer.drain()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()


edge_connection = LoopbackConnection
