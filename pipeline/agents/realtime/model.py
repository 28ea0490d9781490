"""What the agent asks of a realtime model class (the seed's ``RealtimeModel`` shape).

A plugin (``pipeline.plugins.<name>.realtime``) implements ``RealtimeModel``
(``pipeline.agents.realtime.protocol``), of which :class:`SessionModel` is what a
session reads:
its :class:`ModelSettings` name the provider that serves it in the model stage and
the settings every session starts with; its ``capabilities`` are its provider's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from ipc.schema import SessionSettings
from pipeline.providers.base import Capabilities


@dataclass(frozen=True)
class ModelSettings:
    """What every session of a model starts with."""

    provider: str  # pipeline/providers/<provider> serves it in the model stage
    model: str
    protocol: str  # the provider's dialect ("" = its default)
    max_session_s: float  # reconnect before the provider's session cap (0: never)
    session: SessionSettings  # without tools: a session adds its function context's
    # How the key is sent: "authorization" (``Authorization: Bearer KEY``) or "api-key"
    # (``api-key: KEY``, Azure's).
    api_key_header: Literal["authorization", "api-key"] = "authorization"


class SessionModel(Protocol):
    """What a ``RealtimeSession`` needs of the model that made it."""

    settings: ModelSettings
    api_key: str

    @property
    def capabilities(self) -> Capabilities:
        """What the model can do (its provider's capabilities)."""
        ...

    async def url(self) -> str:
        """The URL a new session connects to."""
        ...

