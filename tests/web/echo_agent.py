"""The agent the browser tests serve: the offline model's echo engine (it says back
each user turn) with the local VAD, so a barge-in flushes playout from dsp at once."""

from __future__ import annotations

from pipeline.agents import JobContext
from pipeline.agents.multimodal import MultimodalAgent
from pipeline.agents.vad import VAD
from pipeline.plugins.offline import realtime as offline


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    participant = await ctx.wait_for_participant()
    agent = MultimodalAgent(model=offline.RealtimeModel(engine="echo"), vad=VAD.load())
    agent.start(ctx.room, participant)
    ctx.add_shutdown_callback(agent.aclose)
