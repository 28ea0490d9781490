"""eSpeak NG, in process, through ctypes: text in, 22.05 kHz pcm16 and word events out.

The library comes from the `espeakng-loader` wheel, which ships libespeak-ng and
its voice data, so nothing is installed system-wide and nothing is downloaded at
run time. A system libespeak-ng (Debian's `libespeak-ng1`) is the fallback.

libespeak-ng keeps all synthesis state in globals (voice, parameters, the
callback), so a process has exactly one `EspeakLibrary` (`open_espeak`) and it
runs one synthesis at a time under a lock. ctypes drops the GIL for the C call
and takes it back only for our callback, so other Python threads keep running.

Some of that state is never reset (the pitch-flutter index, the glottal-cycle
phase), so the same text comes out slightly different on every call: up to a
pitch period of timing per phoneme. There is no API to reset it short of a new
process; nothing here relies on bit-identical output.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# speak_lib.h (API revision 12) values we use.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # without it a missing data dir calls exit() in the C library
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000  # keep the sentence-final pause so consecutive sentences don't run together
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_PARAM_RATE = 1
_PARAM_PITCH = 3
_PARAM_RANGE = 4
_EE_OK = 0
_EE_NOT_FOUND = 2
# Longer callback buffers mean fewer GIL round trips per sentence (the default is 60 ms).
_CALLBACK_BUFFER_MS = 500

RATE_WPM_MIN = 80
RATE_WPM_MAX = 450


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based, in characters (code points for UTF-8)
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # ms, truncated: too coarse, we use `sample`
        ("sample", ctypes.c_int),  # samples from the start of this espeak_Synth call
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class WordEvent:
    """eSpeak started speaking a word."""

    char_offset: int
    """0-based code-point offset of the word in the synthesized text."""
    sample: int
    """Sample index, at `EspeakLibrary.sample_rate`, where the word's sound starts."""


@dataclass(frozen=True)
class RawSpeech:
    """One `espeak_Synth` call's output at the library's own rate."""

    pcm: npt.NDArray[np.int16]
    sample_rate: int
    words: tuple[WordEvent, ...]


def _library_location() -> tuple[str, bytes | None]:
    """The libespeak-ng to load and its data dir (None: the library's built-in default)."""
    try:
        import espeakng_loader  # type: ignore[import-untyped]
    except ImportError:
        system_lib = ctypes.util.find_library("espeak-ng")
        if system_lib is None:
            raise RuntimeError(
                "eSpeak NG not found: install the espeakng-loader wheel (or libespeak-ng1)"
            ) from None
        return system_lib, None
    return str(espeakng_loader.get_library_path()), str(espeakng_loader.get_data_path()).encode()


class EspeakLibrary:
    """The process's libespeak-ng; use `open_espeak()` rather than building one."""

    def __init__(self) -> None:
        library_path, data_path = _library_location()
        lib = ctypes.CDLL(library_path)
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
        ]  # fmt: skip
        lib.espeak_Synth.restype = ctypes.c_int
        sample_rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, _CALLBACK_BUFFER_MS, data_path, _INITIALIZE_DONT_EXIT
        )
        if sample_rate <= 0:
            raise RuntimeError(f"espeak_Initialize failed ({sample_rate}) with data {data_path!r}")
        self.library_path = library_path
        self.sample_rate: int = sample_rate
        self._lib = lib
        self._lock = threading.Lock()
        self._chunks: list[bytes] = []
        self._words: list[WordEvent] = []
        # Kept on self: the C library holds only a raw pointer to the trampoline.
        self._callback = _SynthCallback(self._on_synth)
        lib.espeak_SetSynthCallback(self._callback)

    def _on_synth(
        self, wav: ctypes._Pointer[ctypes.c_short], n_samples: int, events: ctypes.Array[_Event]
    ) -> int:
        if wav and n_samples > 0:
            self._chunks.append(ctypes.string_at(wav, n_samples * 2))
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            event = events[i]
            if event.type == _EVENT_WORD:
                self._words.append(WordEvent(event.text_position - 1, event.sample))
            i += 1
        return 0  # 0 = go on synthesizing

    def synthesize(
        self, text: str, *, voice: str, rate_wpm: int, pitch: int, pitch_range: int
    ) -> RawSpeech:
        """Speak `text` (plain text, not SSML) with an espeak voice name like ``en-us+f3``.

        `pitch` and `pitch_range` are espeak's 0-100 scales (50 = the voice's normal).
        Raises ValueError for a voice espeak does not have; blocks for the synthesis.
        """
        if not RATE_WPM_MIN <= rate_wpm <= RATE_WPM_MAX:
            raise ValueError(f"rate_wpm {rate_wpm} outside {RATE_WPM_MIN}-{RATE_WPM_MAX}")
        encoded = text.replace("\0", " ").encode("utf-8") + b"\0"
        with self._lock:
            status = self._lib.espeak_SetVoiceByName(voice.encode("utf-8"))
            if status == _EE_NOT_FOUND:
                raise ValueError(f"eSpeak has no voice {voice!r}")
            self._check(status, f"espeak_SetVoiceByName({voice!r})")
            # Set after the voice: parameters are global and the last call may have changed them.
            for param, value in ((_PARAM_RATE, rate_wpm), (_PARAM_PITCH, pitch),
                                 (_PARAM_RANGE, pitch_range)):  # fmt: skip
                self._check(self._lib.espeak_SetParameter(param, value, 0), "espeak_SetParameter")
            self._chunks.clear()
            self._words.clear()
            try:
                status = self._lib.espeak_Synth(
                    encoded, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _ENDPAUSE,
                    None, None,
                )  # fmt: skip
                self._check(status, "espeak_Synth")
                pcm = np.frombuffer(b"".join(self._chunks), dtype=np.int16)
                words = tuple(self._words)
            finally:
                self._chunks.clear()
                self._words.clear()
        return RawSpeech(pcm=pcm, sample_rate=self.sample_rate, words=words)

    @staticmethod
    def _check(status: int, call: str) -> None:
        if status != _EE_OK:
            raise RuntimeError(f"{call} failed with espeak_ERROR {status}")


_instance: EspeakLibrary | None = None
_instance_lock = threading.Lock()


def open_espeak() -> EspeakLibrary:
    """The process's one eSpeak library, loaded and initialized on first use."""
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = EspeakLibrary()
        return _instance
