"""``livekit.plugins.openai`` on voxpipe: the Realtime API as an agent model
(``openai.realtime.RealtimeModel``), so ``from pipeline.plugins import openai`` ports
``from livekit.plugins import openai`` unchanged."""

from pipeline.plugins.openai import realtime

__all__ = ["realtime"]
