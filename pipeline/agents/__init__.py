"""The agent API, shaped like ``livekit.agents`` (it runs in the supervisor process).

Porting a livekit-agents agent means changing ``livekit.agents`` to
``pipeline.agents``: ``JobContext``, ``llm``, ``multimodal``, ``tokenize``, ``vad``.
This package never imports the stages or the native kernels; it reaches the
pipeline only through the supervisor's runtime. Names load lazily.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.agents import llm, multimodal, tokenize, vad
    from pipeline.agents.job import JobContext
    from pipeline.agents.multimodal import AgentTranscriptionOptions, MultimodalAgent

__all__ = ["AgentTranscriptionOptions", "JobContext", "MultimodalAgent", "llm", "multimodal",
           "tokenize", "vad"]

_LAZY = {
    "JobContext": "pipeline.agents.job",
    "MultimodalAgent": "pipeline.agents.multimodal",
    "AgentTranscriptionOptions": "pipeline.agents.multimodal",
}
_SUBMODULES = frozenset({"llm", "multimodal", "tokenize", "vad"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"pipeline.agents.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pipeline.agents' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
