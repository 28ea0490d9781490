"""The seed's ``RealtimeModel`` shape: a :class:`SessionModel` that hands out sessions.

Apart from ``model.py`` because ``session()`` returns a ``RealtimeSession``, whose module
needs only the :class:`SessionModel` half: one module each keeps the imports acyclic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from pipeline.agents.realtime.model import SessionModel

if TYPE_CHECKING:
    from pipeline.agents.llm import ChatContext, FunctionContext
    from pipeline.agents.realtime.session import RealtimeSession


class RealtimeModel(SessionModel, Protocol):
    """A realtime model as ``MultimodalAgent`` uses it."""

    def session(
        self, *, chat_ctx: ChatContext | None = None, fnc_ctx: FunctionContext | None = None
    ) -> RealtimeSession:
        """A new session with these chat and function contexts."""
        ...
