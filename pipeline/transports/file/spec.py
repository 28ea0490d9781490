"""Builds the ``FileTransport`` spec of a WAV input: its format comes from the header,
so a bad file fails here, in the caller's process, with a message naming it."""

from __future__ import annotations

from pathlib import Path

from ipc.schema import FileTransport
from pipeline.transports.file.wav_reader import WavSource


def file_transport(path: Path | str, *, realtime: bool = True,
                   tail_silence_ms: int = 1500) -> FileTransport:
    """The spec of a call whose caller is the WAV at ``path``.

    Raises FileNotFoundError when there is no such file and ValueError
    (``WavFormatError``) when it is not a WAV this runtime can play.
    """
    try:
        with WavSource.open(path) as src:
            rate, channels, frames = src.sample_rate, src.channels, src.frames
    except FileNotFoundError:
        raise FileNotFoundError(f"input not found: {path}") from None
    return FileTransport(input_path=str(path), input_rate=rate, input_channels=channels,
                         input_frames=frames, realtime=realtime,
                         tail_silence_ms=tail_silence_ms)
