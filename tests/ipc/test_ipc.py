"""ipc/: wire schema round trips, the receive boundary's drop reasons, the runtime
dir, liveness and latency bookkeeping."""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Iterator

import msgspec
import pytest
import zmq

from ipc.control import standard_reply
from ipc.heartbeat import PeerLiveness, PingSchedule
from ipc.runtime_dir import RuntimeDir
from ipc.schema import (
    AgentAudio,
    AgentItemDone,
    AgentStartedSpeaking,
    AgentText,
    CaptureFrame,
    DataMsg,
    FileTransport,
    Hello,
    Ping,
    PlayoutFlush,
    Pong,
    SessionConfig,
    SessionEnd,
    SessionStart,
    Shutdown,
    StageEvent,
    StatsReply,
    StatsRequest,
    StreamEvent,
    TruncatePoint,
    UserAudio,
    UserStartedSpeaking,
    control_decoder,
    control_encoder,
    data_decoder,
    data_encoder,
    event_decoder,
    event_encoder,
)
from ipc.sockets import (
    BATCH_MAX_BYTES,
    Outbox,
    decode_control,
    decode_data,
    decode_data_batch,
    decode_event,
    decode_event_batch,
    send_data,
)
from ipc.stats import LatencyRecorder, StageStats, percentiles

PCM = bytes(range(256)) * 4
CFG = SessionConfig(session="s1", t0_ns=1, out_dir="/tmp/x",
                    transport=FileTransport("/tmp/in.wav", 16000, 1, 100))

DATA = [
    CaptureFrame("s1", 3, 48000, 2, PCM, 123),
    UserAudio("s1", 4, 24000, PCM, 1, 2, 4800),
    AgentAudio("s1", "item_1", 0, 5, 24000, PCM, 9),
    AgentText("s1", "item_1", 0, "héllo"),
    AgentItemDone("s1", "item_1", True),
    PlayoutFlush("s1", "speech_started", 77),
    TruncatePoint("s1", "item_1", 0, 480, 960, 24000),
    StreamEvent("s1", UserStartedSpeaking("item_1", 10, link="7.1"), 5),
]
CONTROL = [Hello("dsp", 42), Ping(1, 2), Pong(1, 2), SessionStart(CFG, resumed=True),
           SessionEnd("s1"), StatsRequest(7), StatsRequest(8, hops=("a", "b")),
           StatsReply(7, "dsp", 42, {"a": 1}, {"h": [1]}),
           StatsReply(7, "playout", 42, {"a": 1}, {}, {"s1": {"glitch_frames.late": 3}}),
           Shutdown()]


@pytest.mark.parametrize("msg", DATA, ids=lambda m: type(m).__name__)
def test_data_messages_round_trip_and_pass_the_boundary(msg: msgspec.Struct) -> None:
    wire = data_encoder.encode(msg)
    assert data_decoder.decode(wire) == msg
    stats = StageStats()
    assert decode_data([wire], stats) == msg
    assert not stats.counters


@pytest.mark.parametrize("msg", CONTROL, ids=lambda m: type(m).__name__)
def test_control_messages_round_trip(msg: msgspec.Struct) -> None:
    assert control_decoder.decode(control_encoder.encode(msg)) == msg
    assert decode_control([control_encoder.encode(msg)], StageStats()) == msg


def test_events_round_trip() -> None:
    ev = StageEvent("s1", "playout", 9, AgentStartedSpeaking("item_1", 480, 2.5), 1.5, "playout")
    assert event_decoder.decode(event_encoder.encode(ev)) == ev
    stats = StageStats()
    assert decode_event([b"\xc1"], stats) is None and stats.counters == {"events_dropped.decode": 1}


def test_a_10ms_frame_costs_few_bytes_of_header() -> None:
    frame = CaptureFrame("s1", 123456, 48000, 1, bytes(960), time.monotonic_ns())
    wire = data_encoder.encode(frame)
    assert len(wire) - 960 <= 32


