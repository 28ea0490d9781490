"""voxpipe: a realtime multimodal voice-agent runtime on a multiprocess ZeroMQ pipeline.

The agent API is importable from here (``from pipeline import MultimodalAgent``);
it is loaded lazily so the stage processes, which import ``pipeline.stages``,
do not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.jobs import JobContext
    from pipeline.multimodal import AgentTranscriptionOptions, MultimodalAgent

__all__ = ["AgentTranscriptionOptions", "JobContext", "MultimodalAgent"]

_LAZY = {
    "MultimodalAgent": "pipeline.multimodal",
    "AgentTranscriptionOptions": "pipeline.multimodal",
    "JobContext": "pipeline.jobs",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
