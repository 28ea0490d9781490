"""Stage workers without a pipeline: names and the --workers grammar, the supervisor's
session assignment, the arbiter's workers (fake processes), the per-session routing over
real zmq sockets, headroom/admission per stage, /metrics per worker. End to end:
tests/faults/test_shards.py."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import zmq
from prometheus_client import generate_latest

from ipc.schema import (
    CaptureFrame,
    FileTransport,
    SessionConfig,
    StatsReply,
)
from ipc.shards import connect_routes, parse_workers, split_worker, worker_name, worker_names
from ipc.sockets import bind_pull, decode_data_batch
from ipc.stats import StageStats
from pipeline.serve.metrics import ServerMetrics, StageSnapshot
from pipeline.supervisor.admission import (
    AdmissionLimits,
    AdmissionPolicy,
    AdmissionRefused,
    Headroom,
)
from pipeline.supervisor.headroom import HeadroomMonitor
from pipeline.supervisor.shards import (
    ShardMap,
    by_stage,
    default_workers,
    sum_counters,
    workers_from,
)
from tests.supervisor.fakes import fake_arbiter

ONE_EACH = {"capture": 1, "dsp": 1, "model": 1, "playout": 1, "edge": 1}


def test_a_lone_worker_keeps_the_stage_name_and_several_are_numbered() -> None:
    assert worker_names("dsp", 1) == ["dsp"]
    assert worker_names("dsp", 3) == ["dsp.0", "dsp.1", "dsp.2"]
    assert worker_name("model", 1, 2) == "model.1"
    assert split_worker("dsp") == ("dsp", 0) and split_worker("dsp.1") == ("dsp", 1)


def test_workers_grammar_and_its_one_line_errors() -> None:
    assert parse_workers("dsp=2, model=3") == {**ONE_EACH, "dsp": 2, "model": 3}
    assert parse_workers("") == ONE_EACH
    for bad, words in (("dsp", "expected STAGE=N, got 'dsp'"),
                       ("dsq=2", "unknown stage 'dsq'"),
                       ("dsp=two", "dsp needs a number, got 'two'"),
                       ("dsp=0", "dsp=0: a stage runs 1-64 workers"),
                       ("dsp=2,dsp=3", "dsp given twice")):
        with pytest.raises(ValueError, match=words):
            parse_workers(bad)
    with pytest.raises(ValueError, match=r"^--workers: unknown stage"):
        workers_from("nope=1", "--workers")
    assert workers_from("off") == ONE_EACH


def test_the_default_shards_dsp_and_model_by_the_cores() -> None:
    assert default_workers(2) == ONE_EACH  # this machine: one process per stage
    assert default_workers(8) == {**ONE_EACH, "capture": 2, "dsp": 2, "model": 2,
                                  "playout": 2}
    assert default_workers(32) == {**ONE_EACH, "capture": 8, "dsp": 8, "model": 8,
                                   "playout": 8}
    assert workers_from("auto") == default_workers()


def _cfg(sid: str, workers: dict[str, int]) -> SessionConfig:
    return SessionConfig(sid, 0, "/tmp", FileTransport("in.wav", 16000, 1, 100),
                         workers=workers)


def test_a_session_goes_to_the_least_loaded_worker_and_stays_there() -> None:
    shards = ShardMap({"dsp": 2, "model": 3})
    picks = [shards.assign(f"s{i}") for i in range(4)]
    assert picks == [{"dsp": 0, "model": 0}, {"dsp": 1, "model": 1},
                     {"dsp": 0, "model": 2}, {"dsp": 1, "model": 0}]
    shards.release("s1")  # dsp.1 and model.1 now carry the fewest
    assert shards.assign("s4") == {"dsp": 1, "model": 1}
    cfg = _cfg("s2", picks[2])
    assert [shards.worker(stage, cfg) for stage in ("capture", "dsp", "model")] == \
        ["capture", "dsp.0", "model.2"]
    assert shards.worker("dsp", None) == "dsp.0"
    assert shards.serves("dsp.0", cfg) and not shards.serves("dsp.1", cfg)
    assert shards.serves("playout", cfg)
    assert shards.expand(("playout", "dsp", "model.1")) == ["playout", "dsp.0", "dsp.1",
                                                            "model.1"]
    unsharded = ShardMap({})
    assert unsharded.assign("x") == {} and unsharded.worker("dsp", None) == "dsp"


def test_the_arbiter_runs_each_worker_and_restarts_only_the_dead_one() -> None:
    arbiter, clock, procs = fake_arbiter(workers={"dsp": 2})
    arbiter.spawn_all()
    assert [p.name for p in procs.started] == ["capture", "dsp.0", "dsp.1", "model",
                                               "playout", "edge"]
    for p in procs.started:
        args = dict(zip(p.command[3::2], p.command[4::2], strict=True))
        assert args["--workers"] == "dsp=2"  # every process routes to dsp's workers
        assert args.get("--worker") == (p.name[-1] if p.name.startswith("dsp") else None)
    for name, st in arbiter.stages.items():
        assert st.pid is not None and arbiter.mark_ready(name, st.pid) is st
    procs.of("dsp.1")[0].exit(-9)
    clock.advance(0.05)
    assert arbiter.manage() == [arbiter.stages["dsp.1"]]
    assert {n: st.restarts for n, st in arbiter.stages.items() if st.restarts} == {"dsp.1": 1}
    unsharded, _, plain = fake_arbiter()
    unsharded.spawn_all()
    assert all("--workers" not in p.command for p in plain.started)


def test_each_session_is_pushed_to_its_own_worker(tmp_path: Path) -> None:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    inboxes = [bind_pull(ctx, f"ipc://{tmp_path}/dsp.{i}.in") for i in range(2)]
    stats = StageStats()
    routes = connect_routes(ctx, str(tmp_path), ("dsp", "playout"), {"dsp": 2}, stats)
    try:
        route = routes["dsp"]
        route.open("a", 0)
        route.open("b", 1)
        for sid in ("a", "b", "a"):
            box = route.outbox(sid)
            assert box is not None and box.add(_frame(sid))
        route.flush()  # one batch per worker
        got = [[m.session for m in decode_data_batch([inbox.recv()], stats)]
               for inbox in inboxes]
        assert got == [["a", "a"], ["b"]]
        route.close("a")
        assert route.outbox("a") is None
        one = routes["playout"]
        assert one.outbox("never-opened") is one.outboxes[0]  # one worker: no lookup
    finally:
        for sock in [*inboxes, *(s for r in routes.values() for s in r.sockets)]:
            sock.close(linger=0)
        ctx.term()


def _frame(sid: str) -> CaptureFrame:
    return CaptureFrame(sid, 0, 16000, 1, b"\0\0" * 160, 0)


def test_workers_stats_fold_into_one_per_stage() -> None:
    replies = {
        "dsp.0": StatsReply(1, "dsp.0", 10, {"frames_in": 5, "seq_gaps": 1}, {"hop": [1, 2]}),
        "dsp.1": StatsReply(2, "dsp.1", 11, {"frames_in": 7}, {"hop": [3]}),
        "playout": StatsReply(3, "playout", 12, {"underrun_frames": 4}, {}),
    }
    merged = by_stage(replies)
    assert sorted(merged) == ["dsp", "playout"]
    assert merged["dsp"].counters == {"frames_in": 12, "seq_gaps": 1}
    assert merged["dsp"].latency_us == {"hop": [1, 2, 3]}
    assert replies["dsp.0"].counters == {"frames_in": 5, "seq_gaps": 1}  # not changed
    assert sum_counters({n: r.counters for n, r in replies.items()}, "dsp") == \
        {"frames_in": 12, "seq_gaps": 1}


def test_a_stages_cpu_is_its_workers_summed_and_limited_per_worker() -> None:
    pids = {"dsp.0": os.getpid(), "dsp.1": os.getpid(), "model": os.getpid()}
    ticks = iter(float(t) for t in range(100))

    async def no_playout() -> dict[str, StatsReply]:
        return {}

    async def readings() -> Headroom:
        monitor = HeadroomMonitor(lambda: pids, no_playout, {"dsp": 2}, clock=lambda: next(ticks))
        await monitor.measure(1)
        sum(range(2_000_000))  # some CPU between the readings
        return await monitor.measure(1)

    headroom = asyncio.run(readings())
    assert sorted(headroom.stage_cpu) == ["dsp", "model"]
    # One process counted as two dsp workers: dsp's share is twice model's.
    assert headroom.stage_cpu["dsp"] == pytest.approx(2 * headroom.stage_cpu["model"])
    assert headroom.workers == {"dsp": 2}
    policy = AdmissionPolicy(AdmissionLimits(max_stage_cpu=0.9))
    policy.check(Headroom({"dsp": 1.6, "model": 0.5}, 0.0, 3, {"dsp": 2}))  # 80 % each
    with pytest.raises(AdmissionRefused, match="stage dsp uses 95% of a core per worker of 2"):
        policy.check(Headroom({"dsp": 1.9, "model": 0.5}, 0.0, 3, {"dsp": 2}))


def test_metrics_label_each_worker_and_sum_the_glitch_totals() -> None:
    metrics = ServerMetrics()
    metrics._stages.snapshot = StageSnapshot(counters={
        "playout.0": {"glitch_frames.late": 3}, "playout.1": {"glitch_frames.late": 4},
        "dsp.1": {"frames_in": 7}})
    lines = generate_latest(metrics.registry).decode().splitlines()
    assert 'voxpipe_glitch_frames_total{cause="late"} 7.0' in lines
    assert 'voxpipe_stage_events_total{counter="frames_in",stage="dsp.1"} 7.0' in lines
    assert 'voxpipe_stage_events_total{counter="glitch_frames.late",stage="playout.1"} 4.0' \
        in lines
