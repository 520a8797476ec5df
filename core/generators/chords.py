"""Chords generator (the original system's 2): broken-chord figuration over a comping pad
and a bass.

Valence picks the mode and so the chord qualities (major triads when bright, minor and
diminished when dark); arousal picks the harmonic rhythm, the figuration's rate, the layers,
loudness and register (see :mod:`.mapping`). The figuration breaks each chord in close
position just above the pad; its pattern is the motif: a phrase opens with the period's
pattern, varies it in the middle bars and rises into the cadence, whose last tone rings. Its
accompaniment is its own (:data:`ARRANGEMENT`): another harmonic rhythm, an open-position pad
comping in syncopated rhythms and a bass on ostinati, drawn per phrase by arousal and seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..music.score import Note, Score
from .frame import Arrangement, compose_over_harmony
from .harmony import Segment
from .mapping import MELODY_REACH, busier, register_centre
from .metre import BAR, BEAT, SIXTEENTH
from .motif import with_neighbour
from .texture import Accompaniment, LeadLine

if TYPE_CHECKING:
    from ..config import Config
    from ..timeline import EmotionTimeline

#: Orders in which the four tones of a chord are broken (0 = lowest tone).
ARPEGGIO_PATTERNS: dict[str, tuple[int, ...]] = {
    "rising": (0, 1, 2, 3),
    "rising-falling": (0, 1, 2, 3, 2, 1),
    "alberti": (0, 2, 1, 2),
    "broken": (0, 2, 1, 3),
    "falling": (3, 2, 1, 0),
    "leaping": (0, 3, 1, 2),
}
CADENCE_PATTERN = "rising"

# fmt: off
#: Chords' own accompaniment, per arousal band (calmest first): its harmony moves twice a bar
#: in the middle bands, where Scales' holds, and once a bar at the top, where a driving
#: ostinato carries the energy (an action cue's pedal harmony); each phrase walks the next of
#: its band's progressions after the one Scales draws for the seed; an open-position pad a
#: little higher, comping off the beat in syncopated rhythms (3+3+2 at the top), resting on
#: the downbeats the bass and figuration strike; a lower bass on ostinati (already a sub-bass, so
#: the climax doubles the figuration, not the bass).
ARRANGEMENT = Arrangement(
    pace=(1, 2, 2, 1, 1),
    progression_shift=1,
    pad_register=(48, 72),
    bass_register=(24, 40),
    bass_octaves=False,
    open_position=True,
    comping=(
        ((4,), (2, 10)),
        ((2, 8), (4, 10), (2, 6, 12)),
        ((2, 6, 10, 14), (3, 8, 11)),
        ((2, 3, 6, 10, 14), (3, 6, 11, 14)),
        ((3, 6, 8, 11, 14), (2, 3, 6, 10, 11, 14)),
    ),
    ostinati=(
        ((),),
        (((10, 0),), ((8, 1),)),
        (((6, 0), (8, 1), (14, 2)), ((4, 2), (8, 0), (12, 1))),
        (((3, 0), (6, 2), (8, 0), (11, 0), (14, 1)), ((4, 0), (6, 2), (10, 0), (12, 1))),
        (tuple((o, t) for o, t in zip(range(2, 16, 2), (0, 2, 0, 0, 0, 2, 1), strict=True)),
         ((3, 0), (6, 0), (8, 2), (11, 0), (14, 1))),
    ),
)
# fmt: on
#: Positions the broken chord may start from (0 = root position above the pad, 1 = first
#: inversion, ...): drawn per bar, so a returning chord is broken in a new shape.
INVERSIONS = 3


def compose(timeline: EmotionTimeline, config: Config, seed: int) -> Score:
    """Compose the Chords piece (a :data:`~core.generators.Composer`).

    ``seed`` varies the tonic, progressions, voicings and arpeggio patterns.
    """
    return compose_over_harmony(timeline, config, seed, "figure", arpeggios, ARRANGEMENT)


def _close_position(seg: Segment, floor: int, inversion: int) -> list[int]:
    """Four chord tones in close position above ``floor`` and at least a few semitones below
    the register's centre, starting ``inversion`` chord tones above the lowest such tone."""
    centre = register_centre(seg.arousal, seg.valence)
    lowest = max(floor + 1, centre + MELODY_REACH[0])
    tones = [p for p in range(lowest, lowest + 36) if p % 12 in seg.chord.pitch_classes]
    return tones[inversion : inversion + 4]


