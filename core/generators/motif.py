"""Motifs and their development: the material of the Scales generator's tune.

A motif is a *contour* (steps through the scale between successive notes) and, for every
arousal band, a *rhythm* (one bar of note values). Each bar of a phrase gets a *treatment*:

* ``statement`` – the motif as it is, from the phrase's starting note;
* ``sequence`` – the same shape a third higher or lower;
* ``inversion`` – the contour upside down;
* ``rhythm`` – the contour on another rhythm of the same band;
* ``ornament`` – a neighbour-note turn added inside a long note;
* ``cadence`` – motion into the cadence's goal note, held.

An antecedent runs statement, sequence, rhythmic variation, half cadence; the consequent
restates the motif, ornaments it, inverts it and closes. Periods alternate two motifs (A B A
B ...), so the tune is recognisably the same piece without ever looping.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .form import Phrase
from .mapping import AROUSAL_TABLE, ArousalBand

#: Treatments of a four-bar phrase's bars, by cadence kind; longer phrases repeat the middle.
TREATMENTS: dict[str, tuple[str, ...]] = {
    "half": ("statement", "sequence", "rhythm", "cadence"),
    "authentic": ("statement", "ornament", "inversion", "cadence"),
}
CONTOUR_LENGTH = 16
#: Steps of a motif's head, kept whenever the motif returns.
HEAD_STEPS = 3
#: Scale steps a contour takes between notes, and how often (mostly steps, a few leaps).
CONTOUR_STEPS = (-3, -2, -1, 1, 2, 3)
CONTOUR_WEIGHTS = (0.05, 0.15, 0.3, 0.3, 0.15, 0.05)


@dataclass(frozen=True)
class Motif:
    """A contour in scale steps and one rhythm index per arousal band."""

    contour: tuple[int, ...]
    rhythm_choice: tuple[int, ...]

    def rhythm(self, band: ArousalBand, *, varied: bool = False) -> tuple[int, ...]:
        """The motif's bar rhythm in ``band`` (another of the band's rhythms if ``varied``)."""
        index = AROUSAL_TABLE.index(band)
        choice = self.rhythm_choice[index] + (1 if varied else 0)
        return band.rhythms[choice % len(band.rhythms)]


def new_motif(rng: np.random.Generator) -> Motif:
    """A motif drawn from ``rng``: a contour that turns after a run, and a rhythm per band.

    A leap is followed by a step back (gap-fill), as in most tunes.
    """
    contour: list[int] = []
    for _ in range(CONTOUR_LENGTH):
        if contour and abs(contour[-1]) >= 2:
            contour.append(-int(np.sign(contour[-1])))
        else:
            contour.append(int(rng.choice(CONTOUR_STEPS, p=CONTOUR_WEIGHTS)))
    choice = tuple(int(rng.integers(len(band.rhythms))) for band in AROUSAL_TABLE)
    return Motif(tuple(contour), choice)


def developed(motif: Motif, rng: np.random.Generator) -> Motif:
    """``motif`` as it returns in a later period: its head (the first :data:`HEAD_STEPS`
    steps) and rhythms kept so it is recognised, two later steps redrawn (developing
    variation)."""
    contour = list(motif.contour)
    for index in rng.choice(np.arange(HEAD_STEPS, CONTOUR_LENGTH), size=2, replace=False):
        contour[int(index)] = int(rng.choice(CONTOUR_STEPS, p=CONTOUR_WEIGHTS))
    return Motif(tuple(contour), motif.rhythm_choice)


def treatment(phrase: Phrase, bar: int) -> str:
    """The treatment of ``bar`` in ``phrase``: the cadence kind's plan, its middle repeated
    for long phrases; later periods swap in variations so no period is a copy."""
    plan = TREATMENTS[phrase.cadence]
    position = bar - phrase.first_bar
    if bar == phrase.last_bar:
        return "cadence"
    if position == 0:
        return "statement" if phrase.period % 2 == 0 or phrase.cadence == "half" else "rhythm"
    middle = plan[1:-1]
    return middle[(position - 1 + phrase.period) % len(middle)]


def with_neighbour(rhythm: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """``rhythm`` with its longest note split so that a neighbour (or passing) note ends it;
    and the index of that note (-1 when no note is long enough)."""
    longest = max(range(len(rhythm)), key=lambda i: (rhythm[i], -i))
    value = rhythm[longest]
    if value < 2:
        return rhythm, -1
    tail = 1 if value <= 4 else 2
    return (*rhythm[:longest], value - tail, tail, *rhythm[longest + 1 :]), longest + 1


def ornamented(rhythm: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """``rhythm`` with a neighbour note ending its longest note and its last two notes joined,
    so the bar keeps its number of notes; and the index of the neighbour note (-1 when the
    rhythm is too short to ornament)."""
    split, neighbour = with_neighbour(rhythm)
    if neighbour < 0 or len(rhythm) < 3 or neighbour >= len(split) - 2:
        return rhythm, -1
    return joined_ending(split), neighbour


def joined_ending(rhythm: tuple[int, ...]) -> tuple[int, ...]:
    """``rhythm`` with its last two notes joined into one (one note fewer)."""
    if len(rhythm) < 2:
        return rhythm
    return (*rhythm[:-2], rhythm[-2] + rhythm[-1])
