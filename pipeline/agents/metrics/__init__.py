"""``livekit.agents.metrics`` on voxpipe: the metrics types, ``UsageCollector``, ``log_metrics``."""

from pipeline.agents.metrics.base import (
    Error,
    LLMMetrics,
    MultimodalLLMError,
    MultimodalLLMMetrics,
)
from pipeline.agents.metrics.usage import UsageCollector, UsageSummary, log_metrics

AgentMetrics = LLMMetrics

__all__ = ["AgentMetrics", "Error", "LLMMetrics", "MultimodalLLMError", "MultimodalLLMMetrics",
           "UsageCollector", "UsageSummary", "log_metrics"]
