"""``JobProcess``: what ``prewarm_fnc`` prepares once and every job's context reads
back (``ctx.proc.userdata``), as in livekit-agents.

Its own module so that both the job context and the worker options can name it
without importing each other.
"""

from __future__ import annotations

import os
from typing import Any


class JobProcess:
    """A process-wide ``userdata`` dict ``prewarm_fnc`` fills; voxpipe runs every job
    of a worker in its supervisor process, so all its jobs share one."""

    def __init__(self, *, start_arguments: Any | None = None) -> None:
        self.userdata: dict[str, Any] = {}
        self.start_arguments = start_arguments
        self.pid = os.getpid()
