"""What ``metrics_collected`` carries for each response: 0.12's ``MultimodalLLMMetrics``."""

from __future__ import annotations

from collections.abc import Callable

from ipc.schema import TokenDetails
from pipeline.agents.metrics.base import MultimodalLLMError, MultimodalLLMMetrics
from pipeline.agents.realtime.session_events import ResponseTiming

MultimodalMetrics = MultimodalLLMMetrics  # voxpipe's earlier name


class ResponseMetrics:
    """Joins a response's end (from the model) with its first played audio (from
    playout) into one ``MultimodalLLMMetrics``, whichever of the two arrives last: the
    model may finish sending long before playout plays the first frame, or after."""

    def __init__(self, emit: Callable[[MultimodalLLMMetrics], None], label: str) -> None:
        self._emit = emit
        self._label = label
        self.user_end_ms: float | None = None  # the latest end of user speech (timeline)
        self._response_of: dict[str, str] = {}  # audio item -> its response
        self._user_end: dict[str, float | None] = {}  # response -> user end before it
        self._first_audio: dict[str, tuple[float, float]] = {}  # response -> (t, rx->play)
        self._awaiting: set[str] = set()  # responses whose audio has not started
        self._done: dict[str, ResponseTiming] = {}  # ended, waiting for their audio

    def audio_item(self, response_id: str, item_id: str) -> None:
        self._response_of[item_id] = response_id
        self._user_end.setdefault(response_id, self.user_end_ms)
        self._awaiting.add(response_id)

    def started(self, item_id: str, t_ms: float, rx_to_play_ms: float) -> None:
        response = self._response_of.pop(item_id, None)
        if response is not None:
            self._first_audio.setdefault(response, (t_ms, rx_to_play_ms))
            self._settle(response)

    def never_played(self, item_id: str) -> None:
        response = self._response_of.pop(item_id, None)
        if response is not None:
            self._settle(response)

    def response_done(self, timing: ResponseTiming) -> None:
        if timing.response_id in self._awaiting:
            self._done[timing.response_id] = timing
        else:
            self._publish(timing)

    def _settle(self, response: str) -> None:
        self._awaiting.discard(response)
        timing = self._done.pop(response, None)
        if timing is not None:
            self._publish(timing)

    def _publish(self, timing: ResponseTiming) -> None:
        rid = timing.response_id
        first = self._first_audio.pop(rid, None)
        user_end = self._user_end.pop(rid, None)
        pipeline: dict[str, float] = {}
        ttft = -1.0
        if first is not None:
            t_ms, rx_ms = first
            pipeline["model_rx_to_play"] = rx_ms
            ttft = max(0.0, (t_ms - rx_ms - timing.created_ms) / 1000)
            if user_end is not None:
                pipeline["user_end_to_first_audio"] = t_ms - user_end
        duration = max(0.0, ((timing.done_ms or timing.created_ms) - timing.created_ms) / 1000)
        prompt, completion = timing.input_tokens or 0, timing.output_tokens or 0
        self._emit(MultimodalLLMMetrics(
            request_id=rid, timestamp=timing.created_wall, ttft=ttft, duration=duration,
            label=self._label, cancelled=timing.cancelled, completion_tokens=completion,
            prompt_tokens=prompt, total_tokens=prompt + completion,
            tokens_per_second=completion / duration if duration > 0 else 0.0,
            error=_error(timing), input_token_details=_input_details(timing.details),
            output_token_details=_output_details(timing.details), pipeline_ms=pipeline))


def _error(timing: ResponseTiming) -> MultimodalLLMError | None:
    """As 0.12: a failed response's error, an incomplete one's reason."""
    if timing.status == "failed":
        kind, code, message = timing.error or (None, None, None)
        return MultimodalLLMError(type=kind or "failed", code=code, message=message)
    if timing.status == "incomplete":
        return MultimodalLLMError(type="incomplete", reason=timing.reason)
    return None


def _input_details(d: TokenDetails | None) -> MultimodalLLMMetrics.InputTokenDetails:
    d = d or TokenDetails()
    return MultimodalLLMMetrics.InputTokenDetails(
        cached_tokens=d.input_cached or 0, text_tokens=d.input_text or 0,
        audio_tokens=d.input_audio or 0,
        cached_tokens_details=MultimodalLLMMetrics.CachedTokenDetails(
            text_tokens=d.input_cached_text or 0, audio_tokens=d.input_cached_audio or 0))


def _output_details(d: TokenDetails | None) -> MultimodalLLMMetrics.OutputTokenDetails:
    d = d or TokenDetails()
    return MultimodalLLMMetrics.OutputTokenDetails(text_tokens=d.output_text or 0,
                                                   audio_tokens=d.output_audio or 0)
