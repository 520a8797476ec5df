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
and cached for the process. The parts are rendered each time, one after another in one
synthesizer pass at 22.05 kHz (:func:`_probe`: one font load, one K-weighting filter), each
measured on its own 100 ms hops: within 0.08 LU of rendering every part in a synthesizer of its
own, but no cheaper, since the cost is the parts' audio. That costs about as much as the render
itself with FluidSynth and 2-4 times it with RustySynth (``benchmarks/bench_render.py``).
Measuring excerpts instead (:data:`EXCERPT_S`) is cheaper but not yet accurate enough to be the
default.
"""

from __future__ import annotations

import logging
import math
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .instruments import (
    KIT_LOUDNESS_LU,
    PROGRAM_LOUDNESS_LUFS,
    REFERENCE_LOUDNESS_LUFS,
    ROLE_CHANNELS,
    VELOCITY_DB_PER_DECADE,
)
from .master import HOP_S, LoudnessMeter
from .score import TICKS_PER_BEAT, Note, Score, Track

log = logging.getLogger(__name__)

#: Velocity of the reference phrase.
PROBE_VELOCITY = 80
#: Parts and the reference render at this rate for measuring: loudness differences between
#: parts hardly move with it, and a low rate keeps the pass cheap. Not lower: at 16 kHz the
#: parts' balance moved by up to 1.2 LU against 22.05 kHz (FluidR3_GM; the K-weighting's high
#: shelf loses what a cymbal or a bright lead has above 8 kHz), and measuring RustySynth's
#: 48 kHz output as it comes moved it by up to 0.6 LU.
PROBE_RATE = 22050
#: Seconds of each part measured, at most, when excerpts are asked for
#: (``channel_corrections(excerpt_s=...)``): :data:`EXCERPT_WINDOWS` excerpts spread evenly
#: over the time the part plays (so more where it plays, none where it rests), corrected by
#: what the score predicts the excerpts miss (:func:`predicted_hops`). Off by default
#: (``None``: every part measured whole): on 34 cues of 60-120 s (3 generators, 2-4 presets,
#: 4 arcs; FluidSynth, FluidR3_GM), 16 s in 8 windows per part left the parts' balance (the
#: widest gap between two parts' errors) within 0.8 LU of the whole measurement on average
#: but 2.1 LU at worst (8 s in 4: 1.3 and 2.8; 30 s in 15: 0.45 and 1.3), while costing about
#: half the whole pass on a 60 s cue.
EXCERPT_S: float | None = None
EXCERPT_WINDOWS = 8
#: Seconds rendered before an excerpt's measured span: the notes still sounding at its start
#: begin there, so their attack is not measured as if struck at the span's start.
LEAD_S = 0.5
#: Seconds of silence after each excerpt in the probe, for releases and reverb to die away
#: before the next excerpt's lead.
GAP_S = 0.5
#: Whether excerpts are corrected by :func:`predicted_hops` (halved their error).
PREDICT = True
#: Seconds a note is taken to sound past its end (a drum hit's written length is short).
RING_S = 1.0
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


def _hop_energies(
    score: Score, soundfont: Path, synthesize: Synthesize, rate: int, frames: int
) -> NDArray[np.float64]:
    """K-weighted energy per 100 ms hop of ``score`` rendered at ``rate`` (BS.1770's hops, as
    :class:`~.master.LoudnessMeter` sums them; the last one may be partial)."""
    meter = LoudnessMeter(rate, 2)
    hops = [0.0]
    for block in synthesize(score, soundfont, rate, max(1, frames), {}):
        energy = meter.add(block)
        hops[-1] += float(energy[0])
        hops.extend(float(e) for e in energy[1:])
    return np.asarray(hops)


def _gated_lufs(hops: NDArray[np.float64], rate: int) -> float:
    """Integrated loudness (LUFS) of whole hops' energies, as if their audio were contiguous."""
    meter = LoudnessMeter(rate, 2)
    if not len(hops):
        return -math.inf
    meter.add_energy(hops, len(hops) * _hop_frames(rate))
    return meter.integrated()


def _hop_frames(rate: int) -> int:
    return round(HOP_S * rate)


def _lufs(score: Score, soundfont: Path, synthesize: Synthesize, rate: int) -> float:
    meter = LoudnessMeter(rate, 2)
    for block in synthesize(score, soundfont, rate, max(1, round(score.duration_s * rate)), {}):
        meter.add(block)
    return meter.integrated()


