"""What a realtime model is to the agent API: the settings every session starts with.

A model plugin (``pipeline.plugins.<provider>.realtime.RealtimeModel``) builds the
settings; ``RealtimeSession`` and ``MultimodalAgent`` read them through this
protocol, so the agent API never imports a plugin (plugins import the agent API).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from pipeline.agents.realtime.capabilities import RealtimeCapabilities
    from pipeline.providers.openai.config import TurnDetection


@dataclass(frozen=True)
class ModelSettings:
    """What every session of a model starts with (``session.update`` and the link)."""

    model: str
    instructions: str
    voice: str
    protocol: Literal["ga", "beta"]
    turn_detection: TurnDetection | None
    input_transcription_model: str | None
    tool_choice: str
    temperature: float | None
    max_session_s: float


class RealtimeModel(Protocol):
    """What a ``RealtimeSession`` needs of the model that made it."""

    @property
    def settings(self) -> ModelSettings: ...

    @property
    def capabilities(self) -> RealtimeCapabilities: ...
