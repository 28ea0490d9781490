"""A stand-in for ``voxpipe serve`` to check the page alone: it serves the page, answers
its offer with aiortc, sends the caller's audio straight back and a few records on the
"voxpipe" data channel (the shapes ``events.jsonl`` has)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay

from tests.transports.web.client import describe_locally
from tests.web.app_thread import AppThread

STATIC = Path(__file__).resolve().parents[2] / "pipeline" / "transports" / "web" / "static"

STUB_RECORDS: tuple[dict[str, Any], ...] = (
    {"type": "participant_attributes", "attributes": {"lk.agent.state": "listening"}},
    {"type": "user_transcription", "text": "", "final": False},
    {"type": "user_transcription", "text": "Hello, can", "final": False},
    {"type": "user_transcription", "text": "Hello, can you hear me?", "final": True},
    {"type": "participant_attributes", "attributes": {"lk.agent.state": "speaking"}},
    {"type": "agent_transcription", "segment_id": "s1", "item_id": "i1",
     "text": "Hello", "final": False, "released_words": 1},
    {"type": "agent_transcription", "segment_id": "s1", "item_id": "i1",
     "text": "Hello, I hear you.", "final": True, "released_words": 4},
    {"type": "participant_attributes", "attributes": {"lk.agent.state": "listening"}},
)


class StubServer:
    """The page's server side, minus voxpipe: echo audio, scripted records."""

    def __init__(self) -> None:
        self.pcs: list[RTCPeerConnection] = []
        self._relay = MediaRelay()
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_get("/api/config", self._config)
        app.router.add_post("/api/offer", self._offer)
        app.router.add_static("/static", STATIC)
        self._app = AppThread(app)

    @property
    def origin(self) -> str:
        return self._app.origin

    def close(self) -> None:
        for pc in self.pcs:
            self._app.run(pc.close())
        self._app.close()

    async def _index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _config(self, request: web.Request) -> web.Response:
        return web.json_response({"iceServers": []})

    async def _offer(self, request: web.Request) -> web.Response:
        offer = await request.json()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pcs.append(pc)

        @pc.on("track")
        def on_track(track: Any) -> None:
            pc.addTrack(self._relay.subscribe(track))

        @pc.on("datachannel")
        def on_channel(channel: Any) -> None:
            for n, record in enumerate(STUB_RECORDS):
                line = {"t_ms": 100.0 * n, "session": "stub", "origin": "agent", **record}
                channel.send(json.dumps(line) + "\n")

        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
        answer = await describe_locally(pc)
        return web.json_response({"sdp": answer.sdp, "type": answer.type, "pc_id": "stub-pc"})
