"""``voxpipe``: run a conversation, serve calls from browsers, or serve the offline model.

Exit codes: 0 done (or stopped by SIGTERM/SIGINT), 1 the session failed
(model unreachable, key rejected), 2 bad usage or input, 3 a stage kept
crashing. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipc.schema import (
    AgentStartedSpeaking,
    AgentStoppedSpeaking,
    InputProgress,
    ModelError,
    SessionError,
    SessionEvent,
    StageEvent,
    TurnDetection,
    UserStartedSpeaking,
    UserStoppedSpeaking,
    event_kind,
)
from pipeline.logs import setup_logging
from pipeline.plugins.openai.realtime import OPENAI_BASE_URL
from pipeline.plugins.openai.realtime import RealtimeModel as OpenAIRealtimeModel
from pipeline.supervisor.admission import ADMISSION_ENV, AdmissionRefused, limits_from_env
from pipeline.supervisor.session import SessionSummary
from pipeline.supervisor.shards import WORKERS_ENV, workers_from, workers_from_env

if TYPE_CHECKING:
    from pipeline.agents.runner import Entrypoint
    from pipeline.supervisor.runtime import Runtime

EXIT_OK, EXIT_SESSION_FAILED, EXIT_USAGE, EXIT_CRASH_LOOP = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="voxpipe",
        description="Realtime voice-agent runtime: capture -> dsp -> model -> playout as "
        "separate processes over ZeroMQ.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser(
        "run", help="run one conversation from a WAV file through the pipeline",
        description="Feed IN.wav to a realtime model through the five-process pipeline and "
        "write DIR/conversation.wav (stereo 24 kHz: left user, right agent) and "
        "DIR/events.jsonl.",
    )
    run.add_argument("--input", required=True, type=Path, metavar="IN.wav",
                     help="the caller's audio: WAV, 8-192 kHz, mono or stereo, int or float")
    run.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory")
    _add_model_flags(run)
    run.add_argument("--fast", action="store_true",
                     help="feed the input as fast as the pipeline takes it instead of in real "
                     "time (replies still play in real time; turns may overlap them)")
    run.add_argument("--sessions", type=int, default=1, metavar="N",
                     help="run N concurrent copies of the call (a load test), each recorded in "
                     "DIR/<session-id>/, with a progress line and a summary (default 1)")
    _add_agent_flags(run, "this call")
    _add_serve_parser(sub)
    ms = sub.add_parser("model-server", add_help=False,
                        help="serve the offline realtime model (see model-server --help)")
    ms.add_argument("args", nargs=argparse.REMAINDER)
    return p


def _add_model_flags(p: argparse.ArgumentParser) -> None:
    """The model of the built-in agent (``run`` and ``serve`` alike)."""
    p.add_argument("--model", choices=("local", "openai"), default="local",
                   help="local: the bundled offline server (default, no keys); "
                   "openai: the OpenAI Realtime API (needs OPENAI_API_KEY)")
    p.add_argument("--base-url", default=None,
                   help=f"realtime websocket base URL (openai default {OPENAI_BASE_URL})")
    p.add_argument("--model-name", default="gpt-realtime", help="realtime model name")
    p.add_argument("--model-engine", choices=("dialogue", "echo"), default="dialogue",
                   help="--model local: the offline model's replies: dialogue (speech "
                   "recognition, rules and tool calls, speech synthesis; default) or echo")
    p.add_argument("--protocol", choices=("ga", "beta"), default="ga",
                   help="Realtime API event names: ga (default) or the beta ones")


def _add_agent_flags(p: argparse.ArgumentParser, calls: str) -> None:
    p.add_argument("--instructions", default="", help="system instructions for the model")
    p.add_argument("--silence-ms", type=int, default=500,
                   help="server VAD: silence that ends a user turn (ms)")
    p.add_argument("--agent", type=Path, default=None, metavar="FILE.py",
                   help="run the MultimodalAgent entrypoint in FILE.py (async def "
                   "entrypoint(ctx), or a livekit-agents 0.12 file's cli.run_app("
                   f"WorkerOptions(...)), prewarm_fnc first) on {calls}; the agent picks its "
                   "own model (without --agent: a built-in agent with no tools on the model "
                   "these flags choose)")
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    p.add_argument("--admission", choices=("on", "off"), default="on",
                   help="admission control: refuse a new session when the runtime has no "
                   "headroom (a stage near a full core, playout running late); default on "
                   "(also VOXPIPE_ADMISSION=off)")
    p.add_argument("--workers", default=None, metavar="STAGE=N,...",
                   help="worker processes per stage, sessions sharded across them, e.g. "
                   "dsp=2,model=2 (stages not named: one); 'auto' (default, also "
                   f"{WORKERS_ENV}): one capture, dsp, model and playout worker per 4 cores; "
                   "'off': one each")


def _add_serve_parser(sub: Any) -> None:
    serve = sub.add_parser(
        "serve", help="serve calls from browsers over WebRTC (a page, signalling, metrics) "
        "and, with --sip, phone calls over SIP/RTP",
        description="Run the pipeline as a server: GET / is a page that calls the agent "
        "over WebRTC; POST/PATCH /api/offer (pipecat SmallWebRTC signalling), GET /healthz, "
        "GET /metrics (Prometheus). Each call is one session running the agent.")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; any other needs --token "
                       "or --insecure)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: any)")
    serve.add_argument("--record", type=Path, default=None, metavar="DIR",
                       help="keep each call's DIR/<session-id>/conversation.wav and "
                       "events.jsonl (a call's session id is its pc_id, or sip-<hex> for a "
                       "SIP call) "
                       "(default: recorded to a temporary directory, removed after the call)")
    serve.add_argument("--max-sessions", type=int, default=None, metavar="N",
                       help="calls at once; more are refused with 503 (default: no limit)")
    serve.add_argument("--token", default=None,
                       help="require 'Authorization: Bearer TOKEN' on /api/offer")
    serve.add_argument("--insecure", action="store_true",
                       help="allow a non-loopback --host without --token")
    serve.add_argument("--ice-server", action="append", default=[], metavar="URL",
                       help="STUN/TURN server for the calls' peer connections (repeatable; "
                       "default none: host candidates only, nothing leaves the machine)")
    serve.add_argument("--rtc-host", action="append", default=[], metavar="ADDRESS",
                       help="local IP address the calls' media may use (repeatable; default: "
                       "every interface but loopback; 127.0.0.1 keeps calls on this machine)")
    serve.add_argument("--janus", default=None, metavar="URL",
                       help="also seat the agent in a Janus AudioBridge room: Janus's HTTP "
                            "API (e.g. http://127.0.0.1:8088/janus); needs --room")
    serve.add_argument("--room", type=int, default=None, metavar="ID",
                       help="the AudioBridge room of --janus (it must allow plain-RTP "
                            "participants); joined at start-up, rejoined if the call ends")
    serve.add_argument("--sip", default=None, metavar="HOST:PORT",
                       help="also answer SIP calls (UDP and TCP) on HOST:PORT (port 0: any; "
                       "the bound address is printed); media is RTP G.711 from the edge stage")
    serve.add_argument("--sip-allow", action="append", default=[], metavar="CIDR",
                       help="who may place SIP calls (repeatable; default loopback only; "
                       "others get 403)")
    _add_model_flags(serve)
    _add_agent_flags(serve, "every call")


def main(argv: list[str] | None = None, *, entry: Entrypoint | None = None) -> int:
    """``entry``: the agent of a ``run`` (``cli.run_app``'s console mode), instead of
    ``--agent`` or the built-in one."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["model-server"]:
        from pipeline.model_server.server import main as server_main

        return int(server_main(argv[1:]))
    args = _parser().parse_args(argv)
    if args.command not in ("run", "serve"):
        _parser().print_help()
        return EXIT_USAGE
    setup_logging(args.log_level)
    if args.admission == "off":
        os.environ[ADMISSION_ENV] = "off"  # every Runtime of this process reads it
    try:
        if args.workers is not None:
            workers_from(args.workers, "--workers")
            os.environ[WORKERS_ENV] = args.workers  # every Runtime of this process reads it
        limits_from_env()
        workers_from_env()
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)
    try:
        return asyncio.run(_run(args, entry) if args.command == "run" else _serve(args))
    except KeyboardInterrupt:
        return EXIT_OK


