"""The worker's wire helpers and load reading, without a server: the URL rule, the
token's grant, the codec's encoding switch, and how playout lateness reads as load."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import jwt
import pytest
from google.protobuf import json_format
from livekit.protocol import agent

from ipc.schema import StatsReply
from pipeline.agents.dispatch.load import StageLoad, user_load
from pipeline.agents.dispatch.wire import Codec, WireError, agent_url, worker_token


@pytest.mark.parametrize(("url", "expected"), [
    ("ws://host:7880", "ws://host:7880/agent"),
    ("http://host:7880/", "ws://host:7880/agent"),
    ("https://project.livekit.cloud", "wss://project.livekit.cloud/agent"),
    ("wss://host/some/path", "wss://host/agent"),  # livekit-agents drops the path too
])
def test_agent_url(url: str, expected: str) -> None:
    assert agent_url(url) == expected


@pytest.mark.parametrize("url", ["host:7880", "ftp://host", "ws://"])
def test_agent_url_refuses_what_is_no_server_url(url: str) -> None:
    with pytest.raises(ValueError, match="LiveKit URL"):
        agent_url(url)


def test_worker_token_carries_the_agent_grant() -> None:
    secret = "s" * 32
    claims = jwt.decode(worker_token("key", secret), secret, algorithms=["HS256"])
    assert (claims["iss"], claims["video"]["agent"]) == ("key", True)
    assert "roomJoin" not in claims["video"]  # a worker joins no room with it


def test_codec_answers_in_the_servers_last_encoding() -> None:
    codec = Codec()
    ping = agent.WorkerMessage(ping=agent.WorkerPing(timestamp=5))
    assert isinstance(codec.encode(ping), bytes)
    reply = agent.ServerMessage(pong=agent.WorkerPong(last_timestamp=5, timestamp=6))
    assert codec.decode(json_format.MessageToJson(reply)) == reply
    text = codec.encode(ping)
    assert isinstance(text, str) and json_format.Parse(text, agent.WorkerMessage()) == ping
    assert codec.decode(reply.SerializeToString()) == reply
    assert isinstance(codec.encode(ping), bytes)


@pytest.mark.parametrize("frame", [b"\xff\xff\xff", "{not json", b"", "{}"])
def test_codec_refuses_a_frame_that_is_no_server_message(frame: Any) -> None:
    with pytest.raises(WireError):
        Codec().decode(frame)


class _Runtime:
    """What StageLoad reads of a runtime: the stage pids and playout's counters."""

    def __init__(self) -> None:
        self.arbiter = object()
        self.late = 0

    def pids(self) -> dict[str, int]:
        return {"playout": os.getpid()}

    async def stage_stats(self, timeout_s: float = 2.0, *,
                          counters_only: bool = False) -> dict[str, StatsReply]:
        assert counters_only  # the load is read often: never the latency reservoirs
        return {"playout": StatsReply(1, "playout", os.getpid(),
                                      {"late_frames_skipped": self.late}, {})}


def test_skipped_playout_reads_as_load() -> None:
    runtime = _Runtime()
    # So many CPUs that CPU time (10 ms ticks over ms-long readings) reads as ~0.
    load = StageLoad(runtime, cpus=10**7)  # type: ignore[arg-type]

    async def readings() -> list[float]:
        out = [await load.measure()]  # the first reading sets playout's baseline
        runtime.late += 5  # 0.1 s of audio skipped: half of LATE_FULL_S
        out.append(await load.measure())
        runtime.late += 50
        out.append(await load.measure())
        out.append(await load.measure())  # nothing skipped since
        return out

    first, half, full, calm = asyncio.run(readings())
    assert first < 0.01 and calm < 0.01
    assert half == pytest.approx(0.5, abs=0.01)
    assert full == 1.0


def test_user_load_is_called_as_livekit_agents_calls_it() -> None:
    worker = object()
    assert asyncio.run(user_load(lambda: 0.3, worker)) == 0.3
    assert asyncio.run(user_load(lambda w: 0.4 if w is worker else 0.0, worker)) == 0.4
    assert asyncio.run(user_load(lambda: 7, worker)) == 1.0  # clamped
