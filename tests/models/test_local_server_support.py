"""Shared pieces for the model-server tests: a validating client and test speech.

Every server event a `RealtimeClient` receives is validated against the
installed `openai` package's `RealtimeServerEvent` union (beta connections:
`openai.types.beta.realtime`), including a check that no field outside the
schema was sent. No tests live here.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from openai.types.beta.realtime import realtime_server_event as beta_events
from openai.types.realtime import RealtimeServerEvent
from pydantic import BaseModel, TypeAdapter
from websockets.asyncio.client import ClientConnection, connect

SR = 24_000
GA_ADAPTER: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)
BETA_ADAPTER: TypeAdapter[Any] = TypeAdapter(beta_events.RealtimeServerEvent)
# Fields the real API sends beyond the SDK's session schemas.
_ALLOWED_EXTRAS = {"RealtimeSessionCreateRequest": {"id", "object"}, "Session": {"object"}}


def _extras(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, BaseModel):
        allowed = _ALLOWED_EXTRAS.get(type(value).__name__, set())
        for key in set(value.model_extra or {}) - allowed:
            yield f"{path}.{key}"
        for name in type(value).model_fields:
            yield from _extras(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list):
        for i, x in enumerate(value):
            yield from _extras(x, f"{path}[{i}]")


def validate_event(event: dict[str, Any], beta: bool = False) -> None:
    """Assert `event` is a well-formed server event of its declared type."""
    model = (BETA_ADAPTER if beta else GA_ADAPTER).validate_python(event)
    assert model.type == event["type"], (model.type, event["type"])
    extras = list(_extras(model, event["type"]))
    assert not extras, f"fields outside the schema: {extras}"
    assert event["event_id"].startswith("event_")


class RealtimeClient:
    """A websocket client that validates and records every server event."""

    def __init__(self, ws: ClientConnection, beta: bool = False) -> None:
        self.ws = ws
        self.beta = beta
        self.events: list[dict[str, Any]] = []

    async def send(self, **event: Any) -> None:
        await self.ws.send(json.dumps(event))

    async def send_raw(self, text: str) -> None:
        await self.ws.send(text)

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        validate_event(event, self.beta)
        self.events.append(event)
        return event

    async def until(self, etype: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Events received up to and including the next one of type `etype`.

        `rate_limits.updated` (after every `response.done`) is left out unless asked for;
        it is still validated and kept in `self.events`.
        """
        got: list[dict[str, Any]] = []
        while True:
            event = await self.recv(timeout)
            if event["type"] == "rate_limits.updated" and etype != event["type"]:
                continue
            got.append(event)
            if event["type"] == etype:
                return got

    async def append(
        self, pcm: npt.NDArray[np.int16], chunk_ms: int = 100, realtime: float = 0.0
    ) -> None:
        """Send `pcm` as appends of `chunk_ms`; `realtime` X > 0 paces at X times real time."""
        step = SR * chunk_ms // 1000
        for i in range(0, pcm.size, step):
            await self.send(
                type="input_audio_buffer.append",
                audio=base64.b64encode(pcm[i : i + step].tobytes()).decode(),
            )
            if realtime > 0:
                await asyncio.sleep(chunk_ms / 1000 / realtime)


def connect_client(url: str, beta: bool = False, **kwargs: Any) -> Any:
    headers = dict(kwargs.pop("additional_headers", None) or {})
    if beta:
        headers["OpenAI-Beta"] = "realtime=v1"
    return connect(url, additional_headers=headers, **kwargs)


@dataclass(frozen=True)
class Turn:
    onset: int
    offset: int


def voiced_burst(
    seconds: float, f0: float = 140.0, peak: float = 0.25, seed: int = 0
) -> npt.NDArray[np.float64]:
    """A voiced-like signal: harmonics of `f0` under a syllabic envelope, 30/50 ms fades."""
    rng = np.random.default_rng(seed)
    n = round(seconds * SR)
    t = np.arange(n) / SR
    f = f0 * (1 + 0.05 * np.sin(2 * np.pi * 1.3 * t))  # slow pitch glide
    phase = 2 * np.pi * np.cumsum(f) / SR
    sig = sum(np.sin(k * phase + rng.uniform(0, 6.28)) / k for k in range(1, 9))
    env = 0.75 + 0.25 * np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6.28))
    env *= np.minimum(1.0, t / 0.03) * np.minimum(1.0, (t[-1] - t) / 0.05)
    out: npt.NDArray[np.float64] = sig * env
    scaled: npt.NDArray[np.float64] = peak * out / np.max(np.abs(out))
    return scaled


def speech_track(
    durations: list[float],
    lead: float = 0.8,
    gap: float = 1.5,
    tail: float = 1.0,
    noise_dbfs: float | None = None,
    seed: int = 1,
) -> tuple[npt.NDArray[np.int16], list[Turn]]:
    """Bursts separated by `gap` s of silence (digital, or white noise at `noise_dbfs`)."""
    total = lead + sum(durations) + gap * max(0, len(durations) - 1) + tail
    x = np.zeros(round(total * SR))
    turns: list[Turn] = []
    pos = round(lead * SR)
    for i, d in enumerate(durations):
        burst = voiced_burst(d, f0=120 + 30 * i, seed=seed + i)
        x[pos : pos + burst.size] += burst
        turns.append(Turn(pos, pos + burst.size))
        pos += burst.size + round(gap * SR)
    if noise_dbfs is not None:
        rng = np.random.default_rng(seed)
        x += rng.standard_normal(x.size) * 10 ** (noise_dbfs / 20)
    return (np.clip(x, -1, 1) * 32767).astype(np.int16), turns


def max_ncc(a: npt.NDArray[np.int16], b: npt.NDArray[np.int16]) -> float:
    """Peak normalised cross-correlation of two signals over all lags."""
    x, y = a.astype(np.float64), b.astype(np.float64)
    n = x.size + y.size
    corr = np.fft.irfft(np.fft.rfft(x, n) * np.conj(np.fft.rfft(y, n)), n)
    return float(np.max(np.abs(corr)) / (np.linalg.norm(x) * np.linalg.norm(y)))


def pcm_of(
    events: list[dict[str, Any]], delta_type: str = "response.output_audio.delta"
) -> npt.NDArray[np.int16]:
    """The audio of all `delta_type` events, concatenated."""
    raw = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == delta_type)
    return np.frombuffer(raw, dtype=np.int16)


def types_of(events: list[dict[str, Any]]) -> list[str]:
    """Event types in order, delta events left out."""
    return [e["type"] for e in events if not e["type"].endswith(".delta")]
