"""Mastering: DC blocking, loudness normalisation to ITU-R BS.1770-4 and a true-peak limiter.

Everything streams block by block, so memory stays flat however long the piece is:

* :class:`DcBlocker`, a second-order Butterworth high-pass at :data:`DC_CUTOFF_HZ`, removes the
  offset some SoundFont samples and the reverb leave behind.
* :class:`LoudnessMeter` measures integrated loudness as BS.1770-4 defines it: pyloudnorm's
  K-weighting filters (high shelf + high pass), 400 ms blocks with 75% overlap, the absolute
  (-70 LUFS) and relative (-10 LU) gates. It gives the same number as
  :meth:`pyloudnorm.Meter.integrated_loudness` without holding the whole signal.
* :class:`TruePeakLimiter` applies one gain (the loudness normalisation) and turns down only
  the peaks that would exceed the ceiling when measured 4× oversampled: a look-ahead, peak-hold
  gain computer with a linear-in-dB release, smoothed so the gain never steps.
* :func:`true_peak` measures the true peak of a finished 16-bit WAV 4× oversampled, touching
  only the parts of the file whose sample peaks could reach the maximum.

The 4× interpolator is a 49-tap Kaiser-windowed sinc (12 taps per phase, the length BS.1770-4
Annex 2 suggests); its phase 0 is the original samples.

scipy (``sosfilt``) and pyloudnorm (the K-weighting coefficients) are used where installed, as
on the command line. Blender's Python ships numpy only; there the same filters run as exact
numpy code (:func:`_sosfilt_numpy`, :func:`_rbj_section`), which the tests hold to scipy's and
pyloudnorm's results.
"""

from __future__ import annotations

import math
import os
import wave
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

try:
    from scipy import signal as _scipy_signal
except ImportError:  # Blender's Python ships numpy only: the exact numpy filters below serve
    _scipy_signal = None

#: High-pass corner of the DC blocker: below the lowest note of a piano (27.5 Hz) by more than
#: an octave, so only offset and sub-sonic drift go.
DC_CUTOFF_HZ = 10.0
OVERSAMPLING = 4
#: Taps per interpolation phase; the filter spans this many input frames.
PHASE_TAPS = 12
#: Frames of context the interpolator needs before and after a frame.
INTERPOLATION_REACH = PHASE_TAPS // 2
#: The limiter sees peaks this far ahead and ramps the gain down over this time.
LOOKAHEAD_S = 0.005
#: Gain recovers at this rate after a peak (a 6 dB reduction is undone in 0.2 s).
RELEASE_DB_PER_S = 30.0
#: Frames per peak-summary chunk: the unit in which quiet passages are skipped.
CHUNK_FRAMES = 256
#: Chunks oversampled together when measuring a file's true peak.
TRUE_PEAK_BATCH = 128
#: BS.1770-4 gating: 400 ms blocks stepped by 100 ms, absolute and relative gates.
BLOCK_S, HOP_S = 0.4, 0.1
ABSOLUTE_GATE_LUFS, RELATIVE_GATE_LU = -70.0, -10.0

#: Samples or filter coefficients: audio blocks are float32, filter states float64.
FloatArray: TypeAlias = NDArray[np.floating[Any]]


def _interpolator() -> FloatArray:
    """Kernels of the three in-between phases, shape (PHASE_TAPS, 3), for sliding windows."""
    half = OVERSAMPLING * INTERPOLATION_REACH
    taps = np.arange(-half, half + 1)
    kernel = np.sinc(taps / OVERSAMPLING) * np.kaiser(len(taps), 8.0)
    # Window j of a frame run multiplies frames m-5 .. m+6 to give the value at m + phase/4.
    phases = [kernel[phase::OVERSAMPLING][:PHASE_TAPS][::-1] for phase in range(1, OVERSAMPLING)]
    kernels: FloatArray = np.stack(phases, axis=1).astype(np.float32)
    return kernels


_PHASES = _interpolator()
#: Largest gain of any phase: no oversampled value exceeds this times the local sample peak.
OVERSHOOT_BOUND = float(np.abs(_PHASES).sum(axis=0).max())


