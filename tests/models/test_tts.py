"""Offline TTS (eSpeak NG): audio that sounds like speech, word marks on the words' onsets."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from native.resample import resample_s16
from pipeline.model_server.speech.espeak_lib import RawSpeech, open_espeak
from pipeline.model_server.speech.tts import (
    SAMPLE_RATE,
    VOICES,
    SpokenSentence,
    Synthesizer,
    get_synthesizer,
    split_sentences,
)

SENTENCE = "It is sunny in Paris today, with a light breeze."
COUNTING = "One, two, three, four, five."
FRAME = SAMPLE_RATE // 200  # 5 ms envelope frames
TOLERANCE = round(0.060 * SAMPLE_RATE)


def envelope_db(audio: npt.NDArray[np.int16]) -> npt.NDArray[np.float64]:
    """RMS per 5 ms frame, dBFS."""
    n = audio.size // FRAME
    frames = audio[: n * FRAME].astype(np.float64).reshape(n, FRAME)
    rms = np.sqrt(np.mean(frames**2, axis=1)) / 32768.0
    return np.asarray(20 * np.log10(rms + 1e-9), dtype=np.float64)


def onsets_after_silence(audio: npt.NDArray[np.int16]) -> list[int]:
    """Samples where sound starts after >= 30 ms below -42 dBFS (a pause between words)."""
    loud = envelope_db(audio) > -42.0
    onsets: list[int] = []
    quiet_frames = 6  # the start of the audio counts as a pause
    for i, is_loud in enumerate(loud):
        if is_loud and quiet_frames >= 6:
            onsets.append(i * FRAME)
        quiet_frames = 0 if is_loud else quiet_frames + 1
    return onsets


def near_energy_rise(env: npt.NDArray[np.float64], sample: int) -> bool:
    """A dip within ±60 ms of `sample` is followed by a >= 6 dB rise within 100 ms."""
    frame = sample // FRAME
    reach = TOLERANCE // FRAME
    lo, hi = max(frame - reach, 0), min(frame + reach + 1, env.size)
    dip = lo + int(np.argmin(env[lo:hi]))
    return bool(env[dip : dip + 20].max() - env[dip] >= 6.0)


def fundamental_hz(audio: npt.NDArray[np.int16]) -> float:
    """Median autocorrelation pitch (60-400 Hz) of the loud 40 ms frames."""
    size = round(0.040 * SAMPLE_RATE)
    lags = np.arange(SAMPLE_RATE // 400, SAMPLE_RATE // 60)
    pitches = []
    for start in range(0, audio.size - size, size):
        frame = audio[start : start + size].astype(np.float64)
        if np.sqrt(np.mean(frame**2)) < 0.03 * 32768:
            continue
        frame -= frame.mean()
        corr = np.correlate(frame, frame, mode="full")[size - 1 :]
        pitches.append(SAMPLE_RATE / lags[int(np.argmax(corr[lags]))])
    return float(np.median(pitches))


@pytest.fixture(scope="module")
def synth() -> Synthesizer:
    return get_synthesizer()


def speak_recording_raw(
    synth: Synthesizer, text: str, voice: str = "alloy"
) -> tuple[SpokenSentence, RawSpeech]:
    """`speak`, plus the 22.05 kHz eSpeak output it was made from."""
    calls: list[RawSpeech] = []
    espeak = open_espeak()
    real = espeak.synthesize

    def recording(text: str, **kwargs: Any) -> RawSpeech:
        calls.append(real(text, **kwargs))
        return calls[-1]

    espeak.synthesize = recording  # type: ignore[method-assign]
    try:
        spoken = synth.speak(text, voice)
    finally:
        del espeak.synthesize
    assert len(calls) == 1
    return spoken, calls[0]


def assert_same_speech(one: SpokenSentence, other: SpokenSentence) -> None:
    """Same sentence said the same way, up to eSpeak's carried-over state: its pitch
    flutter and glottal-cycle phase run on across calls, so timing varies by up to a
    pitch period per phoneme and no two calls give identical samples."""
    assert one.text == other.text
    assert [w.text for w in one.words] == [w.text for w in other.words]
    assert abs(one.audio.size - other.audio.size) <= 0.02 * one.audio.size
    for a, b in zip(one.words, other.words, strict=True):
        assert abs(a.start_sample - b.start_sample) <= TOLERANCE // 2, (a, b)
    rms_one, rms_other = (float(np.sqrt(np.mean(s.audio.astype(np.float64) ** 2)))
                          for s in (one, other))  # fmt: skip
    assert abs(20 * np.log10(rms_one / rms_other)) < 1.0


def test_audio_is_speech_like(synth: Synthesizer) -> None:
    spoken, raw = speak_recording_raw(synth, SENTENCE)
    audio = spoken.audio
    n_words = len(SENTENCE.split())
    assert audio.dtype == np.int16 and audio.ndim == 1
    assert 0.2 * n_words <= audio.size / SAMPLE_RATE <= 0.6 * n_words
    rms_dbfs = 20 * np.log10(np.sqrt(np.mean(audio.astype(np.float64) ** 2)) / 32768)
    assert rms_dbfs > -30.0
    assert np.count_nonzero(np.abs(audio.astype(np.int32)) >= 32767) == 0
    # 24 kHz: as long in seconds as eSpeak's own 22.05 kHz output.
    assert raw.sample_rate == 22050
    assert abs(audio.size - raw.pcm.size * SAMPLE_RATE / raw.sample_rate) <= 1


def test_resampling_keeps_espeak_timing(synth: Synthesizer) -> None:
    """The 24 kHz audio lines up with eSpeak's output, so scaled word events stay valid."""
    spoken, raw = speak_recording_raw(synth, SENTENCE)
    audio = spoken.audio.astype(np.float64)
    t_out = np.arange(audio.size) / SAMPLE_RATE
    t_raw = np.arange(raw.pcm.size) / raw.sample_rate
    reference = np.interp(t_out, t_raw, raw.pcm.astype(np.float64))
    lags = range(-24, 25)
    scores = [float(np.dot(np.roll(reference, lag), audio)) for lag in lags]
    assert lags[int(np.argmax(scores))] == 0


