"""The composition frame of the deterministic generators: plan, accompaniment, a lead part
and percussion assembled into a Score."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..music.instruments import ROLE_CHANNELS, TRACK_NAMES, programs_for
from ..music.score import Note, Score, Track, tidy_notes
from .accompaniment import bass_line, pad, voice_lead
from .harmony import Segment, plan_harmony
from .percussion import percussion

if TYPE_CHECKING:
    from ..config import Config
    from ..timeline import EmotionTimeline

#: A generator's lead part: notes from the plan's segments, the pad voicings, the accompaniment
#: so far (to keep the lead on top without parallels or doublings) and the seeded rng.
LeadPart = Callable[
    [Sequence[Segment], Sequence[tuple[int, ...]], list[Note], np.random.Generator], list[Note]
]


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
    plan = plan_harmony(timeline, rng)
    voicings = voice_lead(plan.segments, rng)
    parts = {"harmony": pad(plan.segments, voicings)}
    parts["bass"] = bass_line(plan.segments, voicings, rng)
    parts[lead_role] = lead(plan.segments, voicings, parts["harmony"] + parts["bass"], rng)
    parts["percussion"] = percussion(plan, rng)
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
