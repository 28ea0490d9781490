"""The OpenAI Realtime API as an agent model (``realtime.RealtimeModel``)."""
