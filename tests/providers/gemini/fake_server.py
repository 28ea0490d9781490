"""A fake Gemini Live server (``BidiGenerateContent`` over ``wss://``) for tests.

It speaks the Live API's JSON messages over TLS with a certificate from a CA the test
makes (``trustme``), on 127.0.0.1 in a thread of its own: ``setup`` ->
``setupComplete``; the user's ``realtimeInput`` audio through an energy VAD (its
"automatic activity detection"; or ``activityStart``/``activityEnd``); a user turn
(or ``clientContent`` with ``turnComplete``) answered from a :mod:`script` - input
transcription, maybe a ``toolCall`` awaited for its ``toolResponse``, then the reply's
24 kHz audio in 100 ms parts paced in real time with its output transcription,
``usageMetadata`` and ``turnComplete``; user speech during a reply cuts it
(``interrupted``). After every turn it issues a ``sessionResumptionUpdate`` handle
that names a copy of the conversation, and a connection set up with that handle
goes on from it; ``goAway`` ends a connection's time when the script says so.
Everything clients send is recorded (``received``), and any message the API does
not have closes the connection with 1007, as the real server does. Field names are
read as proto JSON reads them: ``realtime_input`` (the SDK's spelling) or
``realtimeInput``.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import trustme
from websockets.asyncio.server import ServerConnection, serve

from tests.providers.gemini.proto_json import camel, mime_rate, pcm_bytes, query_key
from tests.providers.gemini.script import CHUNK_S, OUTPUT_RATE, Reply, tone

API_PATH = "/ws/google.ai.generativelanguage.{v}.GenerativeService.BidiGenerateContent"
CLIENT_KEYS = {"setup", "realtimeInput", "clientContent", "toolResponse"}
SPEECH_RMS = 300.0  # int16 RMS of a 20 ms frame that counts as speech
GO_AWAY_S = 3.0


@dataclass
class Conversation:
    """What the server remembers of one conversation (copied into each handle)."""

    turns: int = 0
    said: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)  # clientContent turns


@dataclass
class _Link:
    ws: ServerConnection
    number: int
    convo: Conversation
    silence_frames: int
    auto: bool = True  # automatic activity detection (else activityStart/activityEnd)
    speaking: bool = False
    loud: int = 0
    quiet: int = 0
    reply: asyncio.Task[None] | None = None
    interrupted: bool = False
    tool_answer: asyncio.Future[str] | None = None


class FakeGemini:
    """``with FakeGemini(script) as g:`` serves at ``g.base_url`` until the block ends."""

    def __init__(self, script: list[Reply], *, api_key: str = "test-key") -> None:
        self.script = script
        self.api_key = api_key
        self.ca = trustme.CA()
        self._server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(self._server_ssl)
        self.received: list[tuple[int, dict[str, Any]]] = []  # (connection, message)
        self.setups: list[dict[str, Any]] = []
        self.handles: dict[str, Conversation] = {}
        self.resumed_from: list[str | None] = []  # each connection's handle (None: new)
        self.refused: list[str] = []
        self.connections = 0
        self.links: dict[int, ServerConnection] = {}
        self.heard_samples: dict[int, int] = {}  # user audio samples per connection
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._stop: asyncio.Event | None = None

    # -- lifecycle ------------------------------------------------------------------
    def __enter__(self) -> FakeGemini:
        self._thread.start()
        ready = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        ready.result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0.2), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _start(self) -> None:
        self._stop = asyncio.Event()
        started: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def run() -> None:
            async with serve(self._serve, "127.0.0.1", 0, ssl=self._server_ssl,
                             max_size=16 * 1024 * 1024) as server:
                started.set_result(server.sockets[0].getsockname()[1])
                assert self._stop is not None
                await self._stop.wait()

        self._runner = asyncio.ensure_future(run())
        self.port = await started

    @property
    def base_url(self) -> str:
        """What the SDK's ``http_options.base_url`` takes (it swaps in ``wss``)."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"wss://127.0.0.1:{self.port}"

    def write_ca(self, path: Path) -> Path:
        """The CA certificate as a PEM file (for ``SSL_CERT_FILE``)."""
        self.ca.cert_pem.write_to_path(str(path))
        return path

    def client_ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx

    def drop(self, connection: int) -> None:
        """Cut a connection as a network fault would (no close frame, no goAway)."""
        self._loop.call_soon_threadsafe(self.links[connection].transport.abort)

    def kinds(self, connection: int | None = None) -> list[str]:
        """The top-level key of every message received (of one connection)."""
        return [next(iter(m)) for n, m in self.received if connection in (None, n)]

    # -- one connection -------------------------------------------------------------
    async def _serve(self, ws: ServerConnection) -> None:
        self.connections += 1
        number = self.connections
        self.links[number] = ws
        request = ws.request
        assert request is not None
        key = request.headers.get("x-goog-api-key") or query_key(request.path)
        if request.path.split("?")[0] not in {API_PATH.format(v=v) for v in ("v1alpha", "v1beta")}:
            self.refused.append(f"path {request.path}")
            await ws.close(1008, "unknown method")
            return
        if key != self.api_key:
            self.refused.append("key")
            await ws.close(1008, "API key not valid")
            return
        first = camel(json.loads(await ws.recv()))
        self.received.append((number, first))
        setup = first.get("setup")
        if not isinstance(setup, dict) or not setup.get("model"):
            await ws.close(1007, "the first message must be a setup with a model")
            return
        self.setups.append(setup)
        handle = (setup.get("sessionResumption") or {}).get("handle")
        self.resumed_from.append(handle)
        if handle is not None and handle not in self.handles:
            await ws.close(1007, "unknown session resumption handle")
            return
        convo = copy.deepcopy(self.handles[handle]) if handle else Conversation()
        detection = (setup.get("realtimeInputConfig") or {}).get("automaticActivityDetection", {})
        link = _Link(ws, number, convo, int(detection.get("silenceDurationMs", 500)) // 20,
                     auto=not detection.get("disabled", False))
        await ws.send(json.dumps({"setupComplete": {}}))
        await self._issue_handle(link)
        try:
            async for raw in ws:
                msg = camel(json.loads(raw))
                self.received.append((number, msg))
                if not isinstance(msg, dict) or len(msg) != 1 or next(iter(msg)) not in (
                        CLIENT_KEYS - {"setup"}):
                    await ws.close(1007, f"invalid message {str(msg)[:60]}")
                    return
                await self._on_message(link, msg)
        finally:
            if link.reply is not None:
                link.reply.cancel()

    async def _on_message(self, link: _Link, msg: dict[str, Any]) -> None:
        if "realtimeInput" in msg:
            ri = msg["realtimeInput"]
            if "audio" in ri:
                pcm = np.frombuffer(pcm_bytes(ri["audio"]["data"]), dtype="<i2")
                self.heard_samples[link.number] = self.heard_samples.get(link.number, 0) + pcm.size
                if link.auto:
                    self._hear(link, pcm, mime_rate(ri["audio"]["mimeType"]))
            elif "activityStart" in ri:
                self._speech_started(link)
            elif "activityEnd" in ri:
                self._turn(link)
        elif "clientContent" in msg:
            content = msg["clientContent"]
            link.convo.history.extend(content.get("turns", []))
            if content.get("turnComplete"):
                self._turn(link)
        elif "toolResponse" in msg:
            answers = msg["toolResponse"]["functionResponses"]
            if link.tool_answer is not None and not link.tool_answer.done():
                link.tool_answer.set_result(str(answers[0]["response"].get("result")))

    # -- the user's audio: an energy VAD in 20 ms frames ----------------------------------
    def _hear(self, link: _Link, pcm: np.ndarray, rate: int) -> None:
        step = rate // 50
        for i in range(0, pcm.size - step + 1, step):
            frame = pcm[i:i + step].astype(np.float64)
            loud = float(np.sqrt(np.mean(frame ** 2))) > SPEECH_RMS
            link.loud, link.quiet = (link.loud + 1, 0) if loud else (0, link.quiet + 1)
            if not link.speaking and link.loud >= 3:
                self._speech_started(link)
            elif link.speaking and link.quiet >= link.silence_frames:
                link.speaking = False
                self._turn(link)

    def _speech_started(self, link: _Link) -> None:
        link.speaking = True
        if link.reply is not None and not link.reply.done():
            link.interrupted = True

    def _turn(self, link: _Link) -> None:
        link.speaking = False
        if link.reply is not None and not link.reply.done():
            return
        if link.convo.turns < len(self.script):
            link.interrupted = False
            link.reply = asyncio.ensure_future(self._reply(link, self.script[link.convo.turns]))

    # -- the model's turn ---------------------------------------------------------------
    async def _reply(self, link: _Link, reply: Reply) -> None:
        send = link.ws.send
        words = reply.heard.split()
        for half in (words[: len(words) // 2 + 1], words[len(words) // 2 + 1:]):
            if half:
                await send(_content(inputTranscription={"text": " ".join(half) + " "}))
        result = ""
        if reply.tool is not None:
            link.tool_answer = asyncio.get_running_loop().create_future()
            name, args = reply.tool
            await send(json.dumps({"toolCall": {"functionCalls": [
                {"id": f"call-{link.convo.turns}", "name": name, "args": args}]}}))
            result = await link.tool_answer
        convo = link.convo
        text = reply.say.format(turns=convo.turns, last=convo.said[-1] if convo.said else "",
                                result=result)
        pcm = tone(reply.tone_hz, reply.seconds)
        step = int(CHUNK_S * OUTPUT_RATE)
        chunks = [pcm[i:i + step] for i in range(0, pcm.size, step)]
        words = text.split()
        per_chunk = max(1, -(-len(words) // max(1, len(chunks) - 1)))
        for k, chunk in enumerate(chunks):
            if link.interrupted:
                await send(_content(interrupted=True))
                break
            data = base64.b64encode(chunk.tobytes()).decode("ascii")
            await send(_content(modelTurn={"parts": [{"inlineData": {
                "mimeType": f"audio/pcm;rate={OUTPUT_RATE}", "data": data}}]}))
            said = words[k * per_chunk:(k + 1) * per_chunk]
            if said:
                await send(_content(outputTranscription={"text": " ".join(said) + " "}))
            await asyncio.sleep(CHUNK_S)
        else:
            await send(_content(generationComplete=True))
        await send(json.dumps({"usageMetadata": {"promptTokenCount": 10 * (convo.turns + 1),
                                                 "responseTokenCount": len(words),
                                                 "totalTokenCount": 10 * (convo.turns + 1)
                                                 + len(words)}}))
        await send(_content(turnComplete=True))
        convo.turns += 1
        convo.said.append(text)
        await self._issue_handle(link)
        if reply.go_away_after:
            await send(json.dumps({"goAway": {"timeLeft": f"{GO_AWAY_S:g}s"}}))
            asyncio.get_running_loop().call_later(
                GO_AWAY_S, lambda: asyncio.ensure_future(link.ws.close(1000, "time is up")))

    async def _issue_handle(self, link: _Link) -> None:
        handle = f"handle-{link.number}-{link.convo.turns}"
        self.handles[handle] = copy.deepcopy(link.convo)
        await link.ws.send(json.dumps({"sessionResumptionUpdate": {
            "newHandle": handle, "resumable": True}}))


def _content(**fields: Any) -> str:
    return json.dumps({"serverContent": fields})
