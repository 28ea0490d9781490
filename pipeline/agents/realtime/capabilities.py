"""What a realtime model can do, as the agent asks it (the seed's ``_CapabilitiesProto``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RealtimeCapabilities:
    supports_truncate: bool
    """The model accepts ``conversation.item.truncate`` (cut to what was heard)."""
    input_audio_sample_rate: int | None = None
    """Rate the model wants user audio at (None: 24 kHz)."""
