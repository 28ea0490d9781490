"""The agent of the key-press test: the echo engine, and every ``sip_dtmf_received``
room event written into the agent's attributes (so on the call's timeline):
``dtmf`` the digits so far, ``dtmf.participant`` who pressed them."""

from __future__ import annotations

import asyncio

from pipeline.agents import JobContext
from pipeline.agents.multimodal import MultimodalAgent
from pipeline.plugins.offline import realtime as offline
from pipeline.transports.caller_room import SipDTMF


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    participant = await ctx.wait_for_participant()
    digits: list[str] = []
    pending: set[asyncio.Task[None]] = set()

    def pressed(dtmf: SipDTMF) -> None:
        digits.append(f"{dtmf.digit}:{dtmf.code}")
        who = dtmf.participant.identity if dtmf.participant is not None else ""
        task = asyncio.ensure_future(ctx.room.local_participant.set_attributes(
            {"dtmf": ",".join(digits), "dtmf.participant": who}))
        pending.add(task)
        task.add_done_callback(pending.discard)

    ctx.room.on("sip_dtmf_received", pressed)
    agent = MultimodalAgent(model=offline.RealtimeModel(engine="echo"))
    agent.start(ctx.room, participant)
    ctx.add_shutdown_callback(agent.aclose)
