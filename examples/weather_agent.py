"""A voice agent written as a livekit-agents user writes one, run by voxpipe.

    voxpipe run --agent examples/weather_agent.py --input examples/audio/three_turns.wav \
        --out out/agent

The tools run in the supervisor process; audio never passes through this file.
Swap ``offline.RealtimeModel()`` for ``openai.RealtimeModel()`` (and set
OPENAI_API_KEY) to talk to the OpenAI Realtime API instead of the offline model.
"""

from __future__ import annotations

import logging
from typing import Annotated

from pipeline.agents import JobContext, llm
from pipeline.agents.multimodal import MultimodalAgent
from pipeline.agents.vad import VAD
from pipeline.plugins.offline import realtime as offline

log = logging.getLogger("weather-agent")


class AssistantFnc(llm.FunctionContext):
    @llm.ai_callable()
    async def get_weather(
        self,
        location: Annotated[str, llm.TypeInfo(description="The city to get the weather for")],
    ) -> dict[str, object]:
        """Called when the user asks about the weather."""
        log.info("getting the weather for %s", location)
        return {"location": location, "temperature": 21, "conditions": "sunny"}


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    participant = await ctx.wait_for_participant()

    agent = MultimodalAgent(
        model=offline.RealtimeModel(
            instructions="Your name is Ava. You are a helpful voice assistant.",
            voice="alloy",
        ),
        vad=VAD.load(),
        fnc_ctx=AssistantFnc(),
    )

    @agent.on("user_speech_committed")
    def on_user(text: str) -> None:
        log.info("user said: %s", text)

    @agent.on("agent_speech_committed")
    def on_agent(text: str) -> None:
        log.info("agent said: %s", text)

    @agent.on("function_calls_finished")
    def on_calls(called: list[llm.CalledFunction]) -> None:
        for fn in called:
            log.info("tool %s -> %s", fn.call_info.function_info.name, fn.result)

    agent.start(ctx.room, participant)
