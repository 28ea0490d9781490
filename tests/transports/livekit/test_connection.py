"""The LiveKit edge connection on a duck-typed room (the room's events need a server)
with the SDK's real audio objects: linking (given identity, first remote, next to
join), the microphone read through ``rtc.AudioStream``, unpublish/republish, room
reconnects, the session's end, the agent's voice, and its notes in the room."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from livekit import rtc

from ipc.schema import (
    AgentTranscription,
    InputEnded,
    LiveKitTransport,
    ParticipantAttributes,
    ParticipantLeft,
    ParticipantLinked,
    SessionConfig,
    SessionEvent,
    Transcription,
    UserTranscription,
    record_line,
)
from pipeline.transports.base import AudioFormat
from pipeline.transports.livekit.connection import LiveKitConnection
from tests.transports.livekit.duck_room import CallerMic, DuckRoom

URL, TOKEN = "ws://127.0.0.1:7880", "t0k3n"


def _signal(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    signal: np.ndarray = (rng.integers(500, 16000, n) * rng.choice([-1, 1], n)).astype(np.int16)
    return signal


class Call:
    """One connection on a duck room, and what it emitted."""

    def __init__(self, identity: str | None = None) -> None:
        self.room = DuckRoom()
        self.events: list[SessionEvent] = []
        cfg = SessionConfig("s-lk", time.monotonic_ns(), "/tmp/unused",
                            LiveKitTransport(url=URL, token=TOKEN,
                                             participant_identity=identity))
        self.conn = LiveKitConnection(cfg, self.events.append, room_factory=lambda: self.room)
        self.ended = False

    async def heard(self, voiced: int, timeout_s: float = 3.0) -> np.ndarray:
        """The caller audio the edge received, silence left out, until ``voiced``
        samples came, the input ended or nothing more came for a while."""
        out: list[np.ndarray] = []
        total = 0
        deadline = time.monotonic() + timeout_s
        while total < voiced and time.monotonic() < deadline:
            try:
                chunk = await asyncio.wait_for(self.conn.receive(), 0.3)
            except TimeoutError:
                continue
            if chunk == b"":
                self.ended = True
                break
            block = np.frombuffer(chunk, dtype=np.int16)
            out.append(block[block != 0])
            total += len(out[-1])
        return np.concatenate(out) if out else np.zeros(0, np.int16)

    def linked(self) -> list[str]:
        return [e.identity for e in self.events if isinstance(e, ParticipantLinked)]

    def left(self) -> list[ParticipantLeft]:
        return [e for e in self.events if isinstance(e, ParticipantLeft)]


def _run(body: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(body(), 30))


def test_open_joins_publishes_the_voice_and_links_the_given_identity() -> None:
    async def main() -> None:
        call = Call("alice")
        bob_mic, alice_mic = CallerMic(), CallerMic()
        bob = call.room.add("bob", bob_mic)
        alice = call.room.add("alice", alice_mic)
        assert await call.conn.open() == AudioFormat(48000, 1)
        assert call.room.connected_with is not None
        url, token, options = call.room.connected_with
        assert (url, token, options.auto_subscribe) == (URL, TOKEN, False)
        track, publish = call.room.local_participant.published[0]
        assert track is call.conn.voice.track and track.name == "assistant_voice"
        assert publish.source == rtc.TrackSource.SOURCE_MICROPHONE
        assert call.linked() == ["alice"]
        assert [p.subscribed for p in alice.track_publications.values()] == [True]
        assert [p.subscribe_calls for p in bob.track_publications.values()] == [0]
        said = _signal(4800, seed=3)
        await asyncio.gather(alice_mic.say(said), bob_mic.say(_signal(4800, seed=4)))
        assert np.array_equal(await call.heard(len(said)), said)
        await call.conn.close()

    _run(main)


def test_without_an_identity_the_first_remote_participant_is_linked() -> None:
    async def main() -> None:
        call = Call()
        call.room.add("bob", CallerMic())
        call.room.add("carol", CallerMic())
        await call.conn.open()
        assert call.linked() == ["bob"]
        await call.conn.close()

    _run(main)


def test_in_an_empty_room_the_next_to_join_is_linked_and_no_one_after() -> None:
    async def main() -> None:
        call = Call()
        await call.conn.open()
        assert call.linked() == []
        carol_mic = CallerMic()
        call.room.join("carol", carol_mic)
        dave = call.room.join("dave", CallerMic())
        assert call.linked() == ["carol"]
        assert [p.subscribed for p in dave.track_publications.values()] == [False]
        said = _signal(2400, seed=5)
        await carol_mic.say(said)
        assert np.array_equal(await call.heard(len(said)), said)
        await call.conn.close()

    _run(main)


def test_a_given_identity_waits_for_that_participant() -> None:
    async def main() -> None:
        call = Call("alice")
        await call.conn.open()
        bob = call.room.join("bob", CallerMic())
        assert call.linked() == []
        assert [p.subscribed for p in bob.track_publications.values()] == [False]
        call.room.join("alice", CallerMic())
        assert call.linked() == ["alice"]
        await call.conn.close()

    _run(main)


def test_a_republished_microphone_is_read_again() -> None:
    async def main() -> None:
        call = Call()
        first, second = CallerMic(), CallerMic()
        alice = call.room.add("alice", first)
        await call.conn.open()
        call.room.unpublish(alice, next(iter(alice.track_publications.values())))
        await first.say(_signal(2400, seed=6))  # an unpublished track: not heard
        call.room.publish(alice, second)
        said = _signal(2400, seed=7)
        await second.say(said)
        assert np.array_equal(await call.heard(len(said)), said)
        assert call.conn.tracks_read == 2
        assert not call.ended
        await call.conn.close()

    _run(main)


def test_a_room_reconnect_reads_the_renewed_track_and_the_session_goes_on() -> None:
    async def main() -> None:
        call = Call()
        first, renewed = CallerMic(), CallerMic()
        alice = call.room.add("alice", first)
        await call.conn.open()
        call.room.emit("reconnecting")
        pub = next(iter(alice.track_publications.values()))
        pub.mic, pub.track = renewed, renewed.track  # the server's new track for it
        call.room.emit("reconnected")
        said = _signal(2400, seed=8)
        await asyncio.gather(first.say(_signal(2400, seed=9)), renewed.say(said))
        assert np.array_equal(await call.heard(len(said)), said)
        assert (call.conn.link.reconnects, call.conn.tracks_read, call.left()) == (1, 2, [])
        await call.conn.close()

    _run(main)


def test_the_linked_participant_leaving_ends_the_input() -> None:
    async def main() -> None:
        call = Call()
        call.room.add("alice", CallerMic())
        call.room.add("bob", CallerMic())
        await call.conn.open()
        call.room.leave("bob")
        assert call.left() == []
        call.room.leave("alice")
        await call.heard(10**9)
        assert call.ended
        assert call.left() == [ParticipantLeft("alice", "participant 'alice' left")]
        await call.conn.close()
        assert len(call.left()) == 1

    _run(main)


def test_a_room_disconnect_ends_the_input_and_close_leaves_quietly() -> None:
    async def main() -> None:
        dropped, closed = Call(), Call()
        for call in (dropped, closed):
            call.room.add("alice", CallerMic())
            await call.conn.open()
        dropped.room.emit("disconnected", "SIGNAL_CLOSE")
        await dropped.heard(10**9)
        assert dropped.ended
        assert [e.reason for e in dropped.left()] == ["room disconnected (SIGNAL_CLOSE)"]
        await closed.conn.close()
        assert (closed.room.disconnects, closed.left()) == (1, [])
        await dropped.conn.close()

    _run(main)


def test_the_agents_frames_go_out_on_the_voice_track_and_flush_empties_it() -> None:
    async def main() -> None:
        call = Call()
        await call.conn.open()
        stream = rtc.AudioStream.from_track(track=call.room.local_participant.published[0][0],
                                            sample_rate=24000, num_channels=1)
        heard: list[np.ndarray] = []

        async def read() -> None:
            async for event in stream:
                block = np.frombuffer(event.frame.data, dtype=np.int16)
                heard.append(block[block != 0])

        reader = asyncio.create_task(read())
        said = _signal(480 * 10, seed=10)
        for seq in range(10):
            await call.conn.send(seq, 24000, said[seq * 480:(seq + 1) * 480].tobytes())
            await asyncio.sleep(0.02)
        for _ in range(200):  # until the reader has had all of it (a loaded machine is slow)
            if sum(map(len, heard)) >= len(said):
                break
            await asyncio.sleep(0.02)
        for seq in range(10, 20):
            await call.conn.send(seq, 24000, said[:480].tobytes())
        await call.conn.flush()
        reader.cancel()
        await stream.aclose()
        assert np.array_equal(np.concatenate(heard)[:len(said)], said)
        assert call.conn.voice.queued_samples() == 0
        assert call.conn.counters()["voice_samples_flushed"] > 0
        await call.conn.close()

    _run(main)


def test_notes_become_attributes_and_transcriptions_on_the_right_tracks() -> None:
    async def main() -> None:
        call = Call()
        alice = call.room.add("alice", CallerMic())
        mic_sid = next(iter(alice.track_publications))
        call.conn.deliver(record_line("s-lk", ParticipantAttributes({"lk.agent.state":
                                                                     "listening"}), 1.0, "agent"))
        call.conn.deliver({"type": "participant_attributes", "attributes": 5})  # malformed
        call.conn.deliver(record_line("s-lk", InputEnded(3), 1.0, "edge"))  # not for the room
        await call.conn.open()
        notes: list[SessionEvent] = [
            UserTranscription("what's the", False), UserTranscription("what's the time", True),
            UserTranscription("and", False),
            AgentTranscription("SG_a1", "item1", "It is", False, 2),
            Transcription("agent-1", "SG_a2", "noon", True),
        ]
        for note in notes:
            call.conn.deliver(record_line("s-lk", note, 2.0, "agent"))
        local = call.room.local_participant
        for _ in range(100):
            if len(local.transcriptions) == len(notes):
                break
            await asyncio.sleep(0.01)
        assert local.attributes == [{"lk.agent.state": "listening"}]
        got = [(t.participant_identity, t.track_sid, t.segments[0].text, t.segments[0].final)
               for t in local.transcriptions]
        assert got == [("alice", mic_sid, "what's the", False),
                       ("alice", mic_sid, "what's the time", True),
                       ("alice", mic_sid, "and", False),
                       ("agent-1", "TR_agentvoice", "It is", False),
                       ("agent-1", "TR_agentvoice", "noon", True)]
        ids = [t.segments[0].id for t in local.transcriptions]
        assert ids[0] == ids[1] != ids[2] and ids[3:] == ["SG_a1", "SG_a2"]
        counters = call.conn.counters()
        assert (counters["notes_published"], counters["notes_dropped"]) == (len(notes) + 1, 1)
        await call.conn.close()

    _run(main)
