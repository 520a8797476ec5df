"""Phrase dynamics: each phrase its own shape, as a player shapes one phrase after another.

:func:`core.music.dynamics.phrase_swell` gives every phrase the same swell (rising to two
thirds of the way and relaxing into the cadence), so at a constant emotion every phrase had
the same bar-velocity shape. Here each phrase draws a :class:`PhraseShape` from
:data:`SHAPES` by the seed (never the shape of the phrase before): a swell peaking early or
late, an arch, a hairpin from piano, or terraced steps bar by bar; and the phrase after the
climax opens *subito piano*, a sudden drop that lets the climax ring in memory. Every shape
still grows from the phrase's opening toward its middle, so a phrase is always heard to move
somewhere. The shapes replace the shared swell in the generators' velocities
(:func:`reshaped`), by adding the difference to each note.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from ..music.dynamics import clamp_velocity, metric_accent, phrase_swell
from ..music.score import Note
from .harmony import Segment
from .mapping import AROUSAL_TABLE, ArousalBand
from .metre import BAR, BEAT, HALF_BAR

#: The seed's stream for the phrase shapes, apart from the composition's own draws (so the
#: shapes change the loudness only, never a note).
SHAPE_STREAM = 18
#: Velocity taken off the opening of the phrase after the climax (a subito piano), gone by
#: the end of its first quarter.
SUBITO_DROP = 12.0
SUBITO_SPAN = 0.25
#: The shared swell's mean over a phrase: every shape is levelled to it.
LEVEL = float(np.mean([phrase_swell(p) for p in np.linspace(0.0, 1.0, 65)]))


@dataclass(frozen=True)
class PhraseShape:
    """A phrase's dynamic shape: velocity added from ``start`` at its opening to ``height``
    at ``peak`` (0-1 through the phrase) and to ``end`` at its cadence, along quarter-sine
    curves, or held level by level in its four quarters when ``terraced``."""

    start: float
    peak: float
    height: float
    end: float
    terraced: bool = False
    subito: bool = False

    def offset(self, position: float) -> float:
        """Velocity added at ``position`` (0-1) through the phrase, levelled so that the
        phrase is on average as loud as under the shared swell (the shapes vary the phrase,
        not the loudness of the piece: the balance of the parts is measured on it)."""
        value = self.curve(position) + LEVEL - self.mean
        if self.subito and position < SUBITO_SPAN:
            value -= SUBITO_DROP * (1.0 - position / SUBITO_SPAN)
        return value

    @cached_property
    def mean(self) -> float:
        """Mean of :meth:`curve` over the phrase."""
        return float(np.mean([self.curve(p) for p in np.linspace(0.0, 1.0, 65)]))

    def curve(self, position: float) -> float:
        """The shape's velocity at ``position`` (0-1) before levelling."""
        position = min(1.0, max(0.0, position))
        if self.terraced:
            # Four levels, one per quarter (a bar of a four-bar phrase): a step up, the top,
            # a step down into the cadence.
            levels = (self.start, (self.start + self.height) / 2, self.height, self.end)
            value = levels[min(3, int(position * 4))]
        elif position <= self.peak:
            rise = math.sin(0.5 * math.pi * position / self.peak)
            value = self.start + (self.height - self.start) * rise
        else:
            fall = 1.0 - math.cos(0.5 * math.pi * (position - self.peak) / (1.0 - self.peak))
            value = self.height + (self.end - self.height) * fall
        return value


# fmt: off
#: The shapes a phrase may take (the first is the shared swell of ``dynamics``).
SHAPES: tuple[PhraseShape, ...] = (
    PhraseShape(start=0, peak=0.65, height=10, end=0),     # the swell
    PhraseShape(start=-8, peak=0.35, height=12, end=-2),   # an early peak, relaxing
    PhraseShape(start=-6, peak=0.85, height=14, end=8),    # a late climax, held up
    PhraseShape(start=0, peak=0.5, height=14, end=-6),     # an arch
    PhraseShape(start=-8, peak=0.5, height=10, end=0, terraced=True),  # terraced
    PhraseShape(start=-12, peak=0.7, height=6, end=-6),    # a hairpin from piano
)
# fmt: on
#: Correlation above which two phrase shapes sound alike (the judge's measure of a repeated
#: shape uses the same 0.8).
SHAPE_ALIKE = 0.8


def distinct_shapes(alike: float = SHAPE_ALIKE) -> tuple[tuple[int, ...], ...]:
    """For each shape of :data:`SHAPES`, the others a listener tells from it: whose velocity
    per beat of a four-bar phrase, over the metre's own accents, correlates with its own by
    less than ``alike`` (a phrase rising and falling like the one before sounds like it
    again, whatever the heights)."""
    accents = np.array([metric_accent(beat * BEAT) for beat in range(16)], dtype=float)
    curves = [accents + [shape.offset(beat / 16) for beat in range(16)] for shape in SHAPES]
    return tuple(
        tuple(
            j
            for j, other in enumerate(curves)
            if j != i and float(np.corrcoef(curve, other)[0, 1]) < alike
        )
        for i, curve in enumerate(curves)
    )


#: For each shape, the shapes that may follow it (:func:`distinct_shapes`).
DISTINCT = distinct_shapes()


