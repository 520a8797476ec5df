"""Score → WAV with FluidSynth and a General MIDI SoundFont, offline and faster than real time.

No audio driver is started: the synthesizer is driven directly. Events are applied between
calls that render exactly up to their sample, so timing is sample-accurate at the call
boundary (FluidSynth itself quantises to its 64-sample block, 1.3 ms at 48 kHz). The float
mix is spooled to a temporary file while its peak is measured, then scaled to the target peak,
faded at the end and written as 16-bit PCM, so memory stays flat however long the piece is.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import tempfile
import threading
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import numpy as np

from ..errors import Cancelled, InputError, MoodscoreError
from ..files import atomic_path
from .config import RenderConfig
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
BLOCK_FRAMES = 16384  # frames rendered and spooled per block (~0.34 s at 48 kHz)
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
    "synth.cpu-cores": 1,
}

ProgressFn = Callable[[float], None]


class RenderError(MoodscoreError):
    """The synthesizer produced no usable audio."""


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
        self._write_float(self.synth.synth, frames, address, 2 * offset, 2,
                          address, 2 * offset + 1, 2)  # fmt: skip

    def apply(self, is_on: int, channel: int, pitch: int, velocity: int) -> None:
        if is_on:
            self.synth.noteon(channel, pitch, velocity)
        else:
            self.synth.noteoff(channel, pitch)

    def close(self) -> None:
        self.synth.delete()


def _spool_float_mix(
    synth: _Synth,
    events: list[tuple[int, int, int, int, int]],
    total_frames: int,
    spool: IO[bytes],
    progress: ProgressFn | None,
    cancel: threading.Event | None,
) -> float:
    """Render the whole piece into ``spool`` (float32 stereo) and return its peak."""
    buffer = np.zeros(BLOCK_FRAMES * CHANNELS, dtype=np.float32)
    peak = 0.0
    next_event = 0
    for block_start in range(0, total_frames, BLOCK_FRAMES):
        if cancel is not None and cancel.is_set():
            raise Cancelled("Rendering was cancelled.")
        block_frames = min(BLOCK_FRAMES, total_frames - block_start)
        cursor = 0
        while cursor < block_frames:
            # Apply every event due now, then render up to the next one (or the block's end).
            while next_event < len(events) and events[next_event][0] <= block_start + cursor:
                synth.apply(*events[next_event][1:])
                next_event += 1
            until = block_frames
            if next_event < len(events):
                until = min(until, events[next_event][0] - block_start)
            synth.render_into(buffer, cursor, until - cursor)
            cursor = until
        block = buffer[: block_frames * CHANNELS]
        peak = max(peak, float(np.max(np.abs(block))))
        spool.write(block.tobytes())
        if progress is not None:
            progress(0.9 * (block_start + block_frames) / total_frames)
    return peak


def _fade_out(frames: int, fade_frames: int, block_start: int, block_frames: int) -> np.ndarray:
    """Gain per frame of a block: 1, then a raised-cosine fade reaching 0 on the last frame."""
    index = np.arange(block_start, block_start + block_frames)
    remaining = (frames - 1 - index) / max(1, fade_frames - 1)
    return np.where(remaining >= 1.0, 1.0, 0.5 - 0.5 * np.cos(np.pi * np.clip(remaining, 0, 1)))


def _pcm_blocks(
    spool: IO[bytes], total_frames: int, gain: float, fade_frames: int
) -> Iterator[tuple[int, bytes]]:
    """The spooled mix scaled by ``gain``, faded, as 16-bit PCM blocks ``(end_frame, bytes)``."""
    spool.seek(0)
    for block_start in range(0, total_frames, BLOCK_FRAMES):
        block_frames = min(BLOCK_FRAMES, total_frames - block_start)
        raw = spool.read(block_frames * CHANNELS * 4)
        block = np.frombuffer(raw, dtype=np.float32).reshape(-1, CHANNELS) * gain
        if block_start + block_frames > total_frames - fade_frames:
            block = block * _fade_out(total_frames, fade_frames, block_start, block_frames)[:, None]
        pcm = np.clip(np.rint(block * 32767.0), -32768, 32767).astype("<i2")
        yield block_start + block_frames, pcm.tobytes()


def render_wav(
    score: Score,
    path: str | os.PathLike[str],
    config: RenderConfig,
    duration_s: float,
    *,
    soundfont: Path | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> None:
    """Render ``score`` to a 16-bit stereo WAV exactly ``duration_s`` long.

    Parameters
    ----------
    score
        The music; notes past ``duration_s`` are cut, a shorter score is padded with its tail.
    path
        Output file, written atomically.
    config
        Sample rate, target peak (dBFS) and fade length.
    duration_s
        Length of the audio (the video's duration).
    soundfont
        SoundFont to use; found with :func:`find_soundfont` from ``config`` when omitted.
    progress
        Called with the fraction done, 0 to 1.
    cancel
        When set, rendering stops with :class:`~core.errors.Cancelled` and no file is left.

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
    events = _events(score, sample_rate, total_frames)
    synth = _Synth(soundfont, sample_rate)
    log.info("Rendering %.1f s with %s", duration_s, soundfont)
    try:
        synth.select_programs(score)
        # The spool sits beside the output: that disk has room for the WAV, /tmp may not.
        with tempfile.TemporaryFile(prefix=".moodscore-mix-", dir=Path(path).parent) as spool:
            peak = _spool_float_mix(synth, events, total_frames, spool, progress, cancel)
            if peak < SILENCE_PEAK:
                raise RenderError(
                    f"The rendered audio is silent; check that {soundfont} is a General MIDI "
                    "SoundFont and that the score has notes."
                )
            gain = 10.0 ** (config.peak_dbfs / 20.0) / peak
            fade_frames = min(total_frames, max(1, round(config.fade_s * sample_rate)))
            with atomic_path(path) as tmp, contextlib.closing(wave.open(str(tmp), "wb")) as out:
                out.setnchannels(CHANNELS)
                out.setsampwidth(SAMPLE_WIDTH)
                out.setframerate(sample_rate)
                for end_frame, pcm in _pcm_blocks(spool, total_frames, gain, fade_frames):
                    if cancel is not None and cancel.is_set():
                        raise Cancelled("Rendering was cancelled.")
                    out.writeframesraw(pcm)
                    if progress is not None:
                        progress(0.9 + 0.1 * end_frame / total_frames)
    finally:
        synth.close()
