"""Loudness matching per SoundFont at render time, the way an editor's loudness auto-match
evens clips.

The velocities in the MIDI file are font-independent: each program is evened to the piano by
the General MIDI baseline tables (:data:`~.instruments.PROGRAM_LOUDNESS_LUFS`,
:data:`~.instruments.KIT_LOUDNESS_LU`, the mean of FluidR3_GM and TimGM6mb), and each role
plays at its share of the tune's velocity (:data:`~.dynamics.ROLE_VELOCITY_SCALE`). SoundFonts
disagree far more than one table can even: per program by up to 10 dB (the electronic kit is
+10.9 LU over the standard kit in FluidR3_GM, +1.1 in TimGM6mb), and in how loud a held chord
or a low bass sounds against a tune at the same velocity (TimGM6mb's piano pad 4.5 dB and its
bass 6 dB softer than FluidR3_GM's, relative to its tune).

So before synthesizing, every part is *rendered alone in the SoundFont actually used* (at
:data:`PROBE_RATE`) and measured (BS.1770), and set to the loudness its velocities and role
intend (:func:`intended_lu`) over the font's own reference: the piano playing a tune phrase at
:data:`PROBE_VELOCITY`. The correction is sent to the synthesizer as channel volume (CC 7,
whose gain is ``40·log10(cc/127)`` dB in FluidSynth and RustySynth alike, measured); the score,
and so the MIDI file a user gets, keeps its velocities. The result: the tune 4.4-5.1 LU over
pad and bass on every preset, both generators and both fonts (thriller arc), where the static
tables left +3.0 to +15.4.

The reference is measured once per SoundFont (path, size, modification time) and synthesizer
and cached for the process; the parts are rendered each time (a pass at 22 kHz, a fraction of
the render's own cost).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .instruments import (
    KIT_LOUDNESS_LU,
    PROGRAM_LOUDNESS_LUFS,
    REFERENCE_LOUDNESS_LUFS,
    ROLE_CHANNELS,
)
from .master import LoudnessMeter
from .score import TICKS_PER_BEAT, Note, Score, Track

log = logging.getLogger(__name__)

#: Velocity of the reference phrase.
PROBE_VELOCITY = 80
#: Parts and the reference render at this rate for measuring: loudness differences between
#: parts hardly move with it, and a low rate keeps the pass cheap.
PROBE_RATE = 22050
#: The reference: the piano playing a tune in quarters (C5-G5) and a closing half note at
#: 120 bpm, as (start, duration, pitch) in ticks, then a second of release and reverb.
REFERENCE_PHRASE: tuple[tuple[int, int, int], ...] = (
    *(
        (i * TICKS_PER_BEAT, TICKS_PER_BEAT, p)
        for i, p in enumerate((72, 74, 76, 77, 79, 77, 76, 74))
    ),
    (8 * TICKS_PER_BEAT, 2 * TICKS_PER_BEAT, 72),
)
REFERENCE_BPM = 120.0
REFERENCE_TAIL_BEATS = 2
#: The velocity law the MIDI's velocities mean: dB per factor of 10 (SoundFont 2's default
#: velocity-to-attenuation curve, the baseline tables' assumption).
VELOCITY_DB_PER_DECADE = 40.0
#: CC 7 a channel sits at with no correction (General MIDI's default).
DEFAULT_VOLUME = 100
#: dB of gain per factor of 10 in CC 7 (FluidSynth's and RustySynth's curve, measured).
VOLUME_DB_PER_DECADE = 40.0
#: Each role's level (LU) over a tune of the same effective velocity. Set from rendered
#: stems (thriller arc, seed 1, both generators, four presets, FluidR3_GM and TimGM6mb) so the
#: tune sits 3-6 LU over pad and bass together and more than 3 LU over the drums: a pad's
#: velocity is divided among its voices, so the pad and bass are raised; a 16th-note figure
#: carrying the tune reads as loud as a melody. A channel of no known role (a counter-line)
#: is set as a melody.
ROLE_OVER_TUNE_LU: dict[str, float] = {
    "melody": 0.0,
    "figure": 1.1,
    "harmony": 3.3,
    "bass": 1.2,
    "percussion": 0.0,
}
_ROLE_OF_CHANNEL = {channel: role for role, channel in ROLE_CHANNELS.items()}
DRUM_CHANNEL = ROLE_CHANNELS["percussion"]

#: ``synthesize(score, soundfont, rate, frames, volumes)``: blocks of a render with CC 7 per
#: channel set to ``volumes`` (and no loudness matching of its own).
Synthesize = Callable[[Score, Path, int, int, dict[int, int]], Iterator[NDArray[Any]]]
_cache: dict[tuple[Any, ...], float] = {}
_lock = threading.Lock()


def effective_velocity(velocities: list[int]) -> float:
    """The one velocity as loud as ``velocities`` together under the velocity law (power
    ∝ velocity⁴ at 40 dB per decade): their power mean of order 4."""
    return float(np.mean(np.asarray(velocities, float) ** 4) ** 0.25)


def _lufs(score: Score, soundfont: Path, synthesize: Synthesize, frames: int) -> float:
    meter = LoudnessMeter(PROBE_RATE, 2)
    for block in synthesize(score, soundfont, PROBE_RATE, max(1, frames), {}):
        meter.add(block)
    return meter.integrated()


def reference_lufs(soundfont: Path, synth: str, synthesize: Synthesize) -> float:
    """Loudness (LUFS) of the reference phrase in ``soundfont``, cached per font and synth."""
    stat = soundfont.stat()
    key = (str(soundfont.resolve()), stat.st_size, stat.st_mtime_ns, synth)
    with _lock:
        if key not in _cache:
            notes = [Note(s, d, p, PROBE_VELOCITY) for s, d, p in REFERENCE_PHRASE]
            length = max(n.end for n in notes) + REFERENCE_TAIL_BEATS * TICKS_PER_BEAT
            score = Score(REFERENCE_BPM, [Track("Reference", 0, 0, notes)], length)
            frames = round(score.seconds(length) * PROBE_RATE)
            _cache[key] = _lufs(score, soundfont, synthesize, frames)
        return _cache[key]


def clear_cache() -> None:
    """Forget the references measured (the next render measures its font again)."""
    with _lock:
        _cache.clear()


def channel_volumes(corrections: dict[int, float]) -> dict[int, int]:
    """CC 7 per channel for ``corrections`` (dB): :data:`DEFAULT_VOLUME` moved by each gain,
    every channel lowered together when a boost would pass 127 (the mix is normalised
    afterwards, so only the ratios matter)."""
    if not corrections:
        return {}
    ceiling = VOLUME_DB_PER_DECADE * math.log10(127 / DEFAULT_VOLUME)
    shift = max(0.0, max(corrections.values()) - ceiling)
    return {
        channel: int(
            min(127, max(1, round(DEFAULT_VOLUME * 10 ** ((gain - shift) / VOLUME_DB_PER_DECADE))))
        )
        for channel, gain in corrections.items()
    }


def intended_lu(track: Track) -> float:
    """The loudness ``track``'s velocities intend, over the reference (the piano's tune phrase
    at :data:`PROBE_VELOCITY`), LU: the velocity law at its effective velocity, less the
    baseline evening already in the velocities (a flute plays softer for sounding 6 dB over a
    piano in the General MIDI mean; it is meant to sound as the piano), plus its role's level
    (:data:`ROLE_OVER_TUNE_LU`)."""
    velocity = effective_velocity([n.velocity for n in track.notes])
    intended = VELOCITY_DB_PER_DECADE * math.log10(velocity / PROBE_VELOCITY)
    if track.channel == DRUM_CHANNEL:
        return intended + ROLE_OVER_TUNE_LU["percussion"] + KIT_LOUDNESS_LU.get(track.program, 0.0)
    loudness = PROGRAM_LOUDNESS_LUFS.get(track.program, REFERENCE_LOUDNESS_LUFS)
    role = _ROLE_OF_CHANNEL.get(track.channel, "melody")
    return intended + loudness - REFERENCE_LOUDNESS_LUFS + ROLE_OVER_TUNE_LU.get(role, 0.0)


def channel_corrections(
    score: Score, soundfont: Path, synth: str, synthesize: Synthesize
) -> dict[int, float]:
    """Gain (dB) per channel that makes each part of ``score`` sound, in ``soundfont``, at the
    loudness its velocities and role intend (:func:`intended_lu`) over the font's own piano
    reference: each part is rendered alone and matched, like clips evened by an editor's
    loudness auto-match. Parts sharing a channel are matched together; a silent one is left
    alone. The piano reference is cached per font; the parts are rendered each time."""
    reference = reference_lufs(soundfont, synth, synthesize)
    channels: dict[int, list[Track]] = {}
    for track in score.tracks:
        if track.notes:
            channels.setdefault(track.channel, []).append(track)
    corrections = {}
    for channel, tracks in channels.items():
        merged = Track(tracks[0].name, tracks[0].program, channel,
                       [n for t in tracks for n in t.notes])  # fmt: skip
        part = Score(score.bpm, tracks, score.length_ticks, score.ticks_per_beat)
        frames = round(part.seconds(part.length_ticks) * PROBE_RATE)
        gain = reference + intended_lu(merged) - _lufs(part, soundfont, synthesize, frames)
        corrections[channel] = gain if math.isfinite(gain) else 0.0
    return corrections


def matched_volumes(
    score: Score, soundfont: Path, synth: str, synthesize: Synthesize
) -> dict[int, int]:
    """CC 7 per channel for rendering ``score`` in ``soundfont`` (:func:`channel_corrections`)."""
    corrections = channel_corrections(score, soundfont, synth, synthesize)
    volumes = channel_volumes(corrections)
    log.debug("Loudness matched to %s: %s dB, CC 7 %s", soundfont.name,
              {c: round(g, 1) for c, g in corrections.items()}, volumes)  # fmt: skip
    return volumes