def _stop_on_signals() -> asyncio.Event:
    """Set on SIGTERM/SIGINT: the run finishes its files and exits 0."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


def _fail(message: str, code: int) -> int:
    print(f"voxpipe: error: {message}", file=sys.stderr)
    return code


class _UsageError(Exception):
    """Bad usage found while preparing the run: exit 2 with this message."""


class _ModelAtURL(OpenAIRealtimeModel):
    """``--base-url`` without ``--model openai``: a server speaking the Realtime protocol
    at that URL, used as given (no key, nothing added to it)."""

    def __init__(self, url: str, **settings: Any) -> None:
        super().__init__(base_url=url, api_key="", **settings)
        self._url = url

    async def url(self) -> str:
        return self._url


async def _run(args: argparse.Namespace, given: Entrypoint | None = None) -> int:
    from pipeline.transports.file.spec import file_transport

    try:
        transport = file_transport(args.input, realtime=not args.fast)
    except FileNotFoundError:
        return _fail(f"input not found: {args.input}", EXIT_USAGE)
    except (OSError, ValueError) as exc:
        return _fail(f"cannot use input {args.input}: {exc}", EXIT_USAGE)
    if args.sessions < 1:
        return _fail(f"--sessions must be at least 1, got {args.sessions}", EXIT_USAGE)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        probe = args.out / ".voxpipe-write-test"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        return _fail(f"cannot write to output directory {args.out}: {exc.strerror or exc}",
                     EXIT_USAGE)
    if given is not None:
        return await _run_call(args, given, transport.input_frames / transport.input_rate)
    async with _agent_from_flags(args) as entry:
        if isinstance(entry, int):
            return entry
        return await _run_call(args, entry, transport.input_frames / transport.input_rate)


@contextlib.asynccontextmanager
async def _agent_from_flags(args: argparse.Namespace) -> AsyncIterator[Entrypoint | int]:
    """The entrypoint ``--agent`` names, or the built-in agent on the flags' model
    (closed on exit); an exit code instead when neither can be had."""
    from pipeline.agents.runner import AgentFileError, load_entrypoint

    model: Any = None
    try:
        if args.agent is not None:
            entry: Entrypoint | int = load_entrypoint(args.agent)
        else:
            model = _model_from_flags(args)
            entry = await _default_agent(model)
    except (AgentFileError, _UsageError, ValueError) as exc:
        entry = _fail(str(exc), EXIT_USAGE)
    except RuntimeError as exc:  # the bundled model server did not start
        entry = _fail(str(exc), EXIT_SESSION_FAILED)
    try:
        yield entry
    finally:
        if model is not None:
            await model.aclose()


async def _serve(args: argparse.Namespace) -> int:
    """``voxpipe serve``: the agent answers every browser call until SIGTERM/SIGINT."""
    from pipeline.serve import ServeError, ServeOptions, ServeUsageError, serve
    from pipeline.serve.options import sip_address

    try:
        options = ServeOptions(host=args.host, port=args.port, record_dir=args.record,
                               max_sessions=args.max_sessions, token=args.token,
                               insecure=args.insecure, ice_servers=tuple(args.ice_server),
                               rtc_hosts=tuple(args.rtc_host),
                               sip=sip_address(args.sip) if args.sip else None,
                               sip_allow=tuple(args.sip_allow), janus_url=args.janus,
                               janus_room=args.room)
        options.check()
    except ServeUsageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    stop = _stop_on_signals()
    async with _agent_from_flags(args) as entry:
        if isinstance(entry, int):
            return entry
        try:
            return await serve(options, entry, stop,
                               on_listening=lambda line: print(line, flush=True))
        except ServeError as exc:
            return _fail(str(exc), exc.code)


def _model_from_flags(args: argparse.Namespace) -> Any:
    """The default agent's realtime model, as ``--model``/``--base-url``/... say."""
    from pipeline.plugins.offline import realtime as offline
    from pipeline.plugins.openai import realtime as openai

    settings: dict[str, Any] = {
        "instructions": args.instructions, "protocol": args.protocol,
        "turn_detection": TurnDetection(silence_duration_ms=args.silence_ms)}
    if args.model == "openai":
        api_key = os.environ.get("OPENAI_API_KEY", "")
        if not api_key:
            raise _UsageError("--model openai needs OPENAI_API_KEY in the environment")
        return openai.RealtimeModel(model=args.model_name, api_key=api_key,
                                    base_url=args.base_url or OPENAI_BASE_URL, **settings)
    if args.base_url:
        return _ModelAtURL(args.base_url, model=args.model_name, **settings)
    return offline.RealtimeModel(engine=args.model_engine, **settings)


