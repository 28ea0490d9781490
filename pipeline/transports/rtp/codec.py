"""The G.711 codecs RTP carries here, by SDP name, with their static payload types."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from native import g711

SAMPLE_RATE: Final = 8000


@dataclass(frozen=True)
class G711:
    name: str
    payload_type: int  # RFC 3551's static number
    encode: Callable[[bytes | bytearray | memoryview], bytes]
    decode: Callable[[bytes], bytes]


CODECS: Final = {
    "PCMU": G711("PCMU", 0, g711.ulaw_encode, g711.ulaw_decode),
    "PCMA": G711("PCMA", 8, g711.alaw_encode, g711.alaw_decode),
}


def codec(name: str) -> G711:
    """The codec called ``name`` in SDP (case-insensitive); ValueError names the choices."""
    found = CODECS.get(name.upper())
    if found is None:
        raise ValueError(f"unsupported RTP codec {name!r} (one of {', '.join(CODECS)})")
    return found
