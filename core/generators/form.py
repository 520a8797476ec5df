"""Form: the piece cut into phrases that end with cadences.

Phrases are four bars long and pair up into periods: an *antecedent* that stops on the
dominant (a half cadence, a question) and a *consequent* that closes on the tonic (an
authentic cadence, the answer), unless the music is still rising into a climax there. The last
phrase always closes, on the downbeat of the bar
where the final tonic arrives; a remainder too short to be a phrase (one or two bars) extends
the phrase before it, as composers extend a phrase rather than tack on a fragment.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

PHRASE_BARS = 4
#: Cadence kinds: a half cadence ends on the dominant, an authentic one on the tonic.
HALF, AUTHENTIC = "half", "authentic"


@dataclass(frozen=True)
class Phrase:
    """Bars ``first_bar..last_bar`` (inclusive) of one phrase and how it ends.

    Parameters
    ----------
    index
        Position of the phrase in the piece (0 = first).
    cadence
        :data:`HALF` or :data:`AUTHENTIC`.
    final
        The piece's last phrase: its tonic is held to the end.
    """

    index: int
    first_bar: int
    last_bar: int
    cadence: str
    final: bool = False

    @property
    def bars(self) -> range:
        """The phrase's bar indices."""
        return range(self.first_bar, self.last_bar + 1)

    @property
    def period(self) -> int:
        """Index of the antecedent-consequent pair the phrase belongs to."""
        return self.index // 2


def plan_phrases(final_bar: int, rising: Collection[int] = ()) -> list[Phrase]:
    """Phrases covering bars ``0..final_bar``, the last closing on ``final_bar``.

    A phrase that would close (an authentic cadence) on a bar in ``rising``, where the tension
    is still building, ends on the dominant instead: a full close there would stop the build.

    Examples
    --------
    >>> [(p.first_bar, p.last_bar, p.cadence) for p in plan_phrases(9)]
    [(0, 3, 'half'), (4, 9, 'authentic')]
    """
    bars = final_bar + 1
    starts = list(range(0, bars, PHRASE_BARS))
    if len(starts) > 1 and bars - starts[-1] < PHRASE_BARS - 1:
        starts.pop()  # a one- or two-bar remainder extends the phrase before it
    phrases = []
    for index, first in enumerate(starts):
        last = starts[index + 1] - 1 if index + 1 < len(starts) else final_bar
        final = index == len(starts) - 1
        closes = final or (index % 2 and last not in rising)
        cadence = AUTHENTIC if closes else HALF
        phrases.append(Phrase(index, first, last, cadence, final))
    return phrases
