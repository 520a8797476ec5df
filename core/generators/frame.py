"""The composition frame of the deterministic generators: plan, accompaniment, a lead part
and percussion assembled into a Score."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..music.instruments import ROLE_CHANNELS, TRACK_NAMES, program_range, programs_for
from ..music.score import Note, Score, Track, tidy_notes
from .accompaniment import BASS_RANGE, HARMONY_RANGE, bass_line, pad, voice_lead
from .harmony import Segment, plan_harmony
from .metre import BAR, BEAT
from .percussion import percussion

if TYPE_CHECKING:
    from ..config import Config
    from ..timeline import EmotionTimeline

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
    above every other note of the lead, held :data:`APEX_BEATS` beats (the notes it covers
    give way). The apex is a chord tone that makes no perfect interval with the bass under
    it, so it cannot move in parallel fifths or octaves with it; at most ``high``."""
    bar = climax_bar(segments)
    if bar is None or not notes:
        return notes
    start = bar * BAR
    end = start + APEX_BEATS * BEAT
    seg = next((s for s in segments if s.start <= start < s.end), None)
    if seg is None or seg.final or end > segments[-1].end:
        return notes
    under = [n.pitch for n in accompaniment if n.start <= start < n.end]
    bass = min(under) if under else None
    top = max(n.pitch for n in notes)
    options = [
        p
        for p in range(top + 1, high + 1)
        if p % 12 in seg.chord.pitch_classes and (bass is None or (p - bass) % 12 not in (0, 7))
    ]
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


def doubled_below(
    notes: Sequence[Note],
    segments: Sequence[Segment],
    pitch_range: tuple[int, int],
    accompaniment: Sequence[Note] = (),
) -> list[Note]:
    """``notes`` with an octave below added wherever the arousal band asks for the lead in
    octaves: on the chord tones only (doubled passing tones would weigh the mode's scale over
    its chords, and a phrygian bar would read as its relative major), inside the instrument's
    range, and never on a pitch the accompaniment already sounds."""
    starts = [seg.start for seg in segments]
    sounding: dict[int, list[Note]] = {}  # the accompaniment by pitch, to look up unisons
    for other in accompaniment:
        sounding.setdefault(other.pitch, []).append(other)
    doubled = list(notes)
    for note in notes:
        seg = segments[bisect.bisect_right(starts, note.start) - 1]
        lower = note.pitch - 12
        if seg.band.lead_octaves < 2 or lower < pitch_range[0]:
            continue
        if note.pitch % 12 not in seg.chord.pitch_classes:
            continue
        if any(
            n.pitch == lower and n.start < note.end and note.start < n.end for n in accompaniment
        ):
            continue
        velocity = max(1, note.velocity - DOUBLING_VELOCITY_DROP)
        doubled.append(Note(note.start, note.duration, lower, velocity))
    return doubled


def compose_over_harmony(
    timeline: EmotionTimeline, config: Config, seed: int, lead_role: str, lead: LeadPart
) -> Score:
    """A lead part over a voice-led pad, a bass and percussion: the deterministic generators'
    frame.

    The random draws happen in a fixed order (plan, voicings, bass, lead, drums), so the same
    seed gives the same bytes.
    """
    programs = programs_for(config.music.preset, config.music.programs)
    rng = np.random.default_rng(seed)
    plan = plan_harmony(timeline, rng, fade_ticks=timeline.grid.length_ticks(config.render.fade_s))
    bass_range = _within(BASS_RANGE, programs["bass"])
    # The pad starts an octave above the bass's lowest note, so every bass tone has a place
    # below it (a cello's C string under the pad, not a note under the cello).
    pad_low, pad_high = _within(HARMONY_RANGE, programs["harmony"])
    pad_range = (max(pad_low, bass_range[0] + 12), max(pad_high, bass_range[0] + 12 + 23))
    voicings = voice_lead(plan.segments, rng, pad_range)
    parts = {"harmony": pad(plan.segments, voicings)}
    parts["bass"] = bass_line(plan.segments, voicings, rng, bass_range)
    lead_range = program_range(programs[lead_role])
    under = parts["harmony"] + parts["bass"]
    line = lead(plan.segments, voicings, under, rng, lead_range)
    line = with_apex(line, plan.segments, under, lead_range[1])
    parts[lead_role] = doubled_below(line, plan.segments, lead_range, under)
    parts["percussion"] = percussion(plan, rng, programs["percussion"])
    return assemble_score(
        timeline.grid.bpm, plan.length_ticks, {r: n for r, n in parts.items() if n}, programs
    )


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
            notes=tidy_notes(parts[role], length_ticks),
        )
        for role in order
    ]
    return Score(bpm=bpm, tracks=tracks, length_ticks=length_ticks)
