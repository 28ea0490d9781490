"""``JanusRoom``: the agent in a Janus AudioBridge room, as the agent API sees it.

The agent half of the Janus transport. The room is joined by the edge stage once the
agent starts the call's session (``transport()`` says where: Janus's HTTP API and the
room's id), as a plain-RTP participant. What the agent hears is the room's mix — every
other participant, its own voice left out by the AudioBridge — so the "caller" of
this room is the mix: one stand-in participant (``janus-room-<id>``) whose microphone
the agent subscribes to, which starts the session as with any caller room. The
session ends when the edge's connection ends (the room destroyed, the agent kicked,
Janus gone) or when the agent's job ends; the edge leaves the room then.

Per call from the agent API: ``await run_agent(entry, runtime, JanusRoom(url, room))``;
``voxpipe serve --janus URL --room ID`` keeps one such call in the room.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ipc.schema import JanusTransport
from pipeline.transports.caller_room import SpecRoom


class JanusRoom(SpecRoom[JanusTransport]):
    """AudioBridge room ``room`` on the Janus at ``url`` (its HTTP API, e.g.
    ``http://127.0.0.1:8088/janus``); the record goes to ``out_dir``, a fresh
    temporary directory when none is given (``temporary_out_dir`` says so)."""

    def __init__(self, url: str, room: int, out_dir: Path | str | None = None, *,
                 display: str = "voxpipe", pin: str = "",
                 local_host: str = "127.0.0.1") -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"JanusRoom needs the URL of Janus's HTTP API, not {url!r}")
        self.temporary_out_dir = out_dir is None
        if out_dir is None:
            out_dir = tempfile.mkdtemp(prefix=f"voxpipe-janus-{room}-")
        spec = JanusTransport(url=url, room=room, display=display, pin=pin,
                              local_host=local_host)
        super().__init__(spec, out_dir, caller_identity=f"janus-room-{room}")
        self.name = f"janus-room-{room}"
