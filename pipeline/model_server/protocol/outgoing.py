"""How one session's server events reach its websocket: trace, fault, bounded send.

Outgoing memory per connection is bounded: websockets' `send` waits while the
transport's write buffer is above its high-water mark (`write_limit`), so a
client that stops reading stalls the session's senders instead of growing a
buffer. Sends are serialised by a lock: otherwise every concurrent response
task would park one more frame in the buffer before waiting, and a client may
start any number of out-of-band responses. A send that stays stalled for
`send_timeout_s` drops the connection: one slow reader must not pin its
session (and a response task) forever.

While the buffer has room, a send does not wait for anything: the frame is queued on
the protocol and every frame queued in one loop iteration goes out in one write
(:meth:`EventSender._flush`). An unpaced reply sends a second of audio deltas between
two yields; a write, a lock and a timer per delta were most of the server's CPU at
hundreds of sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from ipc.protocol_trace import Dialect as TraceDialect
from ipc.protocol_trace import ProtocolTrace, open_trace

from .faults import FaultInjector

log = logging.getLogger(__name__)

DEFAULT_SEND_TIMEOUT_S = 30.0
WRITE_LIMIT_BYTES = 32 * 1024
"""High-water mark of each connection's write buffer (websockets' `write_limit`)."""


class EventSender:
    """Sends a session's JSON text frames; see the module docstring."""

    def __init__(
        self,
        ws: ServerConnection,
        *,
        beta: bool,
        faults: FaultInjector | None,
        send_timeout_s: float = DEFAULT_SEND_TIMEOUT_S,
    ) -> None:
        self._ws = ws
        self._dialect: TraceDialect = "beta" if beta else "ga"
        self._faults = faults
        self._timeout = send_timeout_s
        self._trace: ProtocolTrace | None = open_trace("server")
        self._lock = asyncio.Lock()
        self._flush_scheduled = False
        self._queued = 0
        self._high_water = ws.transport.get_write_buffer_limits()[1]
        self.dropped_slow_reader = False

    async def send(self, data: bytes) -> None:
        """Send one server event (JSON bytes); never raises for a closed socket."""
        if self._trace is not None:
            self._trace.record_json(data, self._dialect)
        if self._faults is not None:
            await self._faults.send(data, self._bounded_send)
        else:
            await self._bounded_send(data)

    async def _bounded_send(self, data: bytes) -> None:
        if self._queue_now(data):
            return
        # A closed socket is noticed by the receive loop, which ends the session.
        # A timer, not wait_for: wait_for would wrap every delta in a task.
        async with self._lock:
            watchdog = asyncio.get_running_loop().call_later(
                self._timeout, self._drop_slow_reader
            )
            try:
                with contextlib.suppress(ConnectionClosed):
                    await self._ws.send(data, text=True)
            finally:
                watchdog.cancel()

    def _queue_now(self, data: bytes) -> bool:
        """Queue the text frame for this iteration's write, if nothing has to wait: no
        send waiting on a full buffer (it goes first), the buffer and the frames queued
        staying below its high-water mark, the connection open. False: take the
        bounded road (what is queued is written first)."""
        ws = self._ws
        if (self._lock.locked() or ws.paused or ws.protocol.state is not State.OPEN
                or ws.fragmented_send_waiter is not None or ws.transport.is_closing()):
            return False
        size = len(data)
        if self._queued + size + ws.transport.get_write_buffer_size() > self._high_water:
            self._flush()
            return False
        ws.protocol.send_text(data)
        self._queued += size
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return True

    def _flush(self) -> None:
        """Write every frame queued since the last flush, in one write."""
        self._flush_scheduled = False
        self._queued = 0
        ws = self._ws
        if not ws.protocol.writes or ws.transport.is_closing():
            return
        if all(ws.protocol.writes):
            ws.transport.writelines(ws.protocol.data_to_send())
            return
        try:  # an empty chunk is the end of stream (closed in between): websockets' road
            ws.send_data()
        except OSError:
            ws.transport.abort()

    def _drop_slow_reader(self) -> None:
        if self.dropped_slow_reader:
            return
        self.dropped_slow_reader = True
        log.warning(
            "dropping %s: it read nothing for %.1f s with the write buffer full",
            self._ws.remote_address, self._timeout,
        )
        # A close frame would queue behind the full buffer; abort frees it now.
        self._ws.transport.abort()
