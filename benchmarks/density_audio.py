"""What the caller heard, read from a session's recording alone (not voxpipe's counters).

For each labelled user turn of the input: the first agent audio after the end of the
turn (the echo's onset) gives end-of-speech -> first reply; no agent audio before the
next turn is a lost turn; and the echo is glitched where it holds digital silence
between two of its sounds (playout writes nothing for audio it did not play; the echo
of speech and room tone is never exactly zero for a millisecond). The reply is checked
from its first sound to its last before the next turn's end; its gaps are counted as
playout counts them (``pipeline/stages/playout_glitches.py``): each run of silence, in
frames rounded up.
"""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

I16 = npt.NDArray[np.int16]
FRAME_MS = 20
ONSET_DBFS = -45.0  # the agent's voice clears this; the digital silence of a gap does not
ONSET_WIN_MS = 5.0
GAP_MIN_MS = 1  # a run of zeros this long inside a reply is a gap, not a zero crossing


@dataclass
class TurnHeard:
    latency_s: float | None  # end of the user's speech -> the echo's onset; None: lost
    glitched_frames: int  # the reply's gaps in playout frames (a partial frame counts one)
    gaps: int = 0  # the runs of digital silence inside the reply


def read_channels(wav: Path) -> tuple[int, I16, I16]:
    """(rate, user, agent) of a conversation.wav (stereo, left user, right agent)."""
    with wave.open(str(wav)) as w:
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    return rate, data[:, 0], data[:, 1]


def onset_after(x: I16, rate: int, start_s: float, end_s: float) -> float | None:
    """First time in [start_s, end_s) whose 5 ms RMS clears ONSET_DBFS."""
    win = int(rate * ONSET_WIN_MS / 1000)
    i0, i1 = int(start_s * rate), min(len(x), int(end_s * rate))
    n = max(0, (i1 - i0) // win)
    if n == 0:
        return None
    seg = x[i0: i0 + n * win].astype(np.float64).reshape(n, win) / 32768.0
    rms = np.sqrt(np.mean(seg**2, axis=1) + 1e-20)
    hits = np.nonzero(20 * np.log10(rms) > ONSET_DBFS)[0]
    return None if hits.size == 0 else (i0 + int(hits[0]) * win) / rate


def silence_runs(reply: I16, rate: int) -> npt.NDArray[np.int64]:
    """Lengths of the runs of digital silence inside ``reply`` (which starts and ends on
    sound) at least GAP_MIN_MS long: shorter runs are a waveform's own zero crossings."""
    zero = np.concatenate([[False], reply == 0, [False]])
    edges = np.flatnonzero(np.diff(zero.astype(np.int8)))
    runs = edges[1::2] - edges[::2]
    return runs[runs >= rate * GAP_MIN_MS // 1000].astype(np.int64)


def gap_frames(runs: npt.NDArray[np.int64], rate: int) -> int:
    """Gaps (``silence_runs``) in playout frames, each rounded up (playout's count)."""
    frame = rate * FRAME_MS // 1000
    return int((-(-runs // frame)).sum())


def turns_heard(wav: Path, labels: dict[str, Any]) -> list[TurnHeard]:
    """Each labelled turn of the input as the recording has it."""
    rate, _, agent = read_channels(wav)
    turns = labels["turns"]
    end_s = len(agent) / rate
    heard = []
    for i, turn in enumerate(turns):
        end = turn["offset_s"]
        next_on = turns[i + 1]["onset_s"] if i + 1 < len(turns) else math.inf
        a_on = onset_after(agent, rate, end, min(next_on, end_s))
        if a_on is None:
            heard.append(TurnHeard(None, 0))
            continue
        # The reply: all agent audio after this turn's end until the next turn's end
        # (no other reply can start before then; a barge-in cuts this one inside it),
        # from its first sample of sound to its last.
        next_end = turns[i + 1]["offset_s"] if i + 1 < len(turns) else end_s
        seg = agent[int(end * rate): int(min(next_end, end_s) * rate)]
        sound = np.flatnonzero(seg)
        reply = seg[int(sound[0]): int(sound[-1]) + 1]
        runs = silence_runs(reply, rate)
        heard.append(TurnHeard(a_on - end, gap_frames(runs, rate), int(runs.size)))
    return heard
