"""Building blocks shared by the Scales and Chords generators.

A *harmonic plan* cuts the piece into segments, each with one chord of one mode and the
emotion of its timeline step. Segments start on bar lines (and half bars when arousal asks for
a faster harmonic rhythm) and at every cut of the video that falls inside a bar, rounded to the
nearest 16th note, so the harmony moves with the picture. The generators then lay a melody or
figuration over the layers built here: voice-led chord voicings and a bass line.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError
from ..music.score import TICKS_PER_TIMESTEP, Note, Score, Track, tidy_notes
from ..timeline import TIMESTEPS_PER_BAR, EmotionTimeline
from .mapping import (
    CUT_ACCENT,
    DOWNBEAT_ACCENT,
    MODES,
    ROLE_CHANNELS,
    VALENCE_TABLE,
    ArousalBand,
    arousal_band,
    programs_for,
    valence_band,
    velocity_for,
)

if TYPE_CHECKING:
    from ..config import Config

TICKS_PER_BAR = TIMESTEPS_PER_BAR * TICKS_PER_TIMESTEP
TICKS_PER_HALF_BAR = TICKS_PER_BAR // 2
#: Register of the sustained chord layer and of the bass (MIDI pitches, inclusive).
HARMONY_RANGE = (48, 67)
BASS_RANGE = (34, 50)
TRACK_NAMES = {"melody": "Melody", "figure": "Figuration", "harmony": "Harmony", "bass": "Bass"}


@dataclass(frozen=True)
class Chord:
    """A triad as pitch classes (root, third, fifth), with a seventh when it is diminished."""

    root: int
    third: int
    fifth: int
    seventh: int | None = None

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        """Root, third, fifth (and seventh) as pitch classes 0-11."""
        tones = (self.root, self.third, self.fifth)
        return tones if self.seventh is None else (*tones, self.seventh)


@dataclass(frozen=True)
class Segment:
    """A stretch of the piece with one chord, one mode and one emotion."""

    start: int
    end: int
    arousal: float
    valence: float
    scale: tuple[int, ...]
    chord: Chord
    #: The segment starts at a cut of the video (inside a bar), where the music is accented.
    at_cut: bool = False

    @property
    def band(self) -> ArousalBand:
        """The arousal row of the mapping table for this segment."""
        return arousal_band(self.arousal)

    @property
    def duration(self) -> int:
        """Length in ticks."""
        return self.end - self.start

    def velocity(self, role: str, tick: int) -> int:
        """Velocity for ``role`` at ``tick``: arousal, metric accent, and a cut accent."""
        cut_accent = CUT_ACCENT if self.at_cut and tick == self.start else 0
        return min(127, accented_velocity(self.arousal, role, tick) + cut_accent)


@dataclass(frozen=True)
class HarmonicPlan:
    """The segments of a piece, covering ``[0, length_ticks)`` without gaps."""

    length_ticks: int
    tonic: int
    segments: tuple[Segment, ...]


def triad(tonic: int, mode: str, degree: int) -> Chord:
    """The chord on ``degree`` (0 = tonic), stacked in thirds inside ``mode`` on ``tonic``.

    A bare diminished triad has no centre of its own (each of its notes can be heard as a
    leading tone), so it gets the mode's seventh on top: the half-diminished seventh that
    minor keys use, which still sounds dark but clearly belongs to its key.
    """
    intervals = MODES[mode]
    pcs = [(tonic + intervals[(degree + 2 * k) % len(intervals)]) % 12 for k in range(4)]
    diminished = (pcs[1] - pcs[0]) % 12 == 3 and (pcs[2] - pcs[0]) % 12 == 6
    return Chord(pcs[0], pcs[1], pcs[2], pcs[3] if diminished else None)


def piece_length_ticks(timeline: EmotionTimeline) -> int:
    """Ticks covering exactly the timeline's duration at its grid's tempo."""
    if not timeline.steps or timeline.duration_s <= 0:
        raise InputError(
            "The emotion timeline is empty; give a clip or emotion file at least one step long."
        )
    return round(timeline.duration_s * timeline.grid.bpm * TICKS_PER_TIMESTEP * 4 / 60.0)


def cut_ticks(timeline: EmotionTimeline) -> list[float]:
    """Cut times in (fractional) ticks at the grid's tempo."""
    ticks_per_second = timeline.grid.bpm * TICKS_PER_TIMESTEP * 4 / 60.0
    return sorted(cut * ticks_per_second for cut in timeline.cuts_s)


