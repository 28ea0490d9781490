"""``cli.run_app(WorkerOptions(...))``: what a livekit-agents 0.12 file's ``__main__`` calls.

``python agent.py MODE ...``:

* ``start``, ``dev``, ``connect --room NAME [--participant-identity ID]``: a LiveKit
  worker (``pipeline.agents.dispatch.run_worker``; needs a LiveKit server);
* ``console --input IN.wav --out DIR [--fast] [--log-level L]``: one call on voxpipe's
  file road, no LiveKit server: the WAV plays the caller, the record goes to DIR
  (the road ``voxpipe run --agent agent.py`` takes; ``prewarm_fnc`` runs first);
* ``download-files``: nothing to download (voxpipe's models ship with it).

``voxpipe run --agent FILE`` loads such a file while capturing
(``pipeline.agents.app_capture``): ``run_app`` then records the options and stops
the file's ``__main__`` block instead of starting anything.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from pipeline.agents.app_capture import capture_options
from pipeline.agents.worker import WorkerOptions

EXIT_USAGE = 2


def run_app(opts: WorkerOptions) -> None:
    """Run the app as ``sys.argv[1:]`` says (see the module doc); exits with its code."""
    if not isinstance(opts, WorkerOptions):
        raise TypeError(f"run_app takes WorkerOptions, got {type(opts).__name__}")
    capture_options(opts)
    sys.exit(main(opts, sys.argv[1:]))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=sys.argv[0] if sys.argv else "agent.py",
                                description="Run this agent as a LiveKit worker or on a file.")
    sub = p.add_subparsers(dest="mode", metavar="MODE", required=True)
    for mode in ("start", "dev"):
        w = sub.add_parser(mode, help=f"LiveKit worker ({mode})")
        w.add_argument("--log-level", default="INFO")
    c = sub.add_parser("connect", help="LiveKit worker joining one room")
    c.add_argument("--room", required=True)
    c.add_argument("--participant-identity", default=None)
    c.add_argument("--log-level", default="INFO")
    sub.add_parser("download-files", help="nothing to download")
    sub.add_parser("console", add_help=False,
                   help="one call from a WAV file, no LiveKit server "
                   "(--input IN.wav --out DIR; see 'voxpipe run --help')")
    return p


def main(opts: WorkerOptions, argv: list[str]) -> int:
    """The exit code of the run ``argv`` asks for."""
    if argv[:1] == ["console"]:
        return _console(opts, argv[1:])
    args = _parser().parse_args(argv)
    if args.mode == "download-files":
        return 0
    try:
        # lk-worker's package; imported by name so this module stands without it.
        run_worker = importlib.import_module("pipeline.agents.dispatch").run_worker
    except (ImportError, AttributeError) as exc:
        print(f"{sys.argv[0]}: error: the LiveKit worker is not available ({exc}); "
              "'console --input IN.wav --out DIR' runs the agent without LiveKit",
              file=sys.stderr)
        return EXIT_USAGE
    return int(run_worker(opts, args.mode, room=getattr(args, "room", None),
                          participant_identity=getattr(args, "participant_identity", None),
                          log_level=args.log_level))


def _console(opts: WorkerOptions, argv: list[str]) -> int:
    """``voxpipe run`` with this app's (prewarmed) entrypoint as the agent."""
    from pipeline import cli as voxpipe_cli
    from pipeline.agents.runner import prewarmed

    try:
        entry = prewarmed(opts)
    except Exception as exc:
        print(f"{sys.argv[0]}: error: prewarm_fnc failed: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return EXIT_USAGE
    return voxpipe_cli.main(["run", *argv], entry=entry)