def test_word_marks_sit_on_word_onsets(synth: Synthesizer) -> None:
    spoken = synth.speak(COUNTING)
    onsets = onsets_after_silence(spoken.audio)
    marks = [w.start_sample for w in spoken.words]
    assert [w.text for w in spoken.words] == ["One,", "two,", "three,", "four,", "five."]
    assert len(onsets) == len(marks), (onsets, marks)
    assert all(abs(m - o) <= TOLERANCE for m, o in zip(marks, onsets, strict=True)), (
        onsets,
        marks,
    )
    # The check can fail: marks 150 ms late would not pass it.
    late = [m + round(0.150 * SAMPLE_RATE) for m in marks]
    assert not all(abs(m - o) <= TOLERANCE for m, o in zip(late, onsets, strict=True))


def test_word_marks_in_connected_speech(synth: Synthesizer) -> None:
    spoken = synth.speak(SENTENCE)
    marks = [w.start_sample for w in spoken.words]
    assert [w.text for w in spoken.words] == SENTENCE.split()
    assert " ".join(w.text for w in spoken.words) == spoken.text == SENTENCE
    assert all(a < b for a, b in itertools.pairwise(marks)), marks
    env = envelope_db(spoken.audio)
    first_audible = int(np.argmax(env > -45.0)) * FRAME
    assert abs(marks[0] - first_audible) <= TOLERANCE
    assert all(near_energy_rise(env, m) for m in marks), marks
    last_audible = (env.size - 1 - int(np.argmax(env[::-1] > -45.0))) * FRAME
    assert marks[-1] < last_audible - round(0.1 * SAMPLE_RATE)


def test_every_written_word_gets_a_mark(synth: Synthesizer) -> None:
    # eSpeak fuses "on the" into one event and says "3.5" as three words.
    spoken = synth.speak("Take the   second street on the left — 3.5 miles.")
    texts = [w.text for w in spoken.words]
    assert texts == ["Take", "the", "second", "street", "on", "the", "left —", "3.5", "miles."]
    marks = [w.start_sample for w in spoken.words]
    assert all(a < b for a, b in itertools.pairwise(marks)), marks
    assert marks[-1] < spoken.audio.size


