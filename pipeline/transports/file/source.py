"""The file transport's ``Source``: a WAV file as numbered 10 ms frames, then a tail of
silence that keeps the line open (a model's server VAD then closes the last turn, as
on a live caller's line)."""

from __future__ import annotations

from typing import Final

from ipc.schema import FileTransport
from pipeline.transports.base import AudioFormat
from pipeline.transports.file.wav_reader import WavSource

# Frames read from disk at once; slicing a block is far cheaper than a read per frame.
READ_BLOCK_FRAMES: Final = 100


class FileSource:
    """Frame ``seq`` of a WAV input, converted to interleaved int16."""

    def __init__(self, wav: WavSource, frame_ms: int, tail_silence_ms: int) -> None:
        self._wav = wav
        self._frame_samples = wav.sample_rate * frame_ms // 1000  # per channel
        self._frame_bytes = 2 * self._frame_samples * wav.channels
        self._block_start = -1
        self._block = b""
        file_frames = -(-wav.frames // self._frame_samples)
        self.total_frames = file_frames + tail_silence_ms // frame_ms
        self.format = AudioFormat(wav.sample_rate, wav.channels)

    @classmethod
    def open(cls, transport: FileTransport, frame_ms: int) -> FileSource:
        """Open the transport's WAV; raises OSError or ValueError as ``WavSource.open``."""
        return cls(WavSource.open(transport.input_path), frame_ms, transport.tail_silence_ms)

    def frame(self, seq: int) -> bytes:
        fs = self._frame_samples
        start = seq * fs
        if start >= self._wav.frames:
            return bytes(self._frame_bytes)
        if self._block_start < 0 or not (
                self._block_start <= seq < self._block_start + READ_BLOCK_FRAMES):
            self._block_start = seq
            self._block = self._wav.read_s16(start, fs * READ_BLOCK_FRAMES)
        off = (seq - self._block_start) * self._frame_bytes
        pcm = self._block[off : off + self._frame_bytes]
        if len(pcm) < self._frame_bytes:  # the file's last, partial frame
            pcm = pcm + bytes(self._frame_bytes - len(pcm))
        return pcm

    def close(self) -> None:
        self._wav.close()
