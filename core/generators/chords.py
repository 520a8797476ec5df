"""Chords generator (the original system's 2): broken-chord figuration over a comping pad
and a bass.

Valence picks the mode and so the chord qualities (major triads when bright, minor and
diminished when dark); arousal picks the harmonic rhythm, the figuration's rate, the layers,
loudness and register (see :mod:`.mapping`). The figuration breaks each chord in close
position just above the pad; its pattern is the motif: a phrase opens with the period's
pattern, varies it in the middle bars and rises into the cadence, whose last tone rings. Its
accompaniment is its own (:data:`ARRANGEMENT`): another harmonic rhythm, an open-position pad
comping in syncopated rhythms and a bass on ostinati, drawn per phrase by arousal and seed.
From the second arousal band up a slow counter-line sings in the middle of the texture
(:func:`counter_line`): half and whole notes on the chords' guide tones, by step, on the
preset's tune instrument.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..music.score import Note, Score
from .frame import Arrangement, compose_over_harmony
from .harmony import Segment
from .mapping import AROUSAL_TABLE, MELODY_REACH, busier, register_centre
from .metre import BAR, BEAT, HALF_BAR, SIXTEENTH
from .motif import with_neighbour
from .phrasing import RITARDANDO, ritardando_bar, slower_band, slowing
from .texture import PERFECT, Accompaniment, LeadLine, grid_span

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
        (((2, 0), (3, 2), (6, 0), (8, 0), (10, 0), (11, 2), (14, 1)),
         ((3, 0), (6, 0), (8, 2), (11, 0), (14, 1))),
    ),
)
# fmt: on
#: Positions the broken chord may start from (0 = root position above the pad, 1 = first
#: inversion, ...): drawn per bar, so a returning chord is broken in a new shape.
INVERSIONS = 3
#: The counter-line's register (MIDI, inclusive; cut to its instrument): the middle of the
#: texture, between the bass and the figuration, above the low register's spacing limits.
COUNTER_REGISTER = (55, 76)
#: The arousal band from which the counter-line plays (a calm texture keeps its three voices).
COUNTER_FROM_BAND = 1
#: The counter-line's velocity as a share of the figuration's: an inner voice under the lead,
#: heard as a line (thriller, seed 1, FluidR3_GM stems: 6.5-9.5 LU under the figuration on
#: the piano, orchestral and strings presets at 0.9; 9.6-12.7 at 0.75, where it sank in).
COUNTER_SHARE = 0.9
#: Share of whole-bar chords the counter-line holds as one whole note above the lowest band
#: (else two half notes).
COUNTER_WHOLE_CHANCE = 0.35
#: Share of the chord changes that allow a prepared suspension which get one.
COUNTER_SUSPENSION_CHANCE = 0.5


def compose(timeline: EmotionTimeline, config: Config, seed: int) -> Score:
    """Compose the Chords piece (a :data:`~core.generators.Composer`).

    ``seed`` varies the tonic, progressions, voicings and arpeggio patterns.
    """
    return compose_over_harmony(
        timeline, config, seed, "figure", arpeggios, ARRANGEMENT, inner=("melody", counter_line)
    )


def _close_position(seg: Segment, floor: int, inversion: int) -> list[int]:
    """Four chord tones in close position above ``floor`` and at least a few semitones below
    the register's centre, starting ``inversion`` chord tones above the lowest such tone."""
    centre = register_centre(seg.arousal, seg.valence)
    lowest = max(floor + 1, centre + MELODY_REACH[0])
    tones = [p for p in range(lowest, lowest + 36) if p % 12 in seg.chord.pitch_classes]
    return tones[inversion : inversion + 4]


