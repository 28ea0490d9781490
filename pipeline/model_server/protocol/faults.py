"""Faults on demand: one session misbehaves the way real servers and networks do.

A client asks for a fault in the websocket URL (`?fault=close_mid_response`,
`&fault_id=<token>`); only that session is affected. The injector sits between
the session and the socket, watching the outgoing events (their type is the
first field msgspec writes), so the protocol code knows nothing of faults.

- `close_mid_response`: close with code 1011 right after the first output
  delta (audio or text) of a response.
- `no_pong`: never answer a ping (the session otherwise works), so a client's
  keepalive times out.
- `stall`: send nothing for `stall_s` seconds from the first `response.created`
  (everything queued meanwhile goes out afterwards, in order).
- `malformed_json` / `unknown_event`: one broken frame (truncated JSON / an
  event type the API does not have) just before the first `response.created`.

`fault_after=N` lets N responses through before a response-triggered fault
arms (so a test can drop the link once the conversation has some history).
With a `fault_id`, a fault fires once server-wide: a client that reconnects
with the same URL gets a clean session, which reconnect tests depend on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode

from . import wire

log = logging.getLogger(__name__)

FAULTS = ("close_mid_response", "no_pong", "stall", "malformed_json", "unknown_event")
MAX_STALL_S = 300.0
MAX_FAULT_ID_CHARS = 128
# Fired fault ids are remembered this many at a time (oldest forgotten first),
# so a long-running server's memory stays bounded.
MAX_REMEMBERED_FAULT_IDS = 10_000
CLOSE_CODE = 1011
UNKNOWN_EVENT_TYPE = "voxpipe.fault.unknown_event"

_RESPONSE_CREATED = b'{"type":"response.created"'
# GA and beta names of the first output delta of a response.
_OUTPUT_DELTAS = tuple(
    b'{"type":"' + name + b'"'
    for name in (
        b"response.output_audio.delta", b"response.audio.delta",
        b"response.output_text.delta", b"response.text.delta",
    )
)


def parse_fault(fault: str, fault_id: str | None, stall_s: float) -> None:
    """Raise ValueError unless these are a valid fault request (empty `fault`: none)."""
    if fault and fault not in FAULTS:
        raise ValueError(f"fault must be one of {', '.join(FAULTS)}")
    if fault_id is not None and not 0 < len(fault_id) <= MAX_FAULT_ID_CHARS:
        raise ValueError(f"fault_id must be 1..{MAX_FAULT_ID_CHARS} characters")
    if not 0.0 < stall_s <= MAX_STALL_S:
        raise ValueError(f"stall_s must be in (0, {MAX_STALL_S}]")


class FiredFaults:
    """Server-wide memory of the fault ids that already fired."""

    def __init__(self, capacity: int = MAX_REMEMBERED_FAULT_IDS) -> None:
        self._capacity = capacity
        self._fired: OrderedDict[str, None] = OrderedDict()

    def claim(self, fault_id: str | None) -> bool:
        """True if a fault with this id may fire now (and mark it fired); None always may."""
        if fault_id is None:
            return True
        if fault_id in self._fired:
            return False
        self._fired[fault_id] = None
        if len(self._fired) > self._capacity:
            self._fired.popitem(last=False)
        return True


SendBytes = Callable[[bytes], Awaitable[None]]


class FaultInjector:
    """One session's fault, applied to its outgoing frames and its websocket."""

    def __init__(
        self, ws: ServerConnection, fault: str, fault_id: str | None, stall_s: float,
        fired: FiredFaults, skip_responses: int = 0,
    ) -> None:
        self._ws = ws
        self._fault = fault
        self._fault_id = fault_id
        self._stall_s = stall_s
        self._fired = fired
        self._armed = bool(fault)
        # Response-triggered faults let this many responses through first (`fault_after`).
        self._skip = skip_responses
        self._skipping = skip_responses > 0
        self._closing: asyncio.Task[None] | None = None
        self._gate = asyncio.Event()
        self._gate.set()
        if fault == "no_pong" and self._fire():
            _drop_pongs(ws)

    def _fire(self) -> bool:
        self._armed = False
        if not self._fired.claim(self._fault_id):
            return False
        log.info("fault %s fires (fault_id=%s)", self._fault, self._fault_id)
        return True

    async def send(self, data: bytes, send: SendBytes) -> None:
        """Send `data` with `send`, unless the fault says otherwise."""
        if self._closing is not None:
            return  # the socket is being closed by the fault: the rest is lost, as in a crash
        if self._armed and data.startswith(_RESPONSE_CREATED):
            if self._skip > 0:
                self._skip -= 1
                self._skipping = True
            else:
                self._skipping = False
                await self._before_response()
        if not self._gate.is_set():
            await self._gate.wait()  # waiters wake in FIFO order, so frames keep their order
        await send(data)
        if self._armed and not self._skipping and self._fault == "close_mid_response" and (
            data.startswith(_OUTPUT_DELTAS)
        ) and self._fire():
            # From a task: closing waits for the client's close frame, which the
            # session's receive loop must stay free to process.
            self._closing = asyncio.create_task(
                self._ws.close(CLOSE_CODE, "fault injected: closed mid-response")
            )

    async def _before_response(self) -> None:
        fault = self._fault
        if fault == "stall" and self._fire():
            self._gate.clear()
            asyncio.get_running_loop().call_later(self._stall_s, self._gate.set)
        elif fault == "malformed_json" and self._fire():
            await self._ws.send('{"type": "response.created", "event_id": "event_', text=True)
        elif fault == "unknown_event" and self._fire():
            event: dict[str, Any] = {"type": UNKNOWN_EVENT_TYPE, "event_id": wire.new_id("event")}
            await self._ws.send(json.dumps(event), text=True)


def _drop_pongs(ws: ServerConnection) -> None:
    """Make the connection's protocol swallow the pongs it writes in reply to pings.

    websockets answers pings inside its sans-I/O protocol, before any user code
    sees them; its `send_frame` is the one place every outgoing frame passes.
    """
    protocol = ws.protocol
    send_frame = protocol.send_frame

    def send_frame_without_pongs(frame: Frame) -> None:
        if frame.opcode is not Opcode.PONG:
            send_frame(frame)

    setattr(protocol, "send_frame", send_frame_without_pongs)  # noqa: B010 - instance hook