async def _default_agent(model: Any) -> Entrypoint:
    """The built-in agent on ``model``; a model that runs a server here starts it now,
    so a server that cannot start is reported before any stage runs."""
    from pipeline.agents.default_agent import default_entrypoint

    await model.url()
    return default_entrypoint(model)


async def _run_call(args: argparse.Namespace, entry: Entrypoint, duration: float) -> int:
    """Run ``entry`` on the file call of ``--input``/``--out``/``--fast``: one road for
    a user's agent and the default one."""
    from pipeline.agents.runner import run_agent
    from pipeline.supervisor.runtime import Runtime
    from pipeline.transports.file.room import room_for_file

    log = logging.getLogger("voxpipe")
    stop = _stop_on_signals()
    runtime = Runtime()
    try:
        try:
            await runtime.start()
        except RuntimeError as exc:
            return _fail(str(exc), EXIT_CRASH_LOOP)
        log.info("%s on %.1f s of input; pids %s", args.agent or "conversation", duration,
                 runtime.pids())
        if args.sessions > 1:
            return await _run_copies(args, entry, runtime, stop)
        try:
            runtime.admit()
        except AdmissionRefused as exc:
            return _fail(str(exc), EXIT_SESSION_FAILED)
        room = room_for_file(args.input, args.out, realtime=not args.fast)
        try:
            summary = await run_agent(
                entry, runtime, room, stop=stop,
                on_session=lambda s: s.on(_progress_printer(log, s.id, duration)))
        except Exception as exc:  # the user's entrypoint failed: one line, exit 1
            return _fail(f"agent entrypoint failed: {type(exc).__name__}: {exc}",
                         EXIT_SESSION_FAILED)
        if runtime.fault:
            return _fail(runtime.fault, EXIT_CRASH_LOOP)
        if stop.is_set():
            log.info("stopping on signal")
        await runtime.stop()
        if summary is None:
            return _fail("the agent never started a session (no participant linked?)",
                         EXIT_SESSION_FAILED)
        if summary.error:
            return _fail(summary.error, EXIT_SESSION_FAILED)
        _print_summary(summary)
        return EXIT_OK
    finally:
        await runtime.stop()