def phrase_shapes(
    segments: Sequence[Segment], seed: int, climax_bar: int | None = None
) -> dict[int, PhraseShape]:
    """A shape per phrase index, drawn by ``seed`` from :data:`SHAPES` in phrase order,
    never one heard as the shape the phrase before took (see :func:`distinct_shapes`); the
    phrase after the one holding ``climax_bar`` opens subito piano."""
    rng = np.random.default_rng([seed, SHAPE_STREAM])
    phrases = sorted({seg.phrase.index: seg.phrase for seg in segments}.items())
    climax_phrase = next(
        (
            index
            for index, phrase in phrases
            if climax_bar is not None and climax_bar in phrase.bars
        ),
        None,
    )
    shapes: dict[int, PhraseShape] = {}
    previous = -1
    for index, _ in phrases:
        options = DISTINCT[previous] if previous >= 0 else tuple(range(len(SHAPES)))
        options = options or tuple(i for i in range(len(SHAPES)) if i != previous)
        previous = options[int(rng.integers(len(options)))]
        shape = SHAPES[previous]
        if climax_phrase is not None and index == climax_phrase + 1:
            shape = replace(shape, subito=True)
        shapes[index] = shape
    return shapes


def reshaped(
    notes: Sequence[Note], segments: Sequence[Segment], shapes: dict[int, PhraseShape]
) -> list[Note]:
    """``notes`` (velocities made with the shared swell) with each phrase's own shape
    instead: the difference of the two added at every note's onset."""
    starts = [seg.start for seg in segments]
    result = []
    for note in notes:
        seg = segments[max(0, bisect.bisect_right(starts, note.start) - 1)]
        first, last = seg.phrase_span
        position = min(1.0, max(0.0, (note.start - first) / max(1, last - first)))
        delta = shapes[seg.phrase.index].offset(position) - phrase_swell(position)
        result.append(replace(note, velocity=clamp_velocity(note.velocity + delta)))
    return result


# --- the ending: a written-out ritardando ------------------------------------------------------

#: Arousal bands slower that the bars before the final tonic play, the earliest first: the
#: last bar but two a band slower, the last but one two bands (a written-out ritardando; the
#: tempo itself is locked to the picture).
RITARDANDO: tuple[int, ...] = (1, 2)
#: The ending broadens only in a piece whose final tonic comes at least this many bars in, and
#: whose final emotion is calmer than :data:`RITARDANDO_MAX_AROUSAL`: a lyrical or tense cue
#: broadens into its close, an action cue ends on its stinger at full speed (the drive runs to
#: the cut, as the picture does).
RITARDANDO_MIN_BARS = 4
RITARDANDO_MAX_AROUSAL = 0.6


def ritardando_bar(segments: Sequence[Segment]) -> int | None:
    """The bar of the final tonic when the ending broadens (see :data:`RITARDANDO_MIN_BARS`
    and :data:`RITARDANDO_MAX_AROUSAL`), else None."""
    final = next((seg for seg in segments if seg.final), None)
    if final is None or final.start // BAR < RITARDANDO_MIN_BARS:
        return None
    return final.start // BAR if final.arousal < RITARDANDO_MAX_AROUSAL else None


def slowing(bar: int, final: int | None) -> int:
    """Arousal bands slower that ``bar`` plays in the written-out ritardando before the final
    tonic's bar ``final`` (:data:`RITARDANDO`; ``final`` from :func:`ritardando_bar`, None
    where the ending does not broaden); 0 outside it."""
    if final is None:
        return 0
    ahead = final - bar
    return RITARDANDO[len(RITARDANDO) - ahead] if 1 <= ahead <= len(RITARDANDO) else 0


def slower_band(band: ArousalBand, steps: int) -> ArousalBand:
    """The arousal band ``steps`` calmer than ``band`` (the calmest at most)."""
    return AROUSAL_TABLE[max(0, AROUSAL_TABLE.index(band) - steps)]


def broadened(notes: Sequence[Note], segments: Sequence[Segment]) -> list[Note]:
    """An accompaniment part (pad or bass) in the ritardando's bars with fewer onsets: in each
    window of a chord cut on a grid that widens bar by bar (half bars a band slower, whole
    bars two bands slower), only the notes struck first sound, held to the window's end; the rest
    of the window's onsets fall away, as the pulse of a pad or a walking bass broadens into
    longer notes before the close."""
    final = ritardando_bar(segments)
    windows: list[tuple[int, int]] = []
    for seg in segments:
        steps = slowing(seg.start // BAR, final)
        if not steps:
            continue
        cell = HALF_BAR * 2 ** (steps - 1)
        edges = sorted(
            {seg.start, seg.end, *range(seg.start - seg.start % cell + cell, seg.end, cell)}
        )
        windows += list(itertools.pairwise(edges))
    if not windows:
        return list(notes)
    result: list[Note] = []
    starts = [start for start, _ in windows]
    struck: dict[int, int] = {}  # window index -> its earliest onset
    for note in notes:
        index = bisect.bisect_right(starts, note.start) - 1
        if index >= 0 and note.start < windows[index][1]:
            struck[index] = min(struck.get(index, note.start), note.start)
    for note in notes:
        index = bisect.bisect_right(starts, note.start) - 1
        if index < 0 or note.start >= windows[index][1]:
            result.append(note)
        elif note.start == struck[index]:
            end = max(note.end, windows[index][1])
            result.append(replace(note, duration=end - note.start))
    return result
