"""SIP requests as test peers write them (the shapes SIPp and baresip send)."""

from __future__ import annotations

G711_OFFER = (
    "v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 6000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\n")


def request(method: str, *, port: int = 5070, branch: str = "z9hG4bK-1", call_id: str = "c1",
            cseq: int = 1, to_tag: str = "", body: str = "", host: str = "127.0.0.1",
            extra: tuple[str, ...] = ()) -> bytes:
    """One request from ``host:port`` to the agent, with every header RFC 3261 requires."""
    to = "<sip:agent@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    lines = [f"{method} sip:agent@127.0.0.1 SIP/2.0",
             f"Via: SIP/2.0/UDP {host}:{port};branch={branch};rport",
             f"From: \"Peer\" <sip:peer@{host}>;tag=from1", f"To: {to}",
             f"Call-ID: {call_id}", f"CSeq: {cseq} {'INVITE' if method == 'ACK' else method}",
             f"Contact: <sip:peer@{host}:{port}>", "Max-Forwards: 70", *extra]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()
