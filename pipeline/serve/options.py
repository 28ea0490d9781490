"""What ``voxpipe serve`` is told: where to listen, what to record, whom to admit."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from ipc.addresses import is_loopback

# A browser's offer is a few KiB; a body this big is not one.
MAX_BODY_BYTES = 256 * 1024


class ServeUsageError(ValueError):
    """The options cannot be served as given (exit 2 with this message)."""


def sip_address(value: str) -> tuple[str, int]:
    """``--sip HOST:PORT`` (``[v6]:PORT`` for IPv6; port 0: any)."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ServeUsageError(f"--sip {value!r}: expected HOST:PORT (e.g. 127.0.0.1:5060)")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ServeUsageError(f"--sip {value!r}: {host!r} is not an IP address") from None
    return host, int(port)


@dataclass(frozen=True)
class ServeOptions:
    """The server's flags. ``record_dir`` None: each call is recorded into a temporary
    directory removed when the call ends (playout records every session)."""

    host: str = "127.0.0.1"
    port: int = 8080
    record_dir: Path | None = None
    max_sessions: int | None = None
    token: str | None = None
    insecure: bool = False
    ice_servers: tuple[str, ...] = field(default_factory=tuple)
    # The calls' ICE host candidates: these local addresses only (empty: every interface).
    rtc_hosts: tuple[str, ...] = field(default_factory=tuple)
    # The edge's answer to an offer: past this the call is ended and the offer gets 504.
    answer_timeout_s: float = 15.0
    max_body_bytes: int = MAX_BODY_BYTES
    # SIGTERM/SIGINT: what calls get to end (their sessions' files finalized).
    end_calls_grace_s: float = 1.5
    # ``--janus URL --room ID``: the agent sits in this AudioBridge room (Janus's HTTP API).
    janus_url: str | None = None
    janus_room: int | None = None
    # ``--sip HOST:PORT``: answer SIP calls on this UDP address (None: no SIP).
    sip: tuple[str, int] | None = None
    # ``--sip-allow CIDR``: who may call (empty: loopback only).
    sip_allow: tuple[str, ...] = field(default_factory=tuple)

    def check(self) -> None:
        """A server reachable from other machines must check a token (or be told not to)."""
        if self.max_sessions is not None and self.max_sessions < 0:
            raise ServeUsageError("--max-sessions must be 0 or more")
        for address in self.rtc_hosts:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ServeUsageError(f"--rtc-host {address!r} is not an IP address") from None
        if (self.janus_url is None) != (self.janus_room is None):
            raise ServeUsageError("--janus and --room go together")
        if self.janus_url is not None and not self.janus_url.startswith(("http://",
                                                                          "https://")):
            raise ServeUsageError(f"--janus {self.janus_url!r} is not an http(s) URL "
                                  "(Janus's HTTP API, e.g. http://127.0.0.1:8088/janus)")
        for cidr in self.sip_allow:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ServeUsageError(f"--sip-allow {cidr!r} is not a CIDR") from None
        if not is_loopback(self.host) and not self.token and not self.insecure:
            raise ServeUsageError(
                f"--host {self.host} is reachable from other machines: give --token "
                "(clients send 'Authorization: Bearer TOKEN') or --insecure")
