"""edge: every live connection of its sessions, both directions, on one event loop.

A live connection (a media websocket, a WebRTC peer, a SIP dialog) is one socket
both ways and its libraries are asyncio, while ingress and egress of a file call
live in two processes (capture, playout). So this stage owns the connections:
on the start of a session whose transport is not a file it loads the transport's
edge half (``pipeline.transports.registry``) and opens it; the caller's audio goes
to dsp as ``CaptureFrame``s exactly as capture's does, and playout, which keeps
the clock, queue, played-sample accounting and the record, pushes every paced
agent frame here (``EdgeFrame``, ``EdgeFlush`` on barge-in) to be written out. A
connection whose far end buffers that audio and acknowledges what it played (a media
stream's marks) says so back to playout (``EdgeHeard``): what the caller heard is
the clock of truncation there.
The supervisor sends the agent's notes (``SessionNote``: transcripts, agent state)
here too, for connections with a side channel, and trickled ICE candidates
(``EdgeCandidate``). A restarted edge reopens the connections of the sessions
replayed to it; one that died with the old process (WebRTC) ends its input instead.
File sessions are capture's: for them this stage holds nothing.
"""

from __future__ import annotations

import argparse
import sys

from ipc.schema import (
    CaptureFrame,
    ControlMsg,
    DataMsg,
    EdgeCandidate,
    EdgeFlush,
    EdgeFrame,
    EdgeHeard,
    SessionConfig,
    SessionError,
    SessionEvent,
    SessionNote,
    transport_kind,
)
from pipeline.logs import session_extra
from pipeline.stages.async_stage import AsyncStage, run_async_stage
from pipeline.stages.edge_call import EdgeCall
from pipeline.transports.base import served_by_capture
from pipeline.transports.registry import edge_connector


class EdgeStage(AsyncStage):
    name = "edge"
    pushes_to = ("dsp", "playout")

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.calls: dict[str, EdgeCall] = {}

    async def on_session_start(self, cfg: SessionConfig, resumed: bool) -> None:
        if served_by_capture(cfg.transport):
            return
        kind = transport_kind(cfg.transport)
        session = cfg.session

        def emit(event: SessionEvent) -> None:
            self.emit(session, event)

        try:
            conn = edge_connector(kind)(cfg, emit)
        except Exception as exc:  # no such package, or its constructor refused the spec
            self.log.error("transport %s: %s", kind, exc, extra=session_extra(cfg.session))
            self.emit(cfg.session, SessionError(True, f"edge: transport {kind}: {exc}"))
            return
        conn.report_heard(lambda seq: self._heard(session, seq))
        call = self.calls[cfg.session] = EdgeCall(cfg, conn, self._to_dsp, self.emit,
                                                  self.stats, self.log)
        if resumed and not conn.reopenable:
            self.stats.count(f"calls_not_reopened.{kind}")
            self.log.warning("%s connection died with the previous edge: ending its input",
                             kind, extra=session_extra(session))
            call.end_input()
            return
        call.start()
        self.log.info("%s connection %s", kind, "reopening" if resumed else "opening",
                      extra=session_extra(session))

    def _to_dsp(self, frame: CaptureFrame) -> bool:
        return self.send("dsp", frame)

    def _heard(self, session: str, seq: int) -> None:
        self.send("playout", EdgeHeard(session, seq))

    async def on_session_end(self, session: str) -> None:
        call = self.calls.pop(session, None)
        if call is not None:
            await self.close_in_background(session, call.close())

    async def on_control(self, msg: ControlMsg) -> None:
        if not isinstance(msg, SessionNote | EdgeCandidate):
            await super().on_control(msg)
            return
        call = self.calls.get(msg.session)
        if call is None:
            self.stats.count("control_dropped.no_connection")
        elif isinstance(msg, SessionNote):
            call.deliver(msg.event, msg.t_ms)
        else:
            await call.add_candidate(msg)

    async def on_data(self, msg: DataMsg) -> None:
        if not isinstance(msg, EdgeFrame | EdgeFlush):
            self.stats.count("frames_dropped.unexpected_type")
            return
        call = self.calls.get(msg.session)
        if call is None:
            # A session this stage serves no connection for (a file call's).
            self.stats.count("frames_dropped.no_connection")
        elif isinstance(msg, EdgeFrame):
            call.play(msg)
        else:
            call.flush()


def main(argv: list[str] | None = None) -> int:
    return run_async_stage(EdgeStage, argv)


if __name__ == "__main__":
    sys.exit(main())
