"""``WorkerOptions``, ``WorkerType``, ``JobProcess``: the names a livekit-agents 0.12
worker file is written with, so porting is an import-prefix change.

``cli.run_app(WorkerOptions(...))`` reads these: a file/console run uses
``entrypoint_fnc`` and ``prewarm_fnc``; a LiveKit worker (``start``/``dev``/
``connect``) uses all of them.
"""

from __future__ import annotations

import enum
import math
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.agents.job_process import JobProcess

if TYPE_CHECKING:
    from pipeline.agents.job import JobContext


__all__ = ["JobProcess", "WorkerOptions", "WorkerPermissions", "WorkerType"]


class WorkerType(enum.Enum):
    """What a job is dispatched for, as in livekit-agents: one per room or per publisher."""

    ROOM = "room"
    PUBLISHER = "publisher"


@dataclass
class WorkerPermissions:
    """The agent participant's permissions in the room it joins."""

    can_publish: bool = True
    can_subscribe: bool = True
    can_publish_data: bool = True
    can_update_metadata: bool = True
    can_publish_sources: list[Any] = field(default_factory=list)
    hidden: bool = False


def _default_prewarm(proc: JobProcess) -> None:
    del proc


@dataclass
class WorkerOptions:
    """livekit-agents 0.12's worker options, field for field.

    ``request_fnc`` gets a job request and accepts or rejects it (default: accept);
    ``load_fnc`` returns the worker's load in [0, 1] (default: measured from voxpipe's
    own stages); above ``load_threshold`` the worker reports itself full. ``ws_url``,
    ``api_key`` and ``api_secret`` default to ``LIVEKIT_URL``, ``LIVEKIT_API_KEY`` and
    ``LIVEKIT_API_SECRET``.
    """

    entrypoint_fnc: Callable[[JobContext], Awaitable[Any]]
    request_fnc: Callable[[Any], Awaitable[None]] | None = None
    prewarm_fnc: Callable[[JobProcess], Any] = _default_prewarm
    load_fnc: Callable[..., float] | None = None
    job_executor_type: Any = None
    load_threshold: float = 0.75
    job_memory_warn_mb: float = 300
    job_memory_limit_mb: float = 0
    drain_timeout: int = 1800
    num_idle_processes: int = 3
    shutdown_process_timeout: float = 60.0
    initialize_process_timeout: float = 10.0
    permissions: WorkerPermissions = field(default_factory=WorkerPermissions)
    agent_name: str = ""
    worker_type: WorkerType = WorkerType.ROOM
    max_retry: int = 16
    ws_url: str = field(default_factory=lambda: os.environ.get("LIVEKIT_URL",
                                                               "ws://localhost:7880"))
    api_key: str | None = field(default_factory=lambda: os.environ.get("LIVEKIT_API_KEY"))
    api_secret: str | None = field(
        default_factory=lambda: os.environ.get("LIVEKIT_API_SECRET"))
    host: str = ""
    port: int = 8081
    http_proxy: str | None = None

    def __post_init__(self) -> None:
        if not callable(self.entrypoint_fnc):
            raise TypeError("WorkerOptions.entrypoint_fnc must be an async function "
                            "taking a JobContext")
        if not 0 < self.load_threshold <= 1 and not math.isinf(self.load_threshold):
            raise ValueError(f"load_threshold must be in (0, 1], got {self.load_threshold}")
