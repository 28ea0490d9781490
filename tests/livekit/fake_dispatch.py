"""The fake dispatch server's state and rules (``fake_server.py`` serves them): the
worker and job records, the agent-grant check, frame decoding, the load-weighted
choice and the room token of an assignment, each as livekit-server has it."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import WSMsgType, web
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from livekit.api import AccessToken, VideoGrants
from livekit.protocol import agent


@dataclass
class WorkerRecord:
    """One registered worker connection, as the server keeps it."""

    id: str
    registration: agent.RegisterWorkerRequest
    ws: web.WebSocketResponse
    json: bool = False
    status: int = agent.WS_AVAILABLE
    load: float = 0.0
    updates: list[agent.UpdateWorkerStatus] = field(default_factory=list)
    running: dict[str, agent.Job] = field(default_factory=dict)
    availability: dict[str, asyncio.Future[agent.AvailabilityResponse]] = field(
        default_factory=dict)
    frames: list[str] = field(default_factory=list)  # "binary" / "text", as received
    pings: int = 0
    closed: bool = False


@dataclass
class Dispatch:
    """What became of one job: who was asked, who took it, its statuses."""

    job: agent.Job
    asked: list[str] = field(default_factory=list)
    worker: str | None = None
    identity: str = ""
    token: str = ""
    error: str = ""
    statuses: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def granted(authorization: str, api_key: str, api_secret: str) -> bool:
    """The upgrader's check: a valid HS256 JWT from ``api_key`` with ``video.agent``."""
    if not authorization.startswith("Bearer "):
        return False
    try:
        claims = jwt.decode(authorization[7:], api_secret, algorithms=["HS256"],
                            options={"verify_aud": False})
    except jwt.PyJWTError:
        return False
    return bool(claims.get("iss") == api_key and claims.get("video", {}).get("agent"))


def decode_frame(frame: Any) -> tuple[agent.WorkerMessage | None, bool]:
    """A worker frame: (the message or None, whether it came as JSON text)."""
    msg = agent.WorkerMessage()
    try:
        if frame.type == WSMsgType.BINARY:
            msg.ParseFromString(frame.data)
            return msg, False
        if frame.type == WSMsgType.TEXT:
            json_format.Parse(frame.data, msg)
            return msg, True
    except (DecodeError, json_format.ParseError):
        pass  # the server drops what it cannot read
    return None, False


def select_weighted(workers: list[WorkerRecord], job: agent.Job, attempted: set[str],
                    rng: random.Random) -> WorkerRecord | None:
    """selectWorkerWeightedByLoad: among the available workers of the job's agent name
    and type not yet tried, one at random weighted by ``max(0, 1 - load)``."""
    weights = {w.id: (w, max(0.0, 1.0 - w.load)) for w in workers
               if w.id not in attempted and w.status == agent.WS_AVAILABLE
               and w.registration.agent_name == job.agent_name
               and w.registration.type == job.type}
    total = sum(weight for _, weight in weights.values())
    if total == 0:
        return None
    pick = rng.random() * total
    for worker, weight in weights.values():
        pick -= weight
        if pick <= 0:
            return worker
    return next(iter(weights.values()))[0]


def agent_token(api_key: str, api_secret: str, job: agent.Job,
                answer: agent.AvailabilityResponse) -> str:
    """BuildAgentToken: the room token for the participant the worker named."""
    attributes = {**answer.participant_attributes, "lk.agent_name": job.agent_name}
    return (AccessToken(api_key, api_secret)
            .with_identity(answer.participant_identity)
            .with_name(answer.participant_name)
            .with_metadata(answer.participant_metadata)
            .with_attributes(attributes)
            .with_kind("agent")
            .with_grants(VideoGrants(room_join=True, room=job.room.name, agent=True))
            .to_jwt())
