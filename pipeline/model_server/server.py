"""`voxpipe model-server`: the websocket server and its command line.

Serves the OpenAI Realtime protocol on any request path ending in
`/realtime` (the official SDK connects to `{base}/realtime?model=…`); other
paths get HTTP 404. With an API key set, a connection without
`Authorization: Bearer <key>` gets HTTP 401; a server bound to a non-loopback
address refuses to start without a key. All sessions share one event loop.

    python -m pipeline.model_server.server --port 8765 --pace 1
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ipc.addresses import is_loopback
from pipeline.logs import setup_logging
from pipeline.process import die_with_parent

from .dialogue.engine import DialogueReplyEngine
from .protocol.faults import FaultInjector, FiredFaults
from .protocol.outgoing import DEFAULT_SEND_TIMEOUT_S, WRITE_LIMIT_BYTES, EventSender
from .protocol.reply_engine import EchoReplyEngine, ReplyEngine
from .protocol.response_run import Pacing
from .protocol.session import ServerSession
from .protocol.session_options import ENGINES, MAX_CHUNK_MS, MAX_PACE, SessionOptions
from .protocol.wire import SAMPLE_RATE

log = logging.getLogger(__name__)

API_KEY_ENV = "VOXPIPE_MODEL_SERVER_KEY"
# One append of 15 MiB base64 is the API's documented maximum message size.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def make_engine(name: str) -> ReplyEngine:
    """The reply engine called `name` ("dialogue" or "echo")."""
    return DialogueReplyEngine() if name == "dialogue" else EchoReplyEngine()


@dataclass(frozen=True)
class ServerConfig:
    """How to run a model server."""

    host: str = "127.0.0.1"
    port: int = 0
    """0 picks a free ephemeral port (see `RunningServer.port`)."""
    api_key: str | None = None
    chunk_ms: int = 50
    """Audio per `response.output_audio.delta`, in milliseconds."""
    pace: float = 0.0
    """0: send deltas as fast as possible; X: X times real time."""
    max_buffer_seconds: float = 15 * 60
    """Bound on each session's uncommitted input audio."""
    send_timeout_s: float = DEFAULT_SEND_TIMEOUT_S
    """A client that reads nothing for this long while the write buffer is full is dropped."""
    engine: str = "echo"
    """Sessions' default reply engine (`ENGINES`; a URL's `engine=` overrides it). The
    command line defaults to "dialogue"; in-process servers (tests) to the light "echo"."""
    engine_factory: Callable[[str], ReplyEngine] = field(default=make_engine)
    """Makes a session's reply engine from its name."""

    def check(self) -> None:
        """Raise ValueError if this configuration must not be served."""
        if not is_loopback(self.host) and not self.api_key:
            raise ValueError(
                f"refusing to listen on non-loopback address {self.host!r} without an API key "
                f"(--api-key or ${API_KEY_ENV})"
            )
        if not 1 <= self.chunk_ms <= MAX_CHUNK_MS:
            raise ValueError(f"chunk_ms must be 1..{MAX_CHUNK_MS}, got {self.chunk_ms}")
        if not 0.0 <= self.pace <= MAX_PACE:
            raise ValueError(f"pace must be 0..{MAX_PACE}, got {self.pace}")
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")

    def session_defaults(self) -> SessionOptions:
        """Options every session starts from (a URL query may override some)."""
        return SessionOptions(
            pacing=Pacing(chunk_ms=self.chunk_ms, pace=self.pace),
            max_buffer_samples=round(self.max_buffer_seconds * SAMPLE_RATE),
            engine=self.engine,
        )


