"""``voxpipe serve``'s life: one runtime and one HTTP server for as long as it runs.

Start the stages, then listen (the bound URL, and with ``--sip`` the SIP address
before it, are printed on stdout, so a caller that asked for port 0 learns the port)
and, with ``--janus``, seat the agent in its AudioBridge room (``janus.py``); on
``stop`` (SIGTERM/SIGINT): refuse new offers (503), hang up every phone call (BYE),
end every call (sessions closed, recordings finalized; the room left), close the
listeners, stop the stages. A stage that keeps crashing stops the server (exit 3).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web

from pipeline.agents.runner import Entrypoint
from pipeline.serve.app import build_app
from pipeline.serve.calls import Calls
from pipeline.serve.janus import JanusSeat
from pipeline.serve.metrics import ServerMetrics
from pipeline.serve.options import ServeOptions
from pipeline.serve.sip import SipMetrics, SipServer
from pipeline.serve.sip_tcp import serve_tcp
from pipeline.supervisor.runtime import Runtime

log = logging.getLogger("voxpipe.serve")

EXIT_OK, EXIT_USAGE, EXIT_CRASH_LOOP = 0, 2, 3
# In-flight requests when the listener closes: offers were answered or failed already.
HTTP_SHUTDOWN_S = 0.5
# The Janus room's call on stop: its session's files, then leaving the room (round trips).
END_SEAT_S = 3.0


class ServeError(RuntimeError):
    """The server could not start (stages, or the address); exit with ``code``."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


async def serve(options: ServeOptions, entry: Entrypoint, stop: asyncio.Event,
                on_listening: Callable[[str], None] | None = None) -> int:
    """Serve calls running ``entry`` until ``stop`` is set; the exit code.
    ``on_listening`` gets the line naming the bound URL."""
    runtime = Runtime()
    try:
        await runtime.start()
    except RuntimeError as exc:
        raise ServeError(str(exc), EXIT_CRASH_LOOP) from None
    metrics = ServerMetrics()
    calls = Calls(runtime, entry, options, metrics)
    leave = asyncio.Event()  # the Janus room's agent: end its call
    seated: asyncio.Task[None] | None = None
    sip: SipServer | None = None
    runner = web.AppRunner(build_app(calls, runtime, metrics, options),
                           shutdown_timeout=HTTP_SHUTDOWN_S)
    try:
        await runner.setup()
        site = web.TCPSite(runner, options.host, options.port)
        try:
            await site.start()
        except OSError as exc:
            raise ServeError(f"cannot listen on {options.host}:{options.port}: "
                             f"{exc.strerror or exc}", EXIT_USAGE) from None
        sip = await _start_sip(options, calls, metrics, on_listening)
        host, port = runner.addresses[0][:2]
        url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
        log.info("serving on %s; stage pids %s", url, runtime.pids())
        if on_listening is not None:
            on_listening(f"voxpipe: serving on {url}")
        if options.janus_url is not None and options.janus_room is not None:
            seat = JanusSeat(runtime, entry, options.janus_url, options.janus_room,
                             options.record_dir)
            seated = asyncio.create_task(seat.run(leave), name="janus-seat")
        waiters = {asyncio.ensure_future(stop.wait()),
                   asyncio.ensure_future(runtime.failed.wait())}
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for w in waiters:
            w.cancel()
        log.info("stopping: %d calls to end", len(calls.live) + (seated is not None))
        calls.accepting = False
        if sip is not None:
            sip.end_all()  # BYE every answered phone call
        leave.set()
        ending: list[asyncio.Future[None]] = [asyncio.ensure_future(calls.end_all())]
        if seated is not None:
            ending.append(seated)
        await asyncio.wait(ending, timeout=options.end_calls_grace_s + END_SEAT_S)
    finally:
        if seated is not None:
            seated.cancel()
        calls.accepting = False
        if sip is not None:
            sip.close()
        await runner.cleanup()
        await runtime.stop()
    if runtime.fault:
        log.error("%s", runtime.fault)
        return EXIT_CRASH_LOOP
    return EXIT_OK


async def _start_sip(options: ServeOptions, calls: Calls, metrics: ServerMetrics,
                     on_listening: Callable[[str], None] | None) -> SipServer | None:
    """``--sip``: the UAS on its UDP socket; the bound address logged and printed."""
    if options.sip is None:
        return None
    host, port = options.sip
    server = SipServer(calls, SipMetrics(metrics.registry), options.sip_allow)
    try:
        await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: server, local_addr=(host, port))
    except OSError as exc:
        raise ServeError(f"cannot listen for SIP on {host}:{port}: {exc.strerror or exc}",
                         EXIT_USAGE) from None
    bound, bound_port = server.address
    shown = f"{bound if ':' not in bound else f'[{bound}]'}:{bound_port}"
    lines = [f"voxpipe: SIP on udp:{shown}"]
    try:
        server.tcp = await serve_tcp(server, bound, bound_port)
        lines.append(f"voxpipe: SIP on tcp:{shown}")
    except OSError as exc:  # the UDP port is taken for TCP: UDP only
        log.warning("no SIP over TCP on %s: %s", shown, exc.strerror or exc)
    for line in lines:
        log.info("%s", line.removeprefix("voxpipe: "))
        if on_listening is not None:
            on_listening(line)
    return server
