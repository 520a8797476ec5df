"""Scales generator (the original system's 1): a tune built from motifs, in the mode of the moment.

The tune states a motif, develops it (sequence, inversion, rhythmic variation, ornament) and
restates it across antecedent and consequent phrases that end in cadences (see :mod:`.motif`
and :mod:`.form`), over a voice-led chord pad, a bass and, when excited, percussion. On every
beat the tune sounds a tone of the chord; between beats it moves by step through the mode,
which is what makes the mode audible. Valence picks the mode (lydian down to phrygian),
arousal the note values, the layers, loudness and register (see :mod:`.mapping`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..music.score import Note, Score
from .frame import compose_over_harmony
from .harmony import Segment
from .mapping import MELODY_REACH, busier, register_centre
from .metre import BAR, BEAT, SIXTEENTH
from .motif import Motif, developed, joined_ending, new_motif, ornamented, treatment, with_neighbour
from .phrasing import ritardando_bar, slower_band, slowing
from .texture import Accompaniment, LeadLine

if TYPE_CHECKING:
    from ..config import Config
    from ..timeline import EmotionTimeline

#: Motifs per piece: periods alternate between them.
MOTIF_COUNT = 2
#: Semitones above or below the register's centre a phrase's statement may start.
PHRASE_LIFTS = (-4, -2, 0, 2, 4, 6)
#: Extra distance (semitones) that makes a long note avoid the chord's third, and any note
#: repeat the one before.
LONG_THIRD_COST = 4.5
REPEAT_COST = 3.0
#: Share of the chord changes that allow a prepared suspension which get one.
SUSPENSION_CHANCE = 0.5
#: Largest random extra distance (semitones) when ranking a note's candidate pitches.
PITCH_JITTER = 1.5


def compose(timeline: EmotionTimeline, config: Config, seed: int) -> Score:
    """Compose the Scales piece (a :data:`~core.generators.Composer`).

    ``seed`` varies the tonic, progressions, voicings, motifs and their treatment.
    """
    return compose_over_harmony(timeline, config, seed, "melody", motif_melody)


def _range_pitches(seg: Segment, classes: Sequence[int]) -> list[int]:
    centre = register_centre(seg.arousal, seg.valence)
    low, high = centre + MELODY_REACH[0], centre + MELODY_REACH[1]
    return [p for p in range(low, high + 1) if p % 12 in classes]


def _scale_step(pitch: int, steps: int, scale: list[int]) -> int:
    """The scale pitch ``steps`` scale degrees from ``pitch``, reflected at the register's
    edges."""
    position = min(range(len(scale)), key=lambda i: (abs(scale[i] - pitch), scale[i]))
    target = position + steps
    if not 0 <= target < len(scale):
        target = position - steps
    return scale[min(len(scale) - 1, max(0, target))]


def _candidates(
    target: float,
    seg: Segment,
    on_beat: bool,
    goal: int | None,
    *,
    long: bool,
    previous: int | None,
    rng: np.random.Generator,
) -> list[int]:
    """Pitches for a note aiming at ``target``: chord tones on the beat, scale tones between,
    nearest first; ``goal`` (a cadence's pitch class) comes first when given.

    A long note leans on the chord's root or fifth rather than its third (held on the third
    a chord sounds like its relative minor or major), and the tune avoids standing still. A
    little seeded jitter chooses between near-equal pitches, as a composer would not always
    take the nearest.
    """
    tones = _range_pitches(seg, seg.chord.pitch_classes if on_beat else seg.scale)
    tones = tones or _range_pitches(seg, seg.chord.pitch_classes)

    jitter = dict(zip(tones, rng.uniform(0.0, PITCH_JITTER, len(tones)), strict=True))

    def cost(pitch: int) -> tuple[float, int]:
        penalty = LONG_THIRD_COST if long and pitch % 12 == seg.chord.third else 0.0
        penalty += REPEAT_COST if pitch == previous else 0.0
        return abs(pitch - target) + penalty + jitter[pitch], pitch

    ranked = sorted(tones, key=cost)
    if goal is not None:
        ranked.sort(key=lambda p: p % 12 != goal)
    return ranked


def _suspends(
    line: LeadLine,
    seg: Segment,
    before: Segment | None,
    tick: int,
    duration: int,
    rng: np.random.Generator,
) -> bool:
    """Whether the tune holds its last note over the chord arriving at ``tick`` as a prepared
    suspension (and ties it): the note was a tone of the chord before (prepared), is not one
    of the new chord (suspended), rubs against none of its tones, and a tone of the new chord
    lies a step below it (resolution); the note is held a beat and resolves on the next one.
    Taken in :data:`SUSPENSION_CHANCE` of the places that allow one."""
    last = line.notes[-1] if line.notes else None
    if before is None or last is None or tick != seg.start or tick % BEAT or seg.final:
        return False
    if last.pitch % 12 not in before.chord.pitch_classes or duration < BEAT:
        return False
    classes = seg.chord.pitch_classes
    if last.pitch % 12 in classes or any((last.pitch - c) % 12 in (1, 11) for c in classes):
        return False
    below = [last.pitch - step for step in (1, 2) if (last.pitch - step) % 12 in classes]
    resolution = tick + BEAT
    if not below or below[0] not in _range_pitches(seg, classes):
        return False
    if not line.stays_on_top(below[0], resolution, resolution + BEAT):
        return False
    if line.makes_parallels(below[0], resolution // SIXTEENTH, before_top=last.pitch):
        return False
    return bool(rng.random() < SUSPENSION_CHANCE) and line.hold(tick + BEAT)


def _bar_events(
    start: int, rhythm: Sequence[int], segments: Sequence[Segment]
) -> list[tuple[int, int, int]]:
    """(tick, duration, rhythm index) of a bar's notes, split at chord changes so every chord
    is met by a fresh note, and cut to the bar's segments; the last note rings to the end of
    the last segment (the final tonic may outlast the bar)."""
    events = []
    tick = start
    for index, value in enumerate(rhythm):
        end = tick + value * SIXTEENTH
        cuts = [s.start for s in segments if tick < s.start < end]
        for a, b in zip([tick, *cuts], [*cuts, end], strict=True):
            events.append((a, b - a, index))
        tick = end
    end = segments[-1].end
    events = [event for event in events if event[0] < end]
    last_tick, last_duration, last_index = events[-1]
    if segments[-1].final or last_tick + last_duration > end:
        events[-1] = (last_tick, end - last_tick, last_index)
    return events


def _bar_rhythm(
    kind: str, motif: Motif, segments: Sequence[Segment], slower: int = 0, held: bool = False
) -> tuple[tuple[int, ...], int]:
    """The bar's rhythm for treatment ``kind`` and the index of its neighbour note (-1 if
    none): the motif's rhythm in the bar's arousal band (``slower`` bands calmer in a
    written-out ritardando), or the band's cadence rhythm (one note held from the downbeat
    for the final tonic of a broadening ending, ``held``); a passing note added in the upper
    half of the band; the last two notes joined when the harmony moves inside a bar of a
    one-chord band, so the bar is no busier than its arousal asks (the tune answers the moving
    harmony with a longer note)."""
    first = segments[0]
    band, phrase = slower_band(first.band, slower), first.phrase
    ornament_at = -1
    if held:
        return (16,), -1
    if kind == "cadence":
        return band.cadence_rhythms[phrase.index % len(band.cadence_rhythms)], -1
    if kind == "ornament":
        rhythm, ornament_at = ornamented(motif.rhythm(band))
    else:
        rhythm = motif.rhythm(band, varied=kind == "rhythm")
        if busier(first.arousal) and not slower:
            rhythm, ornament_at = with_neighbour(rhythm)
    if band.chords_per_bar == 1 and len(segments) > 1:
        rhythm = joined_ending(rhythm)
        ornament_at = ornament_at if ornament_at < len(rhythm) else -1
    return rhythm, ornament_at


def motif_melody(
    segments: Sequence[Segment],
    _voicings: Sequence[tuple[int, ...]],
    accompaniment: list[Note],
    rng: np.random.Generator,
    pitch_range: tuple[int, int] = (0, 127),
) -> list[Note]:
    """The tune: each bar one treatment of the period's motif, laid on top of the texture."""
    length = segments[-1].end
    line = LeadLine(Accompaniment(accompaniment, length), pitch_range)
    motifs: list[Motif] = [new_motif(rng) for _ in range(MOTIF_COUNT)]
    sequence_steps = [int(rng.choice((-2, 2))) for _ in range(MOTIF_COUNT)]
    # Each period states its motif from its own chord tone (root, third or fifth): the tune
    # comes back recognisably, but not as a copy.
    statement_tones = [int(t) for t in rng.integers(3, size=8)]
    # ... and each phrase from its own height: the line breathes across the piece.
    lifts = [int(x) for x in rng.choice(PHRASE_LIFTS, size=8)]
    by_bar: dict[int, list[Segment]] = {}
    final_bar = next((seg.start // BAR for seg in segments if seg.final), None)
    ritardando = ritardando_bar(segments)
    for seg in segments:
        # The final tonic may ring on for bars (it arrives a bar before the fade): its later
        # segments (recoloured at cuts) belong to the bar where it arrived.
        bar = seg.start // BAR
        by_bar.setdefault(bar if final_bar is None else min(bar, final_bar), []).append(seg)
    statement_pitch: int | None = None
    previous_seg: Segment | None = None
    resolve_to: int | None = None  # the resolution a suspension owes to the next beat
    for bar, bar_segments in sorted(by_bar.items()):
        first = bar_segments[0]
        phrase = first.phrase
        while len(motifs) <= phrase.period:
            motifs.append(developed(motifs[-MOTIF_COUNT], rng))
        motif = motifs[phrase.period]
        kind = treatment(phrase, bar)
        at_rest = bar == ritardando and kind == "cadence"
        rhythm, ornament_at = _bar_rhythm(
            kind, motif, bar_segments, slowing(bar, ritardando), at_rest
        )
        contour = tuple(-c for c in motif.contour) if kind == "inversion" else motif.contour
        centre = register_centre(first.arousal, first.valence)
        if kind == "statement" or line.last_pitch is None:
            tones = (first.chord.root, first.chord.third, first.chord.fifth)
            tone = tones[statement_tones[phrase.period % len(statement_tones)]]
            starts = _range_pitches(first, (tone,)) or [centre]
            lift = centre + lifts[phrase.index % len(lifts)]
            anchor = float(min(starts, key=lambda p: (abs(p - lift), p)))
        elif kind == "sequence":
            scale = _range_pitches(first, first.scale)
            step = sequence_steps[phrase.period % MOTIF_COUNT]
            anchor = float(_scale_step(statement_pitch or centre, step, scale))
        else:
            anchor = float(line.last_pitch)
        events = _bar_events(bar * BAR, rhythm, bar_segments)
        previous_index = -1
        for tick, duration, index in events:
            seg = next(s for s in bar_segments if s.start <= tick < s.end)
            scale = _range_pitches(seg, seg.scale)
            on_beat = tick % BEAT == 0
            if line.last_pitch is None or (index == 0 and index != previous_index):
                target = anchor
            elif index == previous_index:
                target = float(line.last_pitch)  # a note split at a chord change
            elif index == ornament_at:
                target = float(_scale_step(line.last_pitch, 1, scale))
            else:
                target = float(
                    _scale_step(line.last_pitch, contour[(index - 1) % len(contour)], scale)
                )
            goal = None
            closing = kind == "cadence" and (tick, duration, index) == events[-1]
            # Before a final tonic held from its downbeat the tune leaves the dominant from
            # the 2nd degree, so it can step onto the tonic with the bass (from anywhere else
            # the only tonic on top might move in octaves with it).
            closing = closing or (
                ritardando is not None
                and bar + 1 == ritardando
                and seg.cadence_role == "dominant"
                and (tick, duration, index) == events[-1]
            )
            if closing and seg.cadence_role == "tonic":
                goal = seg.chord.root
            elif closing:
                goal = seg.chord.fifth  # a half cadence asks its question on the 2nd degree
            if resolve_to is not None and on_beat and seg.start < tick:
                target, goal = float(resolve_to), resolve_to % 12
            resolve_to = None
            if _suspends(line, seg, previous_seg, tick, duration, rng):
                # A prepared suspension: the last note is tied over the chord change and
                # resolves down by step on the next beat.
                held = line.notes[-1].pitch  # a suspension holds a note already placed
                below = (held - 1, held - 2)
                resolve_to = next(p for p in below if p % 12 in seg.chord.pitch_classes)
                if duration == BEAT:
                    previous_index, previous_seg = index, seg
                    continue
                target, goal = float(resolve_to), resolve_to % 12
                tick, duration, resolve_to = tick + BEAT, duration - BEAT, None
            previous_seg = seg
            candidates = _candidates(
                target,
                seg,
                on_beat,
                goal,
                long=duration >= 2 * BEAT,
                previous=line.last_pitch,
                rng=rng,
            )
            if at_rest and seg.final:
                # The held final tonic: the tonic in any octave near the line (the nearest
                # may lie under the pad or move in octaves with the bass) before any other
                # tone of the chord.
                tonics = [
                    p for p in range(int(target) - 12, int(target) + 13) if p % 12 == seg.tonic
                ]
                candidates = [*sorted(tonics, key=lambda p: (abs(p - target), p)), *candidates]
            pitch = line.place(
                tick,
                duration,
                candidates,
                seg.velocity("melody", tick),
                gap=0 if seg.final else seg.band.gap_ticks,
                passing=not on_beat,
            )
            if index == 0 and kind in ("statement", "rhythm") and tick == bar * BAR:
                statement_pitch = pitch
            previous_index = index
    return line.notes
