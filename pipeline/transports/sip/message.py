"""SIP messages (RFC 3261 section 7): parse one datagram, build the responses and the
requests a user agent server sends.

Only what a UAS needs: the start line, headers (compact forms expanded, Via split
into its hops), a body sized by Content-Length. Anything else is a ``SipParseError``
with a one-line reason; the caller answers 400 when the message can still be routed
(it has a Via) and drops it otherwise. Parsing never raises anything else.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

SIP_VERSION = "SIP/2.0"
# RFC 3261's magic cookie: a branch starting with it is unique per transaction.
BRANCH_COOKIE = "z9hG4bK"
MAX_MESSAGE_BYTES = 65_535
# RFC 3261 section 7.3.3.
COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
           "l": "content-length", "c": "content-type", "k": "supported", "s": "subject",
           "e": "content-encoding"}
# Headers whose comma-separated values are kept one per entry.
MULTI_VALUED = ("via", "contact", "route", "record-route")
# Headers a message cannot be matched to a transaction or dialog without.
REQUIRED = ("via", "from", "to", "call-id", "cseq")
_TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
_STATUS = re.compile(r"^SIP/2\.0 ([1-6][0-9][0-9]) (.*)$")
_REQUEST = re.compile(r"^([A-Za-z0-9.!%*_+`'~-]+) (\S+) SIP/2\.0$")
_PARAM = re.compile(r";\s*([^;=\s]+)(?:\s*=\s*([^;\s]*))?")
_TAG = re.compile(r";\s*tag\s*=\s*([^;>\s,]+)", re.IGNORECASE)
_URI = re.compile(r"<([^>]*)>")


class SipParseError(ValueError):
    """A datagram that is not a SIP message we can act on."""


@dataclass
class SipMessage:
    """A request (``method`` set) or a response (``status`` set); header names are kept
    lower case, in order, one entry per value (a Via line with two hops is two)."""

    method: str = ""
    uri: str = ""
    status: int = 0
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return bool(self.method)

    def get(self, name: str) -> str | None:
        """The first value of header ``name`` (lower case), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]

    @property
    def call_id(self) -> str:
        return self.get("call-id") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        """The CSeq number and method; a ``SipParseError`` when malformed."""
        parts = (self.get("cseq") or "").split()
        if len(parts) != 2 or not parts[0].isdigit() or len(parts[0]) > 10:
            raise SipParseError(f"bad CSeq {self.get('cseq')!r}")
        return int(parts[0]), parts[1].upper()

    @property
    def via_params(self) -> dict[str, str]:
        """The top Via's parameters (``branch``, ``rport``, ...), names lower case."""
        return {k.lower(): v or "" for k, v in _PARAM.findall(self.get("via") or "")}

    @property
    def branch(self) -> str:
        return self.via_params.get("branch", "")

    @property
    def from_tag(self) -> str:
        return tag_of(self.get("from") or "")

    @property
    def to_tag(self) -> str:
        return tag_of(self.get("to") or "")

    @property
    def contact_uri(self) -> str:
        return uri_of(self.get("contact") or "")


def tag_of(name_addr: str) -> str:
    """The ``tag`` parameter of a From/To value ("" when none)."""
    found = _TAG.search(name_addr.split(">")[-1] if ">" in name_addr else name_addr)
    return found.group(1) if found else ""


def uri_of(name_addr: str) -> str:
    """The URI of a name-addr (``"Bob" <sip:bob@host>;tag=x``) or addr-spec."""
    found = _URI.search(name_addr)
    return (found.group(1) if found else name_addr.split(";")[0]).strip()


def warning(code: int, text: object) -> tuple[str, str]:
    """A Warning header (RFC 3261 20.43) saying why, quoted safely on one line."""
    quoted = str(text).replace('"', "'").replace("\r", " ").replace("\n", " ")[:200]
    return "Warning", f'{code} voxpipe "{quoted}"'


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return f"{BRANCH_COOKIE}{secrets.token_hex(8)}"


def parse(data: bytes) -> SipMessage:
    """One SIP message from one datagram; ``SipParseError`` says why not."""
    msg, body = _parse(data)
    msg.body = _sized_body(msg, body)
    return msg