async def _run_copies(args: argparse.Namespace, entry: Entrypoint, runtime: Runtime,
                      stop: asyncio.Event) -> int:
    """``--sessions N``: the copies, their summary; 0 only if every copy completed."""
    from pipeline.sessions_run import run_sessions, summary_lines

    tally = await run_sessions(runtime, entry, args.input, args.out, args.sessions,
                               realtime=not args.fast, stop=stop)
    if runtime.fault:
        return _fail(runtime.fault, EXIT_CRASH_LOOP)
    print(f"\nvoxpipe: {args.sessions} sessions of {args.input} done", flush=True)
    print("\n".join(summary_lines(tally)), flush=True)
    counts = tally.counts()
    return EXIT_OK if counts["done"] == args.sessions else EXIT_SESSION_FAILED


def _progress_printer(log: logging.Logger, sid: str,
                      duration_s: float) -> Callable[[StageEvent], None]:
    shown: dict[type[SessionEvent], str] = {
        UserStartedSpeaking: "user started speaking",
        UserStoppedSpeaking: "user stopped speaking",
        AgentStartedSpeaking: "agent speaking",
        AgentStoppedSpeaking: "agent stopped"}

    def show(ev: StageEvent) -> None:
        e = ev.event
        if isinstance(e, InputProgress):
            # A heartbeat for long, quiet inputs: every 10 s of input.
            if e.frame and e.frame % 1000 == 0:
                log.info("input %.0f s of %.0f s", e.frame / 100, duration_s,
                         extra={"session": sid})
            return
        extra = ""
        label = shown.get(type(e))
        if isinstance(e, ModelError | SessionError):
            label, extra = event_kind(e).replace("_", " "), f": {e.message}"
        if label is None:
            return
        if isinstance(e, AgentStoppedSpeaking) and e.interrupted:
            extra = " (interrupted)"
        t = ev.t_ms
        at = f"t={t / 1000:6.2f}s " if t is not None else ""
        log.info("%s%s%s", at, label, extra, extra={"session": sid})

    return show


def _print_summary(summary: SessionSummary) -> None:
    print(f"\nvoxpipe: conversation {summary.session} done")
    print(f"  turns: {len(summary.turns)}")
    for i, turn in enumerate(summary.turns, 1):
        lat = turn.first_audio_latency_ms
        shown = f"{lat:7.0f} ms" if lat is not None else "  no reply"
        print(f"    turn {i}: user ended at {turn.user_end_ms / 1000:6.2f} s, "
              f"first agent audio after {shown}")
    if summary.turns:
        print("    (end of speech to first agent audio, including the model's end-of-turn "
              "silence window)")
    print(f"  audio:  {summary.wav or '(not written)'}")
    print(f"  events: {summary.events}")


if __name__ == "__main__":
    sys.exit(main())
