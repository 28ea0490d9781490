"""``livekit.plugins.openai.realtime`` on voxpipe: ``RealtimeModel`` and 0.12's option types."""

from pipeline.plugins.openai.realtime.model import (
    DEFAULT_MAX_SESSION_S,
    OPENAI_BASE_URL,
    RealtimeModel,
)
from pipeline.plugins.openai.realtime.options import (
    DEFAULT_INPUT_AUDIO_TRANSCRIPTION,
    DEFAULT_SERVER_VAD_OPTIONS,
    InputTranscriptionOptions,
    SemanticVadEagerness,
    SemanticVadOptions,
    ServerVadOptions,
)

__all__ = [
    "DEFAULT_INPUT_AUDIO_TRANSCRIPTION", "DEFAULT_MAX_SESSION_S", "DEFAULT_SERVER_VAD_OPTIONS",
    "OPENAI_BASE_URL", "InputTranscriptionOptions", "RealtimeModel", "SemanticVadEagerness",
    "SemanticVadOptions", "ServerVadOptions",
]
