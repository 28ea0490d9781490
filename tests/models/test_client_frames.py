"""The append's hand-built client frame is what websockets' own parser reads back."""

from __future__ import annotations

import os

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from pipeline.providers.openai.client_frames import client_text_frame


def parse_as_server(data: bytes) -> Frame:
    """Parse one frame the way a websockets server does (a client's frames are masked)."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=True)
    try:
        next(parser)
    except StopIteration as done:
        frame: Frame = done.value
        return frame
    raise AssertionError("the frame is incomplete")


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65_535, 65_536, 300_000])
def test_each_length_form_parses_back_to_the_payload(size: int) -> None:
    payload = os.urandom(size).hex().encode()[:size]
    frame = parse_as_server(client_text_frame(payload))
    assert frame.opcode is Opcode.TEXT and frame.fin
    assert bytes(frame.data) == payload


def test_every_frame_has_its_own_mask() -> None:
    payload = b'{"type":"input_audio_buffer.append","audio":"AAAA"}'
    frames = [client_text_frame(payload) for _ in range(3000)]  # past one pool of keys
    header = 2
    keys = {f[header : header + 4] for f in frames}
    # Random 32-bit keys: two of 3000 coincide about once in a thousand runs, never 6.
    assert len(keys) >= len(frames) - 5
    assert all(f[1] & 0x80 for f in frames), "the mask bit must be set"
    assert all(bytes(parse_as_server(f).data) == payload for f in frames)
