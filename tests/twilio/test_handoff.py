"""A websocket's TCP socket handed from one owner to another before the handshake (the
way serve hands a stream to the edge), with a real websockets client on the far end:
the new owner answers the handshake, the first owner's descriptor closes without
ending the connection, and the new owner's close ends it."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedOK

from pipeline.transports.twilio.handoff import HandoffError, HandoffOffer, take_socket
from pipeline.transports.twilio.websocket import HandshakeFailed, ServerWebSocket


async def _read_head(sock: socket.socket) -> bytes:
    loop = asyncio.get_running_loop()
    head = b""
    while b"\r\n\r\n" not in head:
        head += await loop.sock_recv(sock, 4096)
    return head


async def _handed_over(tmp_path: Path) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    port = listener.getsockname()[1]
    loop = asyncio.get_running_loop()
    async def dial() -> ClientConnection:
        return await connect(f"ws://127.0.0.1:{port}/twilio")

    client_task = asyncio.create_task(dial())
    first_owner, _ = await loop.sock_accept(listener)
    head = await _read_head(first_owner)
    offer = HandoffOffer(tmp_path / "h.sock")
    taken = asyncio.create_task(take_socket(str(offer.path), 5.0))
    await offer.give(first_owner.fileno(), head, 5.0)
    offer.close()
    first_owner.close()  # serve lets go: the connection lives on in the new owner
    sock, request = await taken
    assert request == head and not offer.path.exists()
    ws = await ServerWebSocket.accept(sock, request)
    client = await client_task
    await client.send('{"event": "connected"}')
    assert await ws.recv() == (False, b'{"event": "connected"}')
    ws.send_text(b'{"event": "clear", "streamSid": "MZ1"}')
    await ws.drain()
    assert await client.recv() == '{"event": "clear", "streamSid": "MZ1"}'
    await ws.close()
    with pytest.raises(ConnectionClosedOK):
        await client.recv()
    listener.close()


def test_a_socket_handed_over_before_the_handshake_carries_the_websocket(
        tmp_path: Path) -> None:
    asyncio.run(_handed_over(tmp_path))


def test_an_offer_nobody_takes_fails_and_removes_its_path(tmp_path: Path) -> None:
    async def offer_alone() -> None:
        offer = HandoffOffer(tmp_path / "h.sock")
        a, b = socket.socketpair()
        with pytest.raises(HandoffError), a, b:
            await offer.give(a.fileno(), b"GET / HTTP/1.1\r\n\r\n", 0.05)
        offer.close()
        assert not offer.path.exists()

    asyncio.run(offer_alone())


def test_a_request_that_is_not_a_handshake_is_refused(tmp_path: Path) -> None:
    async def not_a_websocket() -> None:
        a, b = socket.socketpair()
        with b:
            a.setblocking(False)
            with pytest.raises(HandshakeFailed):
                await ServerWebSocket.accept(a, b"GET /twilio HTTP/1.1\r\nHost: x\r\n\r\n")
            b.settimeout(5)
            assert b.recv(100).startswith(b"HTTP/1.1 4")  # the protocol's refusal

    asyncio.run(not_a_websocket())
