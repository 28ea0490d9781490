"""The agent of the CANCEL test: it lets the call ring for ``RING_S`` before it answers
(an agent warming up), so a caller's CANCEL after the 180 always comes before the 200,
however fast or busy the host. Then the echo engine, as the other SIP tests use."""

from __future__ import annotations

import asyncio

from pipeline.agents import JobContext
from pipeline.agents.multimodal import MultimodalAgent
from pipeline.plugins.offline import realtime as offline

RING_S = 3.0


async def entrypoint(ctx: JobContext) -> None:
    await asyncio.sleep(RING_S)
    await ctx.connect()
    participant = await ctx.wait_for_participant()
    agent = MultimodalAgent(model=offline.RealtimeModel(engine="echo"))
    agent.start(ctx.room, participant)
    ctx.add_shutdown_callback(agent.aclose)
