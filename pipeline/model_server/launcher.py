"""Run the bundled offline model server as a child process, on loopback."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import time


class LocalModelServer:
    """``voxpipe model-server`` on 127.0.0.1 and an ephemeral port."""

    def __init__(self, extra_args: list[str] | None = None, start_timeout_s: float = 15.0) -> None:
        self.extra_args = extra_args or []
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> str:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.model_server.server", "--host", "127.0.0.1",
             "--port", "0", "--exit-with-parent", "--parent-pid", str(os.getpid()),
             "--log-level", "WARNING", *self.extra_args],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + self.start_timeout_s
        line = b""
        while time.monotonic() < deadline and self.proc.poll() is None:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if ready:
                line = self.proc.stdout.readline()
                break
        text = line.decode(errors="replace").strip()
        if " on " not in text:
            self.stop()
            raise RuntimeError(f"the offline model server did not start ({text or 'no output'})")
        self.url = text.rsplit(" on ", 1)[1]
        return self.url

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(2.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            with contextlib.suppress(OSError):
                self.proc.stdout.close()
        self.proc = None

    def __enter__(self) -> LocalModelServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
