"""The accompaniment on a harmonic plan: a voice-led four-voice pad and a bass line.

The pad is held, or pulses when arousal is high; the bass comes in from a moderate arousal
on (and always for the final cadence). Every bass note stays below the pad.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from ..music.score import Note
from .harmony import Chord, Segment
from .mapping import busier, valence_band
from .metre import BAR, BEAT, SIXTEENTH

#: Register of the chord pad and of the bass (MIDI pitches, inclusive).
HARMONY_RANGE = (45, 68)
BASS_RANGE = (31, 50)
#: Bass figures per chord, as indices into (root, fifth, octave); one is drawn per segment.
BASS_FIGURES: tuple[tuple[int, ...], ...] = ((0, 1, 2, 1), (0, 2, 1, 2), (0, 1, 0, 1), (0, 0, 1, 2))
#: Cost (in semitones of movement) of a triad voicing that doubles its fifth, not its root:
#: the doubled root anchors the chord, and with it the bar's key.
ROOT_DOUBLING_COST = 5.0
#: Largest random cost (semitones of movement) added to a voicing: near-equal voicings are
#: chosen by the seed, so a returning chord is not always spaced the same way.
VOICING_JITTER = 2.0
#: How far (semitones) a phrase may move the pad's centre up or down.
PHRASE_REGISTER_SHIFT = 5.0
#: Silence before the pad's next pulse (ticks): enough to re-articulate, too little to show
#: as a rest on the 16th grid.
PULSE_GAP = 20


def _voicing_candidates(
    chord: Chord, low: int, high: int, *, root_position: bool = False
) -> list[tuple[int, ...]]:
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
        if root_position and classes[0] != chord.root:
            continue
        candidates.append(voicing)
    return candidates


def _parallel_perfect(before: tuple[int, ...], after: tuple[int, ...]) -> bool:
    """Whether any two voices move in parallel fifths or octaves from ``before`` to ``after``."""
    for i, j in itertools.combinations(range(len(before)), 2):
        a, b = before[j] - before[i], after[j] - after[i]
        moved = before[i] != after[i]
        if moved and a % 12 == b % 12 and a % 12 in (0, 7) and a * b > 0:
            return True
    return False


def voice_lead(
    segments: Sequence[Segment],
    rng: np.random.Generator,
    pitch_range: tuple[int, int] = HARMONY_RANGE,
) -> list[tuple[int, ...]]:
    """A voicing per segment, each as close as possible to the previous one.

    Cost = total semitones moved by the four voices, a penalty for parallel fifths or octaves
    between any two voices and for a triad without a doubled root, and a pull toward the
    middle of the range so the layer never drifts to an edge; a small random jitter (from the
    seed) picks among near-equal voicings.
    The final tonic stands in root position.
    """
    low, high = pitch_range
    phrases = max(seg.phrase.index for seg in segments) + 1 if segments else 0
    # Each phrase centres the pad a little higher or lower: the same chords come back in new
    # spacings, as an arranger re-voices a returning progression.
    middles = (low + high) / 2 + rng.uniform(-PHRASE_REGISTER_SHIFT, PHRASE_REGISTER_SHIFT, phrases)
    voicings: list[tuple[int, ...]] = []
    previous: tuple[int, ...] | None = None
    for segment in segments:
        candidates = _voicing_candidates(
            segment.chord, low, high, root_position=segment.final
        ) or _voicing_candidates(segment.chord, low, high)
        jitter = rng.uniform(0.0, VOICING_JITTER, size=len(candidates))
        costs = [
            (
                0.0
                if previous is None
                else sum(abs(a - b) for a, b in zip(c, previous, strict=True))
                + 6.0 * _parallel_perfect(previous, c)
            )
            + 0.35 * abs(float(np.mean(c)) - middles[segment.phrase.index])
            + ROOT_DOUBLING_COST * (sum(p % 12 == segment.chord.root for p in c) < 2)
            + j
            for c, j in zip(candidates, jitter, strict=True)
        ]
        previous = candidates[int(np.argmin(costs))]
        voicings.append(previous)
    return voicings


def pad(segments: Sequence[Segment], voicings: Sequence[tuple[int, ...]]) -> list[Note]:
    """The chord pad: each voicing held for its segment, or re-struck at the arousal band's
    pulse.

    A held tone common to two chords inside one bar is tied through the change rather than
    struck again, as voice-leading asks; on each bar line the chord is struck anew, so a
    decaying instrument such as the piano keeps sounding.
    """
    notes: list[Note] = []
    held: dict[int, tuple[int, int]] = {}  # pitch -> (start, velocity) of the sounding note

    def release(pitch: int, end: int) -> None:
        start, velocity = held.pop(pitch)
        notes.append(Note(start, end - start, pitch, velocity))

    for seg, voicing in zip(segments, voicings, strict=True):
        pulse = seg.band.pad_pulse_16ths * SIXTEENTH
        strikes = [seg.start]
        if pulse and not seg.final:
            strikes += [t for t in range(seg.start - seg.start % pulse + pulse, seg.end, pulse)]
        for index, strike in enumerate(strikes):
            restrike = strike % BAR == 0 or index > 0
            for pitch in list(held):
                if restrike or pitch not in voicing:
                    gap = PULSE_GAP if index > 0 else 0
                    release(pitch, max(held[pitch][0] + SIXTEENTH, strike - gap))
            velocity = seg.velocity("harmony", strike) - (6 if strike % BEAT else 0)
            for pitch in voicing:
                held.setdefault(pitch, (strike, velocity))
    end = segments[-1].end if segments else 0
    for pitch in list(held):
        release(pitch, end)
    return notes


def _bass_pitch(pitch_class: int, near: float, ceiling: int) -> int:
    """The pitch of ``pitch_class`` in the bass register below ``ceiling`` nearest ``near``."""
    low, high = BASS_RANGE
    options = [p for p in range(low, min(high, ceiling - 1) + 1) if p % 12 == pitch_class]
    options = options or [p for p in range(low - 12, low) if p % 12 == pitch_class]
    return min(options, key=lambda p: (abs(p - near), p))


def _holds_pedal(seg: Segment) -> bool:
    """Whether the bass holds the tonic under ``seg``: in a pedal mode, outside cadences, under
    a chord with no tone a semitone from the tonic."""
    if not valence_band(seg.valence).pedal or seg.cadence_role:
        return False
    return all((pc - seg.tonic) % 12 not in (1, 11) for pc in seg.chord.pitch_classes)


def bass_line(
    segments: Sequence[Segment], voicings: Sequence[tuple[int, ...]], rng: np.random.Generator
) -> list[Note]:
    """Roots with fifths and octaves at the arousal band's bass value (or a tonic pedal, see
    :class:`.mapping.ValenceBand`); in the calmest band only a pedal mode's drone and the
    closing cadence, where the dominant and the tonic always sound in the bass. Every bass
    note stays below the pad, so no pitch is doubled across parts."""
    notes: list[Note] = []
    previous = float(sum(BASS_RANGE) / 2)
    for seg, voicing in zip(segments, voicings, strict=True):
        figure = BASS_FIGURES[int(rng.integers(len(BASS_FIGURES)))]
        closing = seg.phrase.final and seg.cadence_role
        value = seg.band.bass_16ths * SIXTEENTH
        if value >= BAR and busier(seg.arousal):
            value //= 2
        pedal = _holds_pedal(seg)
        if not value and not closing and not pedal:
            continue
        ceiling = min(voicing)
        if pedal and not value:
            # The calm drone changes octave from phrase to phrase.
            previous = BASS_RANGE[0] + (12 if seg.phrase.index % 2 else 0)
        root = _bass_pitch(seg.tonic if pedal else seg.chord.root, previous, ceiling)
        if closing or not value:
            held = notes[-1] if notes else None
            if seg.final and held and held.pitch == root and held.end == seg.start:
                # The final tonic keeps ringing through a cut's change of colour above it.
                notes[-1] = Note(held.start, seg.end - held.start, root, held.velocity)
            else:
                notes.append(Note(seg.start, seg.duration, root, seg.velocity("bass", seg.start)))
            previous = root
            continue
        fifth = root if pedal else _bass_pitch(seg.chord.fifth, root + 5, ceiling)
        octave = root + 12 if root + 12 < ceiling else root
        tones = (root, fifth, octave)
        for index, start in enumerate(range(seg.start, seg.end, value)):
            pitch = tones[figure[index % len(figure)]]
            notes.append(
                Note(start, min(value, seg.end - start), pitch, seg.velocity("bass", start))
            )
        previous = root
    return notes