def test_empty_sentence(synth: Synthesizer) -> None:
    spoken = synth.speak("  \n ")
    assert spoken.text == "" and spoken.audio.size == 0 and spoken.words == ()


def test_voices_differ(synth: Synthesizer) -> None:
    assert len(VOICES) == 10 and "alloy" in VOICES and "cedar" in VOICES
    female = fundamental_hz(synth.speak(SENTENCE, "shimmer").audio)
    male = fundamental_hz(synth.speak(SENTENCE, "cedar").audio)
    print(f"shimmer {female:.0f} Hz, cedar {male:.0f} Hz")
    assert female > 1.4 * male
    audios = {synth.speak("Good morning.", voice).audio.tobytes() for voice in VOICES}
    assert len(audios) == len(VOICES)


def test_unknown_voice_is_a_value_error(synth: Synthesizer) -> None:
    with pytest.raises(ValueError, match="'nova'"):
        synth.speak("Hello.", "nova")
    with pytest.raises(ValueError, match="'nova'"):
        asyncio.run(synth.speak_async("Hello.", "nova"))


def test_rate_changes_duration() -> None:
    slow = Synthesizer(rate_wpm=130).speak(SENTENCE).audio.size
    fast = Synthesizer(rate_wpm=260).speak(SENTENCE).audio.size
    assert fast < 0.7 * slow
    with pytest.raises(ValueError, match="rate_wpm"):
        Synthesizer(rate_wpm=20)


def test_concurrent_speak_matches_sequential(synth: Synthesizer) -> None:
    jobs = [(f"Sentence number {i} is spoken by {voice}.", voice)
            for i, voice in enumerate(VOICES * 2)]  # fmt: skip
    sequential = [synth.speak(text, voice) for text, voice in jobs]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        concurrent_ = list(pool.map(lambda job: synth.speak(*job), jobs))
    for one, other in zip(sequential, concurrent_, strict=True):
        assert_same_speech(one, other)
    # The comparison can fail: two different sentences are not "the same speech".
    with pytest.raises(AssertionError):
        assert_same_speech(sequential[0], concurrent_[1])


def test_speak_async_runs_in_executor(synth: Synthesizer) -> None:
    async def main() -> SpokenSentence:
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return await synth.speak_async(SENTENCE, "coral", executor=pool)

    assert_same_speech(asyncio.run(main()), synth.speak(SENTENCE, "coral"))


def test_resampler_is_voxpipes(synth: Synthesizer, monkeypatch: pytest.MonkeyPatch) -> None:
    import soxr

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("TTS must resample with native.resample, not soxr")

    monkeypatch.setattr(soxr, "resample", forbidden)
    monkeypatch.setattr(soxr, "ResampleStream", forbidden)
    spoken, raw = speak_recording_raw(synth, SENTENCE)
    expected = np.frombuffer(resample_s16(raw.pcm, raw.sample_rate, SAMPLE_RATE), np.int16)
    assert np.array_equal(spoken.audio, expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello there. It is sunny in Paris!", ["Hello there.", "It is sunny in Paris!"]),
        ("It is 3.5 degrees. Dr. Smith agrees.", ["It is 3.5 degrees.", "Dr. Smith agrees."]),
        (
            "J. R. R. Tolkien wrote it. Really? Yes!",
            ["J. R. R. Tolkien wrote it.", "Really?", "Yes!"],
        ),
        ("The U.S. Navy, e.g. its ships. Next.", ["The U.S. Navy, e.g. its ships.", "Next."]),
        ("The answer is no. Then what?", ["The answer is no.", "Then what?"]),
        ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
        ("Wait... What?", ["Wait...", "What?"]),
        ("Costs $3. Then 4.50 more.", ["Costs $3.", "Then 4.50 more."]),
        ("ends here. but goes on", ["ends here. but goes on"]),
        ("First\n\nsecond  line\nwraps", ["First", "second line wraps"]),
        ("No trailing punctuation", ["No trailing punctuation"]),
        ("", []),
        ("  \n ", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected
