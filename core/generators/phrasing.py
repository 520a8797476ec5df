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
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from ..music.dynamics import clamp_velocity, phrase_swell
from ..music.score import Note
from .harmony import Segment

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


def phrase_shapes(
    segments: Sequence[Segment], seed: int, climax_bar: int | None = None
) -> dict[int, PhraseShape]:
    """A shape per phrase index, drawn by ``seed`` from :data:`SHAPES` in phrase order,
    never the one the phrase before took; the phrase after the one holding ``climax_bar``
    opens subito piano."""
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
        options = [i for i in range(len(SHAPES)) if i != previous]
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
