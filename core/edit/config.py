"""Configuration of the editor features: ducking, automatic tempo and stems."""

from __future__ import annotations

from dataclasses import dataclass

from ..limits import ranged
from ..timeline import MAX_BPM, MIN_BPM


@dataclass
class EditConfig:
    """Options that fit the music to the edit.

    ``duck`` lowers the music by ``duck_db`` wherever the source's audio track holds speech,
    fading over ``duck_fade_ms``; ``bpm_auto`` picks the tempo in ``bpm_low``-``bpm_high`` that
    puts the most cuts on beats; ``stems`` also writes one WAV per part.
    """

    duck: bool = False
    duck_db: float = ranged(10.0, 0.0, 40.0, why="dB the music is lowered under speech")
    duck_fade_ms: float = ranged(250.0, 0.0, 5000.0, why="milliseconds")
    speech_threshold: float = ranged(0.5, 0.05, 0.95, why="speech probability of the VAD")
    bpm_auto: bool = False
    bpm_low: float = ranged(70.0, MIN_BPM, MAX_BPM, why="quarter notes per minute")
    bpm_high: float = ranged(140.0, MIN_BPM, MAX_BPM, why="quarter notes per minute")
    stems: bool = False
