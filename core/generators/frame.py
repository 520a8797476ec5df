"""The composition frame of the deterministic generators: plan, accompaniment, a lead part
and percussion assembled into a Score."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence, Sized
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from ..music.instruments import (
    ROLE_CHANNELS,
    TRACK_NAMES,
    balanced_drum_velocity,
    balanced_velocity,
    program_range,
    programs_for,
)
from ..music.score import Note, Score, Track, tidy_notes
from .accompaniment import BASS_RANGE, HARMONY_RANGE, bass_line, pad, voice_lead, well_spaced
from .harmony import Segment, plan_harmony
from .mapping import AROUSAL_TABLE, busier
from .metre import BAR, BEAT, HALF_BAR, SIXTEENTH
from .percussion import percussion
from .phrasing import broadened, phrase_shapes, reshaped

if TYPE_CHECKING:
    from ..config import Config
    from ..timeline import EmotionTimeline

T = TypeVar("T", bound=Sized)
#: A generator's lead part: notes from the plan's segments, the pad voicings, the accompaniment
#: so far (to keep the lead on top without parallels or doublings) and the seeded rng.
#: The last argument is the lead instrument's range.
LeadPart = Callable[
    [
        Sequence[Segment],
        Sequence[tuple[int, ...]],
        list[Note],
        np.random.Generator,
        tuple[int, int],
    ],
    list[Note],
]
#: A generator's inner part (a counter-line between the bass and the lead): notes from the
#: plan's segments, every part written so far by role, its own seeded rng and its
#: instrument's range.
InnerPart = Callable[
    [Sequence[Segment], dict[str, list[Note]], np.random.Generator, tuple[int, int]],
    list[Note],
]
#: The seed's stream for an inner part, apart from the composition's draws (adding the part
#: changes no other part).
INNER_STREAM = 19
#: Where in the run of peak-arousal bars the apex falls (0 = its first bar, 1 = its last):
#: about where a phrase's own swell peaks, late enough to be prepared, early enough to fall.
APEX_POSITION = 0.6
#: Bars within this much of the highest arousal belong to the climax.
CLIMAX_MARGIN = 0.02
#: Beats the apex is held.
APEX_BEATS = 2
#: Velocity of the lower octave of a doubled lead, below the lead's own: it thickens the line
#: without taking the top from it.
DOUBLING_VELOCITY_DROP = 8


@dataclass(frozen=True)
class Arrangement:
    """How a generator lays its accompaniment out on the shared plan: a listener tells the
    generators apart by it as much as by the lead.

    Parameters
    ----------
    pace
        Chord changes per bar for each arousal band (None: the band's own).
    progression_shift
        Which of its valence band's progressions a phrase walks, relative to the seed's draw
        (see :func:`.harmony.plan_harmony`).
    pad_register, bass_register
        Registers of the pad and the bass (MIDI, inclusive), before the instruments' ranges
        cut them.
    bass_octaves
        Double the bass at the octave where the band doubles the lead (see
        :func:`bass_in_octaves`).
    open_position
        Spread the pad (a fifth or more at the bottom, a tenth or more across).
    comping
        Pad rhythms per arousal band (16ths from the bar line; one drawn per phrase), or None
        for the band's even pulse.
    ostinati
        Bass patterns per arousal band ((16th, tone) pairs, tone 0 root, 1 fifth, 2 octave;
        one drawn per phrase), or None for the even root-fifth figures.
    """

    pace: tuple[int, ...] | None = None
    progression_shift: int = 0
    pad_register: tuple[int, int] = HARMONY_RANGE
    bass_register: tuple[int, int] = BASS_RANGE
    open_position: bool = False
    bass_octaves: bool = False
    comping: tuple[tuple[tuple[int, ...], ...], ...] | None = None
    ostinati: tuple[tuple[tuple[tuple[int, int], ...], ...], ...] | None = None


#: The tune-led texture: close pad on the band's pulse, a root-fifth bass in the cello's register
#: (light, so the tune carries).
TUNE_LED = Arrangement(bass_register=(36, 55))


def _per_phrase(
    segments: Sequence[Segment], table: Sequence[Sequence[T]], rng: np.random.Generator
) -> list[T]:
    """For each segment, one of its arousal band's patterns in ``table``, drawn once per phrase
    and band (a phrase keeps its groove; the next may take another): the sparsest patterns in
    the lower half of the band, the densest in the upper half (so density follows arousal
    inside a band too), the seed choosing among patterns of equal length."""
    chosen: dict[tuple[int, int, bool], T] = {}
    result = []
    for seg in segments:
        band = AROUSAL_TABLE.index(seg.band)
        upper = busier(seg.arousal)
        key = (seg.phrase.index, band, upper)
        if key not in chosen:
            lengths = sorted({len(option) for option in table[band]})
            wanted = lengths[-1] if upper else lengths[0]
            options = [option for option in table[band] if len(option) == wanted]
            chosen[key] = options[int(rng.integers(len(options)))]
        result.append(chosen[key])
    return result


def _within(register: tuple[int, int], program: int) -> tuple[int, int]:
    """``register`` shifted and cut to fit the sounding range of ``program``: a bass on the
    cello starts at its C string, not below it."""
    low, high = program_range(program)
    width = register[1] - register[0]
    start = min(max(register[0], low), max(low, high - width))
    return start, min(high, start + width)


def climax_bar(segments: Sequence[Segment]) -> int | None:
    """The bar of the apex: in the first run of bars at the piece's highest arousal, at
    :data:`APEX_POSITION` of the run (the whole piece when the emotion is constant), never
    the final tonic's bar; None for a piece too short to have one."""
    arousal: dict[int, float] = {}
    for seg in segments:
        if not seg.final:
            arousal.setdefault(seg.start // BAR, seg.arousal)
    if len(arousal) < 2:
        return None
    peak = max(arousal.values())
    bars = sorted(arousal)
    first = next(bar for bar in bars if arousal[bar] >= peak - CLIMAX_MARGIN)
    last = first
    while last + 1 in arousal and arousal[last + 1] >= peak - CLIMAX_MARGIN:
        last += 1
    return first + round(APEX_POSITION * (last - first))


def with_apex(
    notes: list[Note], segments: Sequence[Segment], accompaniment: Sequence[Note], high: int
) -> list[Note]:
    """``notes`` (the lead) with the climax's apex: from the climax bar's downbeat a chord tone
    above every other note of the lead (or level with the highest, when the range ends there),
    held :data:`APEX_BEATS` beats (the notes it covers give way), never in parallel fifths or
    octaves with the bass; at most ``high``."""
    bar = climax_bar(segments)
    if bar is None or not notes:
        return notes
    start = bar * BAR
    end = start + APEX_BEATS * BEAT
    seg = next((s for s in segments if s.start <= start < s.end), None)
    if seg is None or seg.final or end > segments[-1].end:
        return notes
    under = [n.pitch for n in accompaniment if n.start <= start < n.end]
    before = [n.pitch for n in accompaniment if n.start < start <= n.end]
    bass = min(under) if under else None
    bass_before = min(before) if before else None
    top_before = max((n.pitch for n in notes if n.start < start <= n.end), default=None)

    def no_parallel(pitch: int) -> bool:
        # Parallels need both outer voices to move into the same perfect interval.
        if bass is None or bass_before is None or top_before is None:
            return True
        if bass == bass_before or pitch == top_before:
            return True
        interval, previous = (pitch - bass) % 12, (top_before - bass_before) % 12
        return interval not in (0, 7) or interval != previous

    top = max(n.pitch for n in notes)
    tones = [p for p in range(top, high + 1) if p % 12 in seg.chord.pitch_classes]
    fitting = [p for p in tones if no_parallel(p)]
    # Above every other note if a tone allows it, else level with the highest (the longest
    # of them, so still the held peak).
    options = [p for p in fitting if p > top] or [p for p in fitting if p == top]
    if not options:
        return notes
    velocity = max(n.velocity for n in notes if n.start < end and n.end > start - BAR)
    kept = []
    for note in notes:
        if start <= note.start < end:
            continue  # covered by the held apex
        if note.start < start < note.end:
            note = Note(note.start, start - note.start, note.pitch, note.velocity)
        kept.append(note)
    kept.append(Note(start, end - start, options[0], velocity))
    return sorted(kept)


def registers(
    arrangement: Arrangement, programs: dict[str, int]
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The pad's and the bass's registers for ``arrangement`` on the preset's ``programs``:
    each cut to its instrument's range, and the pad starting at least an octave above the
    bass's lowest note (keeping its width), so every bass tone has a place below it (a
    cello's C string under the pad, not a note under the cello)."""
    bass_range = _within(arrangement.bass_register, programs["bass"])
    pad_low, pad_high = _within(arrangement.pad_register, programs["harmony"])
    floor = bass_range[0] + 12
    if pad_low < floor:
        pad_low, pad_high = floor, pad_high + floor - pad_low
    return (pad_low, pad_high), bass_range


def doubled_below(
    notes: Sequence[Note],
    segments: Sequence[Segment],
    pitch_range: tuple[int, int],
    accompaniment: Sequence[Note] = (),
) -> list[Note]:
    """``notes`` thickened wherever the arousal band asks for the lead in octaves (the
    climax's tutti): each chord tone of the lead gets its octave below and the chord tone
    just under it (the tune harmonised in thirds or fourths, as horns double a climax).
    Chord tones only: doubled passing tones would weigh the mode's scale over its chords (a
    phrygian bar would read as its relative major). Never outside the instrument's range,
    never on a pitch the accompaniment already sounds."""
    starts = [seg.start for seg in segments]
    sounding: dict[int, list[Note]] = {}  # the accompaniment by pitch, to look up unisons
    for other in accompaniment:
        sounding.setdefault(other.pitch, []).append(other)
    doubled = list(notes)
    ordered = sorted(notes)
    for index, note in enumerate(ordered):
        seg = segments[bisect.bisect_right(starts, note.start) - 1]
        classes = seg.chord.pitch_classes
        if seg.band.lead_octaves < 2 or note.pitch % 12 not in classes:
            continue
        # The doubling holds through the tune's passing notes, to its next chord tone or the
        # chord's end: the horns sustain while the tune runs.
        end = seg.end
        for following in ordered[index + 1 :]:
            if following.start >= end or following.pitch % 12 in classes:
                end = min(end, max(note.end, following.start))
                break
        # Two voices under the tune: its octave and the chord tone below it. A major chord's
        # third is never among them: held long, it weighs the bar toward the relative minor.
        major = (seg.chord.third - seg.chord.root) % 12 == 4
        colours = [c for c in classes if not (major and c == seg.chord.third)]
        below = [p for p in range(note.pitch - 3, note.pitch - 20, -1) if p % 12 in colours]
        lower = [note.pitch - 12] if (note.pitch - 12) % 12 in colours else []
        added = 0
        # The first two candidates the accompaniment does not already sound: a doubling on a
        # pad's pitch would add no voice, so the next chord tone down takes its place.
        for pitch in dict.fromkeys([*lower, *below]):
            if added == 2 or pitch < pitch_range[0]:
                break
            # Held only while the tune stays above it: a doubling must never become the top.
            stop = next(
                (f.start for f in ordered[index + 1 :] if f.start < end and f.pitch <= pitch), end
            )
            stop = max(note.end, stop) if stop > note.start else note.end
            if any(n.start < stop and note.start < n.end for n in sounding.get(pitch, ())):
                continue
            velocity = max(1, note.velocity - DOUBLING_VELOCITY_DROP)
            doubled.append(Note(note.start, stop - note.start, pitch, velocity))
            added += 1
    return doubled


def bass_in_octaves(
    notes: Sequence[Note],
    segments: Sequence[Segment],
    pitch_range: tuple[int, int],
    pad_notes: Sequence[Note],
) -> list[Note]:
    """The bass with its octave added where the arousal band doubles the lead (the climax's
    fullest orchestration), as double basses sustain under moving cellos: on the bar's two
    strong beats, held to the next one (or the segment's end); below when the instrument
    reaches it, else above when that stays under the pad, spaced by the low-interval limits."""
    starts = [seg.start for seg in segments]
    doubled = list(notes)
    for note in notes:
        seg = segments[bisect.bisect_right(starts, note.start) - 1]
        if seg.band.lead_octaves < 2 or note.start % HALF_BAR:
            continue
        end = min(seg.end, note.start + HALF_BAR)
        lower, upper = note.pitch - 12, note.pitch + 12
        if lower >= pitch_range[0]:
            doubled.append(Note(note.start, end - note.start, lower, note.velocity))
            continue
        floor = min(
            (n.pitch for n in pad_notes if n.start < end and note.start < n.end), default=128
        )
        if upper <= pitch_range[1] and upper < floor and well_spaced(upper, floor):
            doubled.append(Note(note.start, end - note.start, upper, note.velocity))
    return doubled


def yielded(pad_notes: Sequence[Note], inner: Sequence[Note]) -> list[Note]:
    """The pad's notes with every stretch where the inner part sounds the same pitch taken
    out (the pad's voice hands the note to the melodic instrument and takes it back after),
    so no pitch sounds in two parts at once; pieces shorter than a 16th are dropped."""
    by_pitch: dict[int, list[Note]] = {}
    for note in inner:
        by_pitch.setdefault(note.pitch, []).append(note)
    result = []
    for note in pad_notes:
        pieces = [(note.start, note.end)]
        for other in by_pitch.get(note.pitch, ()):
            pieces = [
                piece
                for start, end in pieces
                for piece in ((start, min(end, other.start)), (max(start, other.end), end))
                if piece[1] - piece[0] >= SIXTEENTH
            ]
        result += [Note(start, end - start, note.pitch, note.velocity) for start, end in pieces]
    return result


def compose_over_harmony(
    timeline: EmotionTimeline,
    config: Config,
    seed: int,
    lead_role: str,
    lead: LeadPart,
    arrangement: Arrangement = TUNE_LED,
    inner: tuple[str, InnerPart] | None = None,
) -> Score:
    """A lead part over a voice-led pad, a bass and percussion, and an ``inner`` part (its
    role and how to write it) between them if given: the deterministic generators' frame.

    The random draws happen in a fixed order (plan, voicings, comping, bass, lead, drums), so
    the same seed gives the same bytes.
    """
    programs = programs_for(config.music.preset, config.music.programs)
    rng = np.random.default_rng(seed)
    fade = timeline.grid.length_ticks(config.render.fade_s)
    plan = plan_harmony(
        timeline,
        rng,
        fade_ticks=fade,
        pace=arrangement.pace,
        progression_shift=arrangement.progression_shift,
    )
    pad_range, bass_range = registers(arrangement, programs)
    voicings = voice_lead(
        plan.segments,
        rng,
        pad_range,
        open_position=arrangement.open_position,
        bass_range=bass_range,
    )
    comping = None
    if arrangement.comping is not None:
        comping = _per_phrase(plan.segments, arrangement.comping, rng)
    parts = {"harmony": pad(plan.segments, voicings, comping)}
    ostinati = None
    if arrangement.ostinati is not None:
        ostinati = _per_phrase(plan.segments, arrangement.ostinati, rng)
    bass = bass_line(plan.segments, voicings, rng, bass_range, ostinati)
    if arrangement.bass_octaves:
        bass = bass_in_octaves(
            bass, plan.segments, program_range(programs["bass"]), parts["harmony"]
        )
    # The written-out ritardando: the accompaniment's pulse broadens before the final tonic.
    parts["harmony"] = broadened(parts["harmony"], plan.segments)
    parts["bass"] = broadened(bass, plan.segments)
    lead_range = program_range(programs[lead_role])
    under = parts["harmony"] + parts["bass"]
    line = lead(plan.segments, voicings, under, rng, lead_range)
    line = with_apex(line, plan.segments, under, lead_range[1])
    parts[lead_role] = doubled_below(line, plan.segments, lead_range, under)
    if inner is not None:
        role, write = inner
        inner_rng = np.random.default_rng([seed, INNER_STREAM])
        parts[role] = write(plan.segments, parts, inner_rng, program_range(programs[role]))
        parts["harmony"] = yielded(parts["harmony"], parts[role])
    parts["percussion"] = percussion(plan, rng, programs["percussion"])
    # Each phrase its own dynamic shape (drawn from the seed's own stream: no note changes).
    shapes = phrase_shapes(plan.segments, seed, climax_bar(plan.segments))
    parts = {role: reshaped(notes, plan.segments, shapes) for role, notes in parts.items()}
    return assemble_score(
        timeline.grid.bpm, plan.length_ticks, {r: n for r, n in parts.items() if n}, programs
    )


def _balanced(notes: list[Note], role: str, program: int) -> list[Note]:
    """A pitched part's velocities evened for its program's loudness (see
    :func:`~core.music.instruments.balanced_velocity`), a drum part's for its kit's
    (:func:`~core.music.instruments.balanced_drum_velocity`). Every drum part is written for
    its kit (:func:`~.percussion.kit_for`), so its keys are kept as they are: on the Orchestra
    Kit keys 41-53 are tuned timpani, whatever a drum set plays on them."""
    if role == "percussion":
        return [replace(n, velocity=balanced_drum_velocity(n.velocity, program)) for n in notes]
    return [replace(n, velocity=balanced_velocity(n.velocity, program)) for n in notes]


def assemble_score(
    bpm: float, length_ticks: int, parts: dict[str, list[Note]], programs: dict[str, int]
) -> Score:
    """A Score with one track per role, on the role's channel with the preset's program."""
    order = [role for role in TRACK_NAMES if role in parts]
    tracks = [
        Track(
            name=TRACK_NAMES[role],
            program=programs[role],
            channel=ROLE_CHANNELS[role],
            notes=tidy_notes(_balanced(parts[role], role, programs[role]), length_ticks),
        )
        for role in order
    ]
    return Score(bpm=bpm, tracks=tracks, length_ticks=length_ticks)
