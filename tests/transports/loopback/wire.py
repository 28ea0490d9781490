"""The loopback line: length-prefixed messages over one TCP connection, both ways.

Each message is ``<u32 length><kind byte><body>``. Peer -> edge: ``H`` hello
(JSON ``{"sample_rate", "channels"}``, first), ``A`` caller audio (int16
interleaved); the peer's half-close is the end of the caller's input. Edge -> peer:
``P`` one agent frame (``<q seq><I sample_rate><q position>`` then mono int16), ``F`` flush.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Final

HELLO: Final = b"H"
AUDIO: Final = b"A"
PLAYED: Final = b"P"
FLUSH: Final = b"F"
MAX_MESSAGE: Final = 1 << 20
_LEN: Final = struct.Struct("<I")
PLAYED_HEADER: Final = struct.Struct("<qIq")


def encode(kind: bytes, body: bytes = b"") -> bytes:
    return _LEN.pack(1 + len(body)) + kind + body


async def read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    """(kind, body) of the next message; None at a clean end of the stream."""
    try:
        head = await reader.readexactly(_LEN.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise
        return None
    (n,) = _LEN.unpack(head)
    if not 1 <= n <= MAX_MESSAGE:
        raise ValueError(f"loopback: bad message length {n}")
    data = await reader.readexactly(n)
    return data[:1], data[1:]
