"""Arrangement of the RBM's notes: parts derived from them, never replacing them.

- **Voicing**: a note that is the highest sounding pitch where it starts goes to the preset's
  *melody* instrument, every other note to its *harmony* instrument (the RBM's own voices,
  split as an arranger would give the top line to a solo instrument).
- **Bass**: every half bar, the triad that best covers the pitch classes the RBM sounds there
  (duration-weighted) gives a root; the bass plays root, fifth and octave of it below the
  RBM's lowest note, at a rate set by arousal (half notes when calm, quarters, then 8ths); a
  figure tone that would rub a semitone against the RBM's notes or move in parallel fifths or
  octaves with its top voice gives way to another tone of the chord. Where the RBM rests, the
  bass rests. The last bar holds the tonic.
- **Percussion**: the shared drum machinery of the deterministic generators
  (:func:`core.generators.texture.percussion` over :func:`core.generators.harmony.plan_harmony`'s
  phrases and arousal bands): grooves by arousal, fills at phrase ends, crashes at hits.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..music.dynamics import ROLE_VELOCITY_SCALE, accented_velocity, clamp_velocity
from ..music.score import TICKS_PER_TIMESTEP, Note
from .roll import PLAY

if TYPE_CHECKING:
    from ..timeline import EmotionTimeline

#: Triads as pitch-class offsets above the root: major, minor, diminished.
TRIAD_SHAPES = ((0, 4, 7), (0, 3, 7), (0, 3, 6))
HARMONY_SPAN = 8  # 16ths per bass harmony: half a bar
BASS_RANGE = (28, 52)
#: The inner voices' velocity as a share of the RBM's (which is the tune's).
INNER_SHARE = ROLE_VELOCITY_SCALE["harmony"] / ROLE_VELOCITY_SCALE["melody"]
#: Modules of ``core.generators`` that hold (or held) the shared machinery used here.
SHARED_MODULES = ("frame", "percussion", "harmony", "texture")
#: Bass tones through a bar, as indices into (root, fifth, octave), like the deterministic
#: generators' bass figures.
BASS_FIGURE = (0, 1, 2, 1)
BAR_STEPS = 16
#: (highest arousal, 16ths per bass note) from calm to excited.
BASS_RATES = ((0.35, 8), (0.7, 4), (1.01, 2))


def chord_root(profile: NDArray[np.number[Any]]) -> int | None:
    """Root pitch class of the triad best covering a 12-bin pitch-class ``profile``.

    A triad scores the weight of its tones present, minus a penalty for each missing tone,
    so a bare fifth still names its root; ``None`` for an empty profile.
    """
    if not profile.any():
        return None
    total = profile.sum()
    best, root = -np.inf, None
    for shape in TRIAD_SHAPES:
        for candidate in range(12):
            tones = [(candidate + offset) % 12 for offset in shape]
            weights = profile[tones]
            score = weights.sum() - 0.25 * total * np.count_nonzero(weights == 0)
            # The root itself sounding breaks ties (C-E-G over A-C-E given C, E, G).
            score += 0.01 * weights[0]
            if score > best:
                best, root = score, candidate
    return root


def bass_rate(arousal: float) -> int:
    """16ths per bass note at ``arousal``."""
    return next(rate for limit, rate in BASS_RATES if arousal < limit)


def bass_part(
    roll: NDArray[Any],
    lowest_pitch: int,
    arousal: NDArray[np.floating[Any]],
    final_step: int,
    tonic: int,
) -> list[Note]:
    """A bass line from the harmony of ``roll`` (``(steps, pitches, 2)``, already in the
    piece's key); ``arousal`` per timestep; the tonic pitch class held from ``final_step``."""
    steps = len(roll)
    pitches = lowest_pitch + np.arange(roll.shape[1])
    sounding = roll[..., PLAY].astype(bool)
    notes: list[Note] = []
    tops: list[int | None] = []  # the model's top pitch at each bass onset
    previous = float(sum(BASS_RANGE) / 2)
    for first in range(0, steps, HARMONY_SPAN):
        end = min(steps, first + HARMONY_SPAN)
        if first >= final_step:
            break
        end = min(end, final_step)
        span = sounding[first:end]
        if not span.any():
            continue
        profile = np.bincount(pitches % 12, weights=span.sum(axis=0), minlength=12)
        root = chord_root(profile)
        # The span sounds, so the profile is not empty and a triad always scores: never None.
        assert root is not None
        lowest = int(pitches[np.flatnonzero(span.any(axis=0))[0]])
        pitch = _below(root, lowest, previous)
        fifth = pitch + 7 if pitch + 7 < lowest else pitch - 5
        octave = pitch + 12 if pitch + 12 < lowest else pitch
        tones = (pitch, fifth, octave)
        rate = bass_rate(float(arousal[first]))
        for start in range(first, end, rate):
            # The figure runs through the bar: a calm bar's second half on the fifth when its
            # harmony stays, a moving bass through root, fifth, octave, fifth. A figure tone
            # that would rub a semitone against the model or move in parallel fifths or
            # octaves with its top voice gives way to another tone of the chord.
            length = min(rate, end - start)
            preferred = tones[BASS_FIGURE[(start % BAR_STEPS) // rate % len(BASS_FIGURE)]]
            above = pitches[sounding[start : start + length].any(axis=0)]
            top = (
                int(pitches[np.flatnonzero(sounding[start])[-1]]) if sounding[start].any() else None
            )
            before = (notes[-1].pitch, tops[-1]) if notes and tops[-1] is not None else None
            tone = min(
                dict.fromkeys((preferred, *tones)),
                key=lambda t: _bass_faults(t, above, top, before),
            )
            notes.append(_note(start, length, tone, arousal[start]))
            tops.append(top)
        previous = pitch
    if final_step < steps and sounding[final_step:].any():
        lowest = int(pitches[np.flatnonzero(sounding[final_step:].any(axis=0))[0]])
        pitch = _below(tonic, lowest, previous)
        notes.append(_note(final_step, steps - final_step, pitch, arousal[final_step]))
    return notes


def _bass_faults(
    tone: int,
    above: NDArray[np.signedinteger[Any]],
    top: int | None,
    before: tuple[int, int] | None,
) -> int:
    """Semitone rubs of ``tone`` against the pitches ``above`` it, plus 1 for parallel fifths
    or octaves with the ``top`` voice coming from ``before`` (bass, top)."""
    faults = int(np.count_nonzero(np.isin((above - tone) % 12, (1, 11))))
    if before is not None and top is not None:
        bass_was, top_was = before
        moved = tone != bass_was and top != top_was
        same_way = (tone > bass_was) == (top > top_was)
        perfect = (top - tone) % 12 in (0, 7) and (top - tone) % 12 == (top_was - bass_was) % 12
        faults += moved and same_way and perfect
    return faults


def _below(pitch_class: int, ceiling: int, near: float) -> int:
    """``pitch_class`` in the bass range below ``ceiling`` (or its lowest octave), nearest
    ``near``."""
    low, high = BASS_RANGE
    options = [p for p in range(low, min(high, ceiling - 1) + 1) if p % 12 == pitch_class]
    options = options or [p for p in range(low, low + 12) if p % 12 == pitch_class]
    return min(options, key=lambda p: (abs(p - near), p))


def _note(step: int, length: int, pitch: int, arousal: float) -> Note:
    tick = step * TICKS_PER_TIMESTEP
    velocity = accented_velocity(float(arousal), "bass", tick)
    return Note(tick, length * TICKS_PER_TIMESTEP, pitch, velocity)


def split_voices(
    notes: list[Note], roll: NDArray[Any], lowest_pitch: int
) -> tuple[list[Note], list[Note]]:
    """(melody, harmony): a note is melody when it is the highest pitch of ``roll`` sounding
    at the 16th where it starts. The inner voices play at the pad's share of the tune's
    velocity (:data:`~core.music.dynamics.ROLE_VELOCITY_SCALE`), as the deterministic
    generators' pad does, so the top line carries over them (before: the melody 3.5-4 LU
    under harmony and bass together, measured from stems)."""
    sounding = roll[..., PLAY].astype(bool)
    rows = np.where(
        sounding.any(axis=1), sounding.shape[1] - 1 - np.argmax(sounding[:, ::-1], 1), -1
    )
    top = lowest_pitch + rows
    melody: list[Note] = []
    harmony: list[Note] = []
    for note in notes:
        step = note.start // TICKS_PER_TIMESTEP
        if note.pitch >= top[step]:
            melody.append(note)
        else:
            harmony.append(replace(note, velocity=clamp_velocity(note.velocity * INNER_SHARE)))
    return melody, harmony


def shared(name: str) -> Callable[..., Any]:
    """A function of the deterministic generators' shared machinery, by name.

    Imported on first use (``core.generators`` imports the RBM generators) and looked up in
    the modules that have held it (``frame``/``percussion`` after the 2026-12 split of
    ``harmony``/``texture``), so the RBM keeps working on either side of that rework.
    """
    for module in SHARED_MODULES:
        try:
            found: Callable[..., Any] | None = getattr(
                importlib.import_module(f"..generators.{module}", __package__), name, None
            )
        except ImportError:
            continue
        if found is not None:
            return found
    raise ImportError(f"core.generators has no {name}")


def drums(timeline: EmotionTimeline, seed: int, program: int) -> list[Note]:
    """The deterministic generators' percussion for ``timeline`` (grooves by arousal band,
    fills closing phrases, crashes at hits) on the kit of ``program``, drawn from its own
    seeded streams."""
    plan = shared("plan_harmony")(timeline, np.random.default_rng([seed, 1]))
    notes: list[Note] = shared("percussion")(plan, np.random.default_rng([seed, 2]), program)
    return notes
