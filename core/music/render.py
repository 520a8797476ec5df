"""Score → mastered WAV with a SoundFont synthesizer (:mod:`.synth`) and a General MIDI
SoundFont (:mod:`.soundfont`), offline, faster than real time.

Two passes keep memory flat however long the piece is. The first renders the float mix,
removes DC (:class:`~.master.DcBlocker`), fades the last ``fade_s`` seconds out to silence on
the last sample, measures its loudness (BS.1770-4) and spools it to a temporary file. The
second reads the spool back, applies the one gain that brings it to the target loudness and
a true-peak limiter (:mod:`.master`), and writes 16-bit PCM while measuring what it wrote. If
the limiter took the loudness more than :data:`LOUDNESS_TOLERANCE_LU` off target, or the
written true peak is over the ceiling, the second pass runs again with a corrected gain or
ceiling.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import math
import os
import tempfile
import threading
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..files import atomic_path
from .config import RenderConfig
from .master import (
    DcBlocker,
    FloatArray,
    LoudnessMeter,
    TruePeakLimiter,
    chunk_peaks,
    db_to_gain,
    gain_to_db,
    true_peak,
)
from .score import Score
from .soundfont import find_soundfont
from .synth import BLOCK_FRAMES, CHANNELS, RenderError, check_cancel, synthesize

log = logging.getLogger(__name__)

SAMPLE_WIDTH = 2  # bytes: 16-bit PCM
FRAME_BYTES = CHANNELS * 4  # a float32 stereo frame in the spool
#: A written file whose loudness is further than this from the target is mastered again.
LOUDNESS_TOLERANCE_LU = 0.2
#: The limiter aims this far under the true-peak ceiling: 16-bit rounding and the gain's
#: movement between samples may add a few hundredths of a dB.
CEILING_MARGIN_DB = 0.05
MAX_MASTERING_PASSES = 4
#: Peaks below this (about -100 dBFS) count as silence.
SILENCE_PEAK = 1e-5
ProgressFn = Callable[[float], None]


@dataclass(frozen=True)
class RenderResult:
    """What the written WAV measures.

    Attributes
    ----------
    loudness_lufs
        Integrated loudness, ITU-R BS.1770-4.
    true_peak_dbtp
        True peak, 4× oversampled, dB relative to full scale.
    dc_offset_dbfs
        Mean sample value of the louder channel, dB relative to full scale.
    gain_db
        The one gain that brought the mix to the target loudness.
    limited_s
        Audio the true-peak limiter turned down, in seconds.
    """

    loudness_lufs: float
    true_peak_dbtp: float
    dc_offset_dbfs: float
    gain_db: float
    limited_s: float

    def as_dict(self) -> dict[str, float]:
        """The measurements rounded for a manifest (``score.json``)."""
        return {name: round(value, 3) for name, value in dataclasses.asdict(self).items()}


@dataclass
class _Mix:
    """The spooled first pass, measured: loudness, sample peaks per chunk, and per block the
    K-weighting state before it and its energy per loudness hop (replayed in the second pass
    wherever the limiter leaves the block alone)."""

    loudness_lufs: float
    peaks: FloatArray
    meter_states: list[FloatArray]
    hop_energies: list[FloatArray]


def _spool_float_mix(
    blocks: Iterator[FloatArray],
    total_frames: int,
    sample_rate: int,
    fade_frames: int,
    spool: io.BufferedIOBase,
    progress: ProgressFn | None,
) -> _Mix:
    """Spool the synthesized blocks, DC-blocked and faded, as float32 stereo and measure them."""
    dc_blocker = DcBlocker(sample_rate, CHANNELS)
    meter = LoudnessMeter(sample_rate, CHANNELS)
    peaks, states, energies = [], [], []
    block_start = 0
    for synthesized in blocks:
        block = dc_blocker(synthesized)
        block_frames = len(block)
        if block_start + block_frames > total_frames - fade_frames:
            block *= _fade_out(total_frames, fade_frames, block_start, block_frames)[:, None]
        spool.write(block.data)
        states.append(meter.state)
        energies.append(meter.add(block))
        peaks.append(chunk_peaks(block))
        block_start += block_frames
        if progress is not None:
            progress(0.85 * block_start / total_frames)
    spool.flush()
    return _Mix(meter.integrated(), np.concatenate(peaks), states, energies)


def _fade_out(frames: int, fade_frames: int, block_start: int, block_frames: int) -> FloatArray:
    """Gain per frame of a block: 1, then a raised-cosine fade reaching 0 on the last frame."""
    index = np.arange(block_start, block_start + block_frames)
    remaining = (frames - 1 - index) / max(1, fade_frames - 1)
    gain = np.where(remaining >= 1.0, 1.0, 0.5 - 0.5 * np.cos(np.pi * np.clip(remaining, 0, 1)))
    return gain.astype(np.float32)


def _to_pcm16(block: FloatArray) -> FloatArray:
    """Float frames (full scale 1.0) as little-endian 16-bit PCM, rounded and clipped."""
    scaled = np.multiply(block, np.float32(32767.0))
    np.rint(scaled, out=scaled)
    np.clip(scaled, -32768.0, 32767.0, out=scaled)
    return scaled.astype("<i2")


def _spool_reader(spool: io.BufferedIOBase, total_frames: int) -> Callable[[int, int], FloatArray]:
    """``read(first, end)``: frames ``[first, end)`` of the spool, zeros outside the piece."""

    def read(first: int, end: int) -> FloatArray:
        lo, hi = max(0, first), min(total_frames, end)
        frames = np.zeros((end - first, CHANNELS), np.float32)
        if hi > lo:
            spool.seek(lo * FRAME_BYTES)
            spool.readinto(frames[lo - first : hi - first].data.cast("B"))
        return frames

    return read


def _write_mastered(
    spool: io.BufferedIOBase,
    mix: _Mix,
    path: Path,
    sample_rate: int,
    total_frames: int,
    gain_db: float,
    ceiling_db: float,
    progress: ProgressFn | None,
    cancel: threading.Event | None,
) -> RenderResult:
    """Second pass: gain, true-peak limiting and 16-bit PCM into ``path``, measured.

    The loudness of a block the limiter left alone is the first pass's, scaled by the gain
    (the K-weighting is linear); only limited blocks, and the block after each (whose filter
    state they changed), are weighted again.
    """
    read = _spool_reader(spool, total_frames)
    gain = db_to_gain(gain_db)
    limiter = TruePeakLimiter(sample_rate, gain, db_to_gain(ceiling_db), mix.peaks)
    meter = LoudnessMeter(sample_rate, CHANNELS)
    peaks = []
    sums = np.zeros(CHANNELS)
    replayable = True  # the meter's state is the first pass's times the gain
    with contextlib.closing(wave.open(str(path), "wb")) as out:
        out.setnchannels(CHANNELS)
        out.setsampwidth(SAMPLE_WIDTH)
        out.setframerate(sample_rate)
        for index, block_start in enumerate(range(0, total_frames, BLOCK_FRAMES)):
            check_cancel(cancel)
            block_end = min(total_frames, block_start + BLOCK_FRAMES)
            mastered = limiter.process(read, block_start, block_end)
            pcm = _to_pcm16(mastered)
            out.writeframesraw(pcm.data)
            if limiter.idle and replayable:
                meter.add_energy(mix.hop_energies[index] * gain**2, len(mastered))
            else:
                if replayable:
                    meter.state = mix.meter_states[index] * gain
                meter.add(mastered)
            replayable = limiter.idle
            peaks.append(chunk_peaks(mastered))
            sums += [float(mastered[:, c].sum(dtype=np.float64)) for c in range(CHANNELS)]
            if progress is not None:
                progress(0.85 + 0.14 * block_end / total_frames)
    # Measured on the float samples before 16-bit rounding, which moves neither measure by
    # more than a thousandth of a dB; the true peak bound allows for it.
    dc = float(np.abs(sums).max() / total_frames)
    return RenderResult(
        loudness_lufs=meter.integrated(),
        true_peak_dbtp=gain_to_db(true_peak(path, np.concatenate(peaks), tolerance=1.0 / 32768)),
        dc_offset_dbfs=gain_to_db(dc),
        gain_db=gain_db,
        limited_s=limiter.limited_frames / sample_rate,
    )


def story_loudness(config: RenderConfig, intensity: float | None) -> float:
    """The loudness target (LUFS) of a cue whose most intense passage has ``intensity`` (0-1):
    ``config.loudness_lufs`` at full intensity, ``config.story_range_lu`` lower at none, in
    proportion between; ``config.loudness_lufs`` when no intensity is given.

    Examples
    --------
    >>> story_loudness(RenderConfig(loudness_lufs=-16.0, story_range_lu=10.0), 0.2)
    -24.0
    """
    if intensity is None or not config.story_range_lu:
        return float(config.loudness_lufs)
    clamped = min(1.0, max(0.0, float(intensity)))
    return float(config.loudness_lufs) - float(config.story_range_lu) * (1.0 - clamped)


def render_wav(
    score: Score,
    path: str | os.PathLike[str],
    config: RenderConfig,
    duration_s: float,
    *,
    soundfont: Path | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    intensity: float | None = None,
) -> RenderResult:
    """Render ``score`` to a mastered 16-bit stereo WAV exactly ``duration_s`` long.

    Parameters
    ----------
    score
        The music; notes past ``duration_s`` are cut, a shorter score is padded with its tail.
    path
        Output file, written atomically.
    config
        Sample rate, loudness target (LUFS), true-peak ceiling (dBTP) and fade length.
    duration_s
        Length of the audio (the video's duration).
    soundfont
        SoundFont to use; found with :func:`find_soundfont` from ``config`` when omitted.
    progress
        Called with the fraction done, 0 to 1.
    cancel
        When set, rendering stops with :class:`~core.errors.Cancelled` and no file is left.
    intensity
        The cue's most intense passage, 0-1 (its highest arousal): with
        ``config.story_range_lu`` the loudness target is lowered for a calmer cue (see
        :func:`story_loudness`).

    Returns
    -------
    RenderResult
        Loudness, true peak and DC offset measured on the written file.

    Raises
    ------
    InputError
        No SoundFont, or the synthesizer ``config.synth`` names cannot run here.
    RenderError
        If the result is silent.
    """
    target = story_loudness(config, intensity)
    if target != config.loudness_lufs:
        log.info("Cue intensity %.2f: mastering to %.1f LUFS", intensity, target)
        config = dataclasses.replace(config, loudness_lufs=target)
    sample_rate = int(config.sample_rate)
    total_frames = round(duration_s * sample_rate)
    if total_frames <= 0:
        raise InputError(f"Cannot render {duration_s:g} s of audio; the duration must be positive.")
    soundfont = soundfont or find_soundfont(None, config.soundfont)
    fade_frames = min(total_frames, round(config.fade_s * sample_rate))
    log.info("Rendering %.1f s with %s", duration_s, soundfont)
    # The spool sits beside the output: that disk has room for the WAV, /tmp may not.
    with tempfile.TemporaryFile(prefix=".moodscore-mix-", dir=Path(path).parent) as spool:
        blocks = synthesize(
            score,
            soundfont,
            sample_rate,
            total_frames,
            cancel,
            synth=config.synth,
            match_loudness=config.match_balance,
        )
        with contextlib.closing(blocks):
            mix = _spool_float_mix(blocks, total_frames, sample_rate, fade_frames, spool, progress)
        if mix.peaks.max(initial=0.0) < SILENCE_PEAK:
            raise RenderError(
                f"The rendered audio is silent; check that {soundfont} is a General MIDI "
                "SoundFont and that the score has notes."
            )
        with atomic_path(path) as tmp:
            result = _master(spool, mix, tmp, config, sample_rate, total_frames, progress, cancel)
    if progress is not None:
        progress(1.0)
    log.info(
        "Mastered to %.1f LUFS, true peak %.2f dBTP, DC %.0f dBFS (gain %+.1f dB, limited %.1f s)",
        result.loudness_lufs,
        result.true_peak_dbtp,
        result.dc_offset_dbfs,
        result.gain_db,
        result.limited_s,
    )
    return result


def _master(
    spool: io.BufferedIOBase,
    mix: _Mix,
    path: Path,
    config: RenderConfig,
    sample_rate: int,
    total_frames: int,
    progress: ProgressFn | None,
    cancel: threading.Event | None,
) -> RenderResult:
    """Write the mastered WAV, again with a corrected gain or ceiling if the first try missed.

    Limiting lowers the loudness a little (more for peaky music at a loud target), and the
    written true peak can sit a hair over the limiter's aim; each retry corrects by what was
    measured. With ``config.fixed_gain_db`` the gain is given and only the ceiling is corrected.
    """
    ceiling_db = config.true_peak_dbtp - CEILING_MARGIN_DB
    fixed = config.fixed_gain_db is not None
    if config.fixed_gain_db is not None:
        gain_db = float(config.fixed_gain_db)
    elif math.isfinite(mix.loudness_lufs):
        gain_db = config.loudness_lufs - mix.loudness_lufs
    else:  # audible but under BS.1770's -70 LUFS gate (e.g. only a sub-bass rumble)
        gain_db = ceiling_db - gain_to_db(float(mix.peaks.max()))
        log.warning("The mix is too quiet to measure its loudness; it is peak-normalised.")
    previous: tuple[float, float] | None = None  # (gain, loudness) of the last gain step
    for attempt in range(1, MAX_MASTERING_PASSES + 1):
        # Progress runs once, over the first pass; a correcting pass reports nothing.
        reporter = progress if attempt == 1 else None
        result = _write_mastered(
            spool, mix, path, sample_rate, total_frames, gain_db, ceiling_db, reporter, cancel
        )
        short_lu = 0.0
        if math.isfinite(mix.loudness_lufs) and not fixed:
            short_lu = config.loudness_lufs - result.loudness_lufs
        over_db = result.true_peak_dbtp - config.true_peak_dbtp
        if over_db <= 0 and abs(short_lu) <= LOUDNESS_TOLERANCE_LU:
            break
        if attempt == MAX_MASTERING_PASSES:
            log.warning(
                "Mastering reached %.1f LUFS and %.2f dBTP (asked %.1f LUFS, at most %.1f dBTP)",
                result.loudness_lufs,
                result.true_peak_dbtp,
                config.loudness_lufs,
                config.true_peak_dbtp,
            )
            break
        if over_db > 0:
            ceiling_db -= over_db + CEILING_MARGIN_DB
        else:
            # Limiting absorbs part of any gain: step by the loudness gained per dB so far
            # (at least the shortfall, at most three times it).
            per_db = 1.0
            if previous is not None and previous[0] != gain_db:
                per_db = (result.loudness_lufs - previous[1]) / (gain_db - previous[0])
            previous = (gain_db, result.loudness_lufs)
            gain_db += short_lu / min(1.0, max(1.0 / 3.0, per_db))
        log.debug(
            "Mastering again (pass %d): gain %+.2f dB, ceiling %.2f dBTP",
            attempt + 1,
            gain_db,
            ceiling_db,
        )
    return result
