"""TranscriptSync: transcript words are released only once their audio has played."""

from __future__ import annotations

import math
import random

import pytest

from pipeline.agents.multimodal.options import AgentTranscriptionOptions
from pipeline.agents.multimodal.transcript_sync import (
    STANDARD_SPEECH_RATE,
    TranscriptSegment,
    TranscriptSync,
)
from pipeline.agents.tokenize import basic

RATE = 24000
SAMPLES_PER_HYPHEN = RATE / STANDARD_SPEECH_RATE  # 6266.3 at speed 1.0


def make_sync(speed: float = 1.0, min_sentence_len: int = 20) -> TranscriptSync:
    return TranscriptSync(
        sample_rate=RATE,
        speed=speed,
        sentence_tokenizer=basic.SentenceTokenizer(min_sentence_len=min_sentence_len),
        word_tokenizer=basic.WordTokenizer(ignore_punctuation=False),
        hyphenate_word=basic.hyphenate_word,
    )


def hyphen_starts(text: str, samples_per_hyphen: float) -> list[int]:
    """Release positions of a transcript sent ahead of its audio: cumulative hyphens."""
    starts, hyphens = [], 0
    for word in text.split():
        starts.append(math.ceil(hyphens * samples_per_hyphen - 1e-6))
        hyphens += len(basic.hyphenate_word(word))
    return starts


def released(sync: TranscriptSync) -> int:
    return len(sync.played_text.split())


def test_aligned_deltas_are_released_exactly_at_their_arrival() -> None:
    # Each word's text arrives when its audio starts, and its audio lasts 7000 samples per
    # syllable (slower than the standard rate, so the hyphen estimate never overrides it).
    sync = make_sync()
    arrivals, received = [], 0
    for delta in ["Hello", " there,", " my", " friend."]:
        arrivals.append(received)
        sync.push_text(delta)
        sync.push_audio(7000 * len(basic.hyphenate_word(delta.strip())))
        received += 7000 * len(basic.hyphenate_word(delta.strip()))
    assert arrivals == [0, 14000, 21000, 28000]
    sync.mark_text_done()
    sync.mark_audio_done()
    assert sync.word_start_samples() == arrivals
    for index, position in enumerate(arrivals):
        if position:
            assert sync.advance(position - 1) == []
            assert released(sync) == index
        segments = sync.advance(position)
        assert released(sync) == index + 1
        assert [s.final for s in segments] == [False]
    assert sync.played_text == "Hello there, my friend."
    # The sentence is final once its last word has played (7000 samples of "friend.").
    assert sync.advance(34999) == []
    (final,) = sync.advance(35000)
    assert (final.text, final.final) == ("Hello there, my friend.", True)


def test_text_sent_ahead_of_audio_is_paced_by_syllables() -> None:
    text = "Let me check the weather for tomorrow in Paris."
    sync = make_sync()
    sync.push_text(text)
    sync.mark_text_done()
    sync.push_audio(10 * RATE)
    expected = hyphen_starts(text, SAMPLES_PER_HYPHEN)
    assert expected == [0, 6267, 12533, 18799, 25066, 37598, 43865, 62664, 68930]
    assert sync.word_start_samples() == expected
    for index, position in enumerate(expected):
        if position:
            sync.advance(position - 1)
            assert released(sync) == index
        sync.advance(position)
        assert released(sync) == index + 1


