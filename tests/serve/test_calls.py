"""The call handling in process (aiohttp's test server, a runtime with no stages): what
an offer gets when the agent never answers (504, the call ended), when its entrypoint
fails (500), and while the server is stopping (503, refused)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from pipeline.agents.default_agent import default_entrypoint
from pipeline.agents.job import JobContext
from pipeline.agents.runner import Entrypoint
from pipeline.plugins.offline import realtime as offline
from pipeline.serve.app import build_app
from pipeline.serve.calls import Calls
from pipeline.serve.metrics import ServerMetrics, StageSnapshot
from pipeline.serve.options import ServeOptions
from pipeline.supervisor.admission import AdmissionLimits, AdmissionRefused, Headroom
from pipeline.supervisor.runtime import Runtime, RuntimeOptions

OFFER = {"sdp": "v=0\r\n", "type": "offer"}
Check = Callable[[TestClient[Any, Any], Calls, ServerMetrics], Awaitable[None]]


def _with_server(entry: Entrypoint, check: Check,
                 tmp: Path, runtime_opts: RuntimeOptions | None = None) -> None:
    async def main() -> None:
        # Never started: these agents never start a session.
        runtime = Runtime(runtime_opts)
        metrics = ServerMetrics()
        options = ServeOptions(record_dir=tmp, answer_timeout_s=0.5)
        calls = Calls(runtime, entry, options, metrics)
        async with TestClient(TestServer(build_app(calls, runtime, metrics, options))) as client:
            await check(client, calls, metrics)

    asyncio.run(main())


def _value(metrics: ServerMetrics, name: str, labels: dict[str, str] | None = None) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    assert value is not None, name
    return value


async def _never_answers(ctx: JobContext) -> None:
    await asyncio.Event().wait()


async def _fails(ctx: JobContext) -> None:
    raise RuntimeError("the agent broke")


def test_no_answer_in_time_is_504_and_the_call_is_ended(tmp_path: Path) -> None:
    async def check(client: TestClient[Any, Any], calls: Calls, metrics: ServerMetrics) -> None:
        res = await client.post("/api/offer", json=OFFER)
        assert res.status == 504, await res.text()
        assert "no answer" in (await res.json())["error"]
        for _ in range(100):  # the call's job ends once told to stop
            if not calls.live:
                break
            await asyncio.sleep(0.02)
        assert calls.live == {}
        assert _value(metrics, "voxpipe_calls_active") == 0
        assert _value(metrics, "voxpipe_calls_total") == 1

    _with_server(_never_answers, check, tmp_path)


def test_a_failing_entrypoint_is_500_with_its_message(tmp_path: Path) -> None:
    async def check(client: TestClient[Any, Any], calls: Calls, metrics: ServerMetrics) -> None:
        res = await client.post("/api/offer", json=OFFER)
        assert res.status == 500
        assert "the agent broke" in (await res.json())["error"]
        assert calls.live == {}
        # The server keeps serving.
        assert (await client.post("/api/offer", data=b"{")).status == 400

    _with_server(_fails, check, tmp_path)


def test_a_stopping_server_refuses_offers_with_503(tmp_path: Path) -> None:
    async def check(client: TestClient[Any, Any], calls: Calls, metrics: ServerMetrics) -> None:
        await calls.end_all()
        res = await client.post("/api/offer", json=OFFER)
        assert res.status == 503
        assert "shutting down" in (await res.json())["error"]
        assert _value(metrics, "voxpipe_calls_refused_total",
                      {"reason": "shutting_down"}) == 1
        assert list(tmp_path.iterdir()) == []

    _with_server(_never_answers, check, tmp_path)


def test_no_headroom_is_503_with_the_reason_and_counted_by_it(tmp_path: Path) -> None:
    async def check(client: TestClient[Any, Any], calls: Calls, metrics: ServerMetrics) -> None:
        res = await client.post("/api/offer", json=OFFER)
        assert res.status == 503
        assert (await res.json())["error"].startswith(
            "no headroom for a new session: 0 sessions live, the cap is 0")
        assert _value(metrics, "voxpipe_calls_refused_total", {"reason": "max_sessions"}) == 1
        assert _value(metrics, "voxpipe_calls_refused_total", {"reason": "full"}) == 0
        assert _value(metrics, "voxpipe_calls_total") == 0
        assert list(tmp_path.iterdir()) == []

    _with_server(_never_answers, check, tmp_path,
                 RuntimeOptions(admission=AdmissionLimits(max_sessions=0)))


def test_glitch_frames_are_exposed_by_cause() -> None:
    metrics = ServerMetrics()
    metrics._stages.snapshot = StageSnapshot(counters={"playout": {
        "glitch_frames.late": 50, "glitch_frames.underrun": 2, "underrun_frames": 9}})
    for cause, frames in (("late", 50), ("underrun", 2)):
        assert _value(metrics, "voxpipe_glitch_frames_total", {"cause": cause}) == frames


def test_calls_admitted_but_not_started_count_against_the_cap(tmp_path: Path) -> None:
    async def check(client: TestClient[Any, Any], calls: Calls, metrics: ServerMetrics) -> None:
        first, second = await asyncio.gather(client.post("/api/offer", json=OFFER),
                                             client.post("/api/offer", json=OFFER))
        # One is admitted (its agent never starts a session: 504), the other came while
        # it was pending and is refused by the cap.
        assert sorted([first.status, second.status]) == [503, 504]
        assert _value(metrics, "voxpipe_calls_refused_total", {"reason": "max_sessions"}) == 1
        assert _value(metrics, "voxpipe_calls_total") == 1

    _with_server(_never_answers, check, tmp_path,
                 RuntimeOptions(admission=AdmissionLimits(max_sessions=1)))


class _HeadroomGoneRuntime(Runtime):
    """Admits the offer, then finds no headroom when the agent starts the session (the
    race between ``admit`` and ``start_session``)."""

    def start_session(self, spec: Any) -> Any:
        raise AdmissionRefused("cpu", "stage dsp uses 95% of a core (limit 90%)",
                               Headroom(stage_cpu={"dsp": 0.95}, sessions=3))


def test_a_session_refused_after_the_offer_was_admitted_is_503(tmp_path: Path) -> None:
    model = offline.RealtimeModel(engine="echo", url="ws://127.0.0.1:9/v1/realtime")

    async def main() -> None:
        runtime = _HeadroomGoneRuntime()
        metrics = ServerMetrics()
        options = ServeOptions(record_dir=tmp_path, answer_timeout_s=10)
        calls = Calls(runtime, default_entrypoint(model), options, metrics)
        async with TestClient(TestServer(build_app(calls, runtime, metrics, options))) as client:
            res = await client.post("/api/offer", json=OFFER)
            # Refused at once with the reason, not left waiting for an answer (504).
            assert res.status == 503, await res.text()
            assert "stage dsp uses 95%" in (await res.json())["error"]
            assert _value(metrics, "voxpipe_calls_refused_total", {"reason": "cpu"}) == 1

    asyncio.run(main())
