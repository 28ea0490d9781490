"""``metrics_collected`` against livekit-agents 0.12's own definition, field by field.

The reference below is copied from ``livekit-agents/livekit/agents/metrics/base.py``
at tag ``livekit-agents@0.12.21`` (github.com/livekit/agents): ``LLMMetrics`` and
``MultimodalLLMMetrics`` with its nested detail classes, names and annotations as
written there. voxpipe adds exactly one field after them: ``pipeline_ms``.
"""

from __future__ import annotations

import dataclasses
import logging
import types
import typing

import pytest

from ipc.schema import ResponseDone, TokenDetails
from pipeline.agents import metrics
from pipeline.agents.multimodal.metrics import ResponseMetrics
from pipeline.agents.realtime.session_events import ResponseTiming

# (name, annotation) in declaration order, as in 0.12's base.py.
LLM_METRICS_012 = [
    ("request_id", "str"), ("timestamp", "float"), ("ttft", "float"), ("duration", "float"),
    ("label", "str"), ("cancelled", "bool"), ("completion_tokens", "int"),
    ("prompt_tokens", "int"), ("total_tokens", "int"), ("tokens_per_second", "float"),
    ("error", "Error | None"),
]
MULTIMODAL_EXTRA_012 = [("input_token_details", "InputTokenDetails"),
                        ("output_token_details", "OutputTokenDetails")]
CACHED_TOKEN_DETAILS_012 = [("text_tokens", "int"), ("audio_tokens", "int")]
INPUT_TOKEN_DETAILS_012 = [("cached_tokens", "int"), ("text_tokens", "int"),
                           ("audio_tokens", "int"),
                           ("cached_tokens_details", "MultimodalLLMMetrics.CachedTokenDetails")]
OUTPUT_TOKEN_DETAILS_012 = [("text_tokens", "int"), ("audio_tokens", "int")]
MULTIMODAL_LLM_ERROR_012 = [("type", "str | None"), ("reason", "str | None"),
                            ("code", "str | None"), ("message", "str | None")]


def _fields(cls: type) -> list[tuple[str, str]]:
    return [(f.name, str(f.type)) for f in dataclasses.fields(cls)]


def test_types_match_012_field_by_field() -> None:
    m = metrics.MultimodalLLMMetrics
    assert _fields(metrics.LLMMetrics) == LLM_METRICS_012
    assert _fields(m) == [*LLM_METRICS_012, *MULTIMODAL_EXTRA_012,
                          ("pipeline_ms", "dict[str, float]")]
    assert _fields(m.CachedTokenDetails) == CACHED_TOKEN_DETAILS_012
    assert _fields(m.InputTokenDetails) == INPUT_TOKEN_DETAILS_012
    assert _fields(m.OutputTokenDetails) == OUTPUT_TOKEN_DETAILS_012
    assert _fields(metrics.MultimodalLLMError) == MULTIMODAL_LLM_ERROR_012
    assert issubclass(m, metrics.LLMMetrics)
    assert issubclass(metrics.MultimodalLLMError, metrics.Error)


def _check_value(value: object, cls: type) -> None:
    """Every field of ``value`` holds a value of its declared type."""
    hints = typing.get_type_hints(cls, localns={**vars(metrics.MultimodalLLMMetrics),
                                                "MultimodalLLMMetrics":
                                                metrics.MultimodalLLMMetrics,
                                                "Error": metrics.Error})
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        v = getattr(value, f.name)
        hint = hints[f.name]
        union = typing.get_origin(hint) in (typing.Union, types.UnionType)
        allowed = tuple(typing.get_origin(a) or a for a in
                        (typing.get_args(hint) if union else (hint,)))
        assert isinstance(v, allowed), (f.name, v, hint)
        if dataclasses.is_dataclass(v):
            _check_value(v, type(v))


def _payloads(done: ResponseDone) -> list[metrics.MultimodalLLMMetrics]:
    out: list[metrics.MultimodalLLMMetrics] = []
    rm = ResponseMetrics(out.append, label="pipeline.agents.realtime.session.RealtimeSession")
    rm.user_end_ms = 900.0
    rm.audio_item("r1", "item1")
    timing = ResponseTiming("r1", created_ms=1000.0)
    timing.done(done, 3000.0)
    rm.response_done(timing)
    rm.started("item1", t_ms=1400.0, rx_to_play_ms=150.0)
    return out


def test_a_spoken_response_fills_every_field() -> None:
    details = TokenDetails(input_text=10, input_audio=30, input_cached=8, input_cached_text=5,
                           input_cached_audio=3, output_text=12, output_audio=48)
    [m] = _payloads(ResponseDone("r1", "completed", None, 40, 60, details))
    _check_value(m, metrics.MultimodalLLMMetrics)
    assert (m.request_id, m.cancelled, m.error) == ("r1", False, None)
    assert (m.prompt_tokens, m.completion_tokens, m.total_tokens) == (40, 60, 100)
    assert m.duration == pytest.approx(2.0) and m.tokens_per_second == pytest.approx(30.0)
    # created at 1000 ms, first audio received 150 ms before it played at 1400 ms.
    assert m.ttft == pytest.approx(0.25)
    assert m.pipeline_ms == {"model_rx_to_play": 150.0, "user_end_to_first_audio": 500.0}
    assert m.input_token_details == m.InputTokenDetails(
        cached_tokens=8, text_tokens=10, audio_tokens=30,
        cached_tokens_details=m.CachedTokenDetails(text_tokens=5, audio_tokens=3))
    assert m.output_token_details == m.OutputTokenDetails(text_tokens=12, audio_tokens=48)
    assert m.label == "pipeline.agents.realtime.session.RealtimeSession"


def test_failed_and_cancelled_responses_as_012_reports_them() -> None:
    [failed] = _payloads(ResponseDone("r1", "failed", None, None, None, None,
                                      "server_error", "overloaded", "try again"))
    _check_value(failed, metrics.MultimodalLLMMetrics)
    assert failed.error == metrics.MultimodalLLMError(type="server_error", code="overloaded",
                                                      message="try again")
    assert (failed.prompt_tokens, failed.total_tokens, failed.tokens_per_second) == (0, 0, 0.0)
    [cut] = _payloads(ResponseDone("r1", "incomplete", "max_output_tokens", 5, 7))
    assert cut.error == metrics.MultimodalLLMError(type="incomplete", reason="max_output_tokens")
    [cancelled] = _payloads(ResponseDone("r1", "cancelled", None, 5, 7))
    assert cancelled.cancelled and cancelled.error is None


def test_usage_collector_and_log_metrics(caplog: pytest.LogCaptureFixture) -> None:
    collector = metrics.UsageCollector()
    for m in _payloads(ResponseDone("r1", "completed", None, 40, 60)) * 2:
        collector(m)
        with caplog.at_level(logging.INFO, logger="voxpipe.metrics"):
            metrics.log_metrics(m)
    summary = collector.get_summary()
    assert (summary.llm_prompt_tokens, summary.llm_completion_tokens) == (80, 120)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [lines[0]] * 2 and lines[0].startswith(
        "LLM metrics: ttft=0.25, input_tokens=40, output_tokens=60, tokens_per_second=30.00")
    assert "model_rx_to_play_ms=150" in lines[0]
