"""voxpipe as a LiveKit agent worker: the dispatch protocol of livekit-agents 0.12.

The LiveKit server is the distributed engine: workers register with it, and it
sends each new room (a job) to an available worker weighted by the load each
reports. ``run_worker`` is what ``cli.run_app``'s ``start``/``dev``/``connect``
run; ``JobRequest`` (``request.py``) is what ``request_fnc`` decides on.
Modules: ``wire`` (protobuf frames, URL, token), ``link`` (the websocket,
registration, reconnects), ``jobs`` (offers, assignments, job runs),
``load`` (load from voxpipe's stages), ``agent_worker`` (status, drain), ``run``.
"""

from __future__ import annotations

from pipeline.agents.dispatch.run import run_worker, serve_worker

__all__ = ["run_worker", "serve_worker"]