def _step_index(timeline: EmotionTimeline, tick: int) -> int:
    step_ticks = timeline.grid.timesteps_per_step * TICKS_PER_TIMESTEP
    return min(tick // step_ticks, len(timeline.steps) - 1)


def _segment_boundaries(timeline: EmotionTimeline, length_ticks: int) -> tuple[list[int], set[int]]:
    """Bar lines, half bars where the arousal band asks for them, and cuts inside bars.

    Returns the sorted boundaries and the subset that was added for cuts.
    """
    boundaries: set[int] = set()
    at_cuts: set[int] = set()
    for bar_start in range(0, length_ticks, TICKS_PER_BAR):
        boundaries.add(bar_start)
        step = timeline.steps[_step_index(timeline, bar_start)]
        half_bar = bar_start + TICKS_PER_HALF_BAR
        if arousal_band(step.arousal).chords_per_bar == 2 and half_bar < length_ticks:
            boundaries.add(half_bar)
    for cut in cut_ticks(timeline):
        on_grid = round(cut / TICKS_PER_TIMESTEP) * TICKS_PER_TIMESTEP
        # A chord change already within a 16th of the cut lands on it audibly; a second change
        # one 16th later would only stutter.
        if 0 < on_grid < length_ticks and all(
            abs(cut - b) > TICKS_PER_TIMESTEP for b in boundaries
        ):
            boundaries.add(on_grid)
            at_cuts.add(on_grid)
    return sorted(boundaries), at_cuts


def plan_harmony(timeline: EmotionTimeline, rng: np.random.Generator) -> HarmonicPlan:
    """Cut the piece into chord segments that follow the timeline's valence and cuts.

    The tonic and one progression per mode are drawn from ``rng``; the chord sequence then
    follows the mapping table. A change of mode restarts its progression on the tonic so the
    new colour is heard at once; consecutive segments never repeat a chord.
    """
    length = piece_length_ticks(timeline)
    tonic = int(rng.integers(12))
    progression = {
        band.mode: band.progressions[int(rng.integers(len(band.progressions)))]
        for band in VALENCE_TABLE
    }
    boundaries, at_cuts = _segment_boundaries(timeline, length)
    segments: list[Segment] = []
    position, mode, previous = 0, "", None
    for start, end in zip(boundaries, [*boundaries[1:], length], strict=True):
        step = timeline.steps[_step_index(timeline, start)]
        band = valence_band(step.valence)
        if band.mode != mode:
            mode, position = band.mode, 0
        cycle = progression[mode]
        chord = triad(tonic, mode, cycle[position % len(cycle)])
        while previous is not None and chord == previous:
            position += 1
            chord = triad(tonic, mode, cycle[position % len(cycle)])
        position += 1
        scale = tuple((tonic + i) % 12 for i in MODES[mode])
        segments.append(
            Segment(start, end, step.arousal, step.valence, scale, chord, start in at_cuts)
        )
        previous = chord
    return HarmonicPlan(length, tonic, tuple(segments))


def _voicing_candidates(chord: Chord, low: int, high: int) -> list[tuple[int, ...]]:
    """Four-voice voicings of ``chord`` in ``[low, high]``: every pitch class present (a
    triad doubles its root or fifth, never the third), no gap wider than an octave between
    neighbouring voices."""
    pitches = [p for p in range(low, high + 1) if p % 12 in chord.pitch_classes]
    candidates = []
    for voicing in itertools.combinations(pitches, 4):
        classes = [p % 12 for p in voicing]
        if set(classes) != set(chord.pitch_classes) or classes.count(chord.third) > 1:
            continue
        if max(b - a for a, b in itertools.pairwise(voicing)) > 12:
            continue
        candidates.append(voicing)
    return candidates


def voice_lead(
    segments: Sequence[Segment],
    rng: np.random.Generator,
    pitch_range: tuple[int, int] = HARMONY_RANGE,
) -> list[tuple[int, ...]]:
    """A voicing per segment, each as close as possible to the previous one.

    Cost = total semitones moved by the four voices, plus a pull toward the middle of the range
    so the layer never drifts to an edge; a small random jitter (from the seed) picks among
    near-equal voicings.
    """
    low, high = pitch_range
    middle = (low + high) / 2
    voicings: list[tuple[int, ...]] = []
    previous: tuple[int, ...] | None = None
    for segment in segments:
        candidates = _voicing_candidates(segment.chord, low, high)
        jitter = rng.uniform(0.0, 0.75, size=len(candidates))
        costs = [
            (0.0 if previous is None else sum(abs(a - b) for a, b in zip(c, previous, strict=True)))
            + 0.35 * abs(float(np.mean(c)) - middle)
            + j
            for c, j in zip(candidates, jitter, strict=True)
        ]
        previous = candidates[int(np.argmin(costs))]
        voicings.append(previous)
    return voicings


def accented_velocity(arousal: float, role: str, tick: int) -> int:
    """Velocity for ``role`` at ``tick``: the arousal mapping plus a metric accent."""
    accent = 0
    if tick % TICKS_PER_BAR == 0:
        accent = DOWNBEAT_ACCENT
    elif tick % TICKS_PER_HALF_BAR == 0:
        accent = DOWNBEAT_ACCENT // 2
    return min(127, velocity_for(arousal, role) + accent)


def sustained_chords(
    segments: Sequence[Segment], voicings: Sequence[tuple[int, ...]]
) -> list[Note]:
    """The harmony layer: each voicing held for its segment.

    A tone common to two chords inside one bar is held through the change rather than
    struck again, as voice-leading asks (and it saves synthesizer voices); on each bar line
    the whole chord is struck anew, so a decaying instrument such as the piano keeps sounding.
    """
    notes: list[Note] = []
    held: dict[int, tuple[int, int]] = {}  # pitch -> (start, velocity) of the sounding note
    for seg, voicing in zip(segments, voicings, strict=True):
        restrike = seg.start % TICKS_PER_BAR == 0
        for pitch in list(held):
            if restrike or pitch not in voicing:
                start, velocity = held.pop(pitch)
                notes.append(Note(start, seg.start - start, pitch, velocity))
        velocity = seg.velocity("harmony", seg.start)
        for pitch in voicing:
            held.setdefault(pitch, (seg.start, velocity))
    end = segments[-1].end if segments else 0
    notes.extend(
        Note(start, end - start, pitch, velocity) for pitch, (start, velocity) in held.items()
    )
    return notes


def _nearest_pitch(pitch_class: int, target: float, low: int, high: int) -> int:
    options = [p for p in range(low, high + 1) if p % 12 == pitch_class]
    return min(options, key=lambda p: (abs(p - target), p))


def bass_line(segments: Sequence[Segment]) -> list[Note]:
    """Roots (and fifths, when arousal is high enough for several notes a chord).

    Each root is taken in the octave nearest to the previous bass note, so the line moves
    by small steps rather than jumping across the register.
    """
    low, high = BASS_RANGE
    notes: list[Note] = []
    previous = (low + high) / 2
    for seg in segments:
        value = seg.band.bass_16ths * TICKS_PER_TIMESTEP
        root = _nearest_pitch(seg.chord.root, previous, low, high)
        fifth = _nearest_pitch(seg.chord.fifth, root + 5, low, high)
        # Root on the downbeat of the chord, then root-fifth-octave-fifth motion.
        pattern = (root, fifth, root + 12, fifth)
        for index, start in enumerate(range(seg.start, seg.end, value)):
            duration = min(value, seg.end - start)
            velocity = seg.velocity("bass", start)
            notes.append(Note(start, duration, pattern[index % len(pattern)], velocity))
        previous = root
    return notes


#: A generator's own part: notes from the harmonic segments, their voicings and the seeded rng.
LeadPart = Callable[
    [Sequence["Segment"], Sequence[tuple[int, ...]], np.random.Generator], list[Note]
]


def compose_over_harmony(
    timeline: EmotionTimeline, config: Config, seed: int, lead_role: str, lead: LeadPart
) -> Score:
    """A lead part over voice-led sustained chords and a bass: the deterministic generators' frame.

    The random draws happen in a fixed order (plan, voicings, lead part), so the same seed
    gives the same bytes.
    """
    programs = programs_for(config.music.preset, config.music.programs)
    rng = np.random.default_rng(seed)
    plan = plan_harmony(timeline, rng)
    voicings = voice_lead(plan.segments, rng)
    parts = {
        lead_role: lead(plan.segments, voicings, rng),
        "harmony": sustained_chords(plan.segments, voicings),
        "bass": bass_line(plan.segments),
    }
    return assemble_score(timeline.grid.bpm, plan.length_ticks, parts, programs)


def assemble_score(
    bpm: float, length_ticks: int, parts: dict[str, list[Note]], programs: dict[str, int]
) -> Score:
    """A Score with one track per role, on the role's channel with the preset's program."""
    tracks = [
        Track(
            name=TRACK_NAMES[role],
            program=programs[role],
            channel=ROLE_CHANNELS[role],
            notes=tidy_notes(notes, length_ticks),
        )
        for role, notes in parts.items()
    ]
    return Score(bpm=bpm, tracks=tracks, length_ticks=length_ticks)
