"""The OpenAI Realtime protocol (GA and beta): client, events, and the provider seam."""

from pipeline.providers.openai.config import CAPABILITIES, RealtimeSessionConfig, TurnDetection
from pipeline.providers.openai.connection import (
    ModelConnectError,
    ModelConnectionClosed,
    RealtimeConnection,
    openai_url,
)
from pipeline.providers.openai.provider import OpenAIProvider, create_provider
from pipeline.providers.openai.server_events import RejectCounter, ServerEvent, parse_server_event

__all__ = [
    "CAPABILITIES",
    "ModelConnectError",
    "ModelConnectionClosed",
    "OpenAIProvider",
    "RealtimeConnection",
    "RealtimeSessionConfig",
    "RejectCounter",
    "ServerEvent",
    "TurnDetection",
    "create_provider",
    "openai_url",
    "parse_server_event",
]
