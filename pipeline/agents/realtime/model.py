"""What the agent asks of a realtime model class (the seed's ``RealtimeModel`` shape).

A plugin (``pipeline.plugins.<name>.realtime``) implements :class:`RealtimeModel`:
its :class:`ModelSettings` name the provider that serves it in the model stage and
the settings every session starts with; its ``capabilities`` are its provider's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ipc.schema import SessionSettings
from pipeline.providers.base import Capabilities

if TYPE_CHECKING:
    from pipeline.agents.llm import ChatContext, FunctionContext
    from pipeline.agents.realtime.session import RealtimeSession


@dataclass(frozen=True)
class ModelSettings:
    """What every session of a model starts with."""

    provider: str  # pipeline/providers/<provider> serves it in the model stage
    model: str
    protocol: str  # the provider's dialect ("" = its default)
    max_session_s: float  # reconnect before the provider's session cap (0: never)
    session: SessionSettings  # without tools: a session adds its function context's


class RealtimeModel(Protocol):
    """A realtime model as ``MultimodalAgent`` and ``RealtimeSession`` use it."""

    settings: ModelSettings
    api_key: str

    @property
    def capabilities(self) -> Capabilities:
        """What the model can do (its provider's capabilities)."""
        ...

    async def url(self) -> str:
        """The URL a new session connects to."""
        ...

    def session(
        self, *, chat_ctx: ChatContext | None = None, fnc_ctx: FunctionContext | None = None
    ) -> RealtimeSession:
        """A new session with these chat and function contexts."""
        ...
