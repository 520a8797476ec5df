"""Loudness: MIDI velocity from arousal, per role, with metric, phrase and cut accents.

Every generator (the deterministic ones and the RBM) takes its velocities from here, so the
accent rules cannot drift apart. Louder when more aroused (Gabrielsson & Lindström 2010);
strong beats a little louder than weak ones; each phrase swells toward its climax and relaxes
into its cadence, as a player shapes a line; a cut with a big change of emotion is hit forte.
"""

from __future__ import annotations

import math

from .score import TICKS_PER_BEAT

#: Velocity at arousal 0 and 1 (linear in between).
VELOCITY_RANGE: tuple[int, int] = (42, 112)
#: Velocity of each role as a share of the tune's, so the tune sits on top of the accompaniment
#: (at a velocity's loudness of about 40·log10(v) dB, 0.6 is 9 dB under the tune; the pad also
#: divides its velocity among its voices, see ``accompaniment.pad``). Measured from rendered
#: stems: the tune 3-6 LU above the pad and bass together (``benchmarks/bench_music.py``), and
#: the drums at least 3 LU under the tune on the piano and orchestral presets (at 0.85 the
#: timpani and bass drum were as loud as the tune: thriller arc, orchestral, -17.9 vs -17.5 LUFS).
ROLE_VELOCITY_SCALE: dict[str, float] = {
    "melody": 1.0,
    "figure": 0.85,
    "harmony": 0.55,
    "bass": 0.6,
    "percussion": 0.65,
}
#: Extra velocity on the first beat of a 4/4 bar; beat 3 gets half of it.
DOWNBEAT_ACCENT = 8
#: Extra velocity where a cut of the video falls inside a bar (film music hits the cut).
CUT_ACCENT = 10
#: Extra velocity of the forte chord on a cut with a large change of emotion.
HIT_ACCENT = 24
#: Largest swell of a phrase (velocity added at its climax, about two thirds of the way in).
PHRASE_SWELL = 10
#: Where in a phrase (0 = start, 1 = end) the swell peaks.
SWELL_PEAK = 0.65
BAR_TICKS = 4 * TICKS_PER_BEAT


def clamp_velocity(velocity: float) -> int:
    """``velocity`` rounded into MIDI's 1-127."""
    return int(min(127, max(1, round(velocity))))


def velocity_for(arousal: float, role: str = "melody") -> int:
    """MIDI velocity (1-127) for ``arousal`` in [0, 1], scaled for ``role``.

    Examples
    --------
    >>> velocity_for(0.0), velocity_for(1.0)
    (42, 112)
    """
    low, high = VELOCITY_RANGE
    clamped = min(1.0, max(0.0, float(arousal)))
    return clamp_velocity((low + (high - low) * clamped) * ROLE_VELOCITY_SCALE.get(role, 1.0))


def metric_accent(tick: int) -> int:
    """Velocity added at ``tick`` by the 4/4 metre: full on beat 1, half on beat 3."""
    if tick % BAR_TICKS == 0:
        return DOWNBEAT_ACCENT
    if tick % (BAR_TICKS // 2) == 0:
        return DOWNBEAT_ACCENT // 2
    return 0


def accented_velocity(arousal: float, role: str, tick: int) -> int:
    """Velocity for ``role`` at ``tick``: the arousal mapping plus the metric accent."""
    return clamp_velocity(velocity_for(arousal, role) + metric_accent(tick))


def phrase_swell(position: float) -> float:
    """Velocity added at ``position`` (0-1) through a phrase: a rise to the climax at
    :data:`SWELL_PEAK` and a fall into the cadence, never below zero."""
    position = min(1.0, max(0.0, position))
    if position <= SWELL_PEAK:
        shape = math.sin(0.5 * math.pi * position / SWELL_PEAK)
    else:
        shape = math.cos(0.5 * math.pi * (position - SWELL_PEAK) / (1.0 - SWELL_PEAK))
    return PHRASE_SWELL * shape
