"""A voxpipe LiveKit worker file as a user writes one, for the subprocess tests
(``python vox_agent.py start``). ``run_worker`` stands in for ``cli.run_app``;
each job's room is a file room (no media server here). A job runs until the file
``VOX_RELEASE`` exists."""

import asyncio
import os
import sys
from pathlib import Path

from pipeline.agents.dispatch import run_worker
from pipeline.agents.job import JobContext
from pipeline.agents.room import Room
from pipeline.agents.worker import WorkerOptions
from pipeline.transports.file.room import FileRoom

ROOT = Path(__file__).resolve().parents[3]
RELEASE = Path(os.environ.get("VOX_RELEASE", "/nonexistent"))


async def entrypoint(ctx: JobContext) -> None:
    print(f"JOB {ctx.job.id} running", flush=True)
    while not RELEASE.exists():
        await asyncio.sleep(0.05)


def file_room(url: str, token: str, *, participant_identity: str | None = None) -> Room:
    out = Path(os.environ.get("VOX_OUT", "out")) / (participant_identity or "agent")
    return FileRoom(ROOT / "examples" / "audio" / "requests" / "hello.wav", out)


if __name__ == "__main__":
    opts = WorkerOptions(entrypoint_fnc=entrypoint, load_fnc=lambda: 0.1,
                         drain_timeout=int(os.environ.get("VOX_DRAIN_TIMEOUT", "60")))
    sys.exit(run_worker(opts, sys.argv[1], room_factory=file_room))
