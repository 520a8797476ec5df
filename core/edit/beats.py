"""The beat grid an editor cuts to: ``<stem>.beats.csv`` and timeline marker names."""

from __future__ import annotations

import math
from pathlib import Path

from ..files import write_text_atomic
from ..timeline import TIMESTEPS_PER_BAR, TIMESTEPS_PER_BEAT

BEATS_PER_BAR = TIMESTEPS_PER_BAR // TIMESTEPS_PER_BEAT


def beat_grid(bpm: float, duration_s: float) -> list[tuple[float, int, int]]:
    """Every beat inside ``[0, duration_s)`` as ``(time_s, bar, beat)``, bars and beats from 1."""
    beat_s = 60.0 / bpm
    count = max(0, math.ceil(duration_s / beat_s - 1e-9))
    return [(i * beat_s, i // BEATS_PER_BAR + 1, i % BEATS_PER_BAR + 1) for i in range(count)]


def format_beats_csv(bpm: float, duration_s: float) -> str:
    """``time_s,bar,beat`` per beat, with a header row."""
    rows = (f"{t:.4f},{bar},{beat}" for t, bar, beat in beat_grid(bpm, duration_s))
    return "\n".join(["time_s,bar,beat", *rows]) + "\n"


def write_beats_csv(bpm: float, duration_s: float, path: str | Path) -> Path:
    """Write :func:`format_beats_csv` atomically."""
    write_text_atomic(path, format_beats_csv(bpm, duration_s))
    return Path(path)


def marker_names(
    bpm: float, duration_s: float, cuts_s: tuple[float, ...] = ()
) -> list[tuple[float, str]]:
    """Timeline markers ``(time_s, name)``: ``bar N`` at each bar start, ``hit T s`` per cut."""
    bars = [(t, f"bar {bar}") for t, bar, beat in beat_grid(bpm, duration_s) if beat == 1]
    hits = [(t, f"hit {t:.2f} s") for t in cuts_s if 0.0 <= t < duration_s]
    return sorted(bars + hits)
