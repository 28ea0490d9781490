"""``UsageCollector`` and ``log_metrics``, as livekit-agents 0.12 has them
(``livekit/agents/metrics/usage_collector.py`` and ``utils.py``)."""

from __future__ import annotations

import logging
from copy import deepcopy
from dataclasses import dataclass

from pipeline.agents.metrics.base import LLMMetrics, MultimodalLLMMetrics

default_logger = logging.getLogger("voxpipe.metrics")


@dataclass
class UsageSummary:
    llm_prompt_tokens: int
    llm_completion_tokens: int
    tts_characters_count: int
    stt_audio_duration: float


class UsageCollector:
    """Sums the token usage of the metrics it is given (``agent.on("metrics_collected",
    collector)`` or ``collector.collect(m)``)."""

    def __init__(self) -> None:
        self._summary = UsageSummary(0, 0, 0, 0.0)

    def __call__(self, metrics: LLMMetrics) -> None:
        self.collect(metrics)

    def collect(self, metrics: LLMMetrics) -> None:
        if isinstance(metrics, LLMMetrics):
            self._summary.llm_prompt_tokens += metrics.prompt_tokens
            self._summary.llm_completion_tokens += metrics.completion_tokens

    def get_summary(self) -> UsageSummary:
        return deepcopy(self._summary)


def log_metrics(metrics: LLMMetrics, *, logger: logging.Logger | None = None) -> None:
    """One log line for a metrics record, in 0.12's words."""
    logger = logger or default_logger
    if isinstance(metrics, LLMMetrics):
        hops = ""
        if isinstance(metrics, MultimodalLLMMetrics) and metrics.pipeline_ms:
            hops = ", " + ", ".join(f"{k}_ms={v:.0f}" for k, v in metrics.pipeline_ms.items())
        logger.info(f"LLM metrics: ttft={metrics.ttft:.2f}, input_tokens={metrics.prompt_tokens}, "
                    f"output_tokens={metrics.completion_tokens}, "
                    f"tokens_per_second={metrics.tokens_per_second:.2f}{hops}")
