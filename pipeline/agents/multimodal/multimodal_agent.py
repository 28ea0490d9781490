"""``livekit.agents.multimodal.multimodal_agent`` (0.12's module path): agents that import
``EventTypes`` or ``MultimodalAgent`` from it port unchanged."""

from pipeline.agents.multimodal.agent import EventTypes, MultimodalAgent
from pipeline.agents.multimodal.call_link import AgentState
from pipeline.agents.multimodal.options import AgentTranscriptionOptions

__all__ = ["AgentState", "AgentTranscriptionOptions", "EventTypes", "MultimodalAgent"]
