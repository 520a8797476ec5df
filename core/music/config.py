"""Configuration of composition and audio rendering."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..limits import MAX_SEED, ranged


@dataclass
class MusicConfig:
    """Which generator and instrument preset compose the score.

    ``programs`` overrides the preset's General MIDI program (0-127) per role, e.g.
    ``{"melody": 73}``; roles are melody, figure, harmony and bass.
    """

    generator: str = "chords"
    preset: str = "piano"
    seed: int = ranged(0, 0, MAX_SEED)
    programs: dict[str, int] = field(default_factory=dict)


@dataclass
class RenderConfig:
    """How the score becomes a WAV file.

    The mix is mastered to ``loudness_lufs`` of integrated loudness (ITU-R BS.1770-4) with
    true peaks (4× oversampled) at most ``true_peak_dbtp``; the last ``fade_s`` seconds fade
    out to silence on the last sample. (``peak_dbfs`` of earlier versions is gone: peak
    normalisation left the loudness anywhere from -20 to -11 LUFS.)
    """

    soundfont: str = ""
    #: ``auto`` (FluidSynth where its library is installed, else the bundled RustySynth),
    #: ``fluidsynth`` or ``rustysynth``.
    synth: str = "auto"
    #: Even each part in the SoundFont actually used before rendering (``core.music.balance``:
    #: every part rendered alone once more and measured; costs about one more render with
    #: FluidSynth, 2-6 with RustySynth). Off renders with the MIDI file's velocities only.
    match_balance: bool = True
    sample_rate: int = ranged(48000, 8000, 96000, why="Hz")
    #: Louder than -10 LUFS would take a compressor, and mastering here keeps the dynamics.
    loudness_lufs: float = ranged(
        -16.0, -50.0, -10.0, why="LUFS: -23 EBU R128 broadcast, -16 default, -14 streaming"
    )
    true_peak_dbtp: float = ranged(-1.0, -20.0, 0.0, why="dBTP: 0 is full scale")
    #: Level that follows the story: with a range, ``loudness_lufs`` names the level of a cue
    #: whose most intense passage is at full arousal, and a cue peaking at arousal ``a`` is
    #: mastered ``story_range_lu * (1 - a)`` lower (a calm cue sits under an action cue, as in
    #: a film's mix). 0 masters every cue to ``loudness_lufs``. Used when the caller passes the
    #: cue's intensity to ``render_wav``.
    story_range_lu: float = ranged(
        0.0, 0.0, 24.0, why="LU under loudness_lufs for a calm cue; 0 keeps every cue at it"
    )
    fade_s: float = ranged(1.5, 0.0, 10.0, why="seconds of fade-out at the end")
    #: Master with this gain (dB) instead of to ``loudness_lufs``, e.g. the gain of the version a
    #: re-score replaces, so music whose emotion did not change keeps its level. The true-peak
    #: limiter still holds ``true_peak_dbtp``.
    fixed_gain_db: float | None = ranged(None, -60.0, 60.0, why="dB")
