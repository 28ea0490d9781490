"""The test harness's result collector: the page in test mode POSTs what it received here.

A tiny aiohttp server on 127.0.0.1 in a thread of the test process, apart from
``voxpipe serve`` (which has no test-only route): the page is given its URL as
``?result=http://127.0.0.1:PORT/result/<call>``. The POST is a CORS "simple request"
(multipart form), so the browser sends it cross-port without a preflight.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiohttp import web

from tests.web.app_thread import AppThread


@dataclass(frozen=True)
class CallResult:
    """What one page recorded: its report (``meta``) and the audio on the page's clock."""

    meta: dict[str, Any]
    mic: np.ndarray  # float32, what the microphone gave the page
    received: np.ndarray  # float32, the agent's audio the page received

    @property
    def rate(self) -> int:
        return int(self.meta["sample_rate"])


class Collector:
    """Results by call name; ``url(name)`` is what a page posts to."""

    def __init__(self) -> None:
        self._results: dict[str, CallResult] = {}
        self._arrived = threading.Condition()
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_post("/result/{name}", self._receive)
        self._app = AppThread(app)

    def url(self, name: str) -> str:
        return f"{self._app.origin}/result/{name}"

    def wait(self, name: str, timeout_s: float) -> CallResult:
        with self._arrived:
            if not self._arrived.wait_for(lambda: name in self._results, timeout_s):
                raise TimeoutError(f"no result from call {name!r} within {timeout_s} s")
            return self._results[name]

    def close(self) -> None:
        self._app.close()

    async def _receive(self, request: web.Request) -> web.Response:
        form = await request.post()
        meta = json.loads(str(form["meta"]))
        audio = {}
        for key in ("mic", "received"):
            part = form.get(key)
            data = part.file.read() if isinstance(part, web.FileField) else b""
            audio[key] = np.frombuffer(data, dtype="<f4").copy()
        result = CallResult(meta, audio["mic"], audio["received"])
        with self._arrived:
            self._results[request.match_info["name"]] = result
            self._arrived.notify_all()
        return web.Response(text="ok", headers={"Access-Control-Allow-Origin": "*"})
