"""The HTTP face of ``voxpipe serve`` (aiohttp): the page, signalling, health, metrics.

``POST /api/offer`` and ``PATCH /api/offer`` follow pipecat's SmallWebRTC contract
(``{sdp, type, pc_id?}`` -> ``{sdp, type, pc_id}``; ``{pc_id, candidates: [...]}``),
so its clients work unchanged. Every refusal is JSON ``{"error": message}`` with its
status: 400 bad JSON or SDP, 401 no or wrong token, 413 too big, 503 full, no headroom
(admission control) or stopping, 504 no answer in time.
"""

from __future__ import annotations

import hmac
import json
from pathlib import Path
from typing import Any

from aiohttp import web

from pipeline.serve.calls import CallError, Calls, Candidate
from pipeline.serve.metrics import CONTENT_TYPE, ServerMetrics
from pipeline.serve.options import ServeOptions
from pipeline.serve.twilio import TWILIO_PATH, TwilioStreams
from pipeline.supervisor.runtime import Runtime

STATIC_DIR = Path(__file__).resolve().parent.parent / "transports" / "web" / "static"
# Until the page is installed beside this package: enough to say where things are.
PLACEHOLDER_PAGE = """<!doctype html><meta charset="utf-8"><title>voxpipe</title>
<h1>voxpipe</h1><p>The call page is not installed. Signalling: <code>POST /api/offer</code>;
health: <a href="/healthz">/healthz</a>; metrics: <a href="/metrics">/metrics</a>.</p>
"""


class BadRequest(Exception):
    """Input the server will not act on; ``status`` and a message for the client."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def build_app(calls: Calls, runtime: Runtime, metrics: ServerMetrics,
              options: ServeOptions, static_dir: Path = STATIC_DIR) -> web.Application:
    """The server's routes over its calls and runtime."""
    routes = _Routes(calls, runtime, metrics, options, static_dir)
    app = web.Application(client_max_size=options.max_body_bytes)
    app.add_routes([
        web.get("/", routes.index),
        web.get("/static/{path:.+}", routes.static),
        web.post("/api/offer", routes.offer),
        web.patch("/api/offer", routes.candidates),
        web.get("/api/config", routes.config),
        web.get("/healthz", routes.healthz),
        web.get("/metrics", routes.metrics),
        web.get(TWILIO_PATH, TwilioStreams(calls, runtime, options).accept),
    ])
    return app


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class _Routes:
    def __init__(self, calls: Calls, runtime: Runtime, metrics: ServerMetrics,
                 options: ServeOptions, static_dir: Path) -> None:
        self.calls, self.runtime, self.server_metrics = calls, runtime, metrics
        self.options, self.static_dir = options, static_dir.resolve()

    # -- signalling -------------------------------------------------------------------
    async def offer(self, request: web.Request) -> web.Response:
        try:
            self._authorize(request)
            body = await self._json(request)
            sdp, offer_type = body.get("sdp"), body.get("type", "offer")
            client_pc_id = body.get("pc_id")
            if not isinstance(sdp, str) or not sdp.lstrip().startswith("v="):
                raise BadRequest("'sdp' must be an SDP session description (starting 'v=')")
            if offer_type != "offer":
                raise BadRequest(f"'type' must be 'offer', got {offer_type!r}")
            if client_pc_id is not None and not isinstance(client_pc_id, str):
                raise BadRequest("'pc_id' must be a string")
            call, answer = await self.calls.offer(sdp, offer_type, client_pc_id)
        except (BadRequest, CallError) as exc:
            return _error(exc.status, str(exc))
        return web.json_response({"sdp": answer.sdp, "type": answer.sdp_type, "pc_id": call.call_id,
                                  "session_id": call.room.session_id})

    async def candidates(self, request: web.Request) -> web.Response:
        try:
            self._authorize(request)
            body = await self._json(request)
            pc_id, raw = body.get("pc_id"), body.get("candidates")
            if not isinstance(pc_id, str) or not isinstance(raw, list):
                raise BadRequest("expected {pc_id, candidates: [...]}")
            self.calls.add_candidates(pc_id, [_candidate(c) for c in raw])
        except (BadRequest, CallError) as exc:
            return _error(exc.status, str(exc))
        return web.json_response({"status": "success"})

    def _authorize(self, request: web.Request) -> None:
        token = self.options.token
        if not token:
            return
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise BadRequest("missing or wrong bearer token", status=401)

    async def _json(self, request: web.Request) -> dict[str, Any]:
        limit = self.options.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise BadRequest(f"body over {limit} bytes", status=413)
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise BadRequest(f"body over {limit} bytes", status=413) from None
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadRequest(f"body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        return body

    async def config(self, request: web.Request) -> web.Response:
        """The page's ``RTCPeerConnection`` ICE servers: the same as the edge's."""
        return web.json_response(
            {"iceServers": [{"urls": url} for url in self.options.ice_servers]})

    # -- health and metrics -----------------------------------------------------------
    async def healthz(self, request: web.Request) -> web.Response:
        arbiter = self.runtime.arbiter
        stages = {name: st.ready and st.proc is not None and st.proc.poll() is None
                  for name, st in (arbiter.stages.items() if arbiter else ())}
        ok = bool(stages) and all(stages.values()) and not self.runtime.fault
        return web.json_response({"ok": ok, "accepting": self.calls.accepting,
                                  "sessions": len(self.calls.live), "stages": stages},
                                 status=200 if ok else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        body = await self.server_metrics.render(self.runtime)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    # -- the page ---------------------------------------------------------------------
    async def index(self, request: web.Request) -> web.StreamResponse:
        page = self.static_dir / "index.html"
        if page.is_file():
            return web.FileResponse(page)
        return web.Response(text=PLACEHOLDER_PAGE, content_type="text/html")

    async def static(self, request: web.Request) -> web.StreamResponse:
        path = (self.static_dir / request.match_info["path"]).resolve()
        if not path.is_relative_to(self.static_dir) or not path.is_file():
            return _error(404, "not found")
        return web.FileResponse(path)


def _candidate(raw: object) -> Candidate:
    """One of pipecat's trickled candidates: ``{candidate, sdp_mid, sdp_mline_index}``."""
    if not isinstance(raw, dict) or not isinstance(raw.get("candidate"), str):
        raise BadRequest("each candidate must be {candidate, sdp_mid, sdp_mline_index}")
    mid, index = raw.get("sdp_mid"), raw.get("sdp_mline_index")
    if mid is not None and not isinstance(mid, str):
        raise BadRequest("'sdp_mid' must be a string or null")
    if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
        raise BadRequest("'sdp_mline_index' must be an integer or null")
    return Candidate(raw["candidate"], mid, index)
