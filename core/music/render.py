"""Score → mastered WAV with FluidSynth and a General MIDI SoundFont, offline, faster than
real time.

No audio driver is started: the synthesizer is driven directly. Events are applied between
calls that render exactly up to their sample, so timing is sample-accurate at the call
boundary (FluidSynth itself quantises to its 64-sample block, 1.3 ms at 48 kHz).

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
import ctypes
import dataclasses
import logging
import math
import os
import tempfile
import threading
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from ..errors import Cancelled, InputError, MoodscoreError
from ..files import atomic_path
from .config import RenderConfig
from .master import (
    DcBlocker,
    LoudnessMeter,
    TruePeakLimiter,
    chunk_peaks,
    db_to_gain,
    gain_to_db,
    true_peak,
)
from .score import Score

log = logging.getLogger(__name__)

SOUNDFONT_ENV = "MOODSCORE_SOUNDFONT"
#: Where Debian/Ubuntu, Fedora, Arch, Homebrew and MacPorts put General MIDI SoundFonts.
WELL_KNOWN_SOUNDFONTS: tuple[Path, ...] = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
    Path("/usr/share/soundfonts/FluidR3_GM.sf2"),
    Path("/usr/share/soundfonts/default.sf2"),
    Path("/usr/share/soundfonts/FluidR3_GM2-2.sf2"),
    Path("/usr/local/share/soundfonts/default.sf2"),
    Path("/opt/homebrew/share/soundfonts/default.sf2"),
    Path("/opt/local/share/sounds/sf2/FluidR3_GM.sf2"),
)
INSTALL_HINT = "sudo apt-get install fluid-soundfont-gm"
CHANNELS = 2
SAMPLE_WIDTH = 2  # bytes: 16-bit PCM
FRAME_BYTES = CHANNELS * 4  # a float32 stereo frame in the spool
BLOCK_FRAMES = 16384  # frames rendered and spooled per block (~0.34 s at 48 kHz)
#: A written file whose loudness is further than this from the target is mastered again.
LOUDNESS_TOLERANCE_LU = 0.2
#: The limiter aims this far under the true-peak ceiling: 16-bit rounding and the gain's
#: movement between samples may add a few hundredths of a dB.
CEILING_MARGIN_DB = 0.05
MAX_MASTERING_PASSES = 4
#: Peaks below this (about -100 dBFS) count as silence.
SILENCE_PEAK = 1e-5
DRUM_CHANNEL = 9
DRUM_BANK = 128
#: FluidSynth's master gain; the output is float and normalised afterwards, so this only
#: keeps the internal mix in a comfortable range.
SYNTH_GAIN = 0.4
#: Settings chosen for offline speed. Dynamic sample loading reads only the samples of the
#: programs in use: the FluidR3_GM load drops from about 0.3 s and 150 MB to 0.04 s and a few
#: MB. FluidSynth has an open bug with it (issue #1484: a click from reading past a sample's
#: end in some fonts); with FluidR3_GM every preset here rendered identically (within 1 LSB)
#: with it on and off. General MIDI parts send nothing to the chorus (CC 93 defaults to 0), so
#: running it would only burn time; reverb (CC 91 defaults to 40) is audible and stays.
SYNTH_SETTINGS: dict[str, int | float | str] = {
    "synth.dynamic-sample-loading": 1,
    "synth.chorus.active": 0,
    "synth.reverb.active": 1,
    "synth.polyphony": 128,
    # A second core renders voices in parallel; the output is bit-identical to one core.
    "synth.cpu-cores": min(2, os.cpu_count() or 1),
}

ProgressFn = Callable[[float], None]


class RenderError(MoodscoreError):
    """The synthesizer produced no usable audio."""


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


def find_soundfont(
    explicit: str | None = None,
    configured: str = "",
    *,
    search_paths: tuple[Path, ...] | None = None,
) -> Path:
    """The SoundFont to render with.

    Looked for in order: ``explicit`` (``--soundfont``), ``configured`` (``render.soundfont``),
    the ``MOODSCORE_SOUNDFONT`` environment variable, then well-known system paths. A path
    that is named but missing is an error rather than silently skipped.

    Raises
    ------
    InputError
        If a named SoundFont does not exist, or none is found; the sentence gives the command
        that installs one.
    """
    named = [
        ("--soundfont", explicit),
        ("render.soundfont in the config", configured),
        (SOUNDFONT_ENV, os.environ.get(SOUNDFONT_ENV, "")),
    ]
    for origin, value in named:
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise InputError(
                    f"SoundFont {path} (from {origin}) does not exist; give an existing .sf2 "
                    f"file or install one with `{INSTALL_HINT}`."
                )
            return path
    for path in WELL_KNOWN_SOUNDFONTS if search_paths is None else search_paths:
        if path.is_file():
            return path
    raise InputError(
        f"No General MIDI SoundFont found; install one with `{INSTALL_HINT}` "
        f"or pass --soundfont FILE.sf2 (or set {SOUNDFONT_ENV})."
    )


def _events(
    score: Score, sample_rate: int, total_frames: int
) -> list[tuple[int, int, int, int, int]]:
    """Note events as ``(frame, 0=off/1=on, channel, pitch, velocity)``, offs first at a frame.

    Notes are cut at ``total_frames``: nothing after the end of the audio needs rendering.
    """
    frames_per_tick = sample_rate * 60.0 / (score.bpm * score.ticks_per_beat)
    events = []
    for track in score.tracks:
        for note in track.notes:
            start = round(note.start * frames_per_tick)
            if start >= total_frames or note.duration <= 0:
                continue
            end = min(round(note.end * frames_per_tick), total_frames)
            events.append((start, 1, track.channel, note.pitch, note.velocity))
            events.append((end, 0, track.channel, note.pitch, 0))
    events.sort()
    return events


class _Synth:
    """A FluidSynth instance with one SoundFont, rendering float stereo into numpy arrays."""

    def __init__(self, soundfont: Path, sample_rate: int) -> None:
        try:
            import fluidsynth
        except ImportError as exc:
            raise InputError(
                f"FluidSynth is not available ({exc}); install it with "
                "`sudo apt-get install libfluidsynth3`."
            ) from None
        self.synth = fluidsynth.Synth(
            gain=SYNTH_GAIN, samplerate=float(sample_rate), channels=16, **SYNTH_SETTINGS
        )
        self.sfid = self.synth.sfload(str(soundfont))
        if self.sfid < 0:
            self.synth.delete()
            raise InputError(f"{soundfont} is not a loadable SoundFont; pass a valid .sf2 file.")
        # pyfluidsynth wraps only the 16-bit writer; the float one keeps full resolution
        # until the final normalisation.
        self._write_float = fluidsynth.cfunc(
            "fluid_synth_write_float",
            ctypes.c_int,
            ("synth", ctypes.c_void_p, 1),
            ("len", ctypes.c_int, 1),
            ("lout", ctypes.c_void_p, 1),
            ("loff", ctypes.c_int, 1),
            ("lincr", ctypes.c_int, 1),
            ("rout", ctypes.c_void_p, 1),
            ("roff", ctypes.c_int, 1),
            ("rincr", ctypes.c_int, 1),
        )

    def select_programs(self, score: Score) -> None:
        for track in score.tracks:
            bank = DRUM_BANK if track.channel == DRUM_CHANNEL else 0
            self.synth.program_select(track.channel, self.sfid, bank, track.program)

    def render_into(self, buffer: np.ndarray, offset: int, frames: int) -> None:
        """Render ``frames`` stereo frames into interleaved float32 ``buffer`` at ``offset``."""
        if self._write_float is None:
            samples = self.synth.get_samples(frames).astype(np.float32) / 32768.0
            buffer[offset * 2 : (offset + frames) * 2] = samples
            return
        address = buffer.ctypes.data
        self._write_float(
            self.synth.synth, frames, address, 2 * offset, 2, address, 2 * offset + 1, 2
        )

    def apply(self, is_on: int, channel: int, pitch: int, velocity: int) -> None:
        if is_on:
            self.synth.noteon(channel, pitch, velocity)
        else:
            self.synth.noteoff(channel, pitch)

    def close(self) -> None:
        """Free the synthesizer (its samples are the larger part of the memory); idempotent."""
        if self.synth is not None:
            self.synth.delete()
            self.synth = None


def synthesize(
    score: Score,
    soundfont: Path,
    sample_rate: int,
    total_frames: int,
    cancel: threading.Event | None = None,
) -> Iterator[np.ndarray]:
    """The piece as float32 stereo blocks ``(frames, 2)`` of :data:`BLOCK_FRAMES` (the last
    shorter), exactly ``total_frames`` long: notes past the end are cut, silence pads a
    shorter score. Each block is overwritten by the next: use it before asking for more.
    """
    events = _events(score, sample_rate, total_frames)
    synth = _Synth(soundfont, sample_rate)
    try:
        synth.select_programs(score)
        buffer = np.zeros(BLOCK_FRAMES * CHANNELS, dtype=np.float32)
        next_event = 0
        for block_start in range(0, total_frames, BLOCK_FRAMES):
            _check_cancel(cancel)
            block_frames = min(BLOCK_FRAMES, total_frames - block_start)
            cursor = 0
            while cursor < block_frames:
                # Apply every event due now, then render up to the next one (or block end).
                while next_event < len(events) and events[next_event][0] <= block_start + cursor:
                    synth.apply(*events[next_event][1:])
                    next_event += 1
                until = block_frames
                if next_event < len(events):
                    until = min(until, events[next_event][0] - block_start)
                synth.render_into(buffer, cursor, until - cursor)
                cursor = until
            yield buffer[: block_frames * CHANNELS].reshape(-1, CHANNELS)
    finally:
        synth.close()


@dataclass
class _Mix:
    """The spooled first pass, measured: loudness, sample peaks per chunk, and per block the
    K-weighting state before it and its energy per loudness hop (replayed in the second pass
    wherever the limiter leaves the block alone)."""

    loudness_lufs: float
    peaks: np.ndarray
    meter_states: list[np.ndarray]
    hop_energies: list[np.ndarray]


def _spool_float_mix(
    blocks: Iterator[np.ndarray],
    total_frames: int,
    sample_rate: int,
    fade_frames: int,
    spool: IO[bytes],
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


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("Rendering was cancelled.")


def _fade_out(frames: int, fade_frames: int, block_start: int, block_frames: int) -> np.ndarray:
    """Gain per frame of a block: 1, then a raised-cosine fade reaching 0 on the last frame."""
    index = np.arange(block_start, block_start + block_frames)
    remaining = (frames - 1 - index) / max(1, fade_frames - 1)
    gain = np.where(remaining >= 1.0, 1.0, 0.5 - 0.5 * np.cos(np.pi * np.clip(remaining, 0, 1)))
    return gain.astype(np.float32)


def _to_pcm16(block: np.ndarray) -> np.ndarray:
    """Float frames (full scale 1.0) as little-endian 16-bit PCM, rounded and clipped."""
    scaled = np.multiply(block, np.float32(32767.0))
    np.rint(scaled, out=scaled)
    np.clip(scaled, -32768.0, 32767.0, out=scaled)
    return scaled.astype("<i2")


def _spool_reader(spool: IO[bytes], total_frames: int) -> Callable[[int, int], np.ndarray]:
    """``read(first, end)``: frames ``[first, end)`` of the spool, zeros outside the piece."""

    def read(first: int, end: int) -> np.ndarray:
        lo, hi = max(0, first), min(total_frames, end)
        frames = np.zeros((end - first, CHANNELS), np.float32)
        if hi > lo:
            spool.seek(lo * FRAME_BYTES)
            spool.readinto(memoryview(frames[lo - first : hi - first]).cast("B"))
        return frames

    return read


def _write_mastered(
    spool: IO[bytes],
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
            _check_cancel(cancel)
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


def render_wav(
    score: Score,
    path: str | os.PathLike[str],
    config: RenderConfig,
    duration_s: float,
    *,
    soundfont: Path | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
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

    Returns
    -------
    RenderResult
        Loudness, true peak and DC offset measured on the written file.

    Raises
    ------
    InputError
        No SoundFont, or FluidSynth missing.
    RenderError
        If the result is silent.
    """
    sample_rate = int(config.sample_rate)
    total_frames = round(duration_s * sample_rate)
    if total_frames <= 0:
        raise InputError(f"Cannot render {duration_s:g} s of audio; the duration must be positive.")
    soundfont = soundfont or find_soundfont(None, config.soundfont)
    fade_frames = min(total_frames, round(config.fade_s * sample_rate))
    log.info("Rendering %.1f s with %s", duration_s, soundfont)
    # The spool sits beside the output: that disk has room for the WAV, /tmp may not.
    with tempfile.TemporaryFile(prefix=".moodscore-mix-", dir=Path(path).parent) as spool:
        blocks = synthesize(score, soundfont, sample_rate, total_frames, cancel)
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
    spool: IO[bytes],
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
    measured.
    """
    ceiling_db = config.true_peak_dbtp - CEILING_MARGIN_DB
    if math.isfinite(mix.loudness_lufs):
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
        if math.isfinite(mix.loudness_lufs):
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
