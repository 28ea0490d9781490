"""The control answers every stage gives the same way, whatever its loop."""

from __future__ import annotations

import os

from ipc.schema import ControlMsg, Ping, Pong, StatsReply, StatsRequest
from ipc.stats import StageStats


def standard_reply(msg: ControlMsg, stage: str, stats: StageStats) -> Pong | StatsReply | None:
    """Pong for a Ping (echoing its token), StatsReply for a StatsRequest; else None."""
    if isinstance(msg, Ping):
        return Pong(msg.token, msg.sent_ns)
    if isinstance(msg, StatsRequest):
        if msg.counters_only:
            return StatsReply(msg.request_id, stage, os.getpid(), dict(stats.counters), {},
                              stats.session_snapshot())
        counters, latency = stats.snapshot(msg.hops)
        return StatsReply(msg.request_id, stage, os.getpid(), counters, latency,
                          stats.session_snapshot())
    return None
