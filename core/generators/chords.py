"""Chords generator (the seed's 2): broken-chord figuration over held chords and a bass.

Valence picks the mode and so the chord qualities (major triads when bright, minor and
diminished when dark); arousal picks the harmonic rhythm, the arpeggio rate, loudness and
register (see :mod:`.mapping`). The figuration is the voice-led chord voicing lifted into the
melody's register, so it moves as smoothly as the harmony under it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..music.score import TICKS_PER_TIMESTEP, Note, Score
from .harmony import (
    Segment,
    compose_over_harmony,
)
from .mapping import AROUSAL_TABLE, register_centre

if TYPE_CHECKING:
    from ..config import Config
    from ..timeline import EmotionTimeline

#: Orders in which the four voices of a chord are broken (0 = lowest voice).
ARPEGGIO_PATTERNS: dict[str, tuple[int, ...]] = {
    "rising": (0, 1, 2, 3),
    "rising-falling": (0, 1, 2, 3, 2, 1),
    "alberti": (0, 2, 1, 2),
    "broken": (0, 2, 1, 3),
}


def compose(timeline: EmotionTimeline, config: Config, seed: int) -> Score:
    """Compose the Chords piece for ``timeline``.

    Parameters
    ----------
    timeline
        Arousal and valence per step, plus cut times.
    config
        Uses ``config.music.preset`` (and ``music.programs`` overrides) for the instruments.
    seed
        Varies tonic, progressions, voicings and arpeggio patterns; same seed, same bytes.
    """
    return compose_over_harmony(timeline, config, seed, "figure", arpeggios)


def _lift_to_register(voicing: tuple[int, ...], centre: int) -> list[int]:
    """``voicing`` moved by whole octaves so its middle is nearest ``centre``."""
    octaves = round((centre - float(np.mean(voicing))) / 12)
    return sorted(p + 12 * octaves for p in voicing)


def arpeggios(
    segments: Sequence[Segment], voicings: Sequence[tuple[int, ...]], rng: np.random.Generator
) -> list[Note]:
    """Broken chords at the arousal band's rate; each band keeps one pattern for the piece
    (drawn from the seed) so the texture is consistent while the energy holds."""
    names = sorted(ARPEGGIO_PATTERNS)
    pattern_for_band = {
        band.min_arousal: ARPEGGIO_PATTERNS[names[int(rng.integers(len(names)))]]
        for band in AROUSAL_TABLE
    }
    notes: list[Note] = []
    for seg, voicing in zip(segments, voicings, strict=True):
        tones = _lift_to_register(voicing, register_centre(seg.arousal, seg.valence))
        pattern = pattern_for_band[seg.band.min_arousal]
        value = seg.band.figure_16ths * TICKS_PER_TIMESTEP
        for index, start in enumerate(range(seg.start, seg.end, value)):
            duration = min(value, seg.end - start)
            sounding = max(TICKS_PER_TIMESTEP // 2, round(duration * seg.band.legato))
            velocity = seg.velocity("figure", start)
            pitch = tones[pattern[index % len(pattern)]]
            notes.append(Note(start, min(sounding, duration), pitch, velocity))
    return notes
