"""Percussion: General MIDI drums on channel 10 when the arousal band asks for a groove, a
fill on the last beat of a phrase, and a cymbal at every hit point."""

from __future__ import annotations

import numpy as np

from ..music.dynamics import clamp_velocity
from ..music.instruments import (
    CLOSED_HAT,
    CRASH,
    HIGH_TOM,
    KICK,
    LOW_TOM,
    OPEN_HAT,
    SNARE,
)
from ..music.score import Note
from .harmony import HarmonicPlan, Segment
from .metre import BEAT, SIXTEENTH

#: Grooves per 16th of a 4/4 bar: (16th, drum, velocity offset). Kick on 1 and 3, snare on the
#: backbeat (2 and 4), hi-hat 8ths or 16ths with the off-beats lighter.
GROOVES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "backbeat": (
        (0, KICK, 0), (8, KICK, -4), (4, SNARE, -2), (12, SNARE, -2),
        *((s, CLOSED_HAT, -14 if s % 4 else -8) for s in range(0, 16, 2)),
    ),
    "drive": (
        (0, KICK, 0), (8, KICK, -2), (10, KICK, -8), (4, SNARE, 0), (12, SNARE, 0),
        *((s, CLOSED_HAT, -16 if s % 2 else (-10 if s % 4 else -6)) for s in range(16)),
    ),
}  # fmt: skip
#: Variations drawn per bar so a groove breathes: (16th, drum, velocity offset).
GROOVE_VARIANTS: tuple[tuple[tuple[int, int, int], ...], ...] = (
    (),
    ((6, KICK, -8),),
    ((14, OPEN_HAT, -6),),
    ((7, SNARE, -24), (15, SNARE, -22)),
    ((3, KICK, -10),),
)
#: A fill over the last beat of a phrase.
FILL: tuple[tuple[int, int, int], ...] = (
    (12, SNARE, -4), (13, SNARE, -10), (14, HIGH_TOM, -4), (15, LOW_TOM, -2),
)  # fmt: skip


def percussion(plan: HarmonicPlan, rng: np.random.Generator) -> list[Note]:
    """Drums for the bars whose arousal band has a groove, a fill closing each phrase they
    play in, a crash on the next phrase's downbeat (a last crash and kick on the final tonic),
    and a crash cymbal at every hit."""
    notes: list[Note] = []
    bar_ticks = 4 * BEAT
    by_bar: dict[int, Segment] = {}
    for seg in plan.segments:
        by_bar.setdefault(seg.start // bar_ticks, seg)
    crash_next = False
    for bar, seg in sorted(by_bar.items()):
        groove = GROOVES.get(seg.band.drums)
        variant = GROOVE_VARIANTS[int(rng.integers(len(GROOVE_VARIANTS)))]
        start = bar * bar_ticks
        if seg.final and crash_next:  # the drums end with the piece's last downbeat
            velocity = clamp_velocity(seg.velocity("percussion", start) + 10)
            notes.extend(Note(start, BEAT, drum, velocity) for drum in (CRASH, KICK))
        if groove is None or seg.final:
            crash_next = False
            continue
        hits = list(groove) + list(variant)
        following = by_bar.get(bar + 1)
        closing = bar == seg.phrase.last_bar or (following is not None and following.final)
        if closing:
            hits = [h for h in hits if h[0] < 12] + list(FILL)
        if crash_next:
            hits.append((0, CRASH, 0))
        crash_next = closing
        for sixteenth, drum, offset in hits:
            tick = start + sixteenth * SIXTEENTH
            if tick < plan.length_ticks:
                velocity = seg.velocity("percussion", tick) + offset
                notes.append(Note(tick, SIXTEENTH, drum, clamp_velocity(velocity)))
    for tick in plan.hits:
        seg = next(s for s in plan.segments if s.start <= tick < s.end)
        velocity = seg.velocity("percussion", tick) + 20
        notes.append(Note(tick, BEAT, CRASH, clamp_velocity(velocity)))
    return notes