class RunningServer:
    """A started server: where it listens and how to stop it."""

    def __init__(self, server: Server, host: str, port: int) -> None:
        self._server = server
        self.host = host
        self.port = port
        self.connections = 0
        """Connections currently open."""

    def open_connections(self) -> list[ServerConnection]:
        """The websockets currently open (for tests and diagnostics)."""
        return list(self._server.connections)

    @property
    def url(self) -> str:
        """The websocket URL clients connect to."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}/v1/realtime"

    async def close(self) -> None:
        """Close every connection (code 1001) and stop listening."""
        self._server.close(close_connections=True)
        await self._server.wait_closed()


class _Connections:
    """Per-server connection handling: handshake checks, then one session per socket."""

    def __init__(self, config: ServerConfig) -> None:
        self._config = config
        self._defaults = config.session_defaults()
        self._fired_faults = FiredFaults()
        self.running: RunningServer | None = None

    def _options(self, request: Request) -> SessionOptions:
        return self._defaults.for_request(request.path, request.headers.get("OpenAI-Beta"))

    def process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        if not urlsplit(request.path).path.endswith("/realtime"):
            return conn.respond(HTTPStatus.NOT_FOUND, "Not Found: use /v1/realtime\n")
        key = self._config.api_key
        if key:
            got = request.headers.get("Authorization", "")
            if not hmac.compare_digest(got.encode(), f"Bearer {key}".encode()):
                log.info("refused %s: missing or wrong API key", conn.remote_address)
                return conn.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        try:
            self._options(request)
        except ValueError as exc:
            return conn.respond(HTTPStatus.BAD_REQUEST, f"Bad Request: {exc}\n")
        return None

    async def handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        options = self._options(ws.request)
        faults = None
        if options.fault:
            faults = FaultInjector(
                ws, options.fault, options.fault_id, options.stall_s, self._fired_faults,
                skip_responses=options.fault_after,
            )
        sender = EventSender(
            ws, beta=options.beta, faults=faults, send_timeout_s=self._config.send_timeout_s
        )
        session = ServerSession(options, sender.send, self._config.engine_factory(options.engine))
        if self.running is not None:
            self.running.connections += 1
        log.info("session %s opened from %s (beta=%s)", session.config.id, ws.remote_address,
                 options.beta)
        try:
            await session.open()
            async for message in ws:
                await session.handle_message(message)
        except ConnectionClosed:
            pass
        finally:
            session.close()
            if self.running is not None:
                self.running.connections -= 1
            log.info("session %s closed (%d errors sent)", session.config.id,
                     session.errors_sent)


async def start_server(config: ServerConfig) -> RunningServer:
    """Start serving on the current event loop; raises ValueError for a refused config."""
    config.check()
    if config.engine == "dialogue":
        from .speech.speech_runtime import shared_runtime

        # Load the recognizer before listening: the first turn must not pay for it.
        runtime = shared_runtime()
        await asyncio.get_running_loop().run_in_executor(runtime.executor, runtime.preload)
    connections = _Connections(config)
    server = await serve(
        connections.handle,
        config.host,
        config.port,
        process_request=connections.process_request,
        max_size=MAX_MESSAGE_BYTES,
        write_limit=WRITE_LIMIT_BYTES,
    )
    port = next(iter(server.sockets)).getsockname()[1]
    running = RunningServer(server, config.host, port)
    connections.running = running
    return running


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voxpipe model-server",
        description="Offline server speaking the OpenAI Realtime protocol (speech recognition, "
        "rule-based dialogue with tool calls, speech synthesis; or echo replies).",
    )
    parser.add_argument("--engine", choices=ENGINES, default="dialogue",
                        help="reply engine (default %(default)s; a URL's engine= overrides it)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port, 0 = ephemeral (default)")
    parser.add_argument(
        "--api-key", default=None,
        help=f"required bearer key (default ${API_KEY_ENV}); mandatory off loopback",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="exit when the process that started it dies (used by voxpipe run)")
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="with --exit-with-parent: the starter's pid, if it may already "
                        "be gone by the time this process starts")
    parser.add_argument("--chunk-ms", type=int, default=50, help="audio per delta (default 50)")
    parser.add_argument(
        "--pace", type=float, default=0.0,
        help="0 = send deltas as fast as possible (default), X = X times real time",
    )
    return parser


async def _serve(config: ServerConfig) -> int:
    try:
        # Loading the speech models takes a second or two: until they are up, SIGTERM
        # keeps its default action (exit now), there being nothing to close yet.
        running = await start_server(config)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", config.host, config.port, exc)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)  # the handler only wakes the loop
    print(f"voxpipe model-server listening on {running.url}", flush=True)
    await stop.wait()
    log.info("shutting down (%d open connections)", running.connections)
    await running.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the model server until SIGTERM/SIGINT; 0 on a clean stop."""
    args = _parser().parse_args(argv)
    # stdout carries the "listening on URL" line a parent process reads: logs go to stderr.
    setup_logging(args.log_level, "model-server", sys.stderr)
    if args.exit_with_parent or args.parent_pid is not None:
        die_with_parent(args.parent_pid)
    config = ServerConfig(
        host=args.host, port=args.port,
        api_key=args.api_key or os.environ.get(API_KEY_ENV) or None,
        chunk_ms=args.chunk_ms, pace=args.pace, engine=args.engine,
    )
    try:
        config.check()
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    return asyncio.run(_serve(config))


if __name__ == "__main__":
    raise SystemExit(main())
