"""Which audio of a turn reaches the recognizer, and when (`turn_decode`), with a fake stream."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from pipeline.model_server.speech.turn_decode import TurnDecode

SR = 24_000
CHUNK = SR // 50  # 20 ms appends


class FakeStream:
    """Records what it is fed; its transcript is one word per fed chunk."""

    def __init__(self, on_delta: Callable[[str], None]) -> None:
        self.on_delta = on_delta
        self.fed: list[int] = []
        self.finished = False
        self.cancelled = False

    def feed(self, samples: npt.NDArray[np.int16]) -> None:
        assert not self.finished
        self.fed.append(samples.size)
        self.on_delta(("" if len(self.fed) == 1 else " ") + f"w{len(self.fed)}")

    async def finish(self) -> str:
        self.finished = True
        await asyncio.sleep(0)
        return " ".join(f"w{i + 1}" for i in range(len(self.fed)))

    def cancel(self) -> None:
        self.cancelled = True


def sound(n_chunks: int) -> list[npt.NDArray[np.int16]]:
    return [np.full(CHUNK, 3000, dtype=np.int16)] * n_chunks


def quiet(n_chunks: int) -> list[npt.NDArray[np.int16]]:
    return [np.zeros(CHUNK, dtype=np.int16)] * n_chunks


def make(backlogged: bool = False) -> tuple[TurnDecode, list[FakeStream], list[str]]:
    streams: list[FakeStream] = []
    texts: list[str] = []

    def open_stream(on_delta: Callable[[str], None]) -> FakeStream:
        streams.append(FakeStream(on_delta))
        return streams[-1]

    decode = TurnDecode("item_1", events=True, open_stream=open_stream,  # type: ignore[arg-type]
                        on_text=lambda _d, text: texts.append(text),
                        backlogged=lambda: backlogged)
    return decode, streams, texts


def test_audio_reaches_the_decoder_in_sounding_steps_and_finishes_early() -> None:
    async def scenario() -> None:
        decode, streams, texts = make()
        for chunk in quiet(20):  # silence before speech is never decoded on its own
            decode.feed(chunk)
        assert streams[0].fed == []
        for chunk in sound(30):
            decode.feed(chunk)
        # Steps of >= 300 ms holding sound: the first takes the leading silence along.
        assert streams[0].fed == [21 * CHUNK, 15 * CHUNK]
        for chunk in quiet(9):
            decode.feed(chunk)
        assert streams[0].fed == [21 * CHUNK, 15 * CHUNK, 15 * CHUNK]
        assert not streams[0].finished
        decode.feed(quiet(1)[0])  # 200 ms of quiet after speech: the final decode starts
        assert streams[0].fed == [21 * CHUNK, 15 * CHUNK, 15 * CHUNK, 9 * CHUNK]
        await asyncio.sleep(0)
        assert streams[0].finished
        for chunk in quiet(20):  # the rest of the VAD's silence window changes nothing
            decode.feed(chunk)
        assert await decode.transcript() == "w1 w2 w3 w4"
        assert texts == ["w1", "w1 w2", "w1 w2 w3", "w1 w2 w3 w4"] and decode.restarts == 0
        assert decode.samples == 80 * CHUNK

    asyncio.run(scenario())


def test_speech_after_an_early_finish_restarts_from_the_whole_turn() -> None:
    async def scenario() -> None:
        decode, streams, texts = make()
        for chunk in sound(15) + quiet(10):
            decode.feed(chunk)
        await asyncio.sleep(0)
        assert streams[0].finished and streams[0].fed == [15 * CHUNK, 10 * CHUNK]
        for chunk in sound(15):  # a pause, not the end: the user goes on
            decode.feed(chunk)
        assert decode.restarts == 1 and streams[0].cancelled
        assert streams[1].fed == [25 * CHUNK, 15 * CHUNK]
        for chunk in quiet(10):
            decode.feed(chunk)
        assert await decode.transcript() == "w1 w2 w3"
        # The second stream's text is reported from the turn's start, so nothing repeats.
        assert texts == ["w1", "w1 w2", "w1", "w1 w2", "w1 w2 w3"]

    asyncio.run(scenario())


def test_a_backlogged_pool_gets_one_decode_at_the_end() -> None:
    async def scenario() -> None:
        decode, streams, _ = make(backlogged=True)
        for chunk in sound(40):
            decode.feed(chunk)
        assert streams[0].fed == []
        assert await decode.transcript() == "w1"
        assert streams[0].fed == [40 * CHUNK]

    asyncio.run(scenario())


def test_a_manual_commit_is_decoded_in_one_go() -> None:
    async def scenario() -> None:
        decode, streams, _ = make()
        decode.hold(np.ones(SR, dtype=np.int16))
        assert streams[0].fed == []
        assert await decode.transcript() == "w1" and streams[0].fed == [SR]
        assert decode.finished

    asyncio.run(scenario())
