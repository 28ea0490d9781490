"""One websocket to Gemini Live: open it with a ``setup`` and its ``setupComplete``,
send client messages, read server messages.

The key goes in the ``x-goog-api-key`` header (as the google-genai SDK sends it), not
in the URL, so the URL can be logged. ``wss://`` trusts the system's CAs, or the file
``SSL_CERT_FILE`` names. Bad frames are counted in :attr:`GeminiConnection.rejected`,
never raised.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from pipeline.providers.base import ProviderClosed, ProviderConnectError
from pipeline.providers.gemini.wire import Message, ServerMessage, parse_server_message

log = logging.getLogger("voxpipe.model")

MAX_FRAME_BYTES = 16 * 1024 * 1024
# Close codes with which the server refuses a setup: retrying the same cannot help.
_REFUSED = (1007, 1008)
_ENCODER = msgspec.json.Encoder()

GEMINI_URL = ("wss://generativelanguage.googleapis.com/ws/"
              "google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent")


def gemini_url(base_url: str | None = None, api_version: str = "v1beta") -> str:
    """The Live API's websocket URL (``base_url``: another host serving it, as the SDK's
    ``http_options.base_url``: ``https://`` becomes ``wss://``, ``http://`` ``ws://``)."""
    url = GEMINI_URL.format(version=api_version)
    if base_url:
        base = base_url.rstrip("/")
        for http, ws in (("https://", "wss://"), ("http://", "ws://")):
            if base.startswith(http):
                base = ws + base[len(http):]
        url = base + url[url.index("/ws/"):]
    return url


def _refused(url: str, exc: Exception) -> ProviderConnectError:
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        fatal = status in (401, 403)
        what = "rejected the API key" if fatal else "refused the session"
        return ProviderConnectError(f"Gemini at {url} {what} (HTTP {status})", fatal=fatal)
    if isinstance(exc, TimeoutError):
        return ProviderConnectError(f"timed out connecting to Gemini at {url}")
    if isinstance(exc, InvalidURI | InvalidHandshake):
        return ProviderConnectError(f"the websocket handshake with Gemini at {url} failed: {exc}")
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return ProviderConnectError(f"cannot reach Gemini at {url}: {reason}")


class GeminiConnection:
    """An open, set-up Live session over one websocket. Build it with :meth:`open`."""

    def __init__(self, ws: ClientConnection, url: str) -> None:
        self._ws = ws
        self.url = url
        self.rejected = 0

    @classmethod
    async def open(cls, url: str, *, api_key: str, setup: Message,
                   open_timeout: float = 10.0) -> GeminiConnection:
        """Connect, send ``setup`` and wait for ``setupComplete``.

        Raises :class:`ProviderConnectError` (one line; fatal when the key or the setup
        is refused).
        """
        if urlsplit(url).scheme not in ("ws", "wss"):
            raise ProviderConnectError(f"invalid Gemini URL {url!r}: the scheme must be "
                                       "wss:// (or ws://)", fatal=True)
        headers = {"x-goog-api-key": api_key} if api_key else {}
        try:
            ws = await connect(url, additional_headers=headers, open_timeout=open_timeout,
                               max_size=MAX_FRAME_BYTES, compression=None,
                               ping_interval=20.0, ping_timeout=20.0)
        except (OSError, TimeoutError, InvalidURI, InvalidHandshake) as exc:
            raise _refused(url, exc) from exc
        conn = cls(ws, url)
        try:
            await conn.send(setup)
            first = parse_server_message(await ws.recv(decode=False))
        except (ProviderClosed, ConnectionClosed):
            code, reason = ws.close_code, ws.close_reason or "no reason"
            raise ProviderConnectError(f"Gemini at {url} closed the session at setup "
                                       f"(code {code}: {reason})", fatal=code in _REFUSED) from None
        except msgspec.MsgspecError as exc:
            await ws.close()
            raise ProviderConnectError(f"Gemini at {url} answered the setup with a bad "
                                       f"message: {exc}") from exc
        if first.setup_complete is None:
            await ws.close()
            raise ProviderConnectError(f"Gemini at {url} did not confirm the setup")
        return conn

    @property
    def close_code(self) -> int | None:
        return self._ws.close_code

    @property
    def close_reason(self) -> str | None:
        return self._ws.close_reason

    async def send(self, msg: Message) -> None:
        """Send one client message (a dict from :mod:`wire`) as a text frame."""
        try:
            await self._ws.send(_ENCODER.encode(msg), text=True)
        except ConnectionClosed as exc:
            raise ProviderClosed(self._ws.close_code, self._ws.close_reason or "") from exc

    async def messages(self) -> AsyncIterator[ServerMessage]:
        """Server messages in arrival order; ends when the socket closes."""
        while True:
            try:
                raw = await self._ws.recv(decode=False)
            except ConnectionClosed:
                break
            try:
                yield parse_server_message(raw)
            except msgspec.MsgspecError as exc:
                self.rejected += 1
                log.warning("Gemini frame dropped: %s", exc)
        log.debug("Gemini connection %s closed: %s %s", self.url, self.close_code,
                  self.close_reason)

    async def close(self) -> None:
        await self._ws.close()
