"""Twilio's messages as its documentation shows them parse; anything else is classified."""

from __future__ import annotations

import base64
import json

import msgspec

from pipeline.transports.twilio import messages

SID = "MZ18ad3ab5a668481ce02b83e7395059f0"


def test_the_documented_inbound_messages_parse() -> None:
    start = messages.parse(json.dumps({
        "event": "start", "sequenceNumber": "1", "streamSid": SID,
        "start": {"accountSid": "AC123", "streamSid": SID, "callSid": "CA123",
                  "tracks": ["inbound"], "customParameters": {"FirstName": "Jane"},
                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                  "channels": 1}}}))
    assert isinstance(start, messages.Start)
    assert (start.start.streamSid, start.start.callSid) == (SID, "CA123")
    assert start.start.customParameters == {"FirstName": "Jane"}
    assert start.start.mediaFormat == messages.MediaFormat()
    media = messages.parse(json.dumps({
        "event": "media", "sequenceNumber": "3", "streamSid": SID,
        "media": {"track": "inbound", "chunk": "1", "timestamp": "5",
                  "payload": base64.b64encode(b"\x7f\xff\x00").decode()}}))
    assert isinstance(media, messages.Media) and media.media.payload == b"\x7f\xff\x00"
    mark = messages.parse(json.dumps({"event": "mark", "sequenceNumber": "4",
                                      "streamSid": SID, "mark": {"name": "vp12"}}))
    assert isinstance(mark, messages.Mark) and mark.mark.name == "vp12"
    dtmf = messages.parse(json.dumps({"event": "dtmf", "streamSid": SID, "sequenceNumber": "5",
                                      "dtmf": {"track": "inbound_track", "digit": "1"}}))
    assert isinstance(dtmf, messages.Dtmf) and dtmf.dtmf.digit == "1"
    assert isinstance(messages.parse(
        '{"event": "connected", "protocol": "Call", "version": "1.0.0"}'), messages.Connected)
    assert isinstance(messages.parse(json.dumps({
        "event": "stop", "sequenceNumber": "5", "streamSid": SID,
        "stop": {"accountSid": "AC123", "callSid": "CA123"}})), messages.Stop)


def test_what_is_not_a_message_is_classified() -> None:
    assert messages.parse("not json") == messages.BAD_JSON
    assert messages.parse(b"\xff\xfe") == messages.BAD_JSON
    assert messages.parse('{"event": "wiggle"}') == messages.UNKNOWN_EVENT
    assert messages.parse('{"event": "media", "media": {"payload": "@@"}}') == messages.MALFORMED
    assert messages.parse('{"event": "mark", "mark": {}}') == messages.MALFORMED
    assert messages.parse("[1, 2]") == messages.MALFORMED


def test_the_outbound_messages_have_the_documented_shapes() -> None:
    assert json.loads(messages.media(SID, b"\x00\xff")) == {
        "event": "media", "streamSid": SID, "media": {"payload": "AP8="}}
    assert json.loads(messages.mark(SID, "vp3")) == {
        "event": "mark", "streamSid": SID, "mark": {"name": "vp3"}}
    assert json.loads(messages.clear(SID)) == {"event": "clear", "streamSid": SID}
    assert msgspec.json.decode(messages.media(SID, b""))["media"]["payload"] == ""


def test_every_key_has_its_rfc4733_code() -> None:
    assert [messages.DTMF_CODES[k] for k in "0123456789*#ABCD"] == list(range(16))
