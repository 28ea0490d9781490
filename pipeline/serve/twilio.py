"""``GET /twilio``: a Twilio-compatible media stream calls the agent.

Twilio's ``<Connect><Stream url="wss://HOST/twilio"/>`` opens a websocket here. Its
audio must not pass through this process (the supervisor), so this handler only
decides: the token (``--token``: Twilio sends no headers of ours, so it goes in the
path, ``/twilio/TOKEN``; a bearer header works too), that the request is a websocket
upgrade, and admission (``--max-sessions``, headroom), as for a browser's offer.
Then it starts the call's session (``TwilioRoom``, id ``tw-<hex>``) and hands the
connected socket and the request it read to the edge (``transports/twilio/handoff``)
before any answer is written: the edge answers the handshake and owns the stream.
aiohttp then lets go of the socket (its transport closes its own descriptor, which
neither writes nor shuts the connection down: the edge's stays open) and the
handler waits for the call's end; the response it returns is never written.

A request refused here gets a plain JSON error, as every route's refusals do.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets

from aiohttp import web

from ipc.schema import TwilioTransport
from pipeline.serve.calls import CallError, Calls
from pipeline.serve.options import ServeOptions
from pipeline.supervisor.runtime import Runtime
from pipeline.transports.twilio.handoff import HandoffError, HandoffOffer
from pipeline.transports.twilio.room import TwilioRoom

log = logging.getLogger("voxpipe.serve")

#: The route: ``/twilio``, or ``/twilio/TOKEN`` when the server checks a token.
TWILIO_PATH = "/twilio{token:(/[^/]*)?}"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def request_bytes(request: web.Request) -> bytes:
    """The HTTP request line and headers as the client sent them, then whatever the
    client sent after them that aiohttp read already (a client that did not wait for
    the 101: aiohttp keeps what follows an upgrade request in its protocol's
    ``_message_tail``; reading it is the price of handing the socket over)."""
    version = f"HTTP/{request.version.major}.{request.version.minor}"
    lines = [f"{request.method} {request.raw_path} {version}".encode()]
    lines += [name + b": " + value for name, value in request.raw_headers]
    tail = getattr(request.protocol, "_message_tail", b"")
    return b"\r\n".join(lines) + b"\r\n\r\n" + (tail if isinstance(tail, bytes) else b"")


class TwilioStreams:
    """The ``/twilio`` handler over the server's calls."""

    def __init__(self, calls: Calls, runtime: Runtime, options: ServeOptions) -> None:
        self.calls, self.runtime, self.options = calls, runtime, options

    def _authorized(self, request: web.Request) -> bool:
        token = self.options.token
        if not token:
            return True
        given = request.match_info.get("token", "").removeprefix("/")
        bearer = request.headers.get("Authorization", "")
        return (hmac.compare_digest(given.encode(), token.encode())
                or hmac.compare_digest(bearer.encode(), f"Bearer {token}".encode()))

    async def accept(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return _error(401, "missing or wrong token (/twilio/TOKEN)")
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return _error(400, "/twilio takes a websocket (a media stream)")
        transport = request.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is None or self.runtime.dir is None or transport is None:
            return _error(503, "the server is not running")
        try:
            self.calls.admit()
        except CallError as exc:
            return _error(exc.status, str(exc))
        stream_id = f"tw-{secrets.token_hex(8)}"
        offer = HandoffOffer(self.runtime.dir.path / f"{stream_id}.sock")
        spec = TwilioTransport(stream_id=stream_id, handoff_path=str(offer.path))
        call = self.calls.start(stream_id, TwilioRoom(spec, self.calls.out_dir(stream_id)))
        assert call.task is not None
        # Nothing is read from the socket here any more: what comes is the edge's.
        transport.pause_reading()
        given = asyncio.ensure_future(offer.give(sock.fileno(), request_bytes(request),
                                                 self.options.answer_timeout_s))
        try:  # the call may end before the edge takes the socket (refused, failed)
            await asyncio.wait({given, call.task}, return_when=asyncio.FIRST_COMPLETED)
            if not given.done():
                given.cancel()
                raise HandoffError("the call ended before its stream was taken")
            given.result()
        except (HandoffError, OSError) as exc:
            log.error("stream %s: %s", stream_id, exc, extra=call.log_extra)
            call.stop.set()
            return _error(503, f"the call could not start: {exc}")
        finally:
            offer.close()
        transport.close()
        log.info("stream %s handed to the edge", stream_id, extra=call.log_extra)
        await asyncio.shield(call.task)
        return web.Response(status=101)
