"""The ``livekit.agents.utils`` names agents use: ``EventEmitter`` and ``shortuuid``."""

from __future__ import annotations

import uuid

from pipeline.agents.event_emitter import EventEmitter


def shortuuid(prefix: str = "") -> str:
    """A short random id (12 hex digits), after ``prefix``."""
    return prefix + uuid.uuid4().hex[:12]


__all__ = ["EventEmitter", "shortuuid"]
