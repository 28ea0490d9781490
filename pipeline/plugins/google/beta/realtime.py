"""``RealtimeModel`` for Gemini Live, with livekit-plugins-google 0.x's parameters.

Its sessions are served by ``pipeline.providers.gemini`` in the model stage. What the
0.x plugin did in process (its own transcriber sessions, one-shot ``clientContent``
of the whole chat context) the Live API now does itself: the user and agent
transcripts come from ``inputAudioTranscription``/``outputAudioTranscription``, and
the connection's time limit is met by session resumption (``max_session_s`` is 0).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from ipc.schema import Modality, Sampling, SessionSettings, TurnDetection
from pipeline.agents.realtime.model import ModelSettings
from pipeline.agents.realtime.remote import RemoteModel
from pipeline.providers.base import Capabilities
from pipeline.providers.gemini.connection import gemini_url
from pipeline.providers.gemini.setup import CAPABILITIES

if TYPE_CHECKING:
    pass

LiveAPIModels = Literal["gemini-2.0-flash-exp"]
Voice = Literal["Puck", "Charon", "Kore", "Fenrir", "Aoede"]
# The google-genai SDK's override of the API's host (so livekit's plugin honours it too).
BASE_URL_ENV = "GOOGLE_GEMINI_BASE_URL"
# The user transcript is Gemini's own (the neutral settings name a model for it).
USER_TRANSCRIPTION = "gemini"


def _modalities(modalities: Sequence[str]) -> tuple[Modality, ...]:
    names = tuple(str(getattr(m, "value", m)).lower() for m in modalities)
    if names not in (("audio",), ("text",)):
        raise ValueError(f"modalities must be ['AUDIO'] or ['TEXT'], got {list(modalities)!r}")
    return names  # type: ignore[return-value]  # checked just above


class RealtimeModel(RemoteModel):
    """Gemini Live as a ``MultimodalAgent`` model.

    ``api_key`` defaults to ``GOOGLE_API_KEY``; ``base_url`` (voxpipe's; default
    ``GOOGLE_GEMINI_BASE_URL``, as the SDK) points at another host serving the Live API
    (``https://127.0.0.1:PORT`` or ``wss://...`` for a test server).
    ``modalities`` takes ``["AUDIO"]``/``["TEXT"]`` (strings or the SDK's enum).
    """

    def __init__(
        self,
        *,
        instructions: str | None = None,
        model: LiveAPIModels | str = "gemini-2.0-flash-exp",
        api_key: str | None = None,
        api_version: str = "v1alpha",
        voice: Voice | str = "Puck",
        modalities: Sequence[str] = ("AUDIO",),
        enable_user_audio_transcription: bool = True,
        enable_agent_audio_transcription: bool = True,
        vertexai: bool = False,
        project: str | None = None,
        location: str | None = None,
        candidate_count: int = 1,
        temperature: float | None = None,
        max_output_tokens: int | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        presence_penalty: float | None = None,
        frequency_penalty: float | None = None,
        loop: object | None = None,
        base_url: str | None = None,
    ) -> None:
        del loop  # the 0.x plugin's; sessions run on the supervisor's loop
        self.api_key = api_key or os.environ.get("GOOGLE_API_KEY", "")
        project = project or os.environ.get("GOOGLE_CLOUD_PROJECT")
        location = location or os.environ.get("GOOGLE_CLOUD_LOCATION")
        if vertexai:
            if not project or not location:
                raise ValueError(
                    "Project and location are required for VertexAI either via project and "
                    "location or GOOGLE_CLOUD_PROJECT and GOOGLE_CLOUD_LOCATION environment "
                    "variables")
            raise ValueError("vertexai=True is not supported yet: voxpipe speaks the Gemini "
                             "API (api_key or GOOGLE_API_KEY)")
        if not self.api_key:
            raise ValueError("API key is required for Google API either via api_key or "
                             "GOOGLE_API_KEY environment variable")
        if candidate_count != 1:
            raise ValueError(f"candidate_count must be 1 (Gemini Live streams one candidate), "
                             f"got {candidate_count!r}")
        self.api_version = api_version
        self.base_url = base_url or os.environ.get(BASE_URL_ENV) or None
        self.settings = ModelSettings(
            provider="gemini", model=model, protocol=api_version, max_session_s=0.0,
            session=SessionSettings(
                instructions=instructions or "", voice=voice,
                modalities=_modalities(modalities), temperature=temperature,
                turn_detection=TurnDetection(), max_output_tokens=max_output_tokens,
                input_transcription_model=(
                    USER_TRANSCRIPTION if enable_user_audio_transcription else None),
                output_transcription=enable_agent_audio_transcription,
                sampling=Sampling(candidate_count=candidate_count, top_p=top_p, top_k=top_k,
                                  presence_penalty=presence_penalty,
                                  frequency_penalty=frequency_penalty),
            ),
        )

    @property
    def capabilities(self) -> Capabilities:
        """Gemini Live's: no truncation, 16 kHz in (``pipeline.providers.gemini``)."""
        return CAPABILITIES

    async def url(self) -> str:
        """The websocket URL of a new session."""
        return gemini_url(self.base_url, self.api_version)
