"""A client's websocket text frame, built in one go for the hottest send (the append).

RFC 6455 §5.3 asks a client to mask every frame with a fresh, unpredictable 32-bit key.
websockets draws each key with a system call (``secrets.token_bytes(4)``) and builds a
frame object, a ``BytesIO`` and a write list per message: at ten appends a second per
session, hundreds of sessions on one loop, that was a tenth of the model stage. Here
the keys come from the same kernel generator a thousand at a time, and the frame is
one header, the key and the masked payload (websockets' own C ``apply_mask``).
Only for an unfragmented text frame on a connection with no extension; anything
else stays with websockets.
"""

from __future__ import annotations

import os
import struct
from typing import Final

from websockets.speedups import apply_mask

_FIN_TEXT: Final = 0x81
_MASKED: Final = 0x80
_POOL_KEYS: Final = 1024


class _MaskKeys:
    """Masking keys from ``os.urandom``, drawn a pool at a time."""

    __slots__ = ("_at", "_pool")

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def refill(self) -> None:
        self._pool = os.urandom(4 * _POOL_KEYS)
        self._at = 0

    def take(self) -> bytes:
        if self._at >= len(self._pool):
            self.refill()
        key = self._pool[self._at : self._at + 4]
        self._at += 4
        return key


_keys: Final = _MaskKeys()
# A forked child must not mask with the keys its parent goes on to use.
os.register_at_fork(after_in_child=_keys.refill)


def client_text_frame(payload: bytes) -> bytes:
    """The masked, final text frame carrying ``payload`` (UTF-8 text)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", _FIN_TEXT, _MASKED | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", _FIN_TEXT, _MASKED | 126, n)
    else:
        head = struct.pack("!BBQ", _FIN_TEXT, _MASKED | 127, n)
    key = _keys.take()
    return b"".join((head, key, apply_mask(payload, key)))
