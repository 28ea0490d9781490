"""``voxpipe serve`` as a subprocess on 127.0.0.1 (port 0: the URL it prints)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from tests.transports.web.client import describe_locally

ROOT = Path(__file__).resolve().parents[2]
LISTENING = "voxpipe: serving on "
SERVER_NICE = 5  # the server and the browsers start at this niceness
CHROMIUM_RAISED_NICE = -8  # where Chromium (run as root) puts its audio and IO threads


class ServeProcess:
    """A running server; ``record`` holds one directory per call."""

    def __init__(self, record: Path, *args: str, log_path: Path, start_timeout_s: float = 60
                 ) -> None:
        self.record = record
        # The browser here stands in for the caller's own machine, elsewhere in real use,
        # and the two share these two cores: neither may starve the other. Chromium
        # (niced 5, like the server) raises its own audio, IO and compositor threads to
        # niceness -8 (its audio output to SCHED_RR); stages left at 5 under them skipped
        # frames when three calls ran, and the tests failed on the starving, not on
        # voxpipe. Stages raised to that same -8 share the cores with those threads, and
        # stay below the browser's realtime audio.
        env = {**os.environ, "PYTHONPATH": str(ROOT),
               "VOXPIPE_STAGE_NICE": str(CHROMIUM_RAISED_NICE - SERVER_NICE)}
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            ["nice", "-n", str(SERVER_NICE), sys.executable, "-m", "pipeline.cli", "serve",
             "--host", "127.0.0.1", "--rtc-host", "127.0.0.1", "--port", "0",
             "--record", str(record), *args],
            stdout=subprocess.PIPE, stderr=self._log, env=env, cwd=ROOT)
        self.origin = self._wait_listening(start_timeout_s)

    def _wait_listening(self, timeout_s: float) -> str:
        found: list[str] = []
        ready = threading.Event()

        def drain() -> None:
            assert self.proc.stdout is not None
            for raw in self.proc.stdout:
                line = raw.decode(errors="replace").strip()
                if line.startswith(LISTENING) and not found:
                    found.append(line[len(LISTENING):])
                    ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        if not ready.wait(timeout_s) or not found:
            self.stop()
            raise RuntimeError(f"voxpipe serve did not start:\n{self.log_tail()}")
        return found[0]

    def warm_up(self, timeout_s: float = 60) -> None:
        """One short call from an aiortc peer: the first call starts the offline model
        server (and its recogniser), which must not eat the first browser's speech."""
        asyncio.run(asyncio.wait_for(_connect_and_hang_up(self.origin), timeout_s))
        deadline = time.monotonic() + timeout_s
        while self.live_sessions() > 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the warm-up call did not end")
            time.sleep(0.1)

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str = "application/json") -> tuple[int, Any]:
        """One HTTP request; (status, decoded JSON body or text)."""
        req = urllib.request.Request(self.origin + path, data=body, method=method,
                                     headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, timeout=30) as reply:
                status, raw = reply.status, reply.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def live_sessions(self) -> int:
        _status, body = self.request("GET", "/healthz")
        return int(body["sessions"]) if isinstance(body, dict) else -1

    def session_dirs(self) -> set[Path]:
        return {p for p in self.record.iterdir() if p.is_dir()}

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode

    def log_tail(self, chars: int = 4000) -> str:
        if not self._log.closed:
            self._log.flush()
        return Path(self._log.name).read_text(errors="replace")[-chars:]


async def _connect_and_hang_up(origin: str) -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    connected = asyncio.Event()
    pc.on("connectionstatechange",
          lambda: connected.set() if pc.connectionState == "connected" else None)
    try:
        pc.addTransceiver("audio", direction="sendrecv")
        pc.createDataChannel("voxpipe")
        local = await describe_locally(pc)
        offer = {"sdp": local.sdp, "type": local.type}
        async with aiohttp.ClientSession() as http, \
                http.post(f"{origin}/api/offer", json=offer) as reply:
            reply.raise_for_status()
            answer = await reply.json()
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        await connected.wait()
    finally:
        await pc.close()


def read_events(session_dir: Path) -> list[dict[str, Any]]:
    path = session_dir / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for_event(session_dir: Path, kind: str, timeout_s: float) -> dict[str, Any] | None:
    """The session's first ``kind`` record, polled for up to ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        for record in read_events(session_dir):
            if record.get("type") == kind:
                return record
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)