@pytest.mark.parametrize(("parts", "reason"), [
    ([b"\xc1"], "decode"),
    ([b""], "decode"),
    ([data_encoder.encode(DATA[0]), b"x"], "parts"),
    ([data_encoder.encode(DATA[0])[:-3]], "decode"),
    ([data_encoder.encode(CaptureFrame("s1", 1, 48000, 2, PCM[:-2], 0))], "pcm_length"),
    ([data_encoder.encode(CaptureFrame("s1", 1, 48000, 9, PCM, 0))], "format"),
    ([data_encoder.encode(CaptureFrame("s1", 1, 1000, 1, PCM, 0))], "format"),
    ([data_encoder.encode(UserAudio("s1", 1, 24000, PCM[:-1], 0, 0, 0))], "pcm_length"),
    ([data_encoder.encode(AgentAudio("", "i", 0, 0, 24000, PCM, 0))], "session_id"),
    ([data_encoder.encode(TruncatePoint("s1", "i", 0, -5, 0, 24000))], "bounds"),
    ([b"\x92\xa2cf\xc0"], "decode"),
    ([b"\x93\xa2zz\x01\x02"], "decode"),
    ([bytes([0x82, 0xa1, 0x61, 0xff, 0xa1, 0x62, 0xfe])], "decode"),  # invalid utf-8 key path
])
def test_boundary_counts_each_drop_reason(parts: list[bytes], reason: str) -> None:
    stats = StageStats()
    assert decode_data(parts, stats) is None
    assert stats.counters == {f"frames_dropped.{reason}": 1}


@pytest.mark.timeout(30)
def test_send_at_hwm_is_dropped_and_counted_never_blocking() -> None:
    """A consumer that is gone (or stalled) fills the hop to its HWM; past that,
    frames are dropped and counted instead of blocking the loop."""
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    try:
        push.setsockopt(zmq.SNDHWM, 5)
        push.connect("ipc:///nonexistent-voxpipe/none")  # the peer never comes
        stats = StageStats()
        # No send timeout (SNDTIMEO -1): a send that blocked at HWM would never return,
        # so returning at all is the proof (the timeout mark only fails it fast).
        assert push.getsockopt(zmq.SNDTIMEO) == -1
        sent = [send_data(push, b"x", stats, "dsp") for _ in range(12)]
        assert 0 < sum(sent) < 12
        assert stats.counters == {"send_dropped.dsp": 12 - sum(sent)}
    finally:
        push.close(linger=0)
        ctx.term()


def test_runtime_dir_is_private_short_and_removable(tmp_path: os.PathLike[str]) -> None:
    rd = RuntimeDir.create(str(tmp_path))
    assert stat.S_IMODE(os.stat(rd.path).st_mode) == 0o700
    assert len(rd.inbox("playout").removeprefix("ipc://")) < 107
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PULL)
    sock.bind(rd.inbox("dsp"))
    assert [p.name for p in rd.socket_files()] == ["dsp.in"]
    sock.close(linger=0)
    ctx.term()
    rd.remove()
    assert not rd.path.exists() and rd.socket_files() == []


def test_standard_replies_echo_the_token_and_report_stats() -> None:
    stats = StageStats()
    stats.count("frames_in", 3)
    stats.hop("capture_to_dsp").record_ns(2_500_000)
    assert standard_reply(Ping(41, 99), "dsp", stats) == Pong(41, 99)
    reply = standard_reply(StatsRequest(8), "dsp", stats)
    assert isinstance(reply, StatsReply)
    assert (reply.request_id, reply.stage, reply.pid) == (8, "dsp", os.getpid())
    assert reply.counters == {"frames_in": 3} and reply.latency_us == {"capture_to_dsp": [2500]}
    assert reply.sessions == {}
    light = standard_reply(StatsRequest(9, counters_only=True), "dsp", stats)
    assert isinstance(light, StatsReply)
    assert (light.request_id, light.counters, light.latency_us) == (9, {"frames_in": 3}, {})
    stats.hop("dsp_to_model").record_ns(1_000_000)
    only = standard_reply(StatsRequest(10, hops=("dsp_to_model",)), "dsp", stats)
    assert isinstance(only, StatsReply)
    assert only.latency_us == {"dsp_to_model": [1000]} and only.counters == {"frames_in": 3}
    assert standard_reply(Shutdown(), "dsp", stats) is None