def test_speed_two_releases_twice_as_fast() -> None:
    text = "Let me check the weather for tomorrow in Paris."
    normal, fast = make_sync(1.0), make_sync(2.0)
    for sync in (normal, fast):
        sync.push_text(text)
        sync.mark_text_done()
        sync.push_audio(10 * RATE)
    assert fast.word_start_samples() == hyphen_starts(text, SAMPLES_PER_HYPHEN / 2)
    assert fast.word_start_samples() == [0, 3134, 6267, 9400, 12533, 18799, 21933, 31332, 34465]
    for played in range(0, 70000, 1000):
        normal.advance(played)
        fast.advance(played // 2)
        assert released(fast) == released(normal)


def test_rescaled_to_the_real_rate_once_everything_is_known() -> None:
    text = "Let me check the weather for tomorrow in Paris."  # 13 syllables
    sync = make_sync()
    sync.push_text(text)
    sync.mark_text_done()
    sync.push_audio(52000)
    sync.mark_audio_done()
    # 52000 samples for 13 syllables: 4000 per syllable; the last word ends at the end.
    assert sync.word_start_samples() == [0, 4000, 8000, 12000, 16000, 24000, 28000, 40000, 44000]
    segments = sync.advance(44000)
    assert segments == [TranscriptSegment(segments[0].id, "Let me check the weather for "
                                          "tomorrow in Paris", False)]
    assert sync.advance(51999) == []
    assert [s.final for s in sync.advance(52000)] == [True]
    assert sync.complete


def test_one_final_per_sentence_and_interims_in_between() -> None:
    sync = make_sync()
    sync.push_text("Hello there, my friend. How are you doing today? Fine.")
    sync.mark_text_done()
    sync.push_audio(20 * RATE)
    published: list[TranscriptSegment] = []
    for played in range(0, 20 * RATE, 2400):
        published.extend(sync.advance(played))
    first, second, third = (
        [s for s in published if s.id == published[0].id],
        [s for s in published if s.text.startswith("How")],
        [s for s in published if s.text.startswith("Fine")],
    )
    assert [(s.text, s.final) for s in first] == [
        ("Hello", False), ("Hello there", False), ("Hello there, my", False),
        ("Hello there, my friend", False), ("Hello there, my friend.", True),
    ]
    assert [(s.text, s.final) for s in second] == [
        ("How", False), ("How are", False), ("How are you", False), ("How are you doing", False),
        ("How are you doing today", False), ("How are you doing today?", True),
    ]
    # Final once its estimated end (one syllable after its start) has played.
    assert [(s.text, s.final) for s in third] == [("Fine", False), ("Fine.", True)]
    assert len({first[0].id, second[0].id, third[0].id}) == 3
    assert {s.id for s in second} == {second[0].id} and {s.id for s in third} == {third[0].id}
    assert not sync.complete  # more audio may come
    sync.mark_audio_done()
    assert sync.advance(20 * RATE) == []
    assert sync.complete


def test_sentence_is_not_final_while_more_text_may_join_it() -> None:
    sync = make_sync(min_sentence_len=0)
    sync.push_text("It costs 3.")
    sync.push_audio(5 * RATE)
    segments = sync.advance(5 * RATE)
    assert [(s.text, s.final) for s in segments] == [("It costs", False)]  # "3." may go on
    sync.push_text("5 dollars. Okay")
    sync.push_audio(5 * RATE)
    segments = sync.advance(10 * RATE)
    assert [(s.text, s.final) for s in segments] == [("It costs 3.5 dollars.", True)]
    assert sync.played_text == "It costs 3.5 dollars."  # "Okay" may still grow


def test_interruption_mid_sentence_keeps_exactly_the_released_words() -> None:
    sync = make_sync()
    sync.push_text("I can book a table for four people tonight. Shall I?")
    sync.push_audio(3 * RATE)
    starts = sync.word_start_samples()
    segments = sync.advance(starts[4])  # "a"... "table" has just started playing
    assert sync.played_text == "I can book a table"
    assert [(s.text, s.final) for s in segments] == [("I can book a table", False)]
    # The user barges in: nothing more is played, nothing more is released.
    assert sync.advance(starts[4]) == []
    assert sync.advance(starts[4] - 100) == []  # a stale progress report changes nothing
    assert sync.played_text == "I can book a table"
    assert not sync.complete


def test_words_are_never_released_before_their_position() -> None:
    rng = random.Random(7)
    print("seed 7")
    text = ("Sure! I found three flights to Lisbon on Friday. The cheapest one leaves at "
            "9.30 a.m. and costs 120 euros... Should I book it for you?")
    for mode in ("ahead", "aligned", "mixed"):
        sync = make_sync()
        tokens = text.split(" ")
        deltas = [t if i == 0 else " " + t for i, t in enumerate(tokens)]
        received = 0
        for delta in deltas:
            if mode == "aligned" or (mode == "mixed" and rng.random() < 0.5):
                chunk = rng.randrange(0, 12000)
                sync.push_audio(chunk)
                received += chunk
            sync.push_text(delta)
        tail = rng.randrange(0, 24000)
        sync.push_audio(tail)
        received += tail
        sync.mark_text_done()
        played, seen = 0, 0
        while played < received:
            played = min(received, played + rng.randrange(1, 3000))
            if played == received:
                sync.mark_audio_done()
            sync.advance(played)
            starts = sync.word_start_samples()
            now = released(sync)
            assert all(starts[i] <= played for i in range(seen, now)), (mode, played)
            seen = now
        assert sync.complete, mode
        assert sync.played_text == text


def test_incomplete_words_wait_for_their_end() -> None:
    sync = make_sync()
    sync.push_text("Hel")
    sync.push_audio(5000)
    sync.push_text("lo wor")
    assert sync.word_start_samples() == [0]  # "wor" may continue
    sync.advance(5000)
    assert sync.played_text == "Hello"
    sync.push_text("ld")
    sync.mark_text_done()
    # "world" arrived with the "lo wor" delta, at 5000; "Hello" needs 2 x 6266.3.
    assert sync.word_start_samples() == [0, 12533]


def test_zero_length_audio_releases_everything_at_once() -> None:
    sync = make_sync()
    sync.push_text("No audio came for this one. It is text only.")
    sync.mark_text_done()
    sync.mark_audio_done()
    segments = sync.advance(0)
    assert [(s.text, s.final) for s in segments] == [
        ("No audio came for this one.", True), ("It is text only.", True),
    ]
    assert sync.played_text == "No audio came for this one. It is text only."
    assert sync.complete

    empty = make_sync()
    empty.mark_text_done()
    empty.mark_audio_done()
    assert empty.advance(0) == [] and empty.played_text == "" and empty.complete


@pytest.mark.parametrize("speed", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_speed_is_refused(speed: float) -> None:
    with pytest.raises(ValueError, match="agent_transcription_speed"):
        make_sync(speed)
    with pytest.raises(ValueError, match="agent_transcription_speed"):
        AgentTranscriptionOptions(agent_transcription_speed=speed)


def test_bad_counts_are_refused() -> None:
    sync = make_sync()
    with pytest.raises(ValueError, match="samples"):
        sync.push_audio(-1)
    with pytest.raises(ValueError, match="played_samples"):
        sync.advance(-1)


def test_options_defaults_match_livekit() -> None:
    opts = AgentTranscriptionOptions()
    assert (opts.user_transcription, opts.agent_transcription) == (True, True)
    assert opts.agent_transcription_speed == 1.0
    assert isinstance(opts.sentence_tokenizer, basic.SentenceTokenizer)
    assert isinstance(opts.word_tokenizer, basic.WordTokenizer)
    assert opts.word_tokenizer.ignore_punctuation is False
    assert opts.hyphenate_word is basic.hyphenate_word
    with pytest.raises(AttributeError):
        opts.agent_transcription_speed = 2.0  # type: ignore[misc]
