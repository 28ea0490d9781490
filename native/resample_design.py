"""Filter design for ``native.resample``: equiripple linear-phase lowpass, pure numpy.

Runs once per rate pair per process (the tables are cached); never per call.

Why equiripple, not a Kaiser window: the delay budget (<= 2 ms on the hot
pairs) is set by the filter length, and a window design spends the same ripple
in the passband as in the stopband (~0.003 dB for 70 dB). Parks-McClellan puts
0.08 dB of ripple in the passband (the spec allows 0.1) and 72 dB of
attenuation in the stopband, and needs ~2/3 of the Kaiser length: 48k->16k
(transition 7.2-8 kHz) fits in 1.9 ms of delay instead of 2.7 ms. A minimum-phase
design would be shorter still but bends the phase near the band edge, which
breaks sample-level agreement with soxr and every linear-phase consumer.

Band plan, relative to ``edge = min(in_rate, out_rate) / 2`` (the lower
Nyquist): flat to ``0.9 * edge``, >= 70 dB down from ``edge`` on, so no
input tone above the output Nyquist can alias (and no image survives upsampling).

The resampler upsamples by ``up``, filters at ``fine_rate = up * in_rate`` and
keeps every ``down``-th sample. Two ways to get the filter at ``fine_rate``:

* direct: Remez at ``fine_rate`` when that is at most 14 * edge (integer-ish
  ratios such as 48k->16k, 24k->48k): the taps are exactly the optimum.
* continuous: for the 44.1 kHz family ``up`` is 80..441 and a direct design
  would need 10-40 thousand taps, so one prototype ``g`` is designed at
  ``8 * edge`` and evaluated at any instant through a short 90 dB Kaiser
  interpolation kernel ``k``: h(t) = sum_n g[n] k(t - n / (8 edge)). Its
  response is G(f) K(f); K removes G's images (from 7 * edge on), and at
  ``fine_rate >= 14 * edge`` the fine grid's own aliases land where K is
  already 90 dB down. It costs ~3% more delay than a direct design.

Either way the filter is centred on a whole number of output samples
(``delay_out``), so trimming that many samples time-aligns the output exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
import numpy.typing as npt

SUPPORTED_RATES: tuple[int, ...] = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
PASS_FRACTION = 0.9  # passband end, as a fraction of the lower Nyquist
# Design targets, with margin on the guarantees (0.1 dB, 70 dB) for float32
# taps, the interpolation kernel and a sampled (not continuous) check.
PASS_RIPPLE_DB = 0.08
STOP_ATTEN_DB = 72.0
_DIRECT_MAX_RATIO = 14  # fine_rate / edge up to which the filter is designed directly
_PROTO_RATIO = 8  # continuous path: the prototype runs at 8 * edge
_KERNEL_ATTEN_DB = 90.0
TAP_ALIGN = 8  # the kernel's dot product steps one 8-float vector at a time

Float64s = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PolyphaseFilter:
    """Everything the kernel needs for one rate pair (see the module docstring).

    ``table[p, t]`` is tap ``t`` of phase ``p``: output at fine position
    ``k * down`` with ``p = k * down mod up`` is the dot product of
    ``table[p]`` with the ``taps_per_phase`` inputs ending at
    ``floor(k * down / up)``, oldest first. Each phase sums to ~1.
    """

    up: int
    down: int
    delay_out: int  # filter delay in output samples (the centre tap's position)
    taps: Float64s  # prototype at fine_rate, length 2 * delay_out * down + 1, passband gain up
    table: npt.NDArray[np.float32]

    @property
    def taps_per_phase(self) -> int:
        return int(self.table.shape[1])


def ratio(in_rate: int, out_rate: int) -> tuple[int, int]:
    """``(up, down)`` in lowest terms with ``out_rate / in_rate == up / down``."""
    g = math.gcd(in_rate, out_rate)
    return out_rate // g, in_rate // g


@cache
def design(in_rate: int, out_rate: int) -> PolyphaseFilter:
    """The polyphase filter for ``in_rate -> out_rate`` (cached per process)."""
    up, down = ratio(in_rate, out_rate)
    if up == down:
        one = np.ones(1)
        return PolyphaseFilter(1, 1, 0, one, _polyphase(one, 1))
    edge = min(in_rate, out_rate) / 2
    fine_rate = up * in_rate
    if fine_rate <= _DIRECT_MAX_RATIO * edge:
        taps, delay = _direct(fine_rate / edge, down)
    else:
        taps, delay = _continuous(fine_rate / edge, down, out_rate / edge)
    taps = taps * (up / _passband_gain(taps, fine_rate / edge))
    return PolyphaseFilter(up, down, delay, taps, _polyphase(taps, up))


def _polyphase(taps: Float64s, up: int) -> npt.NDArray[np.float32]:
    """Split the prototype into ``up`` phases, each reversed (oldest input first).

    Rows are padded with leading zeros to a multiple of ``TAP_ALIGN`` so the
    kernel's dot product needs no scalar tail loop.
    """
    per_phase = -(-taps.size // up)
    per_phase = -(-per_phase // TAP_ALIGN) * TAP_ALIGN
    padded = np.zeros(per_phase * up)
    padded[: taps.size] = taps
    # Phase p uses taps p, p + up, p + 2 up ... against the newest input first.
    table = padded.reshape(per_phase, up).T[:, ::-1]
    return np.ascontiguousarray(table, dtype=np.float32)


def _response(taps: Float64s, fine_ratio: float) -> tuple[Float64s, Float64s]:
    """``(passband, stopband)`` magnitudes of ``taps`` on a dense grid (``edge`` = 1)."""
    n_fft = 1 << max(14, math.ceil(math.log2(taps.size * 8)))
    response = np.abs(np.fft.rfft(taps, n_fft))
    freq = np.arange(response.size) / n_fft * fine_ratio
    return response[freq <= PASS_FRACTION], response[freq >= 1.0]


def _passband_gain(taps: Float64s, fine_ratio: float) -> float:
    """Mid-range passband gain: normalising by it centres the ripple on 0 dB (by DC's
    gain it would all lie on one side, doubling the deviation for the same taps)."""
    passband, _ = _response(taps, fine_ratio)
    return float(passband.max() + passband.min()) / 2


def _meets_spec(taps: Float64s, fine_ratio: float) -> bool:
    """Passband within +-PASS_RIPPLE_DB, stopband STOP_ATTEN_DB down (0.5 dB grace)."""
    passband, stopband = _response(taps / _passband_gain(taps, fine_ratio), fine_ratio)
    ripple = float(np.max(np.abs(20 * np.log10(passband))))
    atten = float(-20 * np.log10(np.max(stopband)))
    return ripple <= PASS_RIPPLE_DB + 0.01 and atten >= STOP_ATTEN_DB - 0.5


def _direct(fine_ratio: float, down: int) -> tuple[Float64s, int]:
    """Shortest Remez filter at ``fine_ratio * edge``, centred on a whole output sample."""
    f_pass, f_stop = PASS_FRACTION / fine_ratio, 1.0 / fine_ratio
    delay = max(1, int(_estimate_length(f_stop - f_pass) / (2 * down)) - 2)
    while True:
        taps = remez_lowpass(2 * delay * down + 1, f_pass, f_stop)
        if _meets_spec(taps, fine_ratio):
            return taps, delay
        delay += 1


@lru_cache(maxsize=1)
def _prototype() -> tuple[Float64s, float]:
    """The continuous path's prototype ``g`` at ``8 * edge``, and the kernel's half-width."""
    f_pass, f_stop = PASS_FRACTION / _PROTO_RATIO, 1.0 / _PROTO_RATIO
    length = int(_estimate_length(f_stop - f_pass)) | 1
    while True:
        g = remez_lowpass(length, f_pass, f_stop)
        if _meets_spec(g, _PROTO_RATIO):
            break
        length += 2
    # Kaiser kernel: flat to 0.9 edge, 90 dB down from the first image of g's
    # passband edge (8 - 1) edge; half-width in prototype samples.
    kernel_transition = (_PROTO_RATIO - 1 - PASS_FRACTION) / _PROTO_RATIO
    half_width = (_KERNEL_ATTEN_DB - 7.95) / (14.36 * kernel_transition) / 2
    return g, half_width


def _kernel(t: Float64s, half_width: float) -> Float64s:
    """Kaiser-windowed sinc, ``t`` in prototype samples, cutoff between 0.9 and 7 edge."""
    beta = 0.1102 * (_KERNEL_ATTEN_DB - 8.7)
    cutoff = (PASS_FRACTION + _PROTO_RATIO - 1) / 2 / _PROTO_RATIO  # cycles per sample
    inside = np.abs(t) < half_width
    window = np.i0(beta * np.sqrt(np.clip(1 - (t / half_width) ** 2, 0, 1))) / np.i0(beta)
    return np.where(inside, 2 * cutoff * np.sinc(2 * cutoff * t) * window, 0.0)


def _continuous(fine_ratio: float, down: int, out_ratio: float) -> tuple[Float64s, int]:
    """Evaluate ``g * k`` on the fine grid, centred on a whole output sample."""
    g, half_width = _prototype()
    centre = (g.size - 1) / 2
    half_span = (centre + half_width) / _PROTO_RATIO  # in 1 / edge
    delay = math.ceil(half_span * out_ratio)
    n = 2 * delay * down + 1
    # Fine-grid instants in prototype samples, relative to the centre.
    t = (np.arange(n) - delay * down) * (_PROTO_RATIO / fine_ratio)
    taps = np.zeros(n)
    reach = math.ceil(half_width)
    nearest = np.rint(t + centre).astype(np.int64)
    for offset in range(-reach, reach + 1):
        idx = nearest + offset
        valid = (idx >= 0) & (idx < g.size)
        taps[valid] += g[idx[valid]] * _kernel(t[valid] + centre - idx[valid], half_width)
    return taps, delay


def _estimate_length(transition: float) -> float:
    """Herrmann/Kaiser estimate of the equiripple length for the design targets."""
    d_pass = 10 ** (PASS_RIPPLE_DB / 20) - 1
    d_stop = 10 ** (-STOP_ATTEN_DB / 20)
    return (-10 * math.log10(d_pass * d_stop) - 13) / (14.6 * transition) + 1


def remez_lowpass(numtaps: int, f_pass: float, f_stop: float) -> Float64s:
    """Parks-McClellan odd-length lowpass; edges in cycles per sample.

    Weights make the passband error ``PASS_RIPPLE_DB``-sized when the stopband
    reaches ``STOP_ATTEN_DB``; the caller checks whether this length got there.
    """
    d_pass = 10 ** (PASS_RIPPLE_DB / 20) - 1
    d_stop = 10 ** (-STOP_ATTEN_DB / 20)
    half = (numtaps - 1) // 2
    r = half + 1  # cosine terms; the optimum alternates at r + 1 points
    n_grid = 16 * r
    share = f_pass / (f_pass + 0.5 - f_stop)
    n_pass = max(8, int(n_grid * share))
    freq = np.concatenate(
        [np.linspace(0, f_pass, n_pass), np.linspace(f_stop, 0.5, max(8, n_grid - n_pass))]
    )
    in_pass = np.arange(freq.size) < n_pass
    x = np.cos(2 * np.pi * freq)
    desired = in_pass.astype(np.float64)
    weight = np.where(in_pass, 1.0, d_pass / d_stop)
    ext = np.rint(np.linspace(0, freq.size - 1, r + 1)).astype(np.int64)
    sign = (-1.0) ** np.arange(r + 1)
    for _ in range(100):
        bary = _bary_weights(x[ext])
        delta = np.sum(bary * desired[ext]) / np.sum(bary * sign / weight[ext])
        values = desired[ext] - sign * delta / weight[ext]
        nodes = x[ext[:-1]]
        node_weights = _bary_weights(nodes)
        error = weight * (desired - _bary_eval(x, nodes, node_weights, values[:-1]))
        new_ext = _alternating_extrema(error, in_pass, r + 1)
        if new_ext is None or np.array_equal(new_ext, ext):
            break
        converged = np.max(np.abs(error)) <= abs(delta) * (1 + 1e-6)
        ext = new_ext
        if converged:
            break
    # Sample the amplitude at numtaps uniform frequencies and invert the DFT.
    grid = np.cos(2 * np.pi * np.arange(numtaps) / numtaps)
    amplitude = _bary_eval(grid, nodes, node_weights, values[:-1])
    return np.roll(np.fft.ifft(amplitude).real, half)


def _bary_weights(nodes: Float64s) -> Float64s:
    """Barycentric weights, scaled in the log domain (the products under/overflow)."""
    diff = nodes[:, None] - nodes[None, :]
    np.fill_diagonal(diff, 1.0)
    log_mag = -np.sum(np.log(np.abs(diff)), axis=1)
    sign = np.prod(np.sign(diff), axis=1)
    return np.asarray(sign * np.exp(log_mag - log_mag.max()), dtype=np.float64)


def _bary_eval(x: Float64s, nodes: Float64s, weights: Float64s, values: Float64s) -> Float64s:
    """The polynomial through ``(nodes, values)`` at ``x`` (second barycentric form)."""
    diff = x[:, None] - nodes[None, :]
    hit = diff == 0
    diff[hit] = 1.0
    terms = weights / diff
    result = (terms @ values) / terms.sum(axis=1)
    rows, cols = np.nonzero(hit)
    result[rows] = values[cols]
    return np.asarray(result, dtype=np.float64)


def _alternating_extrema(
    error: Float64s, in_pass: npt.NDArray[np.bool_], count: int
) -> npt.NDArray[np.int64] | None:
    """``count`` grid indices of local extrema of ``error`` with alternating signs."""
    mag = np.abs(error)
    candidates: list[int] = []
    for band in (np.flatnonzero(in_pass), np.flatnonzero(~in_pass)):
        # Extrema of the signed error (a positive peak beside a negative
        # neighbour counts): near convergence the sign flips every grid point.
        e = error[band]
        s = np.where(e >= 0, 1.0, -1.0)
        left = np.concatenate([[True], s[1:] * e[1:] >= s[1:] * e[:-1]])
        right = np.concatenate([s[:-1] * e[:-1] > s[:-1] * e[1:], [True]])
        candidates += band[left & right].tolist()
    # One extremum per run of equal sign: the largest.
    kept: list[int] = []
    for i in candidates:
        if kept and (error[i] > 0) == (error[kept[-1]] > 0):
            if mag[i] > mag[kept[-1]]:
                kept[-1] = i
        else:
            kept.append(i)
    while len(kept) > count:
        j = int(np.argmin(mag[kept]))
        if 0 < j < len(kept) - 1 and len(kept) - 2 >= count:
            # Dropping an interior point leaves its neighbours with equal signs.
            del kept[j]
            if mag[kept[j - 1]] >= mag[kept[j]]:
                del kept[j]
            else:
                del kept[j - 1]
        else:
            del kept[0 if mag[kept[0]] < mag[kept[-1]] else -1]
    if len(kept) < count:
        return None
    return np.asarray(kept, dtype=np.int64)
