"""baresip calls ``voxpipe serve --sip`` (echo engine): it plays three user turns over
G.711 and hangs up at the end of the file. What baresip heard holds the echo of each
turn (G.711 both ways); its BYE ends the session, whose recording is complete."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.signal import resample_poly

from pipeline.record.event_log import read_event_log
from tests.telephony.baresip import place_call
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
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(y, -1, 1) * 32767).astype("<i2").tobytes())
    return y


def turns(x: F64, rate: int) -> list[F64]:
    return [x[int(t["onset_s"] * rate):int(t["offset_s"] * rate)] for t in LABELS["turns"]]


def test_baresip_hears_the_echo_of_each_turn_and_its_bye_finalizes_the_recording(
        baresip: Path, sip_server: SipServer, tmp_path: Path) -> None:
    said = caller_wav(tmp_path / "caller.wav")
    rtp = free_udp_port() // 2 * 2
    call = place_call(baresip, tmp_path / "caller.wav",
                      f"sip:agent@{sip_server.address[0]}:{sip_server.address[1]}",
                      tmp_path / "baresip", sip_port=free_udp_port(), rtp_ports=(rtp, rtp + 9),
                      timeout_s=len(said) / RATE + 30)
    assert call.heard is not None, call.log
    assert "end of file" in call.log and "terminated" in call.log, call.log  # hung up itself
    heard, rate, _ = read_wav(call.heard)
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
