"""A connected TCP socket handed from ``voxpipe serve`` to the edge stage.

The media stream's websocket arrives at serve's HTTP server, in the supervisor; its
audio must not pass through there. So serve hands the socket itself over, before the
websocket handshake, with the HTTP request it read from it: the edge completes the
handshake and owns the connection from then on. The socket goes as ``SCM_RIGHTS``
over a unix ``SOCK_SEQPACKET`` socket (one message: the request's bytes, one fd)
in the runtime directory (mode 0700: only this user's processes reach it).

Serve listens (:class:`HandoffOffer`) before it starts the call's session and the
edge connects (:func:`take_socket`) when it opens the call: the listener exists
before anyone looks for it, so neither side polls for the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from pathlib import Path
from typing import Final

# An HTTP request's head as aiohttp accepts it (8 KiB lines, some headers), and what a
# hasty client sent after it, fit.
MAX_REQUEST_BYTES: Final = 128 * 1024


class HandoffError(RuntimeError):
    """The socket could not be handed over (nobody came for it, or the message broke)."""


class HandoffOffer:
    """Serve's side: one socket offered at ``path`` to the first process that connects."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._listener.bind(str(self.path))
            os.chmod(self.path, 0o600)
            self._listener.listen(1)
            self._listener.setblocking(False)
        except OSError:
            self.close()
            raise

    async def give(self, fd: int, request: bytes, timeout_s: float) -> None:
        """Wait for the edge (up to ``timeout_s``) and give it the socket ``fd`` and
        ``request`` (``fd`` stays open here: the caller closes its own reference)."""
        if len(request) > MAX_REQUEST_BYTES:
            raise HandoffError(f"request head over {MAX_REQUEST_BYTES} bytes")
        loop = asyncio.get_running_loop()
        try:
            conn, _ = await asyncio.wait_for(loop.sock_accept(self._listener), timeout_s)
        except TimeoutError:
            raise HandoffError(f"the edge did not take the socket within {timeout_s:.0f} s"
                               ) from None
        with conn:
            # A local datagram of a few KiB: the kernel takes it at once.
            conn.settimeout(1.0)
            socket.send_fds(conn, [request], [fd])

    def close(self) -> None:
        self._listener.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


async def take_socket(path: str, timeout_s: float) -> tuple[socket.socket, bytes]:
    """The edge's side: the socket offered at ``path`` and the request read from it."""
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as unix:
        unix.setblocking(False)
        await asyncio.wait_for(loop.sock_connect(unix, path), timeout_s)
        readable: asyncio.Future[None] = loop.create_future()

        def ready() -> None:
            if not readable.done():
                readable.set_result(None)

        loop.add_reader(unix.fileno(), ready)
        try:
            await asyncio.wait_for(readable, timeout_s)
        finally:
            loop.remove_reader(unix.fileno())
        request, fds, flags, _ = socket.recv_fds(unix, MAX_REQUEST_BYTES, 1)
    if len(fds) != 1 or flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
        for fd in fds:
            os.close(fd)
        raise HandoffError(f"a bad hand-off: {len(fds)} sockets, flags {flags:#x}")
    sock = socket.socket(fileno=fds[0])
    sock.setblocking(False)
    return sock, request