def db_to_gain(db: float) -> float:
    gain: float = 10.0 ** (db / 20.0)
    return gain


def gain_to_db(gain: float) -> float:
    return 20.0 * math.log10(gain) if gain > 0 else -math.inf


# --- filters ---------------------------------------------------------------------------------


class _StatefulSos:
    """A second-order-sections filter applied block after block along axis 0, with
    ``scipy.signal.sosfilt`` or, where scipy is missing, :func:`_sosfilt_numpy`."""

    def __init__(self, sos: FloatArray, channels: int) -> None:
        self.sos = sos
        self.state = np.zeros((len(sos), 2, channels))
        self._spectra: dict[int, list[NDArray[np.complex128]]] = {}  # per block length, for numpy

    def __call__(self, block: FloatArray) -> FloatArray:
        if _scipy_signal is not None:
            filtered: FloatArray
            filtered, self.state = _scipy_signal.sosfilt(self.sos, block, axis=0, zi=self.state)
            return filtered
        return _sosfilt_numpy(self.sos, block, self.state, self._spectra)


def _all_pole_impulse(a1: float, a2: float, length: int) -> FloatArray:
    """Impulse response of ``1 / (1 + a1 z^-1 + a2 z^-2)``, by its recursion (computed once
    per block length; closed forms and matrix powers lose digits for poles this near 1)."""
    impulse = [1.0, -a1]
    for _ in range(length - 2):
        impulse.append(-a1 * impulse[-1] - a2 * impulse[-2])
    return np.array(impulse[:length])


def _sosfilt_numpy(
    sos: FloatArray,
    block: FloatArray,
    state: FloatArray,
    spectra: dict[int, list[NDArray[np.complex128]]],
) -> FloatArray:
    """``scipy.signal.sosfilt`` along axis 0 with state (transposed direct form II), updating
    ``state`` in place.

    A section's output over a block is its all-pole impulse response convolved (by FFT, exact
    within the block) with the numerator applied to the input, plus the state ``(z1, z2)``
    entered as two extra input samples at the block's start: the zero-input response of
    ``1/A`` to that state is exactly its response to that impulse pair.
    """
    n = len(block)
    size = 1 << max(1, (2 * n - 1).bit_length())
    if n not in spectra:
        spectra[n] = [np.fft.rfft(_all_pole_impulse(a1, a2, n), size) for *_, a1, a2 in sos]
    signal_in = block.astype(np.float64)
    for index, ((b0, b1, b2, _, a1, a2), spectrum) in enumerate(zip(sos, spectra[n], strict=True)):
        z1, z2 = state[index]
        driven = b0 * signal_in
        driven[1:] += b1 * signal_in[:-1]
        driven[2:] += b2 * signal_in[:-2]
        driven[0] += z1
        if n > 1:
            driven[1] += z2
        out = np.fft.irfft(np.fft.rfft(driven, size, axis=0) * spectrum[:, None], size, axis=0)
        out = out[:n]
        # The state after the last sample, from the last two inputs and outputs.
        carried = z2 if n == 1 else b2 * signal_in[-2] - a2 * out[-2]
        state[index, 0] = b1 * signal_in[-1] - a1 * out[-1] + carried
        state[index, 1] = b2 * signal_in[-1] - a2 * out[-1]
        signal_in = out
    return signal_in


def butterworth_highpass(cutoff_hz: float, sample_rate: int) -> FloatArray:
    """Second-order Butterworth high-pass as one second-order section (the bilinear transform
    with pre-warping, as ``scipy.signal.butter`` designs it)."""
    k = math.tan(math.pi * cutoff_hz / sample_rate)
    norm = 1.0 / (1.0 + math.sqrt(2.0) * k + k * k)
    b = np.array([1.0, -2.0, 1.0]) * norm
    a = np.array([1.0, 2.0 * (k * k - 1.0) * norm, (1.0 - math.sqrt(2.0) * k + k * k) * norm])
    sos: FloatArray = np.concatenate([b, a])[None]
    return sos


