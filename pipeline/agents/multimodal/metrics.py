"""``MultimodalMetrics``: what ``metrics_collected`` carries for each response."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.agents.realtime.session_events import ResponseTiming


@dataclass(frozen=True)
class MultimodalMetrics:
    request_id: str
    """The response id."""
    timestamp: float
    ttft: float
    """Seconds from the end of the user's speech (or the response's creation when the
    model started on its own) to the first agent audio played; -1 without audio."""
    duration: float
    """Seconds from the response's creation to its end (its ``response_done`` event)."""
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


class ResponseMetrics:
    """Joins a response's end (from the model) with its first played audio (from
    playout) into one ``MultimodalMetrics``, whichever of the two arrives last: the
    model may finish sending long before playout plays the first frame, or after."""

    def __init__(self, emit: Callable[[MultimodalMetrics], None]) -> None:
        self._emit = emit
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
            ttft = max(0.0, (t_ms - (user_end if user_end is not None else timing.created_ms))
                       / 1000)
            if user_end is not None:
                pipeline["user_end_to_first_audio"] = t_ms - user_end
        tokens = None
        if timing.input_tokens is not None and timing.output_tokens is not None:
            tokens = timing.input_tokens + timing.output_tokens
        self._emit(MultimodalMetrics(
            request_id=rid, timestamp=MultimodalMetrics.now(), ttft=ttft,
            duration=max(0.0, ((timing.done_ms or timing.created_ms) - timing.created_ms) / 1000),
            cancelled=timing.cancelled, input_tokens=timing.input_tokens,
            output_tokens=timing.output_tokens, total_tokens=tokens, pipeline_ms=pipeline))
