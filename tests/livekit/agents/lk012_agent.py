"""An unmodified livekit-agents 0.12 worker (run in its own venv by
``test_fake_is_faithful.py``): rejects a job whose room is named "reject-...",
accepts the others as identity "lk-agent", and its entrypoint ends the job
without joining the room (there is no media server)."""

import os

from livekit.agents import JobContext, JobRequest, WorkerOptions, cli


async def request_fnc(req: JobRequest) -> None:
    if req.room.name.startswith("reject-"):
        await req.reject()
    else:
        await req.accept(identity="lk-agent", name="LK 0.12")


async def entrypoint(ctx: JobContext) -> None:
    print(f"ENTRYPOINT job={ctx.job.id} room={ctx.job.room.name}", flush=True)
    ctx.shutdown(reason="done")


if __name__ == "__main__":
    cli.run_app(WorkerOptions(
        entrypoint_fnc=entrypoint, request_fnc=request_fnc,
        load_fnc=lambda: 0.1,  # the machine's CPU is not what this test is about
        num_idle_processes=1, host="127.0.0.1", port=int(os.environ["AGENT_HTTP_PORT"])))
