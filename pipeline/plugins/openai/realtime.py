"""``RealtimeModel`` for the OpenAI Realtime protocol (the API, or a server speaking it)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Literal

from pipeline.agents.realtime.capabilities import RealtimeCapabilities
from pipeline.agents.realtime.model import ModelSettings
from pipeline.providers.openai.config import TurnDetection

if TYPE_CHECKING:
    from pipeline.agents.llm import ChatContext, FunctionContext
    from pipeline.agents.realtime.session import RealtimeSession

OPENAI_BASE_URL = "wss://api.openai.com/v1"
# The API closes a session after 60 minutes (30 on the beta): recycle a little before.
DEFAULT_MAX_SESSION_S = 55 * 60.0


class RealtimeModel:
    """The OpenAI Realtime API as a ``MultimodalAgent`` model.

    ``api_key`` defaults to ``OPENAI_API_KEY``; ``base_url`` points at any server
    speaking the protocol (``ws://127.0.0.1:PORT/v1`` for the offline one).
    ``turn_detection=None`` turns server VAD off (``generate_reply`` then commits).
    """

    def __init__(
        self,
        *,
        model: str = "gpt-realtime",
        instructions: str = "",
        voice: str = "alloy",
        base_url: str = OPENAI_BASE_URL,
        api_key: str | None = None,
        protocol: Literal["ga", "beta"] = "ga",
        turn_detection: TurnDetection | None = TurnDetection(),  # noqa: B008 - frozen
        input_transcription_model: str | None = "whisper-1",
        tool_choice: str = "auto",
        temperature: float | None = None,
        max_session_s: float = DEFAULT_MAX_SESSION_S,
    ) -> None:
        if protocol not in ("ga", "beta"):
            raise ValueError(f"protocol must be 'ga' or 'beta', got {protocol!r}")
        if max_session_s < 0:
            raise ValueError(f"max_session_s must be >= 0, got {max_session_s!r}")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self.settings = ModelSettings(
            model=model, instructions=instructions, voice=voice, protocol=protocol,
            turn_detection=turn_detection, input_transcription_model=input_transcription_model,
            tool_choice=tool_choice, temperature=temperature, max_session_s=max_session_s,
        )

    @property
    def capabilities(self) -> RealtimeCapabilities:
        return RealtimeCapabilities(supports_truncate=True, input_audio_sample_rate=24000)

    async def url(self) -> str:
        """The websocket URL of a new session."""
        from pipeline.providers.openai.connection import openai_url

        return openai_url(self.settings.model, self.base_url)

    def session(
        self,
        *,
        chat_ctx: ChatContext | None = None,
        fnc_ctx: FunctionContext | None = None,
    ) -> RealtimeSession:
        """A new realtime session with these chat and function contexts."""
        from pipeline.agents.realtime.session import RealtimeSession

        return RealtimeSession(self, chat_ctx=chat_ctx, fnc_ctx=fnc_ctx)

    async def aclose(self) -> None:
        """Nothing to release for a remote model."""
