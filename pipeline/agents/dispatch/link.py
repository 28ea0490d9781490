"""``ServerLink``: the worker's websocket to the LiveKit server, kept registered.

Connect to ``<ws_url>/agent`` with the agent-grant JWT, send the registration,
wait for its answer, then pump frames both ways until the socket drops; then
connect again after ``min(2 * attempt, 10)`` s (livekit-agents' backoff), up
to ``max_retry`` retries in a row. A 401/403 is final: retrying a
rejected credential only hides it. While (re)connecting, worker status and
pings are dropped (the next ones say the same, fresher); job messages wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from livekit.protocol import agent

from pipeline.agents.dispatch.wire import Codec, WireError, agent_url, worker_token

log = logging.getLogger("voxpipe.worker")

REGISTER_TIMEOUT_S = 10.0
PING_INTERVAL_S = 10
# Pings unanswered for this long: the socket is dead even if TCP has not said so.
PONG_TIMEOUT_S = 3 * PING_INTERVAL_S
_DROPPED_WHILE_CONNECTING = ("update_worker", "ping")


class CredentialsRejected(Exception):
    """The server refused the worker's token (HTTP 401/403)."""


class ServerUnreachable(Exception):
    """The first attempt and ``max_retry`` retries in a row failed."""


class ServerLink:
    """Keeps one registered connection; ``send`` queues, ``on_message`` gets the rest."""

    def __init__(self, ws_url: str, api_key: str, api_secret: str, *, max_retry: int,
                 registration: Callable[[], agent.WorkerMessage],
                 on_registered: Callable[[agent.RegisterWorkerResponse], None],
                 on_message: Callable[[agent.ServerMessage], None]) -> None:
        self.url = agent_url(ws_url)
        self._api_key, self._api_secret = api_key, api_secret
        self.max_retry = max_retry
        self._registration = registration
        self._on_registered = on_registered
        self._on_message = on_message
        self._outbox: asyncio.Queue[agent.WorkerMessage] = asyncio.Queue()
        self._connected = False
        self._closing = False
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self.codec = Codec()
        self.registrations = 0
        self.dropped_frames = 0
        self._last_pong = time.monotonic()

    def send(self, msg: agent.WorkerMessage) -> None:
        if not self._connected and msg.WhichOneof("message") in _DROPPED_WHILE_CONNECTING:
            return
        self._outbox.put_nowait(msg)

    async def close(self) -> None:
        """Stop for good: flush what is queued, close the socket, end ``run``."""
        self._closing = True
        ws = self._ws
        if ws is not None and not ws.closed:
            with contextlib.suppress(Exception):
                await self._flush(ws)
                await ws.close()

    async def run(self) -> None:
        """Until ``close``: raises CredentialsRejected or ServerUnreachable."""
        failures = 0
        async with aiohttp.ClientSession() as http:
            while not self._closing:
                try:
                    await self._connect_and_pump(http)
                    failures = 0
                except CredentialsRejected:
                    raise
                except (aiohttp.ClientError, OSError, TimeoutError, WireError,
                        ConnectionError) as exc:
                    if self._closing:
                        break
                    if self.registrations and self._connected:
                        failures = 0  # it was up: this drop is a first failure
                    self._connected = False
                    if failures >= self.max_retry:
                        raise ServerUnreachable(
                            f"cannot reach the LiveKit server at {self.url} after "
                            f"{failures + 1} attempts: {str(exc) or type(exc).__name__}") from None
                    delay = min(2 * failures, 10)
                    failures += 1
                    log.warning("LiveKit server connection lost (%s); retrying in %ds",
                                str(exc) or type(exc).__name__, delay)
                    await asyncio.sleep(delay)
                finally:
                    self._connected = False
                    self._ws = None

    async def _connect_and_pump(self, http: aiohttp.ClientSession) -> None:
        headers = {"Authorization": f"Bearer {worker_token(self._api_key, self._api_secret)}"}
        try:
            ws = await http.ws_connect(self.url, headers=headers, autoping=True)
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status in (401, 403):
                raise CredentialsRejected(
                    f"the LiveKit server at {self.url} rejected the API key/secret "
                    f"(HTTP {exc.status})") from None
            raise
        self._ws = ws
        self.codec = Codec()
        try:
            await ws.send_bytes(self._registration().SerializeToString())
            first = await asyncio.wait_for(self._receive(ws), REGISTER_TIMEOUT_S)
            if first is None or first.WhichOneof("message") != "register":
                raise WireError("expected the registration answer as the first message")
            self.registrations += 1
            self._connected = True
            self._last_pong = time.monotonic()
            self._on_registered(first.register)
            await self._pump(ws)
        finally:
            await ws.close()

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse) -> agent.ServerMessage | None:
        """The next server message; None when the socket closed."""
        while True:
            frame = await ws.receive()
            if frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                              aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
                return None
            if frame.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                continue
            try:
                return self.codec.decode(frame.data)
            except WireError as exc:
                self.dropped_frames += 1
                log.debug("dropped a server frame: %s", exc)

    async def _pump(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        tasks = [asyncio.create_task(self._send_loop(ws)), asyncio.create_task(self._ping_loop())]
        try:
            while True:
                msg = await self._receive(ws)
                if msg is None:
                    if self._closing:
                        return
                    raise ConnectionError("the server closed the connection")
                if msg.WhichOneof("message") == "pong":
                    self._last_pong = time.monotonic()
                    continue
                try:
                    self._on_message(msg)
                except Exception:  # one bad message must not take the worker down
                    self.dropped_frames += 1
                    log.exception("a %s message from the server failed",
                                  msg.WhichOneof("message"))
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _send_loop(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            msg = await self._outbox.get()
            await self._write(ws, msg)

    async def _flush(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while not self._outbox.empty():
            await self._write(ws, self._outbox.get_nowait())

    async def _write(self, ws: aiohttp.ClientWebSocketResponse, msg: agent.WorkerMessage) -> None:
        data: Any = self.codec.encode(msg)
        if isinstance(data, str):
            await ws.send_str(data)
        else:
            await ws.send_bytes(data)

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(PING_INTERVAL_S)
            if time.monotonic() - self._last_pong > PONG_TIMEOUT_S and self._ws is not None:
                log.warning("no pong from the LiveKit server for %ds: reconnecting",
                            PONG_TIMEOUT_S)
                await self._ws.close()
                return
            self.send(agent.WorkerMessage(ping=agent.WorkerPing(
                timestamp=int(time.time() * 1000))))
