"""The supervisor side of a session's realtime model: ``RealtimeSession`` and the
``RealtimeModel`` shape its plugins implement (``pipeline.plugins.openai.realtime``,
``pipeline.plugins.offline.realtime``).

A ``RealtimeSession`` lives in the supervisor and drives the model stage over ZeroMQ
with provider-neutral commands; ``Capabilities`` are the model's provider's.
"""

from pipeline.agents.realtime.model import ModelSettings, SessionModel
from pipeline.agents.realtime.protocol import RealtimeModel
from pipeline.providers.base import Capabilities

__all__ = ["Capabilities", "ModelSettings", "RealtimeModel", "SessionModel"]
