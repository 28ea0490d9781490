"""The agent ``voxpipe run`` runs when no ``--agent`` is given.

A ``MultimodalAgent`` with no tools on the model the command line chose, run
through the same entrypoint road as a user's agent file: one way to run a call,
so the plain run and the agent run cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from pipeline.agents.job import JobContext
from pipeline.agents.multimodal import MultimodalAgent
from pipeline.agents.runner import Entrypoint


def default_entrypoint(model: Any) -> Entrypoint:
    """An entrypoint that answers the first caller with ``model`` (a realtime model)."""

    async def entrypoint(ctx: JobContext) -> None:
        await ctx.connect()
        participant = await ctx.wait_for_participant()
        agent = MultimodalAgent(model=model)
        agent.start(ctx.room, participant)
        ctx.add_shutdown_callback(agent.aclose)

    return entrypoint
