"""One websocket to a Realtime model: connect with human errors, send builders, read events.

The model stage runs hundreds of these on one asyncio loop, so the connection does no
work beyond framing: events are decoded by :func:`parse_server_event` straight from the
frame bytes, and bad frames are counted in :attr:`RealtimeConnection.rejected`, never
raised. It knows nothing of voxpipe's IPC; the model stage wraps it.
"""

from __future__ import annotations

import http
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.frames import DATA_OPCODES, Frame, Opcode
from websockets.protocol import Event, State

from ipc.protocol_trace import ProtocolTrace, open_trace
from pipeline.providers.base import ProviderClosed, ProviderConnectError
from pipeline.providers.openai import client_events as ce
from pipeline.providers.openai.client_frames import client_text_frame
from pipeline.providers.openai.config import Modality, RealtimeSessionConfig
from pipeline.providers.openai.server_events import RejectCounter, ServerEvent, parse_server_event

log = logging.getLogger(__name__)

# Items retrieved with their audio can exceed websockets' 1 MiB default; the API caps
# a client append at 15 MiB, so a server frame of that order is plausible.
MAX_FRAME_BYTES = 16 * 1024 * 1024

_ENCODER = msgspec.json.Encoder()


class ModelConnectError(ProviderConnectError):
    """The model could not be reached or refused the session; the message is one line."""


class ModelConnectionClosed(ProviderClosed):
    """A send on a connection that is already closed."""


def openai_url(model: str, base_url: str = "wss://api.openai.com/v1") -> str:
    """The Realtime websocket URL for ``model``."""
    return f"{base_url.rstrip('/')}/realtime?model={quote(model, safe='')}"


def _http_error(url: str, status: int) -> ModelConnectError:
    if status in (http.HTTPStatus.UNAUTHORIZED, http.HTTPStatus.FORBIDDEN):
        return ModelConnectError(f"the model rejected the API key (HTTP {status})", fatal=True)
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "unknown status"
    return ModelConnectError(f"the model at {url} refused the session (HTTP {status} {phrase})")