class DcBlocker(_StatefulSos):
    """Second-order Butterworth high-pass at :data:`DC_CUTOFF_HZ` with state across blocks."""

    def __init__(self, sample_rate: int, channels: int) -> None:
        super().__init__(butterworth_highpass(DC_CUTOFF_HZ, sample_rate), channels)

    def __call__(self, block: FloatArray) -> FloatArray:
        return super().__call__(block).astype(np.float32, order="C")


#: BS.1770-4's K-weighting stages as pyloudnorm defines them: (type, gain dB, Q, corner Hz).
K_WEIGHTING_STAGES = (("high_shelf", 4.0, 1 / math.sqrt(2), 1500.0), ("high_pass", 0.0, 0.5, 38.0))


def k_weighting(sample_rate: int) -> FloatArray:
    """BS.1770-4's K-weighting as second-order sections, taken from pyloudnorm's meter.

    Without pyloudnorm (Blender's Python has no scipy, which pyloudnorm imports) the same RBJ
    cookbook sections are computed here; ``tests/test_mastering.py`` checks both agree.
    """
    try:
        import pyloudnorm
    except ImportError:
        return np.array([_rbj_section(*stage, sample_rate) for stage in K_WEIGHTING_STAGES])
    sections = []
    for stage in pyloudnorm.Meter(sample_rate)._filters.values():
        b = np.asarray(stage.b, float) * stage.passband_gain
        a = np.asarray(stage.a, float)
        sections.append(np.concatenate([b / a[0], a / a[0]]))
    return np.array(sections)


def _rbj_section(kind: str, gain_db: float, q: float, corner_hz: float, rate: int) -> FloatArray:
    """An RBJ audio-EQ-cookbook high shelf or high pass, normalised to ``a0 = 1``."""
    amplitude = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * corner_hz / rate
    alpha, cos_w0 = math.sin(w0) / (2.0 * q), math.cos(w0)
    if kind == "high_shelf":
        root = 2.0 * math.sqrt(amplitude) * alpha
        plus, minus = amplitude + 1.0, amplitude - 1.0
        b = amplitude * np.array([plus + minus * cos_w0 + root, -2.0 * (minus + plus * cos_w0),
                                  plus + minus * cos_w0 - root])  # fmt: skip
        a = np.array([plus - minus * cos_w0 + root, 2.0 * (minus - plus * cos_w0),
                      plus - minus * cos_w0 - root])  # fmt: skip
    else:
        b = np.array([(1.0 + cos_w0) / 2.0, -(1.0 + cos_w0), (1.0 + cos_w0) / 2.0])
        a = np.array([1.0 + alpha, -2.0 * cos_w0, 1.0 - alpha])
    return np.concatenate([b / a[0], a / a[0]])


# --- loudness --------------------------------------------------------------------------------


