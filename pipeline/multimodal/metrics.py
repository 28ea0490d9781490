"""``MultimodalMetrics``: what ``metrics_collected`` carries for each response."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MultimodalMetrics:
    request_id: str
    """The response id."""
    timestamp: float
    ttft: float
    """Seconds from the end of the user's speech (or the response's creation when the
    model started on its own) to the first agent audio played; -1 without audio."""
    duration: float
    """Seconds from the response's creation to its end (``response.done``)."""
    cancelled: bool
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    pipeline_ms: dict[str, float] = field(default_factory=dict)
    """voxpipe's own hop latencies for this response (ms): ``model_rx_to_play`` (first
    audio received by the model stage -> played), ``user_end_to_first_audio``."""
    label: str = "voxpipe.multimodal"

    @staticmethod
    def now() -> float:
        return time.time()
