"""Scales generator (the seed's 1): a stepwise melody in the mode of the moment.

The melody runs up and down the current mode's scale, landing on a chord tone on every strong
beat, over sustained voice-led chords and a bass line. Valence picks the mode (lydian down to
phrygian), arousal the note values, loudness and register (see :mod:`.mapping`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..music.score import TICKS_PER_TIMESTEP, Note, Score
from .harmony import (
    TICKS_PER_HALF_BAR,
    Segment,
    compose_over_harmony,
)
from .mapping import register_centre

if TYPE_CHECKING:
    from ..config import Config
    from ..timeline import EmotionTimeline

#: How far the melody may wander from its register centre (semitones).
MELODY_REACH = (-6, 9)
#: Chance that a melody note is held twice as long, so the rhythm is not mechanical.
LONG_NOTE_CHANCE = 0.2
#: Chance of turning around mid-run.
TURN_CHANCE = 0.2


def compose(timeline: EmotionTimeline, config: Config, seed: int) -> Score:
    """Compose the Scales piece for ``timeline``.

    Parameters
    ----------
    timeline
        Arousal and valence per step, plus cut times.
    config
        Uses ``config.music.preset`` (and ``music.programs`` overrides) for the instruments.
    seed
        Varies tonic, progressions, voicings and the melody's turns; same seed, same bytes.
    """
    return compose_over_harmony(
        timeline,
        config,
        seed,
        "melody",
        lambda segments, _voicings, rng: scale_melody(segments, rng),
    )


def _scale_pitches(segment: Segment) -> list[int]:
    centre = register_centre(segment.arousal, segment.valence)
    low, high = centre + MELODY_REACH[0], centre + MELODY_REACH[1]
    return [p for p in range(low, high + 1) if p % 12 in segment.scale]


def scale_melody(segments: Sequence[Segment], rng: np.random.Generator) -> list[Note]:
    """Scale runs that turn at the edges of the register and at random, chord tones on beats.

    On the first and third beat of a bar the melody moves to the nearest chord tone in its
    direction of travel, so the line outlines the harmony; between beats it steps through the
    scale, which is what makes the mode audible.
    """
    notes: list[Note] = []
    pitch: int | None = None
    direction = 1
    for seg in segments:
        scale = _scale_pitches(seg)
        value = seg.band.melody_16ths * TICKS_PER_TIMESTEP
        tick = seg.start
        while tick < seg.end:
            duration = value * 2 if rng.random() < LONG_NOTE_CHANCE else value
            duration = min(duration, seg.end - tick)
            if pitch is None:
                pitch = _first_pitch(scale, seg)
            else:
                if rng.random() < TURN_CHANCE:
                    direction = -direction
                pitch, direction = _next_melody_pitch(pitch, direction, scale, seg, tick)
            sounding = max(TICKS_PER_TIMESTEP // 2, round(duration * seg.band.legato))
            velocity = seg.velocity("melody", tick)
            notes.append(Note(tick, min(sounding, duration), pitch, velocity))
            tick += duration
    return notes


def _first_pitch(scale: list[int], seg: Segment) -> int:
    """The chord's root nearest the middle of the melody's register."""
    middle = float(np.mean(scale))
    return min(scale, key=lambda p: (p % 12 != seg.chord.root, abs(p - middle)))


def _next_melody_pitch(
    pitch: int, direction: int, scale: list[int], seg: Segment, tick: int
) -> tuple[int, int]:
    """One scale step in ``direction`` (turning at the register's edges); on a strong beat,
    the nearest chord tone that way instead."""
    position = min(range(len(scale)), key=lambda i: abs(scale[i] - pitch))
    if not 0 <= position + direction < len(scale):
        direction = -direction
    if tick % TICKS_PER_HALF_BAR:
        return scale[position + direction], direction
    chord_tones = [p for p in scale if p % 12 in seg.chord.pitch_classes]
    ahead = [p for p in chord_tones if (p - pitch) * direction > 0]
    if not ahead:
        direction = -direction
        ahead = [p for p in chord_tones if (p - pitch) * direction > 0] or [pitch]
    return min(ahead, key=lambda p: abs(p - pitch)), direction
