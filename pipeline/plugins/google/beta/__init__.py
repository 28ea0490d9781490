"""``livekit.plugins.google.beta``: Gemini Live as ``realtime.RealtimeModel``."""

from pipeline.plugins.google.beta import realtime

__all__ = ["realtime"]
