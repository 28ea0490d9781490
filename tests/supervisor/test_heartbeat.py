"""The supervisor's side of the heartbeat: a pong is life and a round-trip sample only
if it echoes a ping token recently sent; anything else is counted and dropped. Runs the
real control loop on a fake ROUTER and a fake arbiter (no processes, no sockets)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import msgspec
import pytest

from ipc.schema import Pong, StatsReply, control_encoder
from pipeline.supervisor.arbiter import ArbiterOptions
from pipeline.supervisor.runtime import Runtime, RuntimeOptions
from tests.supervisor.fakes import FakeClock, fake_arbiter

BEAT = ArbiterOptions(heartbeat_interval_s=0.5, heartbeat_timeout_s=2.0)


class FakeRouter:
    """Hands the control loop the given frames, then tells the test it has read them all."""

    def __init__(self, messages: list[tuple[str, msgspec.Struct]]) -> None:
        self._frames = [[stage.encode(), control_encoder.encode(m)] for stage, m in messages]
        self.drained = asyncio.Event()

    async def recv_multipart(self) -> list[bytes]:
        if not self._frames:
            self.drained.set()
            await asyncio.Event().wait()  # nothing more: the test cancels the loop
        return self._frames.pop(0)


def run_control_loop(rt: Runtime, messages: list[tuple[str, msgspec.Struct]]) -> None:
    async def main() -> None:
        rt._router = router = FakeRouter(messages)
        task = asyncio.create_task(rt._control_loop())
        await router.drained.wait()
        task.cancel()

    asyncio.run(main())


@pytest.fixture
def rt_clock() -> Iterator[tuple[Runtime, FakeClock]]:
    """A runtime whose (fake) stages all said Hello; never started."""
    rt = Runtime(RuntimeOptions(arbiter=BEAT))
    arbiter, clock, _ = fake_arbiter(BEAT)
    arbiter.spawn_all()
    for name, st in arbiter.stages.items():
        assert st.pid is not None
        arbiter.mark_ready(name, st.pid)
    rt.arbiter = arbiter
    yield rt, clock
    rt._ctx.term()


def send_pings(rt: Runtime, rounds: int) -> list[int]:
    return [rt._pings.next_token(float(i)) for i in range(rounds)]


def last_seen(rt: Runtime, stage: str) -> float:
    assert rt.arbiter is not None
    return rt.arbiter.stages[stage].liveness.last_seen


def test_a_pong_to_the_last_ping_is_life_and_a_round_trip(
    rt_clock: tuple[Runtime, FakeClock],
) -> None:
    rt, clock = rt_clock
    [token] = send_pings(rt, 1)
    sent_ns = time.monotonic_ns() - 5_000_000  # sent 5 ms ago
    clock.advance(1.0)
    run_control_loop(rt, [("dsp", Pong(token, sent_ns))])
    assert last_seen(rt, "dsp") == clock.now
    assert last_seen(rt, "model") == clock.now - 1.0
    [rtt_us] = rt.stats.latency["control_rtt.dsp"].samples()
    assert rtt_us >= 5_000
    assert "pong_dropped.token" not in rt.stats.counters


def test_a_late_pong_within_the_deadline_still_counts(
    rt_clock: tuple[Runtime, FakeClock],
) -> None:
    # Tokens within heartbeat_timeout_s / interval_s rounds (+1) of the last one count.
    rt, clock = rt_clock
    tokens = send_pings(rt, 5)
    clock.advance(1.0)
    run_control_loop(rt, [("dsp", Pong(tokens[0], 0)), ("model", Pong(tokens[-1], 0))])
    assert last_seen(rt, "dsp") == last_seen(rt, "model") == clock.now
    assert len(rt.stats.latency["control_rtt.dsp"]) == 1
    assert len(rt.stats.latency["control_rtt.model"]) == 1


def test_a_pong_with_a_wrong_token_is_counted_and_is_no_proof_of_life(
    rt_clock: tuple[Runtime, FakeClock],
) -> None:
    rt, clock = rt_clock
    tokens = send_pings(rt, 6)  # tokens[0] is now older than the deadline covers
    clock.advance(1.0)
    before = last_seen(rt, "dsp")
    run_control_loop(rt, [("dsp", Pong(tokens[0], 0)), ("dsp", Pong(tokens[-1] + 1, 0)),
                          ("dsp", Pong(0, 0))])
    assert rt.stats.counters["pong_dropped.token"] == 3
    assert last_seen(rt, "dsp") == before
    assert "control_rtt.dsp" not in rt.stats.latency


def test_other_control_traffic_is_life(
    rt_clock: tuple[Runtime, FakeClock],
) -> None:
    rt, clock = rt_clock
    clock.advance(1.0)
    run_control_loop(rt, [("dsp", StatsReply(1, "dsp", 1, {}, {}))])
    assert last_seen(rt, "dsp") == clock.now
    assert not rt.stats.counters