def _rhythm(
    seg: Segment, bar: int, rng: np.random.Generator, motif_rhythms: list[int]
) -> tuple[int, ...]:
    """The figuration's rhythm in ``bar``: even notes at the band's figuration value, or in
    calm bands (a quarter note or slower) one of the band's bar rhythms, the period's own at
    the phrase's start; one note more in the upper half of the band."""
    band = seg.band
    if band.figure_16ths < 4:
        rhythm = (band.figure_16ths,) * (16 // band.figure_16ths)
    elif bar == seg.phrase.first_bar:
        rhythm = band.rhythms[motif_rhythms[seg.phrase.period % 2] % len(band.rhythms)]
    else:
        rhythm = band.rhythms[int(rng.integers(len(band.rhythms)))]
    return with_neighbour(rhythm)[0] if busier(seg.arousal) else rhythm


def _figure_onsets(seg: Segment, rhythm: tuple[int, ...]) -> list[int]:
    """Onsets of ``rhythm`` (laid from the bar line) inside the segment, and its start."""
    bar_start = seg.start - seg.start % BAR
    ticks = bar_start + SIXTEENTH * np.cumsum((0, *rhythm[:-1]))
    inside = [int(t) for t in ticks if seg.start < t < seg.end]
    return [seg.start, *inside]


def arpeggios(
    segments: Sequence[Segment],
    voicings: Sequence[tuple[int, ...]],
    accompaniment: list[Note],
    rng: np.random.Generator,
    pitch_range: tuple[int, int] = (0, 127),
) -> list[Note]:
    """Broken chords at the arousal band's rate; each period has its pattern (the motif),
    the middle bars of a phrase draw variations, and the cadence bar rises."""
    names = sorted(ARPEGGIO_PATTERNS)
    motif_patterns = [names[int(rng.integers(len(names)))] for _ in range(2)]
    motif_rhythms = [int(rng.integers(64)) for _ in range(2)]
    line = LeadLine(Accompaniment(accompaniment, segments[-1].end), pitch_range)
    # Per bar: (pattern, inversion, rhythm), drawn when the bar's first segment comes.
    choices: dict[int, tuple[tuple[int, ...], int, tuple[int, ...]]] = {}
    for seg, voicing in zip(segments, voicings, strict=True):
        bar, phrase = seg.start // BAR, seg.phrase
        if bar not in choices:
            if bar == phrase.first_bar:
                name = motif_patterns[phrase.period % 2]
            elif bar == phrase.last_bar:
                name = CADENCE_PATTERN
            else:
                name = names[int(rng.integers(len(names)))]
            inversion = int(rng.integers(INVERSIONS))
            choices[bar] = (
                ARPEGGIO_PATTERNS[name],
                inversion,
                _rhythm(seg, bar, rng, motif_rhythms),
            )
        pattern, inversion, rhythm = choices[bar]
        tones = _close_position(seg, max(voicing), inversion)
        onsets = _figure_onsets(seg, rhythm)
        if seg.final:
            onsets = onsets[: len(tones)]
        for index, start in enumerate(onsets):
            end = onsets[index + 1] if index + 1 < len(onsets) else seg.end
            preferred = tones[pattern[index % len(pattern)] % len(tones)]
            # A long tone leans on the root or fifth: held on its third a chord sounds like
            # its relative minor (or major).
            dwell = end - start >= 2 * BEAT
            candidates = sorted(
                tones,
                key=lambda p: (dwell and p % 12 == seg.chord.third, abs(p - preferred), p),
            )
            line.place(
                start,
                end - start,
                candidates,
                seg.velocity("figure", start),
                gap=0 if seg.final or end == seg.end else seg.band.gap_ticks,
            )
    return line.notes
