"""``JobRequest``: what ``request_fnc`` gets when the LiveKit server offers a job,
as in livekit-agents 0.12 (accept with the agent participant's identity, or reject).

The worker answers the server's ``AvailabilityRequest`` with what the request was
told: accepted (identity, name, metadata, attributes) or not. A request that is
neither accepted nor rejected by the time ``request_fnc`` returns is rejected.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from livekit.protocol import agent, models


@dataclass(frozen=True)
class JobAcceptArguments:
    """How the agent joins the room: its participant identity, name, metadata, attributes."""

    name: str
    identity: str
    metadata: str
    attributes: dict[str, str] = field(default_factory=dict)


class JobRequest:
    """A job the server offers this worker (``job``: the ``livekit.protocol.agent.Job``)."""

    def __init__(self, job: agent.Job, *,
                 on_accept: Callable[[JobAcceptArguments], Awaitable[None]],
                 on_reject: Callable[[], Awaitable[None]]) -> None:
        self._job = job
        self._on_accept = on_accept
        self._on_reject = on_reject
        self.answer: JobAcceptArguments | bool | None = None

    @property
    def id(self) -> str:
        return self._job.id

    @property
    def job(self) -> agent.Job:
        return self._job

    @property
    def room(self) -> models.Room:
        return self._job.room

    @property
    def publisher(self) -> models.ParticipantInfo | None:
        """The publisher a ``PUBLISHER`` job is for (None for a room job)."""
        return self._job.participant if self._job.HasField("participant") else None

    @property
    def agent_name(self) -> str:
        return self._job.agent_name

    async def reject(self) -> None:
        """Decline: the server may offer the job to another worker."""
        if self.answer is not None:
            raise RuntimeError(f"job request {self.id} was already answered")
        self.answer = False
        await self._on_reject()

    async def accept(self, *, name: str = "", identity: str = "", metadata: str = "",
                     attributes: dict[str, str] | None = None) -> None:
        """Take the job if the server assigns it; the agent joins as ``identity``
        (default ``agent-<job id>``, as livekit-agents)."""
        if self.answer is not None:
            raise RuntimeError(f"job request {self.id} was already answered")
        args = JobAcceptArguments(name, identity or f"agent-{self.id}", metadata,
                                  dict(attributes or {}))
        self.answer = args
        await self._on_accept(args)