def test_per_session_counters_add_to_the_total_and_go_with_the_session() -> None:
    stats = StageStats()
    stats.count_session("s1", "glitch_frames.underrun", 2)
    stats.count_session("s2", "glitch_frames.late", 50)
    stats.count_session("s1", "glitch_frames.underrun")
    reply = standard_reply(StatsRequest(9), "playout", stats)
    assert isinstance(reply, StatsReply)
    assert reply.sessions == {"s1": {"glitch_frames.underrun": 3},
                              "s2": {"glitch_frames.late": 50}}
    stats.forget_session("s1")
    assert stats.session_snapshot() == {"s2": {"glitch_frames.late": 50}}
    assert stats.counters == {"glitch_frames.underrun": 3, "glitch_frames.late": 50}


def test_liveness_and_ping_schedule() -> None:
    peer = PeerLiveness(timeout_s=1.0, last_seen=100.0)
    assert not peer.expired(100.9) and peer.expired(101.1)
    peer.seen(101.0)
    assert peer.silent_for(101.5) == pytest.approx(0.5)
    pings = PingSchedule(interval_s=0.5)
    assert pings.due(0.0) and pings.next_token(0.0) == 1
    assert not pings.due(0.4) and pings.due(0.5) and pings.next_token(0.5) == 2


def test_a_pong_answers_only_one_of_the_last_tokens_sent() -> None:
    pings = PingSchedule(interval_s=0.5, remember=3)
    assert not pings.answers(0) and not pings.answers(1)  # nothing sent yet
    tokens = [pings.next_token(0.5 * i) for i in range(5)]
    assert tokens == [1, 2, 3, 4, 5]
    assert [pings.answers(t) for t in range(7)] == [False, False, False, True, True, True,
                                                    False]
    one = PingSchedule(interval_s=1.0, remember=0)  # still keeps the last token
    assert one.answers(one.next_token(0.0)) and one.answers(one.next_token(1.0))
    assert not one.answers(1)


def test_latency_ring_keeps_the_last_samples_and_percentiles() -> None:
    rec = LatencyRecorder(capacity=4)
    for us in (1, 2, 3, 4, 5, 6):
        rec.record_ns(us * 1000)
    assert sorted(rec.samples()) == [3, 4, 5, 6] and len(rec) == 4
    p = percentiles(list(range(1, 1001)))
    assert p["n"] == 1000 and p["max_ms"] == 1.0
    assert p["p50_ms"] == pytest.approx(0.5005) and p["p99_ms"] == pytest.approx(0.99001)
    assert percentiles([])["n"] == 0


# -- batches: what a stage sends one hop in a wake-up travels as one message -------------


def test_a_batch_round_trips_every_message_in_order() -> None:
    stats = StageStats()
    assert decode_data_batch([data_encoder.encode(DATA)], stats) == DATA
    assert not stats.counters


@pytest.mark.parametrize("msg", DATA, ids=lambda m: type(m).__name__)
def test_a_lone_message_still_passes_the_batch_boundary(msg: msgspec.Struct) -> None:
    stats = StageStats()
    assert decode_data_batch([data_encoder.encode(msg)], stats) == [msg]
    assert not stats.counters


