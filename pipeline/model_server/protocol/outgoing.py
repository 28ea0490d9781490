"""How one session's server events reach its websocket: trace, fault, bounded send.

Outgoing memory per connection is bounded: websockets' `send` waits while the
transport's write buffer is above its high-water mark (`write_limit`), so a
client that stops reading stalls the session's senders instead of growing a
buffer. Sends are serialised by a lock: otherwise every concurrent response
task would park one more frame in the buffer before waiting, and a client may
start any number of out-of-band responses. A send that stays stalled for
`send_timeout_s` drops the connection: one slow reader must not pin its
session (and a response task) forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

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
