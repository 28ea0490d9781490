"""model: one connection per session to the realtime model, all on one event loop.

An asyncio stage (:mod:`pipeline.stages.async_stage`): its traffic is ~10 messages a
second per session (100 ms chunks up, model events down), where a ``zmq.asyncio``
receiver's cost is irrelevant and the providers' websockets want a loop. Each
session's :class:`~pipeline.stages.model_link.ModelLink` speaks to the model; this
module routes dsp's audio and playout's truncate points to it, the agent's commands
to it, and its events to playout (which places them on the timeline) or, for the
few the supervisor must hear even without playout, straight to the bus.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from ipc.schema import (
    ControlMsg,
    DataMsg,
    ModelCommands,
    ModelConnected,
    ModelDisconnected,
    SessionConfig,
    SessionError,
    SessionEvent,
    StreamEvent,
    TruncatePoint,
    UserAudio,
)
from pipeline.stages.async_stage import AsyncStage, run_async_stage
from pipeline.stages.model_link import ModelLink

# Events the supervisor must hear even when playout cannot place them: a fatal
# error with playout down, and the link coming up before playout knows the
# session (the agent replays its context and flushes its commands on it).
# Published straight to the bus; playout only logs them.
DIRECT_EVENTS = (SessionError, ModelConnected, ModelDisconnected)


class ModelStage(AsyncStage):
    name = "model"
    pushes_to = ("playout",)

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.links: dict[str, ModelLink] = {}

    def to_playout(self, msg: DataMsg) -> None:
        self.send("playout", msg)

    def emit_for(self, session: str) -> Callable[[SessionEvent], None]:
        """How a session's link reports an event: to playout, and maybe to the bus."""
        def emit(event: SessionEvent) -> None:
            now = time.monotonic_ns()
            direct = isinstance(event, DIRECT_EVENTS)
            if direct:
                self.emit(session, event)
            self.to_playout(StreamEvent(session, event, now, publish=not direct))
        return emit

    async def on_session_start(self, cfg: SessionConfig, resumed: bool) -> None:
        link = ModelLink(cfg, self.to_playout, self.emit_for(cfg.session), self.stats)
        self.links[cfg.session] = link
        link.start()

    async def on_session_end(self, session: str) -> None:
        link = self.links.pop(session, None)
        if link is not None:
            await self.close_in_background(session, link.close())

    async def on_control(self, msg: ControlMsg) -> None:
        if not isinstance(msg, ModelCommands):
            await super().on_control(msg)
            return
        link = self.links.get(msg.session)
        if link is None:
            self.stats.count("commands_dropped.unknown_session")
        else:
            await link.send_commands(msg.commands)

    async def on_data(self, msg: DataMsg) -> None:
        link = self.links.get(msg.session)
        if link is None:
            self.stats.count("frames_dropped.no_link")
        elif isinstance(msg, UserAudio):
            link.on_user_audio(msg)
        elif isinstance(msg, TruncatePoint):
            await link.on_truncate_point(msg)
        else:
            self.stats.count("frames_dropped.unexpected_type")


def main(argv: list[str] | None = None) -> int:
    return run_async_stage(ModelStage, argv)


if __name__ == "__main__":
    sys.exit(main())
