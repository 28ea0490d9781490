"""SIP over TCP for ``voxpipe serve --sip`` (RFC 3261 18.3), beside UDP on the same port.

A stream carries messages back to back, each framed by its Content-Length; each one
is handed to the same ``SipServer`` dispatch as a datagram, and whatever the server
sends that peer goes back on its connection. A connection whose framing breaks (no
Content-Length, a header block over the limit) is closed, counted as malformed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

from pipeline.serve.sip import SipServer
from pipeline.transports.sip.message import MAX_MESSAGE_BYTES

log = logging.getLogger("voxpipe.serve.sip")

_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*\r?$", re.I | re.M)


async def serve_tcp(server: SipServer, host: str, port: int) -> asyncio.Server:
    """Listen on ``host:port`` (TCP) for ``server``'s messages."""
    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")[:2]
        server.streams[peer] = writer.write
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.strip():
                    continue  # a keep-alive (RFC 5626 CRLF)
                length = _LENGTH.search(head)
                if length is None:
                    server.metrics.rejected.labels(reason="malformed").inc()
                    log.debug("SIP over TCP from %s:%d without Content-Length", *peer)
                    return
                body = await reader.readexactly(int(length.group(1)))
                server.datagram_received(head + body, peer)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            return
        finally:
            server.streams.pop(peer, None)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    return await asyncio.start_server(connection, host, port, limit=MAX_MESSAGE_BYTES)
