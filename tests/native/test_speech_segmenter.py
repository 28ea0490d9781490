"""native.vad.SpeechSegmenter on its own: each transition, asserting the whole state."""

from __future__ import annotations

import pytest

from native.vad import SPEECH_NONE, SPEECH_START, SPEECH_STOP, STATE_NAMES, SpeechSegmenter

FRAME = 240


def _state(seg: SpeechSegmenter) -> tuple[str, bool, int, int, int]:
    return (STATE_NAMES[seg.state], seg.speaking, seg.last_event, seg.event_sample,
            seg.samples_seen)


def _segmenter(**kwargs: int) -> SpeechSegmenter:
    args = {"min_speech_samples": 3 * FRAME, "min_silence_samples": 5 * FRAME,
            "padding_samples": 4 * FRAME, **kwargs}
    return SpeechSegmenter(FRAME, **args)


def _feed(seg: SpeechSegmenter, decisions: str) -> list[int]:
    return [seg.advance(d == "1") for d in decisions]


def test_starts_after_min_speech_dated_at_the_onset() -> None:
    seg = _segmenter()
    assert _feed(seg, "00") == [SPEECH_NONE] * 2
    assert seg.advance(True, onset=100) == SPEECH_NONE
    assert _state(seg) == ("starting", False, SPEECH_NONE, 0, 3 * FRAME)
    assert _feed(seg, "11") == [SPEECH_NONE, SPEECH_NONE]
    # The onset was 2 frames + 100 samples in; 3 frames from it end inside the 6th frame.
    assert seg.advance(True) == SPEECH_START
    onset = 2 * FRAME + 100
    assert _state(seg) == ("speaking", True, SPEECH_START, onset, 6 * FRAME)
    assert seg.padded_start_sample == 0  # the padding reaches before the stream's start


def test_a_blip_shorter_than_min_speech_goes_back_to_quiet() -> None:
    seg = _segmenter()
    assert _feed(seg, "110111") == [SPEECH_NONE] * 5 + [SPEECH_START]
    assert _state(seg) == ("speaking", True, SPEECH_START, 3 * FRAME, 6 * FRAME)
    assert seg.padded_start_sample == 0


def test_stops_after_min_silence_dated_at_the_end_of_speech() -> None:
    seg = _segmenter()
    _feed(seg, "00000111")
    assert seg.padded_start_sample == FRAME
    assert _feed(seg, "0001") == [SPEECH_NONE] * 4  # a pause shorter than min silence
    assert _state(seg) == ("speaking", True, SPEECH_NONE, 5 * FRAME, 12 * FRAME)
    assert _feed(seg, "0000") == [SPEECH_NONE] * 4
    assert _state(seg) == ("stopping", True, SPEECH_NONE, 5 * FRAME, 16 * FRAME)
    assert seg.advance(False) == SPEECH_STOP
    assert _state(seg) == ("quiet", False, SPEECH_STOP, 12 * FRAME, 17 * FRAME)


def test_zero_min_silence_stops_on_the_first_quiet_frame() -> None:
    seg = _segmenter(min_speech_samples=0, min_silence_samples=0)
    assert _feed(seg, "10") == [SPEECH_START, SPEECH_STOP]
    assert _state(seg) == ("quiet", False, SPEECH_STOP, FRAME, 2 * FRAME)


def test_reset_forgets_the_turn_and_keeps_the_clock() -> None:
    seg = _segmenter()
    _feed(seg, "1111")
    seg.reset()
    assert _state(seg) == ("quiet", False, SPEECH_NONE, 0, 4 * FRAME)
    assert _feed(seg, "111") == [SPEECH_NONE, SPEECH_NONE, SPEECH_START]
    assert seg.event_sample == 4 * FRAME


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"frame_samples": 0}, "frame_samples"),
        ({"min_speech_samples": -1}, "min_speech_samples"),
        ({"min_silence_samples": -1}, "min_silence_samples"),
        ({"padding_samples": -1}, "padding_samples"),
    ],
)
def test_constructor_validates_each_argument(kwargs: dict[str, int], name: str) -> None:
    args = {"frame_samples": FRAME, "min_speech_samples": 0, "min_silence_samples": 0, **kwargs}
    with pytest.raises(ValueError, match=name):
        SpeechSegmenter(args.pop("frame_samples"), **args)


def test_onset_outside_the_frame_is_refused_and_changes_nothing() -> None:
    seg = _segmenter()
    for onset in (-1, FRAME):
        with pytest.raises(ValueError, match="onset"):
            seg.advance(True, onset)
    assert _state(seg) == ("quiet", False, SPEECH_NONE, 0, 0)
