"""SDP offer/answer for a SIP call's audio (RFC 4566, RFC 3264): G.711 only.

``parse_offer`` reads the caller's first audio stream (address, port, the payload
types in its order of preference, ``telephone-event``, direction); ``answer_sdp``
picks what the edge speaks: the first of PCMU/PCMA offered, 20 ms packets,
``telephone-event`` if offered, the direction mirrored (hold: ``sendonly`` offered,
``recvonly`` answered). A malformed offer is an ``SdpError`` (400); a well-formed one
with nothing we speak is ``NoCommonCodec`` (488).
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass

# Static payload types (RFC 3551) and the encodings the edge speaks.
STATIC = {0: "PCMU/8000", 8: "PCMA/8000"}
CODECS = ("PCMU", "PCMA")
CLOCK_RATE = 8000
PTIME_MS = 20
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
MIRROR = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly",
          "inactive": "inactive"}
MAX_SDP_BYTES = 16_384


class SdpError(ValueError):
    """An offer that is not a session description we can read."""


class NoCommonCodec(SdpError):
    """A readable offer whose audio is nothing the edge speaks (no G.711)."""


@dataclass(frozen=True)
class AudioOffer:
    """The caller's audio stream as offered."""

    host: str
    port: int
    codec: str  # the edge's choice: "PCMU" or "PCMA"
    payload_type: int
    dtmf_payload_type: int  # 0: no telephone-event offered
    direction: str  # the caller's: sendrecv, sendonly, recvonly, inactive

    @property
    def on_hold(self) -> bool:
        return self.direction in ("sendonly", "inactive")


def parse_offer(sdp: bytes) -> AudioOffer:
    """The first audio stream of ``sdp``; ``SdpError``/``NoCommonCodec`` say why not."""
    if len(sdp) > MAX_SDP_BYTES:
        raise SdpError(f"SDP of {len(sdp)} bytes")
    try:
        lines = [ln.strip() for ln in sdp.decode("utf-8").splitlines() if ln.strip()]
    except UnicodeDecodeError:
        raise SdpError("SDP is not UTF-8") from None
    if not lines or lines[0] != "v=0":
        raise SdpError("SDP does not start with v=0")
    session_host, session_dir = "", "sendrecv"
    section, audio, media = "session", "", []
    for line in lines:
        kind, eq, value = line.partition("=")
        if not eq or len(kind) != 1 or not kind.isalpha():
            raise SdpError(f"bad SDP line {line[:60]!r}")
        if kind == "m":
            if audio:
                break  # the first audio stream is the call's
            section = "audio" if value.startswith("audio ") else "other"
            audio = value if section == "audio" else ""
        elif section == "audio":
            media.append(line)
        elif section == "session" and kind == "c":
            session_host = _connection(value)
        elif section == "session" and kind == "a" and value in DIRECTIONS:
            session_dir = value
    if not audio:
        raise NoCommonCodec("the offer has no audio stream")
    return _audio(audio, media, session_host, session_dir)


def _audio(mline: str, attrs: list[str], host: str, direction: str) -> AudioOffer:
    parts = mline.split()
    if len(parts) < 4 or not parts[1].isdigit() or int(parts[1]) > 65535:
        raise SdpError(f"bad m= line {mline[:60]!r}")
    if parts[2] not in ("RTP/AVP", "RTP/AVPF"):
        raise NoCommonCodec(f"audio over {parts[2]}: only plain RTP/AVP is spoken")
    port = int(parts[1])
    if port == 0:
        raise NoCommonCodec("the audio stream is disabled (port 0)")
    if not all(p.isdigit() and int(p) < 128 for p in parts[3:]):
        raise SdpError(f"bad payload types in {mline[:60]!r}")
    formats = [int(p) for p in parts[3:]]
    names = {pt: name for pt, name in STATIC.items() if pt in formats}
    for line in attrs:
        kind, _, value = line.partition("=")
        if kind == "c":
            host = _connection(value)
        elif value in DIRECTIONS:
            direction = value
        elif value.startswith("rtpmap:"):
            pt, name = _rtpmap(value[7:])
            names[pt] = name
    if not host:
        raise SdpError("no c= line for the audio stream")
    if host == "0.0.0.0":  # RFC 2543 hold
        direction = "sendonly" if direction == "sendrecv" else direction
    chosen = next(((pt, names[pt].split("/")[0]) for pt in formats
                   if names.get(pt, "").upper() in STATIC.values()), None)
    if chosen is None:
        raise NoCommonCodec("no G.711 (PCMU/PCMA 8 kHz) in the offer: "
                           f"{', '.join(names.get(p, str(p)) for p in formats)}")
    dtmf = next((pt for pt in formats
                 if names.get(pt, "").lower() == "telephone-event/8000"), 0)
    return AudioOffer(host, port, chosen[1].upper(), chosen[0], dtmf, direction)


def _connection(value: str) -> str:
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SdpError(f"bad c= line {value[:60]!r}")
    address = parts[2].split("/")[0]
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise SdpError(f"c= address {address!r} is not an IP address") from None
    return address


def _rtpmap(value: str) -> tuple[int, str]:
    pt, _, encoding = value.partition(" ")
    if not pt.isdigit() or int(pt) > 127 or encoding.count("/") not in (1, 2):
        raise SdpError(f"bad rtpmap {value[:60]!r}")
    return int(pt), "/".join(encoding.split("/")[:2])


def answer_sdp(offer: AudioOffer, host: str, port: int, *, session_id: int,
               version: int = 1) -> bytes:
    """The edge's answer: ``host:port`` its RTP socket, one codec, the direction mirrored."""
    family = "IP6" if ":" in host else "IP4"
    formats = [offer.payload_type] + ([offer.dtmf_payload_type] if offer.dtmf_payload_type
                                      else [])
    lines = ["v=0", f"o=voxpipe {session_id} {version} IN {family} {host}", "s=voxpipe",
             f"c=IN {family} {host}", "t=0 0",
             f"m=audio {port} RTP/AVP {' '.join(map(str, formats))}",
             f"a=rtpmap:{offer.payload_type} {offer.codec}/{CLOCK_RATE}"]
    if offer.dtmf_payload_type:
        lines += [f"a=rtpmap:{offer.dtmf_payload_type} telephone-event/{CLOCK_RATE}",
                  f"a=fmtp:{offer.dtmf_payload_type} 0-15"]
    lines += [f"a=ptime:{PTIME_MS}", f"a={MIRROR[offer.direction]}"]
    return ("\r\n".join(lines) + "\r\n").encode()


def new_session_id() -> int:
    """An ``o=`` session id: any number unique enough (RFC 4566 5.2)."""
    return secrets.randbelow(2**31)