def _rhythm(
    seg: Segment, bar: int, rng: np.random.Generator, motif_rhythms: list[int], slower: int = 0
) -> tuple[int, ...]:
    """The figuration's rhythm in ``bar``: even notes at the band's figuration value, or in
    calm bands (a quarter note or slower) one of the band's bar rhythms, the period's own at
    the phrase's start; one note more in the upper half of the band; all as in the band
    ``slower`` bands calmer in a written-out ritardando (and no note more)."""
    band = slower_band(seg.band, slower)
    if band.figure_16ths < 4:
        rhythm = (band.figure_16ths,) * (16 // band.figure_16ths)
    elif bar == seg.phrase.first_bar:
        rhythm = band.rhythms[motif_rhythms[seg.phrase.period % 2] % len(band.rhythms)]
    else:
        rhythm = band.rhythms[int(rng.integers(len(band.rhythms)))]
    return with_neighbour(rhythm)[0] if busier(seg.arousal) and not slower else rhythm


def _slowing(bar: int, final: int | None) -> int:
    """Bands slower the figuration plays in ``bar``: the ritardando's, and on a broadening
    ending's final tonic the slowest of them (the last chord rolled slowly)."""
    if bar == final:
        return RITARDANDO[-1]
    return slowing(bar, final)


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
    final = ritardando_bar(segments)
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
                _rhythm(seg, bar, rng, motif_rhythms, _slowing(bar, final)),
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


class _Sounding:
    """Every pitch sounding in each 16th of the parts written so far; a unison is allowed
    with the ``shared`` ones (a melodic instrument may take a note of the sustained pad, as
    a horn doubles the strings), never with the others."""

    def __init__(
        self, notes: Sequence[Note], length_ticks: int, shared: Sequence[Note] = ()
    ) -> None:
        self.accompaniment = Accompaniment([*notes, *shared], length_ticks)
        self.pitches: list[set[int]] = [set() for _ in range(len(self.accompaniment.low))]
        for note in notes:
            first, end = grid_span(note.start, note.end)
            for step in range(first, min(end, len(self.pitches))):
                self.pitches[step].add(note.pitch)

    def free(self, pitch: int, first: int, end: int) -> bool:
        """Whether ``pitch`` may sound in 16ths ``[first, end)``: strictly between the lowest
        and the highest voice (an inner voice, never an outer one), on no pitch another part
        sounds (but a shared one), a semitone from none."""
        acc = self.accompaniment
        end = min(end, len(acc.low))
        if end <= first:
            return False
        if pitch <= int(acc.low[first:end].max()) or pitch >= int(acc.high[first:end].min()):
            return False
        if any(pitch in self.pitches[step] for step in range(first, end)):
            return False
        return not acc.clashes(pitch, first, end)


def _counter_events(
    segments: Sequence[Segment], rng: np.random.Generator
) -> list[tuple[int, int, Segment]]:
    """(tick, duration, segment) of the counter-line's notes: one per chord, split into half
    notes on the half bar from the third arousal band up (a whole-bar chord held whole in
    :data:`COUNTER_WHOLE_CHANCE` of them, and always in the ritardando's bars); none in the
    calmest band; the final tonic and everything after it one note to the end."""
    events = []
    final = ritardando_bar(segments)
    for seg in segments:
        if AROUSAL_TABLE.index(seg.band) < COUNTER_FROM_BAND:
            continue
        if seg.final:
            events.append((seg.start, segments[-1].end - seg.start, seg))
            break
        cuts = [seg.start, seg.end]
        if AROUSAL_TABLE.index(seg.band) > COUNTER_FROM_BAND:
            whole = seg.duration >= BAR and rng.random() < COUNTER_WHOLE_CHANCE
            whole = whole or bool(slowing(seg.start // BAR, final))
            halves = range(seg.start - seg.start % HALF_BAR + HALF_BAR, seg.end, HALF_BAR)
            cuts = sorted({seg.start, seg.end, *([] if whole else halves)})
        events += [(a, b - a, seg) for a, b in itertools.pairwise(cuts) if b > a]
    return events


def _motion_cost(previous: int, pitch: int) -> float:
    """Cost of the counter-line moving from ``previous`` to ``pitch``: a step is best, a held
    common tone next, a third acceptable, anything wider costly."""
    motion = abs(pitch - previous)
    return {0: 1.0, 1: 0.0, 2: 0.0, 3: 1.5, 4: 2.0}.get(motion, 3.0 + motion / 2)


def _tone_cost(pitch: int, seg: Segment, centre: float, ceiling: int) -> float:
    """Cost of ``pitch`` on ``seg``'s chord: a guide tone (the chord's third, or its seventh)
    before its root or fifth, near the middle of the register, below the figuration
    (``ceiling``: its lowest pitch meanwhile) rather than among it."""
    guide = pitch % 12 in (seg.chord.third, seg.chord.added)
    return (0.0 if guide else 1.5) + abs(pitch - centre) / 8 + (2.0 if pitch >= ceiling else 0.0)


def counter_line(
    segments: Sequence[Segment],
    parts: dict[str, list[Note]],
    rng: np.random.Generator,
    pitch_range: tuple[int, int] = (0, 127),
) -> list[Note]:
    """A slow counter-line in the middle of the texture: half and whole notes (one per chord
    at moderate arousal) on chord tones, the guide tones (thirds, sevenths) first, moving by
    step or holding a common tone, chosen for the whole line at once (the cheapest path
    through each run of notes); where it steps down onto a tone of the new chord from one the
    new chord lacks, it holds that tone a beat over the change as a prepared suspension. Always
    an inner voice (above the lowest sounding pitch, below the highest), never on a pitch
    another part plays nor a semitone from one, never in parallel fifths or octaves with the
    bass; none in the calmest band."""
    length = segments[-1].end
    sounding = _Sounding(
        [n for role, notes in parts.items() if role != "harmony" for n in notes],
        length,
        parts.get("harmony", []),
    )
    figure = _Sounding(parts.get("figure", []), length).accompaniment
    acc = sounding.accompaniment
    low = max(pitch_range[0], COUNTER_REGISTER[0])
    high = min(pitch_range[1], COUNTER_REGISTER[1])
    centre = (low + high) / 2

    def parallel(previous: int, pitch: int, first: int) -> bool:
        # The line and the lowest voice move together into the same perfect interval.
        before, now = int(acc.low[first - 1]), int(acc.low[max(first, 1)])
        if first == 0 or before == now or previous == pitch or max(before, now) >= 10_000:
            return False
        interval = (pitch - now) % 12
        return interval in PERFECT and interval == (previous - before) % 12

    # Each note's options with their own cost; a note with none breaks the line (a rest).
    runs: list[list[tuple[int, int, Segment, dict[int, float]]]] = [[]]
    for tick, duration, seg in _counter_events(segments, rng):
        first, end = grid_span(tick, tick + duration)
        ceiling = int(figure.low[first:end].min()) if end > first else 10_000
        options = {
            p: _tone_cost(p, seg, centre, ceiling) + float(rng.uniform(0.0, 0.3))
            for p in range(low, high + 1)
            if p % 12 in seg.chord.pitch_classes and sounding.free(p, first, end)
        }
        joined = runs[-1] and runs[-1][-1][0] + runs[-1][-1][1] == tick
        if not options or not joined:
            runs.append([])
        if options:
            runs[-1].append((tick, duration, seg, options))
    notes: list[Note] = []
    for run in runs:
        if not run:
            continue
        # The cheapest path: best[pitch] = (cost, path) after each note.
        best = {p: (c, [p]) for p, c in run[0][3].items()}
        for tick, _, _, options in run[1:]:
            first = grid_span(tick, tick + 1)[0]
            step = {}
            for pitch, own in options.items():
                paths = [
                    (cost + _motion_cost(path[-1], pitch) + own, path)
                    for cost, path in best.values()
                    if not parallel(path[-1], pitch, first)
                ]
                if paths:
                    cost, path = min(paths, key=lambda item: (item[0], item[1][-1]))
                    step[pitch] = (cost, [*path, pitch])
            if not step:  # every move would be parallel: the line leaps, as it must
                cost, kept = min(best.values(), key=lambda item: (item[0], item[1][-1]))
                step = {p: (cost + 10.0 + c, [*kept, p]) for p, c in options.items()}
            best = step
        _, path = min(best.values(), key=lambda item: (item[0], item[1][-1]))
        for (tick, duration, seg, _), pitch in zip(run, path, strict=True):
            velocity = round(seg.velocity("figure", tick) * COUNTER_SHARE)
            before = notes[-1] if notes and notes[-1].end == tick else None
            if before is not None and before.pitch == pitch:
                # A common tone is tied over, not struck again.
                notes[-1] = Note(before.start, tick + duration - before.start, pitch,
                                 before.velocity)  # fmt: skip
                continue
            if (
                before is not None
                and tick == seg.start
                and duration >= 2 * BEAT
                and not seg.final
                and 1 <= before.pitch - pitch <= 2
                and before.pitch % 12 not in seg.chord.pitch_classes
                and sounding.free(before.pitch, *grid_span(tick, tick + BEAT))
                and rng.random() < COUNTER_SUSPENSION_CHANCE
            ):
                # A prepared suspension: the tone before held a beat into the new chord,
                # resolving down by step onto the chosen tone.
                notes[-1] = Note(before.start, tick + BEAT - before.start, before.pitch,
                                 before.velocity)  # fmt: skip
                tick, duration = tick + BEAT, duration - BEAT
            notes.append(Note(tick, duration, pitch, velocity))
    return notes
