"""The LiveKit agent-worker wire: ``livekit-protocol``'s own ``WorkerMessage`` and
``ServerMessage`` protobufs, and how a worker reaches the server.

The server answers in the encoding it was last spoken to (binary protobuf, or
protobuf JSON in text frames: livekit-server's ``WSSignalConnection``); a worker
here does the same the other way round, so either side may pick JSON. The URL
and token rules are livekit-agents 0.12's: ``<ws_url>/agent`` with the http
schemes mapped to ws, and a JWT carrying the ``agent`` video grant.
"""

from __future__ import annotations

from urllib.parse import urlparse, urlunparse

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from livekit.api import AccessToken, VideoGrants
from livekit.protocol import agent

AGENT_PATH = "/agent"


class WireError(Exception):
    """A frame that is no ``ServerMessage`` (counted and dropped by the link)."""


def agent_url(ws_url: str) -> str:
    """``<ws_url>/agent``, http(s) mapped to ws(s); as in livekit-agents, ``/agent``
    replaces any path of ``ws_url`` (its query is kept)."""
    parsed = urlparse(ws_url)
    scheme = parsed.scheme.replace("http", "ws", 1) if parsed.scheme.startswith("http") \
        else parsed.scheme
    if scheme not in ("ws", "wss") or not parsed.netloc:
        raise ValueError(f"LiveKit URL must be ws://, wss://, http:// or https://HOST, "
                         f"got {ws_url!r}")
    return urlunparse((scheme, parsed.netloc, AGENT_PATH, "", parsed.query, ""))


def worker_token(api_key: str, api_secret: str) -> str:
    """The JWT a worker registers with: the ``agent`` video grant (as livekit-agents
    mints it: ``VideoGrants(agent=True)``, no room)."""
    return (AccessToken(api_key, api_secret)
            .with_grants(VideoGrants(agent=True))
            .to_jwt())


class Codec:
    """Encodes what the worker sends in the server's last encoding."""

    def __init__(self) -> None:
        self.json = False

    def encode(self, msg: agent.WorkerMessage) -> str | bytes:
        if self.json:
            return json_format.MessageToJson(msg, indent=None)
        return msg.SerializeToString()

    def decode(self, data: str | bytes) -> agent.ServerMessage:
        """A frame from the server; a text frame switches this codec to JSON."""
        msg = agent.ServerMessage()
        try:
            if isinstance(data, str):
                json_format.Parse(data, msg, ignore_unknown_fields=True)
                self.json = True
            else:
                msg.ParseFromString(data)
                self.json = False
        except (DecodeError, json_format.ParseError) as exc:
            raise WireError(f"undecodable server frame: {exc}") from None
        if msg.WhichOneof("message") is None:
            raise WireError("server frame carries no message")
        return msg
