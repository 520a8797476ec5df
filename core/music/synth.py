"""The SoundFont synthesizers that turn a :class:`~.score.Score` into float stereo blocks.

Two real General MIDI synthesizers, one interface (:func:`synthesize`):

- **FluidSynth** (``pyfluidsynth``), where its native library is installed. Events are applied
  between calls that render exactly up to their sample (FluidSynth itself quantises to its
  64-sample block, 1.3 ms at 48 kHz); both cores render voices.
- **RustySynth** (the ``midirenderer`` wheel: RustySynth, a SoundFont synthesizer with reverb
  and chorus, compiled for Windows, macOS and Linux, nothing native to install). It renders a
  whole MIDI file at once, so the piece is cut into :data:`CHUNK_S`-second windows of note
  onsets, each rendered with its notes' full length plus a release tail and added at its place
  in the output: memory stays flat however long the piece is, and every onset keeps its exact
  time. A synthesizer is a sum of independent voices, reverb and chorus are linear, so the sum
  of the windows is the whole render (within the 16-bit rounding of each window).

``render.synth`` picks one: ``auto`` (FluidSynth where its library loads, else RustySynth),
``fluidsynth`` or ``rustysynth``.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import os
import sys
import threading
import wave
from bisect import bisect_left
from collections.abc import Generator, Iterator
from dataclasses import replace
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import mido
import numpy as np
from numpy.typing import NDArray

from ..errors import Cancelled, InputError, MoodscoreError
from . import balance
from .score import Score

log = logging.getLogger(__name__)

SYNTHS = ("auto", "fluidsynth", "rustysynth")
CHANNELS = 2
BLOCK_FRAMES = 16384  # frames rendered and spooled per block (~0.34 s at 48 kHz)
DRUM_CHANNEL = 9
DRUM_BANK = 128
VOLUME_CC = 7  # channel volume
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
#: Seconds of note onsets per RustySynth window: long enough that parsing the SoundFont per
#: window costs little, short enough that a window's audio stays a few tens of MB.
CHUNK_S = 60.0
#: Seconds rendered past a window's last note-off, for release envelopes and the reverb tail
#: (RustySynth's reverb has decayed by more than 60 dB after 3 s at General MIDI's send level).
RELEASE_TAIL_S = 4.0
#: A window's 16-bit output at or beyond this peak may have been clipped by the synthesizer.
CLIP_PEAK = 32760


class RenderError(MoodscoreError):
    """The synthesizer produced no usable audio."""


def install_fluidsynth_hint() -> str:
    """How to install FluidSynth's native library on this operating system."""
    if sys.platform == "win32":
        return (
            "download FluidSynth's Windows build from github.com/FluidSynth/fluidsynth/releases "
            "and put its bin folder on PATH"
        )
    if sys.platform == "darwin":
        return "install it with `brew install fluid-synth`"
    return (
        "install it with your package manager "
        "(Debian/Ubuntu: `sudo apt-get install libfluidsynth3`)"
    )


def import_pyfluidsynth() -> ModuleType:
    """Import ``pyfluidsynth``, which loads the native library, keeping stdout clean.

    pyfluidsynth prints where it found the library when ``$CI`` is set; stdout is the CLI's
    answer (and may be a pipe), so the line goes to the debug log instead.
    """
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        import fluidsynth
    if captured.getvalue().strip():
        log.debug("pyfluidsynth: %s", captured.getvalue().strip())
    return fluidsynth


@cache
def fluidsynth_problem() -> str | None:
    """Why FluidSynth cannot run here (its library or binding is missing), else ``None``."""
    try:
        import_pyfluidsynth()
    except (ImportError, OSError) as exc:
        return str(exc) or type(exc).__name__
    return None


def choose_synth(name: str) -> str:
    """The synthesizer ``render.synth`` asks for, resolved: ``fluidsynth`` or ``rustysynth``.

    Raises
    ------
    InputError
        For an unknown name, or FluidSynth asked for by name where it cannot run.
    """
    if name not in SYNTHS:
        raise InputError(f"render.synth must be one of {', '.join(SYNTHS)}, got {name!r}.")
    problem = fluidsynth_problem()
    if name == "fluidsynth" and problem:
        raise InputError(
            f"FluidSynth is not available ({problem}); {install_fluidsynth_hint()}, "
            "or set render.synth to auto to use the bundled synthesizer."
        )
    if name == "auto":
        return "rustysynth" if problem else "fluidsynth"
    return name