class LoudnessMeter:
    """Integrated loudness (LUFS) by BS.1770-4, fed block by block.

    K-weighted power is summed per 100 ms hop; a 400 ms gating block is four hops. The block
    count and gates follow pyloudnorm, so the result matches
    ``pyloudnorm.Meter(rate).integrated_loudness(audio)`` for the same audio. Audio shorter
    than one block is measured as a single block of its own length.

    A block's contribution (:meth:`add` returns it) can be replayed, scaled, into another meter
    with :meth:`add_energy`: the K-weighting is linear, so a signal that only differs by a
    gain need not be filtered again.
    """

    def __init__(self, sample_rate: int, channels: int) -> None:
        self.sample_rate = sample_rate
        self._weighting = _StatefulSos(k_weighting(sample_rate), channels)
        self._hop_energy: list[float] = [0.0]
        self.frames = 0

    @property
    def state(self) -> FloatArray:
        """The K-weighting filters' state (a copy)."""
        return self._weighting.state.copy()

    @state.setter
    def state(self, value: FloatArray) -> None:
        self._weighting.state = value.copy()

    def add(self, block: FloatArray) -> FloatArray:
        """Measure the next ``(frames, channels)`` block; return its energy per hop touched."""
        weighted = self._weighting(block)
        power = np.square(weighted[:, 0])  # channel weights are 1 for L and R
        for channel in range(1, weighted.shape[1]):
            power += np.square(weighted[:, channel])
        # Split the block where hops start: the open hop's rest, then each new hop.
        end, hop = self.frames + len(block), len(self._hop_energy)
        edges = [self.frames]
        while (edge := self._hop_start(hop)) < end:
            edges.append(edge)
            hop += 1
        energy = np.add.reduceat(power, np.array(edges) - self.frames) if len(power) else [0.0]
        energy = np.asarray(energy, dtype=float)
        self.add_energy(energy, len(block))
        return energy

    def _hop_start(self, hop: int) -> int:
        return round(hop * HOP_S * self.sample_rate)

    def add_energy(self, energy: FloatArray, frames: int) -> None:
        """Count ``frames`` more frames whose energy per hop (from :meth:`add`) is ``energy``."""
        self._hop_energy[-1] += float(energy[0])
        self._hop_energy.extend(float(e) for e in energy[1:])
        self.frames += frames
        if self.frames >= self._hop_start(len(self._hop_energy)):
            self._hop_energy.append(0.0)  # the open hop is complete: open the next

    def integrated(self) -> float:
        """The gated integrated loudness so far, in LUFS (-inf for silence)."""
        hops = np.array(self._hop_energy)
        block_frames = BLOCK_S * self.sample_rate
        duration = self.frames / self.sample_rate
        if duration < BLOCK_S:
            blocks = np.array([hops.sum() / max(1, self.frames)])
        else:
            count = int(np.round((duration - BLOCK_S) / HOP_S)) + 1
            per_block = round(BLOCK_S / HOP_S)
            padded = np.concatenate([hops, np.zeros(per_block)])
            sums = np.convolve(padded, np.ones(per_block))[per_block - 1 :][:count]
            blocks = sums / block_frames
        with np.errstate(divide="ignore"):
            loudness = -0.691 + 10.0 * np.log10(blocks)
        above_absolute = blocks[loudness >= ABSOLUTE_GATE_LUFS]
        if not len(above_absolute):
            return -math.inf
        relative_gate = -0.691 + 10.0 * math.log10(above_absolute.mean()) + RELATIVE_GATE_LU
        gated = blocks[(loudness > relative_gate) & (loudness > ABSOLUTE_GATE_LUFS)]
        return -0.691 + 10.0 * math.log10(gated.mean()) if len(gated) else -math.inf


# --- true peak -------------------------------------------------------------------------------


def _magnitude(values: FloatArray) -> FloatArray:
    """Largest |value| along the last axis (a few channels or phases): column by column,
    which is far faster than numpy's reduction over a short last axis."""
    peak: FloatArray = np.abs(values[..., 0])
    for column in range(1, values.shape[-1]):
        np.maximum(peak, np.abs(values[..., column]), out=peak)
    return peak


def interval_peaks(frames: FloatArray) -> FloatArray:
    """Largest |value| over all channels within each frame interval ``[k, k+1)``, 4× oversampled.

    ``frames`` is ``(..., n, channels)``; the result covers ``k = 5 .. n-7`` (``n - 11`` values
    along the last axis: the intervals whose interpolation has its full context).
    """
    n = frames.shape[-2]
    if n <= 2 * INTERPOLATION_REACH:
        return np.zeros((*frames.shape[:-2], 0), np.float32)
    reach = INTERPOLATION_REACH
    peaks = _magnitude(frames[..., reach - 1 : n - reach, :]).astype(np.float32)
    for channel in range(frames.shape[-1]):
        samples = np.ascontiguousarray(frames[..., channel], dtype=np.float32)
        windows = sliding_window_view(samples, PHASE_TAPS, axis=-1)
        np.maximum(peaks, _magnitude(windows @ _PHASES), out=peaks)
    return peaks


