"""``livekit.agents.multimodal`` on voxpipe: ``MultimodalAgent`` and its options."""

from pipeline.multimodal.agent import AgentState, MultimodalAgent
from pipeline.multimodal.metrics import MultimodalMetrics
from pipeline.multimodal.options import AgentTranscriptionOptions

__all__ = ["AgentState", "AgentTranscriptionOptions", "MultimodalAgent", "MultimodalMetrics"]
