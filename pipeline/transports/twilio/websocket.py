"""The server side of one websocket on asyncio streams, over a socket handed in.

aiohttp in serve read the HTTP request; the edge answers it. The websockets library's
sans-IO ``ServerProtocol`` does the protocol (handshake, framing, ping/pong, close);
this module only moves its bytes: whole messages in, text frames out. Writes go to the
stream's buffer at once (never awaited between a protocol call and its bytes, so the
reader's pongs and the writer's frames never interleave out of order); the writer
side drains.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from typing import Final

from websockets.frames import OP_BINARY, OP_CONT, OP_TEXT, Frame
from websockets.http11 import Request
from websockets.protocol import OPEN, State
from websockets.server import ServerProtocol

# A Twilio message is a few hundred bytes; anything near this is not one.
MAX_MESSAGE_BYTES: Final = 256 * 1024
READ_BYTES: Final = 64 * 1024
CLOSE_TIMEOUT_S: Final = 1.0


class HandshakeFailed(ConnectionError):
    """The request was not a websocket handshake the protocol accepts."""


class ServerWebSocket:
    """One accepted websocket: :meth:`recv` whole messages, :meth:`send_text` frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 protocol: ServerProtocol) -> None:
        self.reader, self.writer, self.protocol = reader, writer, protocol
        self._parts: list[bytes] = []
        self._binary = False
        self._messages: deque[tuple[bool, bytes]] = deque()
        self._eof = False

    @classmethod
    async def accept(cls, sock: socket.socket, request: bytes) -> ServerWebSocket:
        """Answer ``request`` (the bytes already read from ``sock``: the HTTP request,
        and any frames a client sent without waiting for the answer) with 101."""
        reader, writer = await asyncio.open_connection(sock=sock)
        protocol = ServerProtocol(max_size=MAX_MESSAGE_BYTES)
        ws = cls(reader, writer, protocol)
        head, end, early = request.partition(b"\r\n\r\n")
        protocol.receive_data(head + end)
        events = protocol.events_received()
        if not events or not isinstance(events[0], Request):
            ws._flush()
            writer.close()
            raise HandshakeFailed(f"not an HTTP request: {protocol.handshake_exc}")
        response = protocol.accept(events[0])
        protocol.send_response(response)
        ws._flush()
        if response.status_code != 101:
            writer.close()
            raise HandshakeFailed(f"handshake refused: {response.status_code} "
                                  f"{protocol.handshake_exc}")
        if early:
            ws._receive(early)
        return ws

    @property
    def state(self) -> State:
        return self.protocol.state

    async def recv(self) -> tuple[bool, bytes] | None:
        """The next whole message, ``(binary, data)``; None once the far end closed
        (close frame, EOF, or a protocol error, answered by the protocol's close)."""
        while not self._messages:
            if self._eof or self.protocol.state is not OPEN:
                return None
            self._receive(await self.reader.read(READ_BYTES))
        return self._messages.popleft()

    def _receive(self, data: bytes) -> None:
        """Bytes from the far end (``b""``: its end of the stream) into whole messages."""
        if data:
            self.protocol.receive_data(data)
        else:
            self._eof = True
            self.protocol.receive_eof()
        self._flush()
        for frame in self.protocol.events_received():
            if not isinstance(frame, Frame):
                continue
            if frame.opcode in (OP_TEXT, OP_BINARY):
                self._binary = frame.opcode is OP_BINARY
                self._parts = [bytes(frame.data)]
            elif frame.opcode is OP_CONT:
                self._parts.append(bytes(frame.data))
            else:
                continue  # ping/pong (answered by the protocol), close (its state says)
            if frame.fin:
                self._messages.append((self._binary, b"".join(self._parts)))
                self._parts = []

    def send_text(self, data: bytes) -> None:
        """One text frame, into the stream's buffer (see :meth:`drain`)."""
        if self.protocol.state is OPEN:
            self.protocol.send_text(data)
            self._flush()

    async def drain(self) -> None:
        await self.writer.drain()

    async def close(self) -> None:
        """Close frame (if open), then the TCP connection itself: ``shutdown`` ends it
        even where another process still holds the socket (serve's own reference)."""
        if self.protocol.state is OPEN:
            self.protocol.send_close(1000)
            self._flush()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.writer.drain(), CLOSE_TIMEOUT_S)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), CLOSE_TIMEOUT_S)

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.writer.write(data)
            elif self.writer.can_write_eof() and not self.writer.is_closing():
                self.writer.write_eof()
