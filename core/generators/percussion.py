"""Percussion: General MIDI drums on channel 10 when the arousal band asks for a groove, a
fill on the last beat of a phrase (another each phrase), a riser or a fill leading into every
jump of the emotion, and a cymbal at every hit point; a drum set for the pop presets, timpani,
bass drum and cymbals on the kit of the orchestral ones."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
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
    RIDE,
    SNARE,
    TIMPANI_KEYS,
)
from ..music.score import Note
from .harmony import HarmonicPlan, Segment
from .mapping import HIT_JUMP, emotion_jump
from .metre import BAR, BEAT, SIXTEENTH
from .phrasing import ritardando_bar, slower_band, slowing

#: Stand-ins for the timpani in an orchestral pattern: the key's tonic and its dominant,
#: tuned per segment (:func:`timpani_key`).
TIMPANI_TONIC, TIMPANI_DOMINANT = -1, -2
#: The standard kit's low-mid tom (GM key 47), between its high and low toms in a fill.
MID_TOM = 47
Hits = tuple[tuple[int, int, int], ...]
#: A riser into a jump of the emotion: one beat of 16th strokes in a calm scene, two from
#: this arousal up (a busy scene carries a longer build; in a calm one a short swell is
#: enough to announce the cut).
RISER_LONG_AROUSAL = 0.5
#: Below this arousal (on both sides of the jump) a riser is a soft cymbal swell; from it up
#: the seed chooses among the kit's rolls (and, on a drum set, its fills).
RISER_SOFT_AROUSAL = 0.4
#: Change of arousal that a jump between two calm scenes needs to get a riser.
RISER_ENERGY_JUMP = 0.15
#: Velocity of a riser's first and last stroke, relative to the percussion's velocity after
#: the jump: a crescendo that lands on the hit. It enters at least :data:`RISER_ENTRY` under
#: the scene it grows out of.
RISER_SWELL = (-26, 4)
RISER_ENTRY = 10


@dataclass(frozen=True)
class Kit:
    """One kit's part: grooves per arousal band's ``drums``, per-bar variations, phrase-end
    fills (one drawn per phrase), the cymbal and bass drum of accents, and the drums a riser
    rolls on (the calmest first). Hits are (16th of the bar, drum key, velocity offset).
    A drum set (``jump_fills``) may also lead into a jump with one of its fills."""

    grooves: dict[str, Hits]
    variants: tuple[Hits, ...]
    fills: tuple[Hits, ...]
    crash: int
    kick: int
    rolls: tuple[int, ...]
    jump_fills: bool = False


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
        ((12, SNARE, -6), (13, SNARE, -8), (14, MID_TOM, -4), (15, LOW_TOM, -2)),
        ((12, HIGH_TOM, -6), (14, MID_TOM, -4), (15, LOW_TOM, -2), (15, KICK, -6)),
        ((12, SNARE, -4), (13, HIGH_TOM, -8), (14, MID_TOM, -6), (15, SNARE, 0)),
    ),
    crash=CRASH,
    kick=KICK,
    rolls=(RIDE, SNARE, CRASH),
    jump_fills=True,
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
        ((12, TIMPANI_DOMINANT, -10), (14, TIMPANI_DOMINANT, -6), (15, TIMPANI_TONIC, -2)),
        ((12, TIMPANI_TONIC, -10), (13, TIMPANI_DOMINANT, -8), (14, TIMPANI_TONIC, -6),
         (15, TIMPANI_DOMINANT, -4)),
        ((12, CONCERT_BASS_DRUM, -10), (14, TIMPANI_DOMINANT, -8), (15, TIMPANI_TONIC, -4)),
    ),
    crash=CONCERT_CYMBAL,
    kick=CONCERT_BASS_DRUM,
    rolls=(CONCERT_CYMBAL, CONCERT_SNARE, TIMPANI_DOMINANT),
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


def jump_points(plan: HarmonicPlan) -> list[tuple[int, Segment, Segment]]:
    """Where the emotion jumps, as (tick, segment before, segment after): every hit (a cut
    with a big change of emotion) and every bar line across which arousal and valence move by
    :data:`~.mapping.HIT_JUMP` or more (a change of scene without a cut in the edit), one per
    beat; never into the final tonic's later segments (it only rings on), nor where calm music
    only changes its colour (valence) and not its energy: the harmony leads into that one."""
    segments = plan.segments
    starts = [seg.start for seg in segments]
    ticks = set(plan.hits)
    for before, after in itertools.pairwise(segments):
        if after.start % BAR == 0 and emotion_jump(before, after) >= HIT_JUMP and not before.final:
            ticks.add(after.start)
    points: list[tuple[int, Segment, Segment]] = []
    for tick in sorted(ticks):
        if tick < BEAT or (points and tick - points[-1][0] < BEAT):
            continue
        index = bisect.bisect_right(starts, tick) - 1
        after = segments[index]
        before = next(s for s in reversed(segments[: index + 1]) if s.start < tick)
        calm = max(before.arousal, after.arousal) < RISER_SOFT_AROUSAL
        if before.final or (calm and abs(after.arousal - before.arousal) < RISER_ENERGY_JUMP):
            continue
        points.append((tick, before, after))
    return points


def riser(
    kit: Kit, tick: int, before: Segment, after: Segment, rng: np.random.Generator
) -> list[Note]:
    """What leads into the jump at ``tick``: a roll on one drum growing louder into the hit
    (triplet 8ths out of a calm scene, 16ths out of a busy one): a cymbal swell when both sides
    are calm, else a drum the seed chooses (snare, timpani or cymbal on the orchestra's kit);
    or on a drum set, from moderate arousal, a fill the seed may choose instead. One beat
    long, two where the scene before the jump has an arousal of :data:`RISER_LONG_AROUSAL` or
    more."""
    arousal = max(before.arousal, after.arousal)
    beats = 2 if before.arousal >= RISER_LONG_AROUSAL else 1
    start = max(0, tick - beats * BEAT)
    base = after.velocity("percussion", tick)
    entry = before.velocity("percussion", start) - RISER_ENTRY
    soft = arousal < RISER_SOFT_AROUSAL
    options = len(kit.rolls) + (len(kit.fills) if kit.jump_fills else 0)
    choice = 0 if soft else int(rng.integers(options))
    if choice >= len(kit.rolls):
        # A fill into the jump: the kit's phrase-end fill on the last beat, led by snare
        # strokes growing over the beat before when the riser takes two.
        fill = kit.fills[choice - len(kit.rolls)]
        hits = [(tick - BEAT + (s - 12) * SIXTEENTH, d, o) for s, d, o in fill]
        if beats == 2:
            hits += [(tick - 2 * BEAT + k * 2 * SIXTEENTH, SNARE, -16 + 4 * k) for k in (0, 1)]
        return [
            Note(t, SIXTEENTH, _key(d, after), clamp_velocity((base + entry) / 2 + o))
            for t, d, o in hits
            if t >= start
        ]
    drum = _key(kit.rolls[choice], after)
    # Out of a calm scene a swell of triplet 8ths (three strokes), out of a busy one 16ths.
    spacing = BEAT // 3 if beats == 1 else SIXTEENTH
    steps = (tick - start) // spacing
    low, high = min(entry, base + RISER_SWELL[0]), base + RISER_SWELL[1]
    return [
        Note(
            start + k * spacing,
            SIXTEENTH,
            drum,
            clamp_velocity(low + (high - low) * k / max(1, steps - 1)),
        )
        for k in range(steps)
    ]


def _phrase_fills(
    segments: Sequence[Segment], kit: Kit, rng: np.random.Generator
) -> dict[int, Hits]:
    """A phrase-end fill per phrase, drawn by the seed from the kit's bank, never the one the
    phrase before played: at a constant emotion the drummer still varies the way into each
    phrase."""
    fills: dict[int, Hits] = {}
    previous = -1
    for seg in segments:
        index = seg.phrase.index
        if index in fills:
            continue
        options = [i for i in range(len(kit.fills)) if i != previous]
        previous = options[int(rng.integers(len(options)))]
        fills[index] = kit.fills[previous]
    return fills


def percussion(plan: HarmonicPlan, rng: np.random.Generator, program: int = 0) -> list[Note]:
    """Drums for the bars whose arousal band has a groove, a fill closing each phrase they
    play in (another each phrase), a crash on the next phrase's downbeat (a last crash and
    kick on the final tonic), a riser or fill into every jump of the emotion
    (:func:`jump_points`, :func:`riser`) and a crash cymbal at every hit; on the kit of
    ``program`` (see :func:`kit_for`)."""
    kit = kit_for(program)
    notes: list[Note] = []
    bar_ticks = 4 * BEAT
    by_bar: dict[int, Segment] = {}
    for seg in plan.segments:
        by_bar.setdefault(seg.start // bar_ticks, seg)
    fills = _phrase_fills(plan.segments, kit, rng)
    final = ritardando_bar(plan.segments)
    crash_next = False
    for bar, seg in sorted(by_bar.items()):
        # In the written-out ritardando the groove of a calmer band plays (the calmest groove
        # at least, so the drums still fill into the close and land on it).
        groove = kit.grooves.get(seg.band.drums)
        if groove is not None:
            calmer = kit.grooves.get(slower_band(seg.band, slowing(bar, final)).drums)
            groove = calmer or min(kit.grooves.values(), key=len)
        variant = kit.variants[int(rng.integers(len(kit.variants)))]
        fill = fills[seg.phrase.index]
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
            hits = [h for h in hits if h[0] < min(h[0] for h in fill)] + list(fill)
        if crash_next:
            hits.append((0, kit.crash, 0))
        crash_next = closing
        for sixteenth, drum, offset in hits:
            tick = start + sixteenth * SIXTEENTH
            if tick < plan.length_ticks:
                velocity = seg.velocity("percussion", tick) + offset
                notes.append(Note(tick, SIXTEENTH, _key(drum, seg), clamp_velocity(velocity)))
    # A riser replaces whatever the groove played in its span.
    for tick, before, after in jump_points(plan):
        lead_in = riser(kit, tick, before, after, rng)
        first = min((n.start for n in lead_in), default=tick)
        notes = [n for n in notes if not first <= n.start < tick] + lead_in
    for tick in plan.hits:
        seg = next(s for s in plan.segments if s.start <= tick < s.end)
        velocity = seg.velocity("percussion", tick) + 20
        notes.append(Note(tick, BEAT, kit.crash, clamp_velocity(velocity)))
    return notes
