"""Run the bundled offline model server as a supervised child process, on loopback.

`ModelServerProcess` starts ``python -m pipeline.model_server.server`` on an
ephemeral port and reads the URL from the line it prints once it listens.
When the server it spawned dies (a crash, a SIGKILL, the OOM killer), a
monitor thread restarts it on the SAME host and port: the sessions' model
links reconnect to the URL they already have, with backoff, exactly as after
a dropped websocket, and the agents replay their context on
`model_connected`. The thread only waits on the child, so the event loop of
the process that owns the launcher never blocks on it. A crash loop
(`RestartWindow`) stops the restarts with a reason naming the exit code;
`stop()` ends the monitoring before it stops the child.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

from .restart_window import RestartWindow, describe_exit

log = logging.getLogger(__name__)

_STOP_GRACE_S = 2.0


class ModelServerProcess:
    """``voxpipe model-server`` on 127.0.0.1 and an ephemeral port, restarted if it dies.

    `restarts` counts the restarts so far; `failure` is set (and logged) when a
    crash loop made the launcher give up. `supervise=False` leaves a dead
    server dead (the behaviour before supervision).
    """

    def __init__(self, extra_args: list[str] | None = None, start_timeout_s: float = 15.0,
                 *, supervise: bool = True, restart_window: RestartWindow | None = None) -> None:
        self.extra_args = extra_args or []
        self.start_timeout_s = start_timeout_s
        self.supervise = supervise
        self.restart_window = restart_window or RestartWindow()
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.port = 0
        self.failure: str | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None

    @property
    def restarts(self) -> int:
        """How many times the server was restarted after it died."""
        return self.restart_window.restarts

    def command(self, port: int) -> list[str]:
        """The server's command line, listening on `port` (0 = ephemeral)."""
        return [sys.executable, "-m", "pipeline.model_server.server", "--host", "127.0.0.1",
                "--port", str(port), "--exit-with-parent", "--parent-pid", str(os.getpid()),
                "--log-level", "WARNING", *self.extra_args]

    def start(self) -> str:
        """Start the server and, if supervising, its monitor; return its websocket URL."""
        self._stopping.clear()
        self.failure = None
        proc = self._spawn(0)
        try:
            self.url = self._await_listening(proc)
        except RuntimeError:
            self.stop()
            raise
        self.port = urlsplit(self.url).port or 0
        if self.supervise:
            self._monitor = threading.Thread(target=self._watch, name="model-server-monitor",
                                             daemon=True)
            self._monitor.start()
        return self.url

    def stop(self) -> None:
        """Stop monitoring, then the server (SIGTERM, SIGKILL after a grace period)."""
        with self._lock:
            self._stopping.set()
            proc, self.proc = self.proc, None
        if proc is not None:
            _end(proc)
        monitor, self._monitor = self._monitor, None
        if monitor is not None and monitor is not threading.current_thread():
            monitor.join()

    def __enter__(self) -> ModelServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- supervision ---------------------------------------------------------------
    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(self.command(port), stdout=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
        self.proc = proc
        return proc

    def _await_listening(self, proc: subprocess.Popen[bytes]) -> str:
        """The URL from the child's "listening on URL" line; RuntimeError if none came."""
        assert proc.stdout is not None
        deadline = time.monotonic() + self.start_timeout_s
        line = b""
        while time.monotonic() < deadline and not self._stopping.is_set():
            # A child that printed its line and died at once still has the line in the pipe.
            exited = proc.poll() is not None
            ready, _, _ = select.select([proc.stdout], [], [], 0.1)
            if ready:
                line = proc.stdout.readline()
                break
            if exited:
                break
        text = line.decode(errors="replace").strip()
        if " on " not in text:
            raise RuntimeError(f"the offline model server did not start ({text or 'no output'})")
        return text.rsplit(" on ", 1)[1]

    def _watch(self) -> None:
        """Wait on the child; restart it on the same port until stopped or crash-looping."""
        while True:
            with self._lock:
                proc = self.proc
            if proc is None:
                return
            code = proc.wait()
            _close_stdout(proc)
            if self._stopping.is_set():
                return
            if not self.restart_window.allow(time.monotonic()):
                self.failure = self.restart_window.give_up_reason(
                    f"the offline model server on port {self.port}", code)
                log.error("%s", self.failure)
                with self._lock:
                    self.proc = None
                return
            log.warning("the offline model server (pid %d) died with %s; restarting it on "
                        "port %d", proc.pid, describe_exit(code), self.port)
            self._restart()

    def _restart(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            proc = self._spawn(self.port)
        try:
            url = self._await_listening(proc)
        except RuntimeError as exc:
            # Not up: it is ended here and its death counts against the crash-loop window.
            if not self._stopping.is_set():
                log.warning("%s", exc)
            _end(proc)
            return
        if url != self.url:
            log.error("the restarted model server listens on %s, not %s", url, self.url)


def _end(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    _close_stdout(proc)


def _close_stdout(proc: subprocess.Popen[bytes]) -> None:
    if proc.stdout is not None:
        with contextlib.suppress(OSError):
            proc.stdout.close()