def chunk_peaks(block: FloatArray) -> FloatArray:
    """Sample peak (all channels) of each :data:`CHUNK_FRAMES` chunk of a block."""
    magnitude = _magnitude(block)
    pad = -len(magnitude) % CHUNK_FRAMES
    if pad:
        magnitude = np.concatenate([magnitude, np.zeros(pad, magnitude.dtype)])
    peaks: FloatArray = magnitude.reshape(-1, CHUNK_FRAMES).max(axis=1)
    return peaks


def _neighbourhood_max(peaks: FloatArray) -> FloatArray:
    """Each chunk's peak with its neighbours': the interpolator reaches into them."""
    padded = np.concatenate([[0.0], peaks, [0.0]])
    return np.maximum(np.maximum(padded[:-2], padded[1:-1]), padded[2:])


def true_peak(
    path: str | os.PathLike[str], peaks: FloatArray | None = None, tolerance: float = 0.0
) -> float:
    """True peak of a 16-bit WAV file (linear, full scale 1.0), 4× oversampled.

    Only chunks whose sample peaks, times the interpolator's largest overshoot, could exceed
    the peak found so far are oversampled, loudest first, so a long file is read mostly from
    its chunk summary. ``peaks`` are the chunks' sample peaks (from :func:`chunk_peaks`) when
    the caller already has them, known to within ``tolerance`` (e.g. taken before rounding
    to 16 bits); otherwise they are read from the file.
    """
    with wave.open(str(path), "rb") as wav:
        channels, total = wav.getnchannels(), wav.getnframes()
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path} is not 16-bit PCM")

        def read(first: int, end: int) -> FloatArray:
            lo, hi = max(0, first), min(total, end)
            wav.setpos(lo)
            pcm = np.frombuffer(wav.readframes(hi - lo), "<i2").reshape(-1, channels)
            frames = np.zeros((end - first, channels), np.float32)
            frames[lo - first : hi - first] = pcm * np.float32(1 / 32768)
            return frames

        if peaks is None:
            step = 64 * CHUNK_FRAMES
            peaks = np.concatenate(
                [chunk_peaks(read(s, min(total, s + step))) for s in range(0, total, step)]
            )
        bounds = (_neighbourhood_max(peaks) + tolerance) * OVERSHOOT_BOUND
        best = float(peaks.max(initial=0.0)) - tolerance  # phase 0 is the samples themselves
        order = np.argsort(-bounds, kind="stable")
        for batch_start in range(0, len(order), TRUE_PEAK_BATCH):
            batch = order[batch_start : batch_start + TRUE_PEAK_BATCH]
            batch = np.sort(batch[bounds[batch] > best])
            if not len(batch):
                break
            # Neighbouring chunks are read and oversampled as one run.
            breaks = np.flatnonzero(np.diff(batch) > 1) + 1
            for run in np.split(batch, breaks):
                first = int(run[0]) * CHUNK_FRAMES - INTERPOLATION_REACH
                end = (int(run[-1]) + 1) * CHUNK_FRAMES + INTERPOLATION_REACH
                best = max(best, float(interval_peaks(read(first, end)).max()))
    return best


# --- limiter ---------------------------------------------------------------------------------


