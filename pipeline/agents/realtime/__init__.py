"""Realtime models for ``MultimodalAgent``: the OpenAI protocol and the offline server.

``openai.RealtimeModel`` talks to the OpenAI Realtime API (or any server speaking
it); ``local.RealtimeModel`` starts voxpipe's offline server. Both hand out
``RealtimeSession`` objects that live in the supervisor process and drive the
model stage over ZeroMQ.
"""

from pipeline.agents.realtime.capabilities import RealtimeCapabilities

__all__ = ["RealtimeCapabilities"]
