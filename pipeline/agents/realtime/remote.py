"""``RemoteModel``: what every plugin's ``RealtimeModel`` of a remote model does the same
way (its own module: the session imports the model's types, so the model module cannot
import the session)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.agents.realtime.session import RealtimeSession

if TYPE_CHECKING:
    from pipeline.agents.llm import ChatContext, FunctionContext
    from pipeline.agents.realtime.model import SessionModel


class RemoteModel:
    """What every plugin's ``RealtimeModel`` of a remote model does the same way: make
    sessions, and release nothing on close (the model stage owns the connections)."""

    def session(
        self: SessionModel,
        *,
        chat_ctx: ChatContext | None = None,
        fnc_ctx: FunctionContext | None = None,
    ) -> RealtimeSession:
        """A new realtime session with these chat and function contexts."""
        return RealtimeSession(self, chat_ctx=chat_ctx, fnc_ctx=fnc_ctx)

    async def aclose(self) -> None:
        """Nothing to release for a remote model."""
