"""Client side of the OpenAI Realtime protocol (GA and beta event names)."""

from pipeline.providers.openai.config import Capabilities, RealtimeSessionConfig, TurnDetection
from pipeline.providers.openai.connection import (
    OPENAI_CAPABILITIES,
    ModelConnectError,
    ModelConnectionClosed,
    RealtimeConnection,
    openai_url,
)
from pipeline.providers.openai.server_events import RejectCounter, ServerEvent, parse_server_event

__all__ = [
    "OPENAI_CAPABILITIES",
    "Capabilities",
    "ModelConnectError",
    "ModelConnectionClosed",
    "RealtimeConnection",
    "RealtimeSessionConfig",
    "RejectCounter",
    "ServerEvent",
    "TurnDetection",
    "openai_url",
    "parse_server_event",
]
