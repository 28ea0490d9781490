"""livekit-agents 0.12's metrics types (``livekit/agents/metrics/base.py``), field for field.

``MultimodalLLMMetrics`` is what ``MultimodalAgent`` emits as ``metrics_collected``;
voxpipe adds one field after 0.12's: ``pipeline_ms``, its own hop latencies.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class Error:
    """Base of the errors a metrics record carries."""


@dataclass
class LLMMetrics:
    request_id: str
    timestamp: float
    ttft: float
    duration: float
    label: str
    cancelled: bool
    completion_tokens: int
    prompt_tokens: int
    total_tokens: int
    tokens_per_second: float
    error: Error | None


@dataclass
class MultimodalLLMError(Error):
    type: str | None
    reason: str | None = None
    code: str | None = None
    message: str | None = None


@dataclass
class MultimodalLLMMetrics(LLMMetrics):
    """One response of a realtime model.

    ``timestamp``: wall-clock time the response was created; ``ttft``: seconds from
    its creation to its first audio reaching voxpipe (-1 without audio); ``duration``:
    seconds from its creation to its end. ``pipeline_ms``: voxpipe's own hop latencies
    (ms): ``model_rx_to_play`` (first audio received by the model stage -> played),
    ``user_end_to_first_audio`` (end of the user's speech -> first audio played).
    """

    @dataclass
    class CachedTokenDetails:
        text_tokens: int
        audio_tokens: int

    @dataclass
    class InputTokenDetails:
        cached_tokens: int
        text_tokens: int
        audio_tokens: int
        cached_tokens_details: MultimodalLLMMetrics.CachedTokenDetails

    @dataclass
    class OutputTokenDetails:
        text_tokens: int
        audio_tokens: int

    input_token_details: InputTokenDetails
    output_token_details: OutputTokenDetails
    pipeline_ms: dict[str, float] = field(default_factory=dict)
