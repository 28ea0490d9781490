"""What the caller heard, read from a session's recording alone (not voxpipe's counters).

For each labelled user turn of the input: the first agent audio after the end of the
turn (the echo's onset) gives end-of-speech -> first reply; no agent audio before the
next turn is a lost turn; and the echo, aligned to the user's turn, is glitched when
some 20 ms frame of it that should carry audio is digital silence (playout writes
nothing for a frame it did not play; the echo of speech and room tone is never
exactly zero for a whole frame). The reply is checked from its onset to its last
sound before the next turn.
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


@dataclass
class TurnHeard:
    latency_s: float | None  # end of the user's speech -> the echo's onset; None: lost
    glitched_frames: int  # frames of the reply that should have played and were silent


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


def silent_frames(reply: I16, rate: int) -> int:
    """Frames of digital silence inside a reply: runs of zeros a frame long or longer,
    in frames (a gap need not sit on this grid's frame boundaries)."""
    frame = rate * FRAME_MS // 1000
    zero = np.concatenate([[False], reply == 0, [False]])
    edges = np.flatnonzero(np.diff(zero.astype(np.int8)))
    runs = edges[1::2] - edges[::2]
    return round(int(runs[runs >= frame].sum()) / frame)


def turns_heard(wav: Path, labels: dict[str, Any]) -> list[TurnHeard]:
    """Each labelled turn of the input as the recording has it."""
    rate, _, agent = read_channels(wav)
    turns = labels["turns"]
    heard = []
    for i, turn in enumerate(turns):
        end = turn["offset_s"]
        next_on = turns[i + 1]["onset_s"] if i + 1 < len(turns) else math.inf
        a_on = onset_after(agent, rate, end, min(next_on, len(agent) / rate))
        if a_on is None:
            heard.append(TurnHeard(None, 0))
            continue
        # The reply: from its onset to its last sound before the next turn.
        seg = agent[int(a_on * rate): int(min(next_on, len(agent) / rate) * rate)]
        last = int(np.flatnonzero(seg)[-1]) if seg.any() else 0
        heard.append(TurnHeard(a_on - end, silent_frames(seg[: last + 1], rate)))
    return heard