def synth_version(name: str) -> str:
    """What rendered, for the manifest: ``rustysynth (midirenderer 0.1.3)``."""
    from importlib.metadata import PackageNotFoundError, version

    package = "pyfluidsynth" if name == "fluidsynth" else "midirenderer"
    try:
        return f"{name} ({package} {version(package)})"
    except PackageNotFoundError:  # vendored into the add-on without its metadata
        return name


def check_cancel(cancel: threading.Event | None) -> None:
    """Raise :class:`~core.errors.Cancelled` once ``cancel`` is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled("Rendering was cancelled.")


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


class _FluidSynth:
    """A FluidSynth instance with one SoundFont, rendering float stereo into numpy arrays."""

    def __init__(self, soundfont: Path, sample_rate: int) -> None:
        fluidsynth = import_pyfluidsynth()
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

    def select_programs(self, score: Score, volumes: dict[int, int]) -> None:
        for track in score.tracks:
            bank = DRUM_BANK if track.channel == DRUM_CHANNEL else 0
            self.synth.program_select(track.channel, self.sfid, bank, track.program)
        for channel, volume in volumes.items():
            self.synth.cc(channel, VOLUME_CC, volume)

    def render_into(self, buffer: NDArray[Any], offset: int, frames: int) -> None:
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


def _fluidsynth_blocks(
    score: Score,
    soundfont: Path,
    sample_rate: int,
    total_frames: int,
    cancel: threading.Event | None,
    volumes: dict[int, int],
) -> Generator[NDArray[Any], None, None]:
    events = _events(score, sample_rate, total_frames)
    synth = _FluidSynth(soundfont, sample_rate)
    try:
        synth.select_programs(score, volumes)
        buffer = np.zeros(BLOCK_FRAMES * CHANNELS, dtype=np.float32)
        next_event = 0
        for block_start in range(0, total_frames, BLOCK_FRAMES):
            check_cancel(cancel)
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


def _import_midirenderer():
    try:
        import midirenderer
    except ImportError as exc:
        raise InputError(
            f"The bundled synthesizer is not installed ({exc}); reinstall Moodscore "
            "(the `midirenderer` package), or install FluidSynth."
        ) from None
    return midirenderer


def _window(
    score: Score, starts: list[list[int]], first_tick: int, last_tick: int, end_tick: int
) -> tuple[Score, int]:
    """The notes with onsets in ``[first_tick, last_tick)``, moved to start at tick 0 and cut at
    ``end_tick``, and the window's length in ticks (its last note-off plus the release tail).

    ``starts`` holds each track's note onsets in order (its notes are sorted), so a window
    looks only at its own notes, however long the piece.
    """
    tracks, last_off = [], 0
    until = min(last_tick, end_tick)
    for track, onsets in zip(score.tracks, starts, strict=True):
        notes = []
        for note in track.notes[bisect_left(onsets, first_tick) : bisect_left(onsets, until)]:
            if note.duration > 0:
                end = min(note.end, end_tick)
                moved = replace(note, start=note.start - first_tick, duration=end - note.start)
                notes.append(moved)
                last_off = max(last_off, end - first_tick)
        tracks.append(replace(track, notes=notes))
    # Nothing past the end of the audio needs rendering (one tick more covers rounding).
    length = min(last_off + score.ticks(RELEASE_TAIL_S), end_tick + 1 - first_tick)
    length = length if any(t.notes for t in tracks) else 0
    return replace(score, tracks=tracks, length_ticks=length), length


def _window_audio(wav_bytes: bytes, rate: int) -> NDArray[Any]:
    """A 16-bit stereo WAV (midirenderer's output) as frames at ``rate``: int16 at the
    synthesizer's own rate (read in place), float32 when resampled."""
    with wave.open(io.BytesIO(wav_bytes), "rb") as wav:
        if (wav.getnchannels(), wav.getsampwidth()) != (CHANNELS, 2):
            raise RenderError("The bundled synthesizer returned audio in an unexpected format.")
        source_rate, frames = wav.getframerate(), wav.getnframes()
    pcm = np.frombuffer(
        wav_bytes, dtype="<i2", count=frames * CHANNELS, offset=_data_offset(wav_bytes)
    ).reshape(-1, CHANNELS)
    if int(np.abs(pcm).max(initial=0)) >= CLIP_PEAK:
        log.warning("The bundled synthesizer's output reached full scale; peaks may be clipped.")
    if source_rate == rate:
        return pcm
    return _resample(pcm.astype(np.float32) / np.float32(32768.0), source_rate, rate)


def _data_offset(wav_bytes: bytes) -> int:
    """Where the samples of a RIFF WAVE file start (after the ``data`` chunk's header)."""
    position = 12
    while position + 8 <= len(wav_bytes):
        size = int.from_bytes(wav_bytes[position + 4 : position + 8], "little")
        if wav_bytes[position : position + 4] == b"data":
            return position + 8
        position += 8 + size + (size & 1)
    raise RenderError("The bundled synthesizer returned a WAV without samples.")


class _OverlapAdd:
    """Sums windows of audio at their frame offsets and hands out finished blocks in order.

    One buffer, grown only when a window is longer than any before and compacted once per
    window, so memory stays that of the longest window however long the piece is.
    """

    def __init__(self) -> None:
        self.buffer = np.zeros((0, CHANNELS), np.float32)
        self.origin = 0  # frame of the piece at buffer[0]
        self.cursor = 0  # buffer index of the next frame to hand out
        self.used = 0  # buffer frames that hold sound (zeros beyond)

    def add(self, start: int, audio: NDArray[Any]) -> None:
        """Add ``audio`` (float frames, or int16 at full scale 32768) from frame ``start`` on."""
        if self.cursor:
            kept = max(0, self.used - self.cursor)
            self.buffer[:kept] = self.buffer[self.cursor : self.cursor + kept]
            self.buffer[kept : max(kept, self.used)] = 0.0
            self.origin, self.used, self.cursor = self.origin + self.cursor, kept, 0
        offset = start - self.origin
        end = offset + len(audio)
        self._reserve(end)
        target = self.buffer[offset:end]
        if audio.dtype == np.int16:
            target += audio * np.float32(1.0 / 32768.0)
        else:
            target += audio
        self.used = max(self.used, end)

    def take(self, count: int) -> NDArray[Any]:
        """The next ``count`` frames (zeros where nothing sounded)."""
        self._reserve(self.cursor + count)
        block = self.buffer[self.cursor : self.cursor + count].copy()
        self.cursor += count
        return block

    def _reserve(self, frames: int) -> None:
        if frames > len(self.buffer):
            grown = np.zeros((frames + frames // 4, CHANNELS), np.float32)
            grown[: self.used] = self.buffer[: self.used]
            self.buffer = grown


def _resample(frames: NDArray[Any], source_rate: int, rate: int) -> NDArray[Any]:
    """Frames at another rate through FFmpeg's resampler (PyAV), as long as the time they span."""
    import av

    planar = np.ascontiguousarray(frames.T)
    frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout="stereo")
    frame.sample_rate = source_rate
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
    parts = [out.to_ndarray() for out in [*resampler.resample(frame), *resampler.resample(None)]]
    result = np.concatenate(parts, axis=1).T if parts else np.zeros((0, CHANNELS), np.float32)
    wanted = round(len(frames) * rate / source_rate)
    if len(result) < wanted:
        result = np.concatenate([result, np.zeros((wanted - len(result), CHANNELS), np.float32)])
    return np.ascontiguousarray(result[:wanted], dtype=np.float32)


def _midi_with_volumes(score: Score, volumes: dict[int, int]) -> bytes:
    """``score`` as MIDI bytes for the synthesizer, each channel's volume (CC 7) set after its
    program change."""
    from .midi import midi_bytes, to_midi_file

    if not volumes:
        return midi_bytes(score)
    midi = to_midi_file(score)
    for track in midi.tracks:
        for index, message in enumerate(track):
            if message.type == "program_change" and message.channel in volumes:
                volume = volumes[message.channel]
                cc = mido.Message("control_change", channel=message.channel, control=VOLUME_CC,
                                  value=volume)  # fmt: skip
                track.insert(index + 1, cc)
                break
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def _rustysynth_blocks(
    score: Score,
    soundfont: Path,
    sample_rate: int,
    total_frames: int,
    cancel: threading.Event | None,
    volumes: dict[int, int],
) -> Generator[NDArray[Any], None, None]:
    midirenderer = _import_midirenderer()
    font = soundfont.read_bytes()
    frames_per_tick = sample_rate * 60.0 / (score.bpm * score.ticks_per_beat)
    end_tick = score.ticks(total_frames / sample_rate)
    chunk_ticks = max(1, score.ticks(CHUNK_S))
    tracks = [replace(track, notes=sorted(track.notes)) for track in score.tracks]
    score = replace(score, tracks=tracks)
    starts = [[note.start for note in track.notes] for track in tracks]
    mix = _OverlapAdd()
    emitted = 0
    for first_tick in range(0, max(end_tick, 1), chunk_ticks):
        check_cancel(cancel)
        window, length = _window(score, starts, first_tick, first_tick + chunk_ticks, end_tick)
        start = round(first_tick * frames_per_tick)
        if length:
            try:
                wav = midirenderer.render_wave_from(font, _midi_with_volumes(window, volumes))
            except (ValueError, RuntimeError) as exc:
                raise InputError(
                    f"{soundfont} could not be rendered by the bundled synthesizer ({exc}); "
                    "pass a General MIDI SoundFont 2 (.sf2) file."
                ) from None
            mix.add(start, _window_audio(wav, sample_rate)[: total_frames - start])
            del wav
        # Everything before the next window's start is final.
        ready_until = min(total_frames, round((first_tick + chunk_ticks) * frames_per_tick))
        while ready_until - emitted >= BLOCK_FRAMES:
            yield mix.take(BLOCK_FRAMES)
            emitted += BLOCK_FRAMES
    while emitted < total_frames:
        count = min(BLOCK_FRAMES, total_frames - emitted)
        yield mix.take(count)
        emitted += count


def _raw_synthesize(name: str) -> balance.Synthesize:
    """``name``'s synthesizer as :mod:`.balance` drives it (volumes given, nothing matched)."""
    blocks = _fluidsynth_blocks if name == "fluidsynth" else _rustysynth_blocks

    def raw(
        score: Score, soundfont: Path, rate: int, frames: int, volumes: dict[int, int]
    ) -> Iterator[NDArray[Any]]:
        return blocks(score, soundfont, rate, frames, None, volumes)

    return raw


def matched_volumes(score: Score, soundfont: Path, *, synth: str = "auto") -> dict[int, int]:
    """CC 7 per channel that evens ``score``'s parts in ``soundfont`` with ``synth``
    (:func:`.balance.matched_volumes`): what :func:`synthesize` applies with
    ``match_loudness``. Computed once on a whole score, it can be handed to the renders of its
    parts (stems) so that each sounds as it does in the mix."""
    name = choose_synth(synth)
    return balance.matched_volumes(score, soundfont, name, _raw_synthesize(name))


def synthesize(
    score: Score,
    soundfont: Path,
    sample_rate: int,
    total_frames: int,
    cancel: threading.Event | None = None,
    *,
    synth: str = "auto",
    match_loudness: bool = True,
    volumes: dict[int, int] | None = None,
) -> Generator[NDArray[Any], None, None]:
    """The piece as float32 stereo blocks ``(frames, 2)`` of :data:`BLOCK_FRAMES` (the last
    shorter), exactly ``total_frames`` long: notes past the end are cut, silence pads a
    shorter score. A block may be overwritten by the next: use it before asking for more.

    ``synth`` is ``render.synth`` (see :func:`choose_synth`). With ``match_loudness`` each
    channel's volume is set so its program sounds in ``soundfont`` as loud as the velocities
    intend (:func:`matched_volumes`; the font's reference is measured once per process, the
    parts over a few excerpts each); the score itself, and so the MIDI file a user gets, is
    left as it is. ``volumes`` (CC 7 per channel, e.g. :func:`matched_volumes` of a larger
    score this one is part of) are applied instead of matching.
    """
    name = choose_synth(synth)
    blocks = _fluidsynth_blocks if name == "fluidsynth" else _rustysynth_blocks
    if volumes is None:
        volumes = {}
        if match_loudness:
            volumes = balance.matched_volumes(score, soundfont, name, _raw_synthesize(name))
    return blocks(score, soundfont, sample_rate, total_frames, cancel, volumes)
