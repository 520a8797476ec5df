"""Percussion: General MIDI drums on channel 10 when the arousal band asks for a groove, a
fill on the last beat of a phrase, and a cymbal at every hit point; a drum set for the pop
presets, timpani, bass drum and cymbals on the kit of the orchestral ones."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..music.dynamics import clamp_velocity
from ..music.instruments import (
    CLOSED_HAT,
    CONCERT_BASS_DRUM,
    CONCERT_CYMBAL,
    CONCERT_SNARE,
    CRASH,
    HIGH_TOM,
    KICK,
    LOW_TOM,
    OPEN_HAT,
    ORCHESTRA_KIT,
    SNARE,
    TIMPANI_KEYS,
)
from ..music.score import Note
from .harmony import HarmonicPlan, Segment
from .metre import BEAT, SIXTEENTH

#: Stand-ins for the timpani in an orchestral pattern: the key's tonic and its dominant,
#: tuned per segment (:func:`timpani_key`).
TIMPANI_TONIC, TIMPANI_DOMINANT = -1, -2
Hits = tuple[tuple[int, int, int], ...]


@dataclass(frozen=True)
class Kit:
    """One kit's part: grooves per arousal band's ``drums``, per-bar variations, phrase-end
    fills (one drawn per phrase), and the cymbal and bass drum of accents. Hits are (16th of
    the bar, drum key, velocity offset)."""

    grooves: dict[str, Hits]
    variants: tuple[Hits, ...]
    fills: tuple[Hits, ...]
    crash: int
    kick: int


# fmt: off
#: The standard drum kit: kick on 1 and 3, snare on the backbeat (2 and 4), hi-hat 8ths or 16ths
#: with the off-beats lighter.
STANDARD_KIT = Kit(
    grooves={
        "backbeat": (
            (0, KICK, 0), (8, KICK, -4), (4, SNARE, -2), (12, SNARE, -2),
            *((s, CLOSED_HAT, -14 if s % 4 else -8) for s in range(0, 16, 2)),
        ),
        "drive": (
            (0, KICK, 0), (8, KICK, -2), (10, KICK, -8), (4, SNARE, 0), (12, SNARE, 0),
            *((s, CLOSED_HAT, -16 if s % 2 else (-10 if s % 4 else -6)) for s in range(16)),
        ),
    },
    variants=(
        (), ((6, KICK, -8),), ((14, OPEN_HAT, -6),), ((7, SNARE, -24), (15, SNARE, -22)),
        ((3, KICK, -10),),
    ),
    fills=(
        ((12, SNARE, -4), (13, SNARE, -10), (14, HIGH_TOM, -4), (15, LOW_TOM, -2)),
        ((12, HIGH_TOM, -6), (13, HIGH_TOM, -10), (14, LOW_TOM, -4), (15, LOW_TOM, -2)),
        ((12, SNARE, -8), (13, SNARE, -6), (14, SNARE, -4), (15, SNARE, -2)),
    ),
    crash=CRASH,
    kick=KICK,
)
#: The orchestra's percussion: timpani on the tonic and dominant (the pulse of a film cue's
#: build), the concert bass drum under the downbeat, the snare only at the top, cymbals for
#: accents; fills are timpani rolls growing into the next downbeat.
ORCHESTRAL_KIT = Kit(
    grooves={
        "backbeat": (
            (0, TIMPANI_TONIC, 0), (8, TIMPANI_DOMINANT, -4), (0, CONCERT_BASS_DRUM, -12),
        ),
        "drive": (
            (0, TIMPANI_TONIC, 0), (2, TIMPANI_TONIC, -12), (4, TIMPANI_DOMINANT, -4),
            (6, TIMPANI_TONIC, -12), (8, TIMPANI_TONIC, -2), (10, TIMPANI_TONIC, -12),
            (12, TIMPANI_DOMINANT, -4), (14, TIMPANI_TONIC, -10), (0, CONCERT_BASS_DRUM, -6),
            (4, CONCERT_SNARE, -16), (12, CONCERT_SNARE, -16),
        ),
    },
    variants=(
        (), ((6, TIMPANI_DOMINANT, -10),), ((14, TIMPANI_DOMINANT, -8),),
        ((15, CONCERT_SNARE, -18),), ((10, CONCERT_BASS_DRUM, -14),),
    ),
    fills=(
        tuple((s, TIMPANI_TONIC, -14 + 3 * (s - 12)) for s in range(12, 16)),
        ((12, TIMPANI_DOMINANT, -10), (13, TIMPANI_DOMINANT, -8), (14, TIMPANI_TONIC, -6),
         (15, TIMPANI_TONIC, -2)),
        ((12, TIMPANI_TONIC, -8), (14, TIMPANI_DOMINANT, -6), (15, CONCERT_SNARE, -10)),
    ),
    crash=CONCERT_CYMBAL,
    kick=CONCERT_BASS_DRUM,
)
# fmt: on


def kit_for(program: int) -> Kit:
    """The part's kit for the percussion program of a preset: orchestral for the GM
    Orchestra Kit, whose drum-set keys sound as timpani, the standard kit otherwise."""
    return ORCHESTRAL_KIT if program == ORCHESTRA_KIT else STANDARD_KIT


def timpani_key(pitch_class: int) -> int:
    """The Orchestra Kit key whose timpano sounds ``pitch_class`` (F2-E3: keys 41-52)."""
    return TIMPANI_KEYS[0] + (pitch_class - TIMPANI_KEYS[0]) % 12


def _key(drum: int, seg: Segment) -> int:
    """A pattern's drum as a key: the timpani stand-ins tuned to ``seg``'s key."""
    if drum == TIMPANI_TONIC:
        return timpani_key(seg.tonic)
    if drum == TIMPANI_DOMINANT:
        return timpani_key(seg.tonic + 7)
    return drum


def percussion(plan: HarmonicPlan, rng: np.random.Generator, program: int = 0) -> list[Note]:
    """Drums for the bars whose arousal band has a groove, a fill closing each phrase they
    play in (drawn per phrase), a crash on the next phrase's downbeat (a last crash and kick
    on the final tonic), and a crash cymbal at every hit; on the kit of ``program`` (see
    :func:`kit_for`)."""
    kit = kit_for(program)
    notes: list[Note] = []
    bar_ticks = 4 * BEAT
    by_bar: dict[int, Segment] = {}
    for seg in plan.segments:
        by_bar.setdefault(seg.start // bar_ticks, seg)
    crash_next = False
    for bar, seg in sorted(by_bar.items()):
        groove = kit.grooves.get(seg.band.drums)
        variant = kit.variants[int(rng.integers(len(kit.variants)))]
        fill = kit.fills[int(rng.integers(len(kit.fills)))]
        start = bar * bar_ticks
        if seg.final and crash_next:  # the drums end with the piece's last downbeat
            velocity = clamp_velocity(seg.velocity("percussion", start) + 10)
            notes.extend(Note(start, BEAT, drum, velocity) for drum in (kit.crash, kit.kick))
        if groove is None or seg.final:
            crash_next = False
            continue
        hits = list(groove) + list(variant)
        following = by_bar.get(bar + 1)
        closing = bar == seg.phrase.last_bar or (following is not None and following.final)
        if closing:
            hits = [h for h in hits if h[0] < 12] + list(fill)
        if crash_next:
            hits.append((0, kit.crash, 0))
        crash_next = closing
        for sixteenth, drum, offset in hits:
            tick = start + sixteenth * SIXTEENTH
            if tick < plan.length_ticks:
                velocity = seg.velocity("percussion", tick) + offset
                notes.append(Note(tick, SIXTEENTH, _key(drum, seg), clamp_velocity(velocity)))
    for tick in plan.hits:
        seg = next(s for s in plan.segments if s.start <= tick < s.end)
        velocity = seg.velocity("percussion", tick) + 20
        notes.append(Note(tick, BEAT, kit.crash, clamp_velocity(velocity)))
    return notes
