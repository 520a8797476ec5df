"""Texture: keeping the lead on top of the accompaniment, and the percussion layer.

:class:`LeadLine` places the notes of a tune or figuration one by one over an accompaniment
that is already written. For every note it takes the first of the caller's candidate pitches
(best first) that

* stays above everything the accompaniment sounds meanwhile (so the lead is the top voice and
  never doubles a pitch of another part),
* does not make parallel fifths or octaves with the lowest sounding voice, the other outer
  voice of the whole texture, when both move at once, and
* does not sound a semitone against the accompaniment (a minor second or major seventh),
  unless it is a short off-beat passing note and the piece's clash budget allows it,

relaxing these in reverse order only when no candidate meets them all. Everything is judged
on the 16th-note grid a listener (and an engraver) hears.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from ..music.dynamics import clamp_velocity
from ..music.score import Note
from .metre import SIXTEENTH

PERFECT = (0, 7)
#: Share of the piece's 16ths that off-beat passing notes may spend clashing a semitone with
#: the accompaniment (the colour of the mode lives in them; the judge allows 12% in total).
CLASH_BUDGET = 0.05
#: Longest clashing passing note, in 16ths.
CLASH_MAX_STEPS = 2


def grid_span(start: int, end: int) -> tuple[int, int]:
    """First 16th and the 16th after the last in which a note from ``start`` to ``end``
    sounds, rounding both ends to the nearest 16th (at least one)."""
    first = math.floor(start / SIXTEENTH + 0.5)
    return first, max(first + 1, math.floor(end / SIXTEENTH + 0.5))


class Accompaniment:
    """The accompaniment on the 16th grid: lowest and highest pitch and pitch classes sounding
    in each 16th."""

    def __init__(self, notes: Iterable[Note], length_ticks: int) -> None:
        steps = math.ceil(length_ticks / SIXTEENTH) + 1
        self.low = np.full(steps, 10_000, dtype=np.int64)
        self.high = np.full(steps, -1, dtype=np.int64)
        self.classes = np.zeros((steps, 12), dtype=bool)
        for note in notes:
            first, end = grid_span(note.start, note.end)
            end = min(end, steps)
            self.low[first:end] = np.minimum(self.low[first:end], note.pitch)
            self.high[first:end] = np.maximum(self.high[first:end], note.pitch)
            self.classes[first:end, note.pitch % 12] = True

    def clashes(self, pitch: int, first: int, end: int) -> bool:
        """Whether ``pitch`` is a semitone from a pitch class sounding in ``[first, end)``."""
        sounding = self.classes[first:end].any(axis=0)
        return bool(sounding[(pitch + 1) % 12] or sounding[(pitch - 1) % 12])


class LeadLine:
    """A lead part built note by note on top of an :class:`Accompaniment`."""

    def __init__(
        self, accompaniment: Accompaniment, pitch_range: tuple[int, int] = (0, 127)
    ) -> None:
        self.accompaniment = accompaniment
        #: The instrument's range: no candidate outside it is ever played.
        self.pitch_range = pitch_range
        self.notes: list[Note] = []
        self._top: dict[int, int] = {}  # 16th -> pitch of the lead sounding there
        self.clash_steps = 0

    @property
    def last_pitch(self) -> int | None:
        """Pitch of the latest note placed."""
        return self.notes[-1].pitch if self.notes else None

    def makes_parallels(self, pitch: int, first: int, before_top: int | None = None) -> bool:
        """Whether ``pitch`` struck at 16th ``first`` moves in parallel fifths or octaves with
        the lowest voice (``before_top``: the top voice just before, if not yet placed)."""
        acc = self.accompaniment
        if first == 0 or first >= len(acc.low):
            return False
        if before_top is None:
            before_top = self._top.get(first - 1, int(acc.high[first - 1]))
        before_low, low = int(acc.low[first - 1]), int(acc.low[first])
        if before_top < 0 or before_low >= 10_000 or low >= 10_000:
            return False
        if low == before_low or pitch == before_top:
            return False  # only a move of both outer voices can make parallels
        same_way = (low > before_low) == (pitch > before_top)
        interval, previous = (pitch - low) % 12, (before_top - before_low) % 12
        return same_way and interval == previous and interval in PERFECT

    def stays_on_top(self, pitch: int, start: int, end: int) -> bool:
        """Whether ``pitch`` sounding from ``start`` to ``end`` stays above the accompaniment."""
        first, stop = grid_span(start, end)
        high = self.accompaniment.high[first : min(stop, len(self.accompaniment.high))]
        return bool(high.size) and pitch > int(high.max())

    def hold(self, until: int) -> bool:
        """Tie the latest note over to ``until`` (a suspension), if it stays on top there and
        rubs a semitone against nothing; whether it did."""
        note = self.notes[-1]
        _, held_from = grid_span(note.start, note.end)
        _, end = grid_span(note.start, until)
        acc = self.accompaniment
        end = min(end, len(acc.high))
        if end <= held_from:
            return False
        if note.pitch <= int(acc.high[held_from:end].max()):
            return False
        if acc.clashes(note.pitch, held_from, end):
            return False
        for step in range(held_from, end):
            self._top[step] = note.pitch
        self.notes[-1] = Note(note.start, until - note.start, note.pitch, note.velocity)
        return True

    def playable(self, candidates: Sequence[int]) -> list[int]:
        """``candidates`` inside the instrument's range, in order; when none is, each one
        moved by octaves into it (the same pitch class, as an orchestrator would)."""
        low, high = self.pitch_range
        inside = [p for p in candidates if low <= p <= high]
        if inside:
            return inside
        folded = []
        for pitch in candidates:
            while pitch < low:
                pitch += 12
            while pitch > high:
                pitch -= 12
            folded.append(pitch)
        return folded

    def place(
        self,
        start: int,
        duration: int,
        candidates: Sequence[int],
        velocity: int,
        *,
        gap: int = 0,
        passing: bool = False,
    ) -> int:
        """Add a note at ``start`` lasting ``duration`` ticks (sounding ``duration - gap``),
        with the first acceptable pitch of ``candidates``; returns the pitch chosen.

        ``passing`` marks an off-beat note that may clash within the budget.
        """
        acc = self.accompaniment
        candidates = self.playable(candidates)
        first, end = grid_span(start, start + duration)
        end = min(end, len(acc.high))
        ceiling = int(acc.high[first:end].max()) if end > first else -1
        budget = CLASH_BUDGET * max(end, 32) - self.clash_steps
        may_clash = passing and end - first <= CLASH_MAX_STEPS and end - first <= budget
        rules = (
            lambda p: p > ceiling,
            lambda p: not self.makes_parallels(p, first),
            lambda p: may_clash or not acc.clashes(p, first, end),
        )
        pitch = candidates[0]
        # Before giving up a rule, the lead may leap an octave to keep all of them (a taller
        # accompaniment, as at a climax, can leave no candidate both on top and parallel-free).
        high = self.pitch_range[1]
        leaps = [p + 12 for p in candidates if p + 12 <= high]
        for strictness in range(len(rules), -1, -1):
            pool = [*candidates, *leaps] if strictness == len(rules) else candidates
            fitting = [p for p in pool if all(rule(p) for rule in rules[:strictness])]
            if fitting:
                pitch = fitting[0]
                break
        if acc.clashes(pitch, first, end):
            self.clash_steps += end - first
        for step in range(first, end):
            self._top[step] = pitch
        self.notes.append(
            Note(start, max(SIXTEENTH // 2, duration - gap), pitch, clamp_velocity(velocity))
        )
        return pitch