@dataclass
class TruePeakLimiter:
    """Gain plus look-ahead true-peak limiting over a signal read back from a spool.

    ``read(first, end)`` returns frames ``[first, end)`` of the unscaled signal (zeros outside
    it); ``peaks`` holds its :func:`chunk_peaks`. Blocks must be asked for in order.
    """

    sample_rate: int
    gain: float
    ceiling: float
    peaks: FloatArray

    def __post_init__(self) -> None:
        self.lookahead = max(2, round(LOOKAHEAD_S * self.sample_rate))
        self.release_db = RELEASE_DB_PER_S / self.sample_rate
        self.reach = self.lookahead + INTERPOLATION_REACH + 1
        self._bounds = self.gain * OVERSHOOT_BOUND * _neighbourhood_max(self.peaks)
        self._envelope = 0.0  # gain reduction (dB) held at frame ``first - lookahead``
        self.limited_frames = 0
        #: Whether the last block came out with the plain gain, untouched by the limiter.
        self.idle = True

    def _needs_limiting(self, first: int, end: int) -> bool:
        lo = max(0, (first - self.reach) // CHUNK_FRAMES)
        hi = (end + self.reach) // CHUNK_FRAMES + 1
        return self._envelope > 0.0 or bool(np.any(self._bounds[lo:hi] > self.ceiling))

    def process(self, read: Callable[[int, int], FloatArray], first: int, end: int) -> FloatArray:
        """Frames ``[first, end)`` scaled by the gain and limited, as float32."""
        self.idle = not self._needs_limiting(first, end)
        if self.idle:
            return read(first, end) * np.float32(self.gain)
        w = self.lookahead
        # Context: the interpolator's reach around frames first-w .. end+w-1.
        segment = read(first - w - INTERPOLATION_REACH, end + w + INTERPOLATION_REACH)
        segment *= np.float32(self.gain)
        # Peak within [k, k+1) for k = first-w-1 .. end+w-1, oversampled only in the chunks
        # that could reach the ceiling; the peak around frame k is the larger of the
        # intervals on either side of it (k = first-w .. end+w-1).
        intervals = self._interval_peaks_near_ceiling(segment, first - w - 1)
        around = np.maximum(intervals[:-1], intervals[1:])
        needed_db = 20.0 * np.log10(np.maximum(around, self.ceiling) / self.ceiling)
        # Look ahead: frame j must already be down by what any of frames j .. j+w-1 need.
        ahead = _forward_max(needed_db[1:-1], w)  # frames first-w+1 .. end-1
        # Peak hold with a linear-in-dB release, continuing the envelope of the last block.
        slope = self.release_db * np.arange(len(ahead) + 1)
        held = np.maximum.accumulate(np.concatenate([[self._envelope], ahead]) + slope) - slope
        self._envelope = float(held[end - first])  # the value at frame end - w
        # A moving average over w frames turns steps into ramps and keeps every frame at
        # least as far down as it needs (each average covers only windows that contain it).
        cumulative = np.concatenate([[0.0], np.cumsum(held[1:])])
        reduction_db = (cumulative[w:] - cumulative[:-w]) / w
        limited = int(np.count_nonzero(reduction_db > 0.0))
        self.limited_frames += limited
        self.idle = limited == 0
        body = segment[w + INTERPOLATION_REACH : w + INTERPOLATION_REACH + end - first]
        scaled: FloatArray = body * (10.0 ** (-reduction_db / 20.0)).astype(np.float32)[:, None]
        return scaled

    def _interval_peaks_near_ceiling(self, segment: FloatArray, first_interval: int) -> FloatArray:
        """:func:`interval_peaks` of ``segment`` (whose first interval starts at frame
        ``first_interval``), computed only in runs of chunks whose bound exceeds the ceiling;
        elsewhere 0, which the bound proves harmless."""
        count = len(segment) - 2 * INTERPOLATION_REACH + 1
        frames = np.arange(first_interval, first_interval + count)
        chunks = np.clip(frames // CHUNK_FRAMES, 0, len(self._bounds) - 1)
        candidate = np.concatenate([[False], self._bounds[chunks] > self.ceiling, [False]])
        edges = np.flatnonzero(np.diff(candidate.astype(np.int8)))
        peaks = np.zeros(count, np.float32)
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            span = segment[start : stop + 2 * INTERPOLATION_REACH - 1]
            peaks[start:stop] = interval_peaks(span)
        return peaks


def _forward_max(values: FloatArray, width: int) -> FloatArray:
    """``max(values[j : j + width])`` for every j with a full window, in O(n) (van Herk /
    Gil-Werman: running maxima forward and backward within blocks of ``width``)."""
    count = len(values) - width + 1
    blocks = -(-len(values) // width)
    padded = np.full(blocks * width, -np.inf)
    padded[: len(values)] = values
    runs = padded.reshape(blocks, width)
    forward = np.maximum.accumulate(runs, axis=1).ravel()
    backward = np.maximum.accumulate(runs[:, ::-1], axis=1)[:, ::-1].ravel()
    return np.maximum(backward[:count], forward[width - 1 : width - 1 + count])