def reference_lufs(soundfont: Path, synth: str, synthesize: Synthesize) -> float:
    """Loudness (LUFS) of the reference phrase in ``soundfont``, cached per font and synth."""
    stat = soundfont.stat()
    rate = PROBE_RATE
    key = (str(soundfont.resolve()), stat.st_size, stat.st_mtime_ns, synth, rate)
    with _lock:
        if key not in _cache:
            notes = [Note(s, d, p, PROBE_VELOCITY) for s, d, p in REFERENCE_PHRASE]
            length = max(n.end for n in notes) + REFERENCE_TAIL_BEATS * TICKS_PER_BEAT
            score = Score(REFERENCE_BPM, [Track("Reference", 0, 0, notes)], length)
            _cache[key] = _lufs(score, soundfont, synthesize, rate)
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


def excerpt_spans(
    notes: list[Note], length: int, budget: int | None, windows: int, ring: int = 0
) -> list[tuple[int, int]]:
    """Where a part playing ``notes`` is measured: spans ``[start, end)`` in ticks within
    ``[0, length)``, sorted and apart.

    With no ``budget`` the whole piece. Else, where the part plays less than ``budget`` ticks,
    every stretch it plays; otherwise ``windows`` spans of ``budget / windows`` ticks centred
    at evenly spaced points of the time it plays (its notes' union), so a part that rests for
    a section is measured only where it plays, and evenly over quiet and loud passages. A note
    counts as playing ``ring`` ticks past its end (a drum hit is written short).
    """
    if budget is None:
        return [(0, length)]
    played: list[list[int]] = []
    for note in sorted(notes):
        start, end = max(0, note.start), min(length, note.end + ring)
        if end <= start:
            continue
        if played and start <= played[-1][1]:
            played[-1][1] = max(played[-1][1], end)
        else:
            played.append([start, end])
    total = sum(end - start for start, end in played)
    if total <= budget:
        spans = [(start, end) for start, end in played]
    else:
        width = budget // windows
        spans, reached, index = [], 0, 0
        for k in range(windows):
            target = (2 * k + 1) * total // (2 * windows)  # played ticks before the centre
            while reached + played[index][1] - played[index][0] <= target:
                reached += played[index][1] - played[index][0]
                index += 1
            centre = played[index][0] + target - reached
            start = min(max(0, centre - width // 2), max(0, length - width))
            spans.append((start, min(length, start + width)))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _probe(
    score: Score, parts: dict[int, list[Track]], spans: dict[int, list[tuple[int, int]]]
) -> tuple[Score, list[tuple[int, int, int]]]:
    """One score holding every part's excerpts one after another, each from :data:`LEAD_S`
    before its span (notes sounding then start there) to the span's end (notes cut there),
    followed by :data:`GAP_S` of silence; and the measured spans as ``(channel, start, end)``
    in its ticks."""
    lead, gap = score.ticks(LEAD_S), score.ticks(GAP_S)
    tracks, measured, offset = [], [], 0
    for channel, part in parts.items():
        moved: list[list[Note]] = [[] for _ in part]
        ordered = [sorted(track.notes) for track in part]
        starts = [[note.start for note in notes] for notes in ordered]
        longest = [max((note.duration for note in notes), default=0) for notes in ordered]
        for first, last in spans[channel]:
            begin = max(0, first - lead)
            for notes, onsets, held, out in zip(ordered, starts, longest, moved, strict=True):
                for note in notes[bisect_left(onsets, begin - held) : bisect_left(onsets, last)]:
                    start, end = max(note.start, begin), min(note.end, last)
                    if end > start:
                        out.append(Note(start - begin + offset, end - start, note.pitch,
                                        note.velocity))  # fmt: skip
            measured.append((channel, offset + first - begin, offset + last - begin))
            offset += last - begin + gap
        tracks += [replace(track, notes=out) for track, out in zip(part, moved, strict=True)]
    return replace(score, tracks=tracks, length_ticks=offset), measured


#: The score's own estimate of a part's loudness over time (:func:`predicted_hops`): each note
#: a power ∝ velocity⁴ (:data:`VELOCITY_DB_PER_DECADE`) from its onset to its end plus
#: :data:`PREDICTED_RELEASE_S`, fading at :data:`PREDICTED_DECAY_DB_S` where the instrument's
#: notes die away (drums, pianos, mallets, guitars, basses, harp, pizzicato, timpani) and
#: each drum hit held :data:`PREDICTED_DRUM_S` whatever its written length.
PREDICTED_RELEASE_S = 0.2
PREDICTED_DECAY_DB_S = 6.0
PREDICTED_DRUM_S = 0.5
DECAYING_PROGRAMS = frozenset((*range(0, 16), *range(24, 40), 45, 46, 47, *range(104, 120)))


def predicted_hops(score: Score, tracks: list[Track], rate: int) -> NDArray[np.float64]:
    """The energy per 100 ms hop (at ``rate``'s hop boundaries) that ``tracks``' notes predict
    by velocity and length alone, up to one gain; see :data:`PREDICTED_DECAY_DB_S`."""
    hop_s = _hop_frames(rate) / rate
    count = max(1, math.ceil(score.duration_s / hop_s))
    energy = np.zeros(count + 1)
    for track in tracks:
        if not track.notes:
            continue
        notes = np.array([(n.start, n.end, n.velocity) for n in track.notes], float)
        start = notes[:, 0] * score.seconds(1)
        if track.channel == DRUM_CHANNEL:
            end = start + PREDICTED_DRUM_S
        else:
            end = notes[:, 1] * score.seconds(1) + PREDICTED_RELEASE_S
        end = np.minimum(end, score.duration_s)
        keep = end > start
        start, end, power = start[keep], end[keep], (notes[keep, 2] / 127.0) ** 4
        decaying = track.channel == DRUM_CHANNEL or track.program in DECAYING_PROGRAMS
        rate_per_s = PREDICTED_DECAY_DB_S * math.log(10) / 10 if decaying else 0.0
        first = (start / hop_s).astype(int)
        last = np.minimum((end / hop_s).astype(int), count)
        spans = last - first + 1
        note = np.repeat(np.arange(len(start)), spans)
        hop = (
            np.repeat(first, spans)
            + np.arange(spans.sum())
            - np.repeat(np.cumsum(spans) - spans, spans)
        )
        lo = np.maximum(hop * hop_s, start[note]) - start[note]
        hi = np.minimum((hop + 1) * hop_s, end[note]) - start[note]
        inside = hi > lo
        if rate_per_s:
            share = (np.exp(-rate_per_s * lo) - np.exp(-rate_per_s * hi)) / rate_per_s
        else:
            share = hi - lo
        np.add.at(energy, hop[inside], (power[note] * share)[inside])
    return energy[:count] * rate


def channel_corrections(
    score: Score,
    soundfont: Path,
    synth: str,
    synthesize: Synthesize,
    excerpt_s: float | None = EXCERPT_S,
) -> dict[int, float]:
    """Gain (dB) per channel that makes each part of ``score`` sound, in ``soundfont``, at the
    loudness its velocities and role intend (:func:`intended_lu`) over the font's own piano
    reference: each part is measured alone and matched, like clips evened by an editor's
    loudness auto-match. Parts sharing a channel are matched together; a silent one is left
    alone. The piano reference is cached per font.

    Each part is measured over excerpts of ``excerpt_s`` seconds in all (:func:`excerpt_spans`;
    ``None``: whole), and all parts' excerpts are rendered in one synthesizer pass
    (:func:`_probe`), measured with one K-weighting filter, each part on its own hops.
    """
    reference = reference_lufs(soundfont, synth, synthesize)
    rate = PROBE_RATE
    parts: dict[int, list[Track]] = {}
    for track in score.tracks:
        if track.notes:
            parts.setdefault(track.channel, []).append(track)
    if not parts:
        return {}
    budget = None if excerpt_s is None else score.ticks(excerpt_s)
    spans = {
        channel: excerpt_spans(
            [n for t in part for n in t.notes],
            score.length_ticks,
            budget,
            EXCERPT_WINDOWS,
            score.ticks(RING_S),
        )
        for channel, part in parts.items()
    }
    probe, measured = _probe(score, parts, spans)
    hops = _hop_energies(probe, soundfont, synthesize, rate, round(probe.duration_s * rate))
    hop = _hop_frames(rate)
    chosen: dict[int, list[slice]] = {channel: [] for channel in parts}
    for channel, first, last in measured:
        # The whole hops inside the span.
        begin = -(-round(probe.seconds(first) * rate) // hop)
        end = round(probe.seconds(last) * rate) // hop
        chosen[channel].append(slice(begin, max(begin, end)))
    corrections = {}
    for channel, part in parts.items():
        merged = Track(part[0].name, part[0].program, channel,
                       [n for t in part for n in t.notes])  # fmt: skip
        loudness = _gated_lufs(np.concatenate([hops[c] for c in chosen[channel]]), rate)
        if budget is not None and PREDICT:
            # What the excerpts miss of the whole, by the score's own estimate.
            whole = predicted_hops(score, part, rate)
            probed = predicted_hops(probe, [t for t in probe.tracks if t.channel == channel], rate)
            excerpt = np.concatenate([probed[c] for c in chosen[channel]])
            loudness += _gated_lufs(whole, rate) - _gated_lufs(excerpt, rate)
        gain = reference + intended_lu(merged) - loudness
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
