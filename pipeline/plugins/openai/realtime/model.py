"""``RealtimeModel`` for the OpenAI Realtime protocol (the API, Azure OpenAI, or a server
speaking it), with livekit-plugins-openai 0.12's constructor and defaults.

As livekit's does, it reads ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` from the
environment, so an unmodified 0.12 agent runs against ``voxpipe model-server`` by
``OPENAI_BASE_URL=http://127.0.0.1:PORT/v1`` alone; ``with_azure`` reads Azure's
variables as livekit's does. ``protocol`` and ``max_session_s`` are voxpipe's own.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

from ipc.schema import SessionSettings
from pipeline.agents.realtime.model import ModelSettings
from pipeline.agents.realtime.remote import RemoteModel
from pipeline.plugins.openai.realtime import options as o
from pipeline.providers.base import Capabilities
from pipeline.providers.openai.config import CAPABILITIES

if TYPE_CHECKING:
    pass

OPENAI_BASE_URL = "wss://api.openai.com/v1"
DEFAULT_MODEL = "gpt-realtime"
# The API closes a session after 60 minutes (30 on the beta): recycle a little before.
DEFAULT_MAX_SESSION_S = 55 * 60.0


def websocket_base(url: str) -> str:
    """``url`` with an http(s) scheme turned into ws(s), as livekit's plugin does (so
    ``OPENAI_BASE_URL`` may be written for the HTTP API)."""
    url = url.rstrip("/")
    return "ws" + url[4:] if url.startswith("http") else url


class RealtimeModel(RemoteModel):
    """The OpenAI Realtime API as a ``MultimodalAgent`` model.

    ``api_key`` defaults to ``OPENAI_API_KEY`` (required only for OpenAI's own
    endpoint); ``base_url`` to ``OPENAI_BASE_URL``, then OpenAI's. ``turn_detection=None``
    turns server VAD off (``generate_reply`` then commits).
    """

    def __init__(
        self,
        *,
        instructions: str = "",
        modalities: list[Literal["text", "audio"]] | None = None,
        model: str = DEFAULT_MODEL,
        voice: str = "alloy",
        input_audio_format: str = "pcm16",
        output_audio_format: str = "pcm16",
        input_audio_transcription: o.InputTranscriptionOptions | None = (
            o.DEFAULT_INPUT_AUDIO_TRANSCRIPTION),
        turn_detection: o.TurnDetectionOption = o.DEFAULT_SERVER_VAD_OPTIONS,
        tool_choice: str = "auto",
        temperature: float | None = 0.8,
        max_response_output_tokens: int | Literal["inf"] = "inf",
        api_key: str | None = None,
        base_url: str | None = None,
        http_session: Any = None,
        loop: Any = None,
        azure_deployment: str | None = None,
        entra_token: str | None = None,
        api_version: str | None = None,
        protocol: Literal["ga", "beta"] = "ga",
        max_session_s: float = DEFAULT_MAX_SESSION_S,
    ) -> None:
        del http_session, loop  # livekit's own plumbing: the model stage holds the socket
        if protocol not in ("ga", "beta"):
            raise ValueError(f"protocol must be 'ga' or 'beta', got {protocol!r}")
        if max_session_s < 0:
            raise ValueError(f"max_session_s must be >= 0, got {max_session_s!r}")
        for name, fmt in (("input", input_audio_format), ("output", output_audio_format)):
            if fmt != "pcm16":
                raise ValueError(f"{name}_audio_format must be 'pcm16' (voxpipe's pipeline "
                                 f"carries 16-bit PCM), got {fmt!r}")
        self.is_azure = any(v is not None for v in (azure_deployment, entra_token, api_version))
        self.base_url = websocket_base(base_url or os.environ.get("OPENAI_BASE_URL")
                                       or OPENAI_BASE_URL)
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if key is None and not self.is_azure and self.base_url == OPENAI_BASE_URL:
            raise ValueError("OpenAI API key is required, either using the argument or by "
                             "setting the OPENAI_API_KEY environmental variable")
        self.azure_deployment, self.api_version = azure_deployment, api_version
        # Azure takes a key as ``api-key: KEY``, an Entra token (without a key) as a
        # bearer token.
        entra_only = self.is_azure and not key
        self.api_key = (entra_token or "") if entra_only else (key or "")
        self.settings = ModelSettings(
            provider="openai", model=model, max_session_s=max_session_s,
            # Azure's realtime endpoint speaks the beta dialect (as the openai package's
            # Azure client does: it sends ``OpenAI-Beta: realtime=v1``).
            protocol="beta" if self.is_azure else protocol,
            api_key_header="authorization" if entra_only or not self.is_azure else "api-key",
            session=SessionSettings(
                instructions=instructions, voice=voice,
                modalities=o.output_modalities(modalities or ["text", "audio"]),
                turn_detection=o.turn_detection(turn_detection),
                input_transcription_model=o.transcription_model(input_audio_transcription),
                tool_choice=tool_choice, temperature=temperature,
                max_output_tokens=o.max_output_tokens(max_response_output_tokens)),
        )

    @classmethod
    def with_azure(
        cls,
        *,
        azure_deployment: str,
        azure_endpoint: str | None = None,
        api_version: str | None = None,
        api_key: str | None = None,
        entra_token: str | None = None,
        base_url: str | None = None,
        **kwargs: Any,
    ) -> RealtimeModel:
        """A model on Azure OpenAI: ``wss://<endpoint>/openai/realtime?api-version=...&
        deployment=...`` with ``api-key: KEY`` (or ``Authorization: Bearer <entra_token>``).

        ``api_key``, ``api_version`` and ``azure_endpoint`` default to
        ``AZURE_OPENAI_API_KEY``, ``OPENAI_API_VERSION`` and ``AZURE_OPENAI_ENDPOINT``;
        the other keyword arguments are the constructor's.
        """
        api_key = api_key or os.environ.get("AZURE_OPENAI_API_KEY")
        if api_key is None and entra_token is None:
            raise ValueError("Missing credentials. Please pass one of `api_key`, "
                             "`entra_token`, or the `AZURE_OPENAI_API_KEY` environment variable.")
        api_version = api_version or os.environ.get("OPENAI_API_VERSION")
        if api_version is None:
            raise ValueError("Must provide either the `api_version` argument or the "
                             "`OPENAI_API_VERSION` environment variable")
        if base_url is None:
            azure_endpoint = azure_endpoint or os.environ.get("AZURE_OPENAI_ENDPOINT")
            if azure_endpoint is None:
                raise ValueError("Missing Azure endpoint. Please pass the `azure_endpoint` "
                                 "parameter or set the `AZURE_OPENAI_ENDPOINT` environment "
                                 "variable.")
            base_url = f"{azure_endpoint.rstrip('/')}/openai"
        elif azure_endpoint is not None:
            raise ValueError("base_url and azure_endpoint are mutually exclusive")
        return cls(azure_deployment=azure_deployment, api_version=api_version,
                   api_key=api_key, entra_token=entra_token, base_url=base_url, **kwargs)

    @property
    def capabilities(self) -> Capabilities:
        """The OpenAI provider's (``pipeline.providers.openai``)."""
        return CAPABILITIES

    async def url(self) -> str:
        """The websocket URL of a new session."""
        if self.is_azure:
            query: dict[str, str] = {}
            if self.api_version:
                query["api-version"] = self.api_version
            if self.azure_deployment:
                query["deployment"] = self.azure_deployment
            return f"{self.base_url}/realtime?{urlencode(query)}"
        from pipeline.providers.openai.connection import openai_url

        return openai_url(self.settings.model, self.base_url)
