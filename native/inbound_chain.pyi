"""Typed interface of ``native/inbound_chain.pyx`` (see its docstrings for the exact rules)."""

from typing import Final, TypeAlias

import numpy as np
import numpy.typing as npt
from _typeshed import ReadableBuffer, WriteableBuffer

# numpy's stubs give ndarray the buffer protocol only on Python >= 3.12, so
# the arrays the chain accepts are spelled out.
_Bytes: TypeAlias = npt.NDArray[np.int16] | npt.NDArray[np.uint8] | npt.NDArray[np.int8]
_PcmIn: TypeAlias = ReadableBuffer | _Bytes
_PcmOut: TypeAlias = WriteableBuffer | _Bytes

MAX_CHANNELS: Final[int]
VAD_FRAME_MS: Final[int]
MAX_INPUT_MS: Final[int]
RING_CHUNKS: Final[int]
EVENT_QUEUE_CAPACITY: Final[int]
VAD_RATES: Final[tuple[int, ...]]
SPEECH_START: Final[int]
SPEECH_STOP: Final[int]

class InboundChain:
    """Downmix -> resample -> chunk ring -> VAD on whole input frames, one nogil section."""

    def __init__(
        self,
        in_rate: int,
        out_rate: int,
        *,
        in_channels: int = 1,
        frame_ms: int = 10,
        chunk_ms: int = 100,
        vad: bool = True,
        vad_min_speech_ms: int = 30,
        vad_min_silence_ms: int = 500,
        vad_prefix_padding_ms: int = 300,
        vad_threshold_db: float | None = None,
    ) -> None: ...
    def process(self, pcm: _PcmIn) -> int:
        """Run whole interleaved int16 input frames through the chain; return chunks ready."""

    def pop_chunk(self, out: _PcmOut) -> bool:
        """Move the oldest ready chunk into ``out``; False if none is ready."""

    def pop_event(self) -> tuple[int, int] | None:
        """The oldest unread ``(SPEECH_START | SPEECH_STOP, event_sample)``, or None."""

    def reset(self) -> None:
        """Start a new stream: history, buffered chunks, VAD state and events go."""

    @property
    def speaking(self) -> bool:
        """True from a START until its STOP; False without VAD."""

    @property
    def in_rate(self) -> int: ...
    @property
    def out_rate(self) -> int: ...
    @property
    def in_channels(self) -> int: ...
    @property
    def vad(self) -> bool:
        """Whether the chain runs the VAD."""

    @property
    def frame_samples(self) -> int:
        """Samples per channel in one input frame."""

    @property
    def frame_bytes(self) -> int:
        """Bytes of one interleaved input frame; ``process`` takes multiples of it."""

    @property
    def max_input_frames(self) -> int:
        """Most input frames one ``process`` call takes."""

    @property
    def chunk_samples(self) -> int:
        """Output samples per chunk."""

    @property
    def available(self) -> int:
        """Output samples buffered in the ring."""

    @property
    def dropped_samples(self) -> int:
        """Output samples lost because the ring was full."""

    @property
    def samples_out(self) -> int:
        """Output samples produced since construction or ``reset()``."""

    @property
    def events_dropped(self) -> int:
        """VAD events lost because the queue was full."""

    @property
    def delay_samples(self) -> int:
        """The resampler's delay in output samples."""

    @property
    def delay_ms(self) -> float:
        """The resampler's delay, input to output, in milliseconds."""

    @property
    def held_back(self) -> int:
        """Input samples per channel whose delay-aligned output is not emitted yet."""