def test_a_bad_message_in_a_batch_costs_only_itself() -> None:
    bad = [CaptureFrame("s1", 1, 48000, 2, PCM[:-2], 0), AgentAudio("", "i", 0, 0, 24000, PCM, 0)]
    wire = data_encoder.encode([DATA[0], bad[0], DATA[1], bad[1], DATA[2]])
    stats = StageStats()
    assert decode_data_batch([wire], stats) == DATA[:3]
    assert stats.counters == {"frames_dropped.pcm_length": 1, "frames_dropped.session_id": 1}
    # Bytes that are no message at all, inside a batch: that element only.
    raw = b"\x93" + data_encoder.encode(DATA[0]) + b"\x92\xa2zz\x01" + data_encoder.encode(DATA[1])
    stats = StageStats()
    assert decode_data_batch([raw], stats) == DATA[:2]
    assert stats.counters == {"frames_dropped.decode": 1}


@pytest.mark.parametrize(("parts", "reason"), [
    ([b"\xc1"], "decode"), ([b""], "decode"), ([b"\x93\xa2zz\x01\x02"], "decode"),
    ([data_encoder.encode(DATA), b"x"], "parts"),
])
def test_what_is_no_batch_is_dropped_once(parts: list[bytes], reason: str) -> None:
    stats = StageStats()
    assert decode_data_batch(parts, stats) == []
    assert stats.counters == {f"frames_dropped.{reason}": 1}


def test_events_travel_in_batches_too() -> None:
    evs = [StageEvent("s1", "playout", i, AgentStartedSpeaking(f"item_{i}", 480, 2.5), 1.5,
                      "playout") for i in range(3)]
    stats = StageStats()
    assert decode_event_batch([event_encoder.encode(evs)], stats) == evs
    assert decode_event_batch([event_encoder.encode(evs[0])], stats) == evs[:1]
    assert decode_event_batch([b"\xc1"], stats) == []
    assert stats.counters == {"events_dropped.decode": 1}


@contextlib.contextmanager
def hop(hwm: int) -> Iterator[tuple[zmq.Socket[bytes], zmq.Socket[bytes]]]:
    """An inproc PUSH -> PULL pair whose pipe holds ``hwm`` messages each side."""
    ctx = zmq.Context()
    pull, push = ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH)
    try:
        push.setsockopt(zmq.SNDHWM, hwm)
        pull.setsockopt(zmq.RCVHWM, hwm)
        pull.bind("inproc://outbox")
        push.connect("inproc://outbox")
        yield push, pull
    finally:
        pull.close(linger=0)
        push.close(linger=0)
        ctx.term()


def test_an_outbox_sends_what_a_wake_up_queued_in_batches_under_the_cap() -> None:
    with hop(1000) as (push, pull):
        stats = StageStats()
        box = Outbox(push, "dsp", stats)
        # Three batches' worth: the flush halves it until each part is under the cap.
        count = 3 * BATCH_MAX_BYTES // len(PCM)
        frames = [CaptureFrame(f"s{i}", i, 48000, 1, PCM, 0) for i in range(count)]
        assert all(box.add(f) for f in frames)
        box.flush()
        got: list[DataMsg] = []
        while len(got) < count:
            wire = pull.recv()
            assert len(wire) <= BATCH_MAX_BYTES
            got += decode_data_batch([wire], stats)
        assert got == frames and dict(stats.counters) == {"batches_sent.dsp": 4}


@pytest.mark.timeout(30)
def test_an_outbox_refuses_while_its_hop_is_full() -> None:
    with hop(1) as (push, pull):
        stats = StageStats()
        box = Outbox(push, "dsp", stats)
        frame = CaptureFrame("s1", 1, 48000, 1, PCM, 0)
        # Nobody reads: the pipe fills, a batch is dropped and counted, and the box
        # refuses (the sender keeps its frame) until the peer drains.
        for _ in range(20):
            box.add(frame)
            box.flush()
        assert stats.counters["send_dropped.dsp"] >= 1
        refused = stats.counters["send_refused.dsp"]
        assert not box.add(frame) and stats.counters["send_refused.dsp"] == refused + 1
        while pull.poll(100):
            pull.recv()
        box.flush()
        assert box.add(frame)
