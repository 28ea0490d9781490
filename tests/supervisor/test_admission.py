"""Admission policy and headroom readings on made-up figures: no processes, no clock."""

from __future__ import annotations

import asyncio

import pytest

from ipc.schema import StatsReply
from pipeline.supervisor.admission import (
    AdmissionLimits,
    AdmissionPolicy,
    AdmissionRefused,
    Headroom,
    limits_from_env,
)
from pipeline.supervisor.headroom import MIN_LATENESS_SAMPLES, HeadroomMonitor

LIMITS = AdmissionLimits(max_stage_cpu=0.8, max_late_ms=40.0, max_sessions=10,
                         resume_ratio=0.75)


def refusal(policy: AdmissionPolicy, headroom: Headroom) -> str | None:
    try:
        policy.check(headroom)
    except AdmissionRefused as exc:
        return exc.reason
    return None


def test_an_idle_runtime_is_admitted_with_the_defaults() -> None:
    policy = AdmissionPolicy(AdmissionLimits())
    assert refusal(policy, Headroom()) is None
    assert refusal(policy, Headroom({"dsp": 0.02, "playout": 0.01}, 0.3, 3)) is None


@pytest.mark.parametrize(("headroom", "reason"), [
    (Headroom({"dsp": 0.81, "model": 0.2}, 1.0, 2), "cpu"),
    (Headroom({"dsp": 0.3}, 41.0, 2), "lateness"),
    (Headroom({"dsp": 0.3}, 1.0, 10), "max_sessions"),
    (Headroom({"dsp": 0.8}, 40.0, 9), None),  # at a threshold is not above it
])
def test_each_threshold_refuses_above_it(headroom: Headroom, reason: str | None) -> None:
    assert refusal(AdmissionPolicy(LIMITS), headroom) == reason


def test_the_refusal_says_why_with_the_figures() -> None:
    with pytest.raises(AdmissionRefused) as info:
        AdmissionPolicy(LIMITS).check(Headroom({"dsp": 0.93, "model": 0.4}, 3.5, 4))
    assert str(info.value) == ("no headroom for a new session: stage dsp uses 93% of a core "
                               "(limit 80%) (stage cpu dsp 93%, model 40%; "
                               "playout lateness p99 3.5 ms; 4 sessions)")
    assert info.value.headroom.stage_cpu["dsp"] == 0.93


def test_hysteresis_refuses_until_the_load_falls_under_the_resume_level() -> None:
    policy = AdmissionPolicy(LIMITS)
    cpu = [0.5, 0.79, 0.81, 0.79, 0.7, 0.61, 0.59, 0.79, 0.81]
    seen = [refusal(policy, Headroom({"model": c}, 0.0, 1)) for c in cpu]
    assert seen == [None, None, "cpu", "cpu", "cpu", "cpu", None, None, "cpu"]


def test_hysteresis_follows_readings_between_admissions() -> None:
    policy = AdmissionPolicy(LIMITS)
    policy.observe(Headroom({}, 50.0, 1))  # an overload nobody asked to join
    assert refusal(policy, Headroom({}, 35.0, 1)) == "lateness"  # not yet under 30 ms
    policy.observe(Headroom({}, 20.0, 1))
    assert refusal(policy, Headroom({}, 35.0, 1)) is None


def test_the_environment_turns_admission_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOXPIPE_ADMISSION")
    assert limits_from_env() == AdmissionLimits()  # on by default
    monkeypatch.setenv("VOXPIPE_ADMISSION", "off")
    assert limits_from_env() is None
    monkeypatch.setenv("VOXPIPE_ADMISSION", "on")
    assert limits_from_env() == AdmissionLimits()
    monkeypatch.setenv("VOXPIPE_ADMISSION", "max_sessions=40, max_stage_cpu=0.8")
    assert limits_from_env() == AdmissionLimits(max_sessions=40, max_stage_cpu=0.8)
    for bad, words in (("max_session=4", "unknown limit 'max_session'"),
                       ("max_sessions=many", "max_sessions needs a number")):
        monkeypatch.setenv("VOXPIPE_ADMISSION", bad)
        with pytest.raises(ValueError, match=words):
            limits_from_env()


def _reply(total: int, ring: list[int]) -> StatsReply:
    return StatsReply(1, "playout", 1, {"tick_lateness_samples": total},
                      {"tick_lateness": ring})


def test_lateness_counts_only_the_wake_ups_since_the_last_reading() -> None:
    replies: list[StatsReply | None] = []

    async def playout() -> dict[str, StatsReply]:
        reply = replies.pop(0)
        return {} if reply is None else {"playout": reply}

    async def readings() -> list[float]:
        monitor = HeadroomMonitor(dict, playout)
        return [(await monitor.measure(1)).late_p99_ms for _ in range(len(replies))]

    n = MIN_LATENESS_SAMPLES
    ring = [50_000] * n + [1_000] * n  # a ring of 2n: the late half written first
    replies.extend([
        _reply(n, ring[:n]),  # n samples, all 50 ms late
        _reply(2 * n, ring),  # n more, all 1 ms late: the old ones no longer count
        _reply(2 * n + 10, ring),  # 10 new: too few to say anything
        # The ring wrapped: the newest n sit at [10:n + 10].
        _reply(3 * n + 10, [1_000] * 10 + [50_000] * n + [1_000] * (n - 10)),
    ])
    assert asyncio.run(readings()) == [50.0, 1.0, 0.0, 50.0]
