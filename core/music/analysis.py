"""Judging a score by what it sounds like: pitch-class content, key, harmonic changes.

Used by tests and benchmarks to check generators from the outside (never by reading a
generator's own variables). Key finding is the Krumhansl–Schmuckler algorithm: correlate a
duration-weighted pitch-class histogram with the Krumhansl–Kessler probe-tone profiles of
the 24 major and minor keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .score import Note, Score

#: Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@dataclass(frozen=True)
class Key:
    """A key estimate: tonic pitch class, ``"major"`` or ``"minor"``, and its correlation."""

    tonic: int
    mode: str
    correlation: float
    #: Best major correlation minus best minor correlation (> 0 leans major).
    major_margin: float

    def __str__(self) -> str:
        return f"{PITCH_NAMES[self.tonic]} {self.mode} (r={self.correlation:.2f})"


def pitch_class_histogram(
    notes: Iterable[Note], start: int | None = None, end: int | None = None
) -> NDArray[np.float64]:
    """Ticks each pitch class sounds within ``[start, end)`` (all of it when omitted)."""
    histogram = np.zeros(12)
    for note in notes:
        lo = note.start if start is None else max(note.start, start)
        hi = note.end if end is None else min(note.end, end)
        if hi > lo:
            histogram[note.pitch % 12] += hi - lo
    return histogram


def key_correlations(histogram: NDArray[np.float64]) -> NDArray[np.float64]:
    """Pearson correlation of ``histogram`` with the 24 keys: rows major/minor, columns tonic."""
    correlations = np.zeros((2, 12))
    if not np.any(histogram) or np.all(histogram == histogram[0]):
        return correlations
    for row, profile in enumerate((MAJOR_PROFILE, MINOR_PROFILE)):
        for tonic in range(12):
            correlations[row, tonic] = np.corrcoef(histogram, np.roll(profile, tonic))[0, 1]
    return correlations


def estimate_key(histogram: NDArray[np.float64]) -> Key:
    """The best-correlated of the 24 major and minor keys."""
    correlations = key_correlations(histogram)
    row, tonic = np.unravel_index(int(np.argmax(correlations)), correlations.shape)
    return Key(
        tonic=int(tonic),
        mode="major" if row == 0 else "minor",
        correlation=float(correlations[row, tonic]),
        major_margin=float(correlations[0].max() - correlations[1].max()),
    )


def all_notes(score: Score, track_names: Sequence[str] | None = None) -> list[Note]:
    """Notes of every track (or of the named tracks) in one list."""
    return [
        note
        for track in score.tracks
        if track_names is None or track.name in track_names
        for note in track.notes
    ]


def bar_keys(score: Score, track_names: Sequence[str] | None = None) -> list[Key]:
    """The key estimate of each bar of the score."""
    numerator, denominator = score.time_signature
    bar_ticks = score.ticks_per_beat * 4 * numerator // denominator
    notes = all_notes(score, track_names)
    return [
        estimate_key(pitch_class_histogram(notes, start, start + bar_ticks))
        for start in range(0, score.length_ticks, bar_ticks)
    ]


def harmonic_change_ticks(notes: Sequence[Note]) -> list[int]:
    """Ticks where a note starts and the set of sounding pitch classes becomes a new one.

    Meant for a chordal layer: a held common tone does not hide a change of chord, and
    re-striking the same chord is not a change.
    """
    changes: list[int] = []
    for tick in sorted({note.start for note in notes}):
        before = {n.pitch % 12 for n in notes if n.start < tick <= n.end}
        after = {n.pitch % 12 for n in notes if n.start <= tick < n.end}
        if before and after != before:
            changes.append(tick)
    return changes


def onset_density(notes: Iterable[Note], start: int, end: int) -> int:
    """Number of notes that start within ``[start, end)``."""
    return sum(start <= note.start < end for note in notes)