class PushConnection(ClientConnection):
    """websockets' client connection, able to hand each whole data message to a
    callback from the socket's read callback as its frames are parsed (:meth:`push_to`),
    instead of queueing it for a task's ``recv``: at hundreds of sessions on one loop,
    that wake-up per message (a future, a task step, two async generators) cost more
    than parsing the message. Pinned to websockets 15's ``process_event``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_message: Callable[[bytes], None] | None = None
        self._fragments: list[bytes] = []

    def push_to(self, on_message: Callable[[bytes], None] | None) -> None:
        """From now on, whole messages go to ``on_message`` (None: back to ``recv``).
        Frames already queued for ``recv`` go first, in order."""
        self._on_message = on_message
        if on_message is None:
            return
        queued = self.recv_messages.frames.queue
        frames = list(queued)
        queued.clear()
        for frame in frames:
            self._push(frame, on_message)
        self.recv_messages.maybe_resume()  # reading paused on a full queue goes on

    def process_event(self, event: Event) -> None:
        on_message = self._on_message
        if on_message is None or not isinstance(event, Frame) or event.opcode not in DATA_OPCODES:
            super().process_event(event)
        else:
            self._push(event, on_message)

    def _push(self, frame: Frame, on_message: Callable[[bytes], None]) -> None:
        if frame.fin and frame.opcode is not Opcode.CONT:
            on_message(bytes(frame.data))  # the usual case: one frame, one message
            return
        self._fragments.append(bytes(frame.data))
        if frame.fin:
            data = b"".join(self._fragments)
            self._fragments = []
            on_message(data)


class RealtimeConnection:
    """An open Realtime session over one websocket. Build it with :meth:`connect`.

    :meth:`events` must have a single consumer; sends may come from any task on the
    same loop.
    """

    def __init__(self, ws: PushConnection, url: str, config: RealtimeSessionConfig) -> None:
        self._ws = ws
        self.url = url
        self.config = config
        self.rejected: RejectCounter = {}
        # None unless $VOXPIPE_PROTOCOL_TRACE is set (the test suite validates the trace).
        self._trace: ProtocolTrace | None = open_trace("client")

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        api_key: str | None,
        config: RealtimeSessionConfig,
        open_timeout: float = 10.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        extra_headers: Mapping[str, str] | None = None,
        api_key_header: Literal["authorization", "api-key"] = "authorization",
    ) -> RealtimeConnection:
        """Open the websocket and send ``session.update`` for ``config``.

        Raises :class:`ModelConnectError` with a one-line message when the model cannot be
        reached, refuses the key or the upgrade, or does not answer within
        ``open_timeout`` seconds. ``api_key_header`` "api-key" sends the key as Azure
        OpenAI takes it (``api-key: KEY``) instead of ``Authorization: Bearer KEY``.
        """
        scheme = urlsplit(url).scheme
        if scheme not in ("ws", "wss"):
            raise ModelConnectError(
                f"invalid model URL {url!r}: the scheme must be ws:// or wss://"
            )
        headers: dict[str, str] = {}
        if api_key and api_key_header == "api-key":
            headers["api-key"] = api_key
        elif api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        if config.protocol == "beta":
            headers["OpenAI-Beta"] = "realtime=v1"
        headers.update(extra_headers or {})
        try:
            ws = await connect(
                url,
                additional_headers=headers,
                open_timeout=open_timeout,
                ping_interval=ping_interval,
                ping_timeout=ping_timeout,
                max_size=MAX_FRAME_BYTES,
                create_connection=PushConnection,
                # Base64 PCM gains little from deflate and it would cost CPU per frame
                # for every session sharing this loop.
                compression=None,
            )
        except InvalidStatus as exc:
            raise _http_error(url, exc.response.status_code) from exc
        except InvalidURI as exc:
            raise ModelConnectError(f"invalid model URL {url!r}: {exc}") from exc
        except TimeoutError as exc:
            raise ModelConnectError(
                f"timed out after {open_timeout:g} s connecting to the model at {url}"
            ) from exc
        except InvalidHandshake as exc:
            raise ModelConnectError(
                f"the websocket handshake with the model at {url} failed: {exc}"
            ) from exc
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise ModelConnectError(f"cannot reach the model at {url}: {reason}") from exc
        assert isinstance(ws, PushConnection)  # create_connection above
        conn = cls(ws, url, config)
        try:
            await conn.update_session(config)
        except ModelConnectionClosed as exc:
            raise ModelConnectError(
                f"the model at {url} closed the connection at once (code {exc.code}: "
                f"{exc.reason or 'no reason'})"
            ) from exc
        return conn

    # -- state ------------------------------------------------------------------------

    @property
    def close_code(self) -> int | None:
        """The websocket close code once closed (1000 normal, 1006 dropped), else None."""
        return self._ws.close_code

    @property
    def close_reason(self) -> str | None:
        """The close reason the peer gave, once closed."""
        return self._ws.close_reason

    @property
    def protocol(self) -> Literal["ga", "beta"]:
        """The protocol flavour of this session."""
        return self.config.protocol

    # -- sending ----------------------------------------------------------------------

    async def send(self, event: dict[str, Any]) -> None:
        """Send one client event (a dict from :mod:`client_events`) as a text frame."""
        if self._trace is not None:
            self._trace.record(event, self.config.protocol)
        await self._send_text(_ENCODER.encode(event))

    async def _send_text(self, text: bytes) -> None:
        if self._send_now(text):
            return
        try:
            await self._ws.send(text, text=True)
        except ConnectionClosed as exc:
            raise ModelConnectionClosed(self._ws.close_code, self._ws.close_reason or "") from exc

    def _send_now(self, text: bytes) -> bool:
        """Frame and write ``text`` at once, without websockets' send context, when
        nothing could make :meth:`_send_text` wait or fail: the connection open, its
        write buffer under the high-water mark, no fragmented message in flight. Appends
        are the hottest sends (ten a second per session); websockets' context manager
        and drain check cost about as much as the write itself. False: not sent."""
        ws = self._ws
        protocol = ws.protocol
        if (protocol.state is not State.OPEN or ws.paused
                or ws.fragmented_send_waiter is not None or ws.transport.is_closing()):
            return False
        try:
            if protocol.extensions or protocol.writes:
                protocol.send_text(text)
                ws.send_data()
            else:  # the usual case: the frame built in one go (see client_frames)
                ws.transport.write(client_text_frame(text))
        except OSError:
            ws.transport.abort()  # as websockets does on a failed write; the reader sees it
        return True

    async def update_session(self, config: RealtimeSessionConfig) -> None:
        """Send ``session.update`` for ``config`` (its protocol must match this session's)."""
        if config.protocol != self.config.protocol:
            raise ValueError(
                f"config.protocol {config.protocol!r} differs from the connection's "
                f"{self.config.protocol!r}"
            )
        self.config = config
        await self.send(ce.session_update(config))

    async def append_audio(self, pcm: bytes | bytearray | memoryview) -> None:
        """Append pcm16 audio at the session's input rate to the input buffer."""
        if self._trace is not None:
            await self.send(ce.input_audio_append(pcm))
            return
        await self._send_text(ce.input_audio_append_json(bytes(pcm)))

    async def commit(self) -> None:
        """Commit the input buffer as a user item (for manual turns)."""
        await self.send(ce.input_audio_commit())

    async def clear(self) -> None:
        """Drop the uncommitted input audio."""
        await self.send(ce.input_audio_clear())

    async def create_item(
        self, item: dict[str, Any], *, previous_item_id: str | None = None
    ) -> None:
        """Add an item built by :mod:`client_events` (``user_text_item`` ...)."""
        await self.send(ce.item_create(item, previous_item_id=previous_item_id))

    async def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> None:
        """Cut an assistant item's audio (and transcript) at ``audio_end_ms``."""
        await self.send(ce.item_truncate(item_id, content_index, audio_end_ms))

    async def delete_item(self, item_id: str) -> None:
        """Remove an item from the conversation."""
        await self.send(ce.item_delete(item_id))

    async def retrieve_item(self, item_id: str) -> None:
        """Ask for the server's copy of an item (answered by ``ItemRetrieved``)."""
        await self.send(ce.item_retrieve(item_id))

    async def create_response(
        self,
        *,
        instructions: str | None = None,
        output_modalities: Sequence[Modality] | None = None,
        conversation: Literal["auto", "none"] | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        """Ask for a response; see :func:`client_events.response_create`."""
        await self.send(
            ce.response_create(
                instructions=instructions,
                output_modalities=output_modalities,
                conversation=conversation,
                metadata=metadata,
                protocol=self.config.protocol,
            )
        )

    async def cancel_response(self, response_id: str | None = None) -> None:
        """Cancel ``response_id``, or the response in progress."""
        await self.send(ce.response_cancel(response_id))

    # -- receiving --------------------------------------------------------------------

    async def events(self) -> AsyncIterator[ServerEvent]:
        """Server events in arrival order; ends when the socket closes (see close_code)."""
        recv = self._ws.recv
        while True:
            try:
                # Bytes, not str: msgspec validates UTF-8 itself, skipping a decode copy.
                raw = await recv(decode=False)
            except ConnectionClosed:
                break
            event = self._parse(raw)
            if event is not None:
                yield event
        self._log_closed()

    def _parse(self, raw: bytes) -> ServerEvent | None:
        """One frame's event; None for one dropped (counted in :attr:`rejected`) or ignored."""
        event = parse_server_event(raw, self.rejected)
        if event is None and log.isEnabledFor(logging.DEBUG):
            log.debug("model frame dropped or ignored: %.200r", raw)
        return event

    def _log_closed(self) -> None:
        log.debug("model connection %s closed: %s %s", self.url, self.close_code, self.close_reason)

    async def push_events(self, handler: Callable[[ServerEvent], None]) -> None:
        """What :meth:`events` gives, handed to ``handler`` from the socket's read
        callback as each frame is parsed (no task switch per event); returns when the
        socket closes, or raises what ``handler`` raised (the socket is then aborted).
        The events already received go first. Single consumer, as :meth:`events`."""
        ws = self._ws
        failed: list[Exception] = []

        def on_message(raw: bytes) -> None:
            if failed or (event := self._parse(raw)) is None:
                return
            try:
                handler(event)
            except Exception as exc:  # raised in push_events' task, as events() would
                failed.append(exc)
                ws.transport.abort()

        ws.push_to(on_message)
        try:
            await ws.wait_closed()
        finally:
            ws.push_to(None)
        if failed:
            raise failed[0]
        self._log_closed()

    async def close(self) -> None:
        """Close the websocket (normal closure); safe to call twice."""
        await self._ws.close()
