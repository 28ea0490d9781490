"""Google's models as livekit-plugins-google 0.x users import them:
``google.beta.realtime.RealtimeModel`` (Gemini Live)."""

from pipeline.plugins.google import beta

__all__ = ["beta"]
