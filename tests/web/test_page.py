"""The call page alone, against an aiortc stub (no voxpipe): it shows the records the
data channel brings, plays and records the received audio, and says clearly when the
microphone is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.web.analysis import as_heard, find, piecewise_corr
from tests.web.conftest import Caller
from tests.web.speech import compose
from tests.web.stub_server import STUB_RECORDS, StubServer


@pytest.fixture(scope="module")
def stub() -> Iterator[StubServer]:
    s = StubServer()
    yield s
    s.close()


def test_page_shows_the_channel_records_and_records_the_call(stub: StubServer,
                                                             caller: Caller) -> None:
    speech = compose([(0, 1.0), (2, 3.5)], 6.5)
    name, browser = caller.start(stub.origin, speech, seconds=6)
    result = caller.result(name, browser, 60)

    finals = [(r["type"], r["text"]) for r in STUB_RECORDS if r.get("final")]
    shown = [("user_transcription" if t["who"] == "user" else "agent_transcription", t["text"])
             for t in result.meta["transcript"]]
    assert shown == finals
    assert [line["text"] for line in result.meta["shown"]] == [text for _, text in finals]
    assert result.meta["states"][-3:] == ["listening", "speaking", "listening"]
    assert result.meta["errors"] == []
    assert "connected" in result.meta["connection"]
    assert result.meta["peaks"]["mic"] > 0.4 and result.meta["peaks"]["agent"] > 0.4  # meters
    # The stub sends the microphone straight back: the second turn (the connection has
    # settled by then) is in the received audio, as a waveform.
    rate = result.rate
    assert rate == 48_000
    at, heard = as_heard(speech.turn_audio(1), result.mic, rate)
    echoed = find(heard, result.received, rate, start=at)
    assert piecewise_corr(heard, result.received, echoed.at, rate) > 0.8, echoed


def test_refused_microphone_is_said_plainly(stub: StubServer, caller: Caller) -> None:
    name, browser = caller.start(stub.origin, compose([], 1.0), seconds=5,
                                 deny_microphone=True)
    result = caller.result(name, browser, 30)
    assert result.meta["errors"], result.meta
    assert "Microphone access was refused" in result.meta["errors"][0]
    assert result.meta["pc_id"] == ""  # no offer was made
