"""A real ``voxpipe serve`` for tests: a subprocess on 127.0.0.1, port 0 (its bound URL
read from its stdout), and plain HTTP requests to it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
LISTENING = "voxpipe: serving on "


class ServeProcess:
    """``voxpipe serve --port 0 --model-engine echo FLAGS``; ``url`` once it listens."""

    def __init__(self, *flags: str, start_timeout_s: float = 90.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "serve", "--port", "0",
             "--rtc-host", "127.0.0.1", "--model-engine", "echo", *flags],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.lines: list[str] = []
        self.url = ""
        self._listening = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._listening.wait(start_timeout_s) or not self.url:
            self.stop(signal.SIGKILL)
            raise RuntimeError("voxpipe serve did not start:\n" + self.output)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith(LISTENING):
                self.url = line[len(LISTENING):].strip()
                self._listening.set()
        self._listening.set()

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 20.0) -> int:
        """Signal the server; its exit code (killed if it outlives ``timeout_s``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(5)
        return code

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- requests -----------------------------------------------------------------------
    def request(self, method: str, path: str, body: bytes | dict[str, Any] | None = None,
                headers: dict[str, str] | None = None,
                timeout_s: float = 30.0) -> tuple[int, Any]:
        """(status, JSON body or text) of one request."""
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as res:
                status, raw, ctype = res.status, res.read(), res.headers["Content-Type"]
        except urllib.error.HTTPError as err:
            status, raw, ctype = err.code, err.read(), err.headers["Content-Type"]
        if ctype and ctype.startswith("application/json"):
            return status, json.loads(raw)
        return status, raw.decode()

    def metrics(self) -> dict[str, float]:
        """Every sample of ``/metrics`` (parsed by prometheus_client), by name and labels."""
        status, text = self.request("GET", "/metrics")
        assert status == 200, text
        found = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
                found[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
        return found
