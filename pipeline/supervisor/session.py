"""A session as the supervisor sees it: its spec, live state and summary."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ipc.schema import (
    DEFAULT_MODEL_RATE,
    AgentStartedSpeaking,
    AgentStoppedSpeaking,
    InputEnded,
    InputProgress,
    ModelDisconnected,
    ModelSpec,
    PlayoutGlitch,
    ResponseCreated,
    ResponseDone,
    SessionClosed,
    SessionConfig,
    SessionError,
    SessionSettings,
    StageEvent,
    Transport,
    UserStartedSpeaking,
    UserStoppedSpeaking,
    call_name,
)

_ids = itertools.count(1)


@dataclass(frozen=True)
class SessionSpec:
    """What a caller asks for: one conversation with the caller ``transport`` names,
    recorded in ``out_dir``."""

    transport: Transport
    out_dir: Path
    model_url: str
    api_key: str = ""
    api_key_header: Literal["authorization", "api-key"] = "authorization"
    session_id: str | None = None
    # The model: its provider (pipeline/providers/<provider>), the provider's dialect,
    # the model's name and the settings every connection starts with.
    provider: str = "openai"
    protocol: str = "ga"
    model_name: str = "gpt-realtime"
    settings: SessionSettings = field(default_factory=SessionSettings)
    # The rate the model takes user audio at (its capabilities' input_audio_sample_rate).
    model_rate: int = DEFAULT_MODEL_RATE
    chunk_ms: int = 100
    # Driven by a MultimodalAgent: playout reports playback progress to it.
    agent: bool = False
    # Local VAD barge-in in dsp (0 = off): speech this long flushes playout.
    local_vad_min_speech_ms: int = 0
    local_vad_threshold_db: float = 0.0
    # Reconnect the model before its session time cap (0 = never).
    max_session_s: float = 0.0
    # After the input ended and everything went quiet, close after this long.
    idle_close_s: float = 0.8
    # Never wait longer than this after the input ended.
    max_tail_s: float = 60.0

    def new_id(self, taken: Container[str] = ()) -> str:
        """``session_id`` if given; else the live call's own name (``call_name``) unless
        a session of this runtime has it; else a fresh one."""
        if self.session_id:
            return self.session_id
        name = call_name(self.transport)
        if name and name not in taken:
            return name
        return f"s{next(_ids)}-{int(time.time()) % 100000}"

    def model_spec(self) -> ModelSpec:
        """The model part of the session's config, as the model stage gets it."""
        return ModelSpec(url=self.model_url, api_key=self.api_key, name=self.model_name,
                         api_key_header=self.api_key_header,
                         protocol=self.protocol, max_session_s=self.max_session_s,
                         settings=self.settings)


@dataclass
class Turn:
    """One user turn and the agent's answer, on the playout timeline (ms)."""

    user_end_ms: float
    agent_start_ms: float | None = None

    @property
    def first_audio_latency_ms(self) -> float | None:
        if self.agent_start_ms is None:
            return None
        return self.agent_start_ms - self.user_end_ms


@dataclass
class SessionSummary:
    session: str
    out_dir: Path
    turns: list[Turn]
    error: str | None
    wav: Path | None
    events: Path
    # Playout frames of agent audio that should have played and did not, by cause, and
    # the runs (``PlayoutGlitch`` events) they came in.
    glitch_frames: dict[str, int] = field(default_factory=dict)
    glitch_runs: int = 0

    @property
    def glitches(self) -> int:
        """Glitched playout frames, every cause."""
        return sum(self.glitch_frames.values())


Listener = Callable[[StageEvent], None]


@dataclass
class Session:
    """Live state, updated from the event bus."""

    id: str
    spec: SessionSpec
    config: SessionConfig
    progress_frame: int = 0
    input_ended: bool = False
    user_speaking: bool = False
    agent_speaking: bool = False
    responses: set[str] = field(default_factory=set)
    last_activity: float = field(default_factory=time.monotonic)
    input_ended_at: float = 0.0
    ending: bool = False
    ending_at: float = 0.0
    error: str | None = None
    turns: list[Turn] = field(default_factory=list)
    wav: Path | None = None
    glitch_frames: dict[str, int] = field(default_factory=dict)
    glitch_runs: int = 0
    listeners: list[Listener] = field(default_factory=list)
    closed: asyncio.Future[SessionSummary] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())

    def on(self, listener: Listener) -> None:
        """Call ``listener`` with every event of this session (in the supervisor loop)."""
        self.listeners.append(listener)

    def apply(self, ev: StageEvent) -> None:
        e = ev.event
        if isinstance(e, InputProgress):
            self.progress_frame = max(self.progress_frame, e.frame)
            return
        self.last_activity = time.monotonic()
        match e:
            case InputEnded():
                self.input_ended = True
                self.input_ended_at = self.last_activity
            case UserStartedSpeaking():
                self.user_speaking = True
            case UserStoppedSpeaking():
                self.user_speaking = False
                end_ms = e.audio_end_ms if e.audio_end_ms is not None else ev.t_ms
                self.turns.append(Turn(float(end_ms or 0.0)))
            case ResponseCreated():
                self.responses.add(e.response_id)
            case ResponseDone():
                self.responses.discard(e.response_id)
            case AgentStartedSpeaking():
                self.agent_speaking = True
                if self.turns and self.turns[-1].agent_start_ms is None:
                    self.turns[-1].agent_start_ms = ev.t_ms or 0.0
            case AgentStoppedSpeaking():
                self.agent_speaking = False
            case ModelDisconnected():
                self.responses.clear()
            case SessionError(fatal=True):
                self.error = e.message or "unknown error"
            case PlayoutGlitch():
                self.glitch_frames[e.cause] = self.glitch_frames.get(e.cause, 0) + e.frames
                self.glitch_runs += 1
            case SessionClosed():
                self.wav = Path(e.wav) if e.wav else None

    def quiet_since(self, now: float) -> float:
        busy = self.user_speaking or self.agent_speaking or bool(self.responses)
        return 0.0 if busy else now - self.last_activity

    def should_close(self, now: float) -> bool:
        if self.ending or not self.input_ended:
            return False
        if now - self.input_ended_at > self.spec.max_tail_s:
            return True
        return self.quiet_since(now) >= self.spec.idle_close_s

    def summary(self) -> SessionSummary:
        out = Path(self.config.out_dir)
        return SessionSummary(self.id, out, self.turns, self.error, self.wav,
                              out / "events.jsonl", dict(self.glitch_frames), self.glitch_runs)