def parse_headers(data: bytes) -> SipMessage:
    """The start line and headers of ``data``, its body ignored (enough to route a 400
    for a message whose body is what is wrong)."""
    return _parse(data)[0]


def _parse(data: bytes) -> tuple[SipMessage, bytes]:
    if len(data) > MAX_MESSAGE_BYTES:
        raise SipParseError(f"message of {len(data)} bytes")
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
        if not sep and data.strip():
            head, body = data, b""  # no body and no blank line: tolerated on UDP
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("headers are not UTF-8") from None
    lines = _unfold(text.lstrip("\r\n").replace("\r\n", "\n").split("\n"))
    if not lines or not lines[0]:
        raise SipParseError("empty message")
    msg = _start_line(lines[0])
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not _TOKEN.match(name):
            raise SipParseError(f"bad header line {line[:60]!r}")
        name = COMPACT.get(name, name)
        values = _split_commas(value) if name in MULTI_VALUED else [value]
        msg.headers.extend((name, v.strip()) for v in values)
    return msg, body


def _start_line(line: str) -> SipMessage:
    status = _STATUS.match(line)
    if status:
        return SipMessage(status=int(status.group(1)), reason=status.group(2))
    request = _REQUEST.match(line)
    if not request or ":" not in request.group(2):
        raise SipParseError(f"bad start line {line[:60]!r}")
    return SipMessage(method=request.group(1).upper(), uri=request.group(2))


def _unfold(lines: list[str]) -> list[str]:
    """Header lines with their continuations (leading whitespace) joined."""
    out: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t") and len(out) > 1:
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return out


def _split_commas(value: str) -> list[str]:
    """A multi-value header split at commas outside quotes and angle brackets."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(value):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "<>":
            depth += 1 if ch == "<" else -1
        elif ch == "," and not quoted and depth == 0:
            parts.append(value[start:i])
            start = i + 1
    parts.append(value[start:])
    return [p for p in parts if p.strip()]


def _sized_body(msg: SipMessage, body: bytes) -> bytes:
    length = msg.get("content-length")
    if length is None:
        return body  # UDP: the datagram's end is the body's (RFC 3261 18.3)
    if not length.isdigit() or int(length) > len(body):
        raise SipParseError(f"Content-Length {length!r} for a body of {len(body)} bytes")
    return body[:int(length)]


def check_request(msg: SipMessage) -> None:
    """A request a transaction can be made of: every header RFC 3261 8.1.1 requires."""
    for name in REQUIRED:
        if not msg.get(name):
            raise SipParseError(f"no {name} header")
    if msg.cseq[1] != msg.method and msg.method != "ACK":
        raise SipParseError(f"CSeq method {msg.cseq[1]} in a {msg.method}")


def build_response(req: SipMessage, status: int, reason: str, *, to_tag: str = "",
                   received: tuple[str, int] | None = None,
                   headers: Iterable[tuple[str, str]] = (), body: bytes = b"") -> bytes:
    """The response to ``req``: its Via hops, From, Call-ID and CSeq copied, To tagged
    with ``to_tag`` unless it has one; ``received`` fills a top Via's ``rport``."""
    vias = req.all("via")
    if vias and received is not None and "rport" in req.via_params:
        host, port = received
        top = re.sub(r";\s*rport(?=;|$)", f";rport={port}", vias[0], flags=re.IGNORECASE)
        vias = [f"{top};received={host}", *vias[1:]]
    to = req.get("to") or ""
    if to_tag and not tag_of(to):
        to = f"{to};tag={to_tag}"
    lines = [f"{SIP_VERSION} {status} {reason}", *(f"Via: {v}" for v in vias),
             f"From: {req.get('from') or ''}", f"To: {to}",
             f"Call-ID: {req.call_id}", f"CSeq: {req.get('cseq') or ''}"]
    return _finish(lines, headers, body)


def build_request(method: str, uri: str, headers: Iterable[tuple[str, str]],
                  body: bytes = b"") -> bytes:
    """A request line, ``headers`` as given, Content-Length."""
    return _finish([f"{method} {uri} {SIP_VERSION}"], headers, body)


def _finish(lines: list[str], headers: Iterable[tuple[str, str]], body: bytes) -> bytes:
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
