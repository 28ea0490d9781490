"""The agent API, shaped like ``livekit.agents`` 0.12 (it runs in the supervisor process).

Porting a livekit-agents agent means changing ``livekit.agents`` to
``pipeline.agents`` (and ``livekit.plugins`` to ``pipeline.plugins``): ``JobContext``,
``JobProcess``, ``JobRequest``, ``AutoSubscribe``, ``WorkerOptions``, ``WorkerType``,
``cli``, ``llm``, ``metrics``, ``multimodal``, ``tokenize``, ``utils``, ``vad``.
This package never imports the stages or the native kernels; it reaches the
pipeline only through the supervisor's runtime. Names load lazily.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.agents import cli, llm, metrics, multimodal, tokenize, utils, vad
    from pipeline.agents.job import AutoSubscribe, JobContext
    from pipeline.agents.multimodal import AgentState, AgentTranscriptionOptions, MultimodalAgent
    from pipeline.agents.room import ATTRIBUTE_AGENT_STATE
    from pipeline.agents.worker import JobProcess, WorkerOptions, WorkerPermissions, WorkerType

__all__ = ["ATTRIBUTE_AGENT_STATE", "AgentState", "AgentTranscriptionOptions", "AutoSubscribe",
           "JobContext", "JobProcess", "JobRequest", "MultimodalAgent", "WorkerOptions",
           "WorkerPermissions", "WorkerType", "cli", "llm", "metrics", "multimodal",
           "tokenize", "utils", "vad"]

_LAZY = {
    "JobContext": "pipeline.agents.job",
    "AutoSubscribe": "pipeline.agents.job",
    "JobProcess": "pipeline.agents.worker",
    "WorkerOptions": "pipeline.agents.worker",
    "WorkerPermissions": "pipeline.agents.worker",
    "WorkerType": "pipeline.agents.worker",
    "JobRequest": "pipeline.agents.dispatch.request",  # the LiveKit worker's
    "MultimodalAgent": "pipeline.agents.multimodal",
    "AgentTranscriptionOptions": "pipeline.agents.multimodal",
    "AgentState": "pipeline.agents.multimodal",
    "ATTRIBUTE_AGENT_STATE": "pipeline.agents.room",
}
_SUBMODULES = frozenset({"cli", "llm", "metrics", "multimodal", "tokenize", "utils", "vad"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"pipeline.agents.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pipeline.agents' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
