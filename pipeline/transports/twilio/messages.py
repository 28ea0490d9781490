"""Twilio's media stream messages, as its documentation shapes them (JSON text frames).

These are a third party's protocol, not voxpipe's wire (that is ``ipc/schema``): the
structs only say which fields the edge reads. In, from the far end: ``connected``,
``start`` (the stream's ids, custom parameters, media format), ``media`` (base64
mu-law 8 kHz; msgspec decodes the base64 into ``bytes``), ``mark`` (the echo of one of
ours, once the audio before it has played), ``dtmf`` (bidirectional streams) and
``stop``. Out: ``media``, ``mark`` and ``clear``. Field names are Twilio's (camelCase);
fields the far end adds and the edge does not read are ignored; a message that does
not decode is classified for the counters (:func:`parse`), never raised into the loop.
"""

from __future__ import annotations

from typing import Final

import msgspec


class _In(msgspec.Struct, frozen=True, tag_field="event"):
    """Base of the far end's messages; ``event`` (the tag) names the kind."""


class Connected(_In, tag="connected", frozen=True):
    protocol: str = ""
    version: str = ""


class MediaFormat(msgspec.Struct, frozen=True):
    encoding: str = "audio/x-mulaw"
    sampleRate: int = 8000
    channels: int = 1


class StartInfo(msgspec.Struct, frozen=True):
    streamSid: str
    callSid: str = ""
    accountSid: str = ""
    tracks: list[str] = msgspec.field(default_factory=list)
    customParameters: dict[str, str] = msgspec.field(default_factory=dict)
    mediaFormat: MediaFormat = msgspec.field(default_factory=MediaFormat)


class Start(_In, tag="start", frozen=True):
    start: StartInfo


class MediaInfo(msgspec.Struct, frozen=True):
    payload: bytes  # base64 on the wire
    track: str = "inbound"
    chunk: str = ""
    timestamp: str = ""


class Media(_In, tag="media", frozen=True):
    media: MediaInfo


class MarkInfo(msgspec.Struct, frozen=True):
    name: str


class Mark(_In, tag="mark", frozen=True):
    mark: MarkInfo


class DtmfInfo(msgspec.Struct, frozen=True):
    digit: str
    track: str = "inbound_track"


class Dtmf(_In, tag="dtmf", frozen=True):
    dtmf: DtmfInfo


class Stop(_In, tag="stop", frozen=True):
    pass


Inbound = Connected | Start | Media | Mark | Dtmf | Stop

_decoder: Final = msgspec.json.Decoder(Inbound)

#: Why a text frame was not a message the edge acts on (the connection's counters).
BAD_JSON: Final = "bad_json"
UNKNOWN_EVENT: Final = "unknown_events"
MALFORMED: Final = "malformed_messages"


def parse(text: str | bytes) -> Inbound | str:
    """The message of one text frame, or why it is not one (``BAD_JSON``,
    ``UNKNOWN_EVENT``, ``MALFORMED``: a known event with a missing or bad field, e.g.
    a payload that is not base64)."""
    try:
        msg: Inbound = _decoder.decode(text)
    except msgspec.ValidationError as exc:
        # msgspec names the field at fault: an event tag it does not know is at `$.event`.
        return UNKNOWN_EVENT if "`$.event`" in str(exc) else MALFORMED
    except (msgspec.DecodeError, UnicodeDecodeError):
        return BAD_JSON
    return msg


# -- out ---------------------------------------------------------------------------------


class _Out(msgspec.Struct, frozen=True, tag_field="event"):
    streamSid: str


class OutMedia(msgspec.Struct, frozen=True):
    payload: bytes  # msgspec writes bytes as base64


class MediaOut(_Out, tag="media", frozen=True):
    media: OutMedia


class MarkOut(_Out, tag="mark", frozen=True):
    mark: MarkInfo


class ClearOut(_Out, tag="clear", frozen=True):
    pass


_encoder: Final = msgspec.json.Encoder()


def media(stream_sid: str, ulaw: bytes) -> bytes:
    """``{"event": "media", "streamSid", "media": {"payload": base64}}``."""
    return _encoder.encode(MediaOut(stream_sid, OutMedia(ulaw)))


def mark(stream_sid: str, name: str) -> bytes:
    """``{"event": "mark", "streamSid", "mark": {"name"}}``."""
    return _encoder.encode(MarkOut(stream_sid, MarkInfo(name)))


def clear(stream_sid: str) -> bytes:
    """``{"event": "clear", "streamSid"}``: drop the audio the far end still buffers."""
    return _encoder.encode(ClearOut(stream_sid))


#: A key's RFC 4733 event code (``DtmfReceived.code``).
DTMF_CODES: Final = {d: i for i, d in enumerate("0123456789*#ABCD")}
