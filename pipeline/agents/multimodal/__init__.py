"""``livekit.agents.multimodal`` on voxpipe: ``MultimodalAgent`` and its options."""

from pipeline.agents.multimodal.agent import MultimodalAgent
from pipeline.agents.multimodal.call_link import AgentState
from pipeline.agents.multimodal.metrics import MultimodalMetrics
from pipeline.agents.multimodal.options import AgentTranscriptionOptions

__all__ = ["AgentState", "AgentTranscriptionOptions", "MultimodalAgent", "MultimodalMetrics"]
