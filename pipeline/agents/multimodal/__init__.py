"""``livekit.agents.multimodal`` on voxpipe: ``MultimodalAgent`` and its options."""

from pipeline.agents.multimodal.agent import AgentState, MultimodalAgent
from pipeline.agents.multimodal.metrics import MultimodalMetrics
from pipeline.agents.multimodal.options import AgentTranscriptionOptions

__all__ = ["AgentState", "AgentTranscriptionOptions", "MultimodalAgent", "MultimodalMetrics"]
