"""baresip calls ``voxpipe serve --sip`` (echo engine): it plays user turns over G.711
and hangs up at the end of the file. What baresip heard holds the echo of each turn
(G.711 both ways); its BYE ends the session, whose recording is complete. A caller
talking over a reply cuts it: baresip hears its start, not its end."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.signal import resample_poly

from pipeline.record.event_log import read_event_log
from tests.telephony.baresip import BaresipCall, place_call
from tests.telephony.conftest import SipServer
from tests.telephony.sipp import free_udp_port
from tests.telephony.test_sipp import settled
from tests.transports.web.signal_match import best_correlation

ROOT = Path(__file__).resolve().parents[2]
THREE_TURNS = ROOT / "examples" / "audio" / "three_turns.wav"
LABELS = json.loads((ROOT / "examples" / "audio" / "three_turns.json").read_text())
RATE = 8000
# After the three turns: silence, a fourth turn (the first again), silence. The fourth
# reply pushes the end of the third out of baresip's jitter buffer (which releases a
# frame only as the next arrives) before the file ends and baresip hangs up.
GAP_S = 4.0
F64 = npt.NDArray[np.float64]


def read_wav(path: Path) -> tuple[F64, int, int]:
    """Samples (frames x channels, floats), rate, channels."""
    with wave.open(str(path)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        channels = w.getnchannels()
        return pcm.reshape(-1, channels).astype(np.float64) / 32768.0, w.getframerate(), channels


def caller_wav(out: Path) -> F64:
    """The three turns at 8 kHz and the pushing turn, written for baresip; the samples."""
    x, rate, _ = read_wav(THREE_TURNS)
    y = resample_poly(x[:, 0], RATE, rate)
    gap = np.zeros(int(GAP_S * RATE))
    y = np.concatenate([y, gap, turns(y, RATE)[0], gap])
    write_wav(out, y)
    return y


def turns(x: F64, rate: int) -> list[F64]:
    return [x[int(t["onset_s"] * rate):int(t["offset_s"] * rate)] for t in LABELS["turns"]]


def test_baresip_hears_the_echo_of_each_turn_and_its_bye_finalizes_the_recording(
        baresip: Path, sip_server: SipServer, tmp_path: Path) -> None:
    said = caller_wav(tmp_path / "caller.wav")
    done = call(baresip, sip_server, tmp_path / "caller.wav", tmp_path / "baresip",
                len(said) / RATE)
    assert done.heard is not None, done.log
    assert "end of file" in done.log and "terminated" in done.log, done.log  # hung up itself
    heard, rate, _ = read_wav(done.heard)
    assert rate == RATE
    scores = [best_correlation(heard[:, 0], turn) for turn in turns(said, RATE)]
    print("echo of each turn in what baresip heard:", [f"{s:.3f}" for s in scores])
    assert all(s >= 0.8 for s in scores), scores
    # The BYE ended the session: its recording is closed and holds the whole call.
    assert settled(sip_server, "voxpipe_calls_active", 0.0) == 0.0
    records = sorted(p for p in sip_server.record_dir.iterdir() if p.name.startswith("sip-"))
    assert len(records) >= 1
    record = max(records, key=lambda p: p.stat().st_mtime)
    events = read_event_log(record / "events.jsonl")
    assert events[-1]["type"] == "session_closed", events[-3:]
    assert {e["session"] for e in events} == {record.name}
    recorded, rec_rate, channels = read_wav(record / "conversation.wav")
    assert channels == 2
    user = resample_poly(recorded[:, 0], RATE, rec_rate)
    on_record = [best_correlation(user, turn) for turn in turns(said, RATE)]
    assert all(s >= 0.8 for s in on_record), on_record  # every turn the caller said


def call(baresip: Path, server: SipServer, wav: Path, workdir: Path,
         duration_s: float) -> BaresipCall:
    rtp = free_udp_port() // 2 * 2
    return place_call(baresip, wav, f"sip:agent@{server.address[0]}:{server.address[1]}",
                      workdir, sip_port=free_udp_port(), rtp_ports=(rtp, rtp + 9),
                      timeout_s=duration_s + 30)


def write_wav(out: Path, y: F64) -> None:
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(y, -1, 1) * 32767).astype("<i2").tobytes())


def test_baresip_talking_over_a_reply_cuts_it(baresip: Path, sip_server: SipServer,
                                              tmp_path: Path) -> None:
    x, rate, _ = read_wav(THREE_TURNS)
    first, second, _ = turns(resample_poly(x[:, 0], RATE, rate), RATE)
    # The second turn; 1.5 s after it (the reply has begun, 500 ms of silence ended
    # the turn) the caller talks over the reply with the first turn; then silence,
    # the pushing turn again and silence (see GAP_S).
    gap, lead = np.zeros(int(GAP_S * RATE)), np.zeros(int(0.3 * RATE))
    over_at = np.zeros(int(1.5 * RATE))
    y = np.concatenate([lead, second, over_at, first, gap, first, gap])
    write_wav(tmp_path / "caller.wav", y)
    barge_ins = sip_server.process.metrics()["voxpipe_barge_ins_total"]
    done = call(baresip, sip_server, tmp_path / "caller.wav", tmp_path / "baresip",
                len(y) / RATE)
    assert done.heard is not None, done.log
    heard = read_wav(done.heard)[0][:, 0]
    began = best_correlation(heard, second[: int(0.3 * RATE)])
    whole = best_correlation(heard, second)
    tail = best_correlation(heard, second[-int(0.5 * RATE):])
    answered = best_correlation(heard, first)
    print(f"reply's start {began:.3f}, whole {whole:.3f}, last 0.5 s {tail:.3f}; "
          f"the next reply {answered:.3f}")
    assert began >= 0.8  # the reply to the second turn started ...
    assert whole < 0.8 and tail < 0.5  # ... and was cut: its end never reached the caller
    assert answered >= 0.8  # the turn said over it was answered
    assert sip_server.process.metrics()["voxpipe_barge_ins_total"] > barge_ins
