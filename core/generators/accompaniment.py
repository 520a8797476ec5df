"""The accompaniment on a harmonic plan: a voice-led four-voice pad and a bass line.

The pad is held, or pulses when arousal is high; the bass comes in from a moderate arousal
on (and always for the final cadence). Every bass note stays below the pad.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from ..music.score import Note
from .harmony import Chord, Segment, holds_pedal, is_suspended
from .mapping import busier
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
#: Lowest pitch the lower of two neighbouring voices may take, by their interval in semitones:
#: Piston's low-interval limits (no second below C3, no third below about B-flat 2; fourths and
#: tritones not below F2), so the low register never turns to mud.
LOW_INTERVAL_LIMITS: dict[int, int] = {1: 48, 2: 48, 3: 46, 4: 46, 5: 41, 6: 41}
#: Velocity of a pad of N voices scales by N**-VOICE_SHARE_EXPONENT (0.25 keeps its loudness
#: about constant at 40·log10(v) dB per velocity decade); a little less keeps some growth.
VOICE_SHARE_EXPONENT = 0.2
#: Semitones the pad's range grows upward per voice beyond four.
WIDER_PAD_STEP = 3
#: Silence before the pad's next pulse (ticks): enough to re-articulate, too little to show
#: as a rest on the 16th grid.
PULSE_GAP = 20


def well_spaced(low: int, high: int) -> bool:
    """Whether two neighbouring voices ``low`` < ``high`` respect :data:`LOW_INTERVAL_LIMITS`."""
    return low >= LOW_INTERVAL_LIMITS.get(high - low, 0)


def _voice_classes(chord: Chord, voices: int, pedal: bool = False) -> set[int]:
    """The pitch classes a pad of ``voices`` voices must sound: all of the chord from four on;
    a thin pad keeps what names the chord (the seventh of a four-tone chord before its
    fifth). A dyad under a major chord is its open fifth, the third left to the tune: root
    and major third alone weigh like the relative minor's third and fifth, and the calm bright
    bar reads minor; a minor chord's dyad keeps its minor third, which makes it minor. Over a
    tonic pedal (``pedal``) a major chord keeps its third too: the drone already weighs the
    bottom, and lydian's II over it needs its third to be heard as major."""
    if voices >= 4 or voices >= len(chord.pitch_classes):
        return set(chord.pitch_classes)
    if voices == 3:
        return {chord.root, chord.third, chord.fifth if chord.added is None else chord.added}
    major = (chord.third - chord.root) % 12 == 4
    if voices == 2:
        return {chord.root, chord.fifth if major and not pedal else chord.third}
    return {chord.root if major else chord.third}


def _voicing_candidates(
    chord: Chord,
    low: int,
    high: int,
    voices: int = 4,
    *,
    root_position: bool = False,
    pedal: bool = False,
    open_position: bool = False,
    bass: tuple[int, int, int] | None = None,
) -> list[tuple[int, ...]]:
    """Voicings of ``chord`` in ``[low, high]`` with ``voices`` voices: the classes of
    :func:`_voice_classes` present (the third never doubled), no gap wider than an octave
    between neighbouring voices and none closer than the low-interval limits allow; in
    ``open_position`` a fifth or more at the bottom and at least a tenth across. With
    ``bass`` (pitch class, lowest and highest pitch of the bass), the lowest voice leaves the
    bass room for that pitch class below it, spaced by the same limits."""
    needed = _voice_classes(chord, voices, pedal)
    pitches = [p for p in range(low, high + 1) if p % 12 in needed]
    # A tutti of five voices or more doubles a minor chord's third: one minor third among six
    # voices of roots and fifths no longer makes the chord (or the bar) sound minor.
    minor = (chord.third - chord.root) % 12 == 3
    thirds = 2 if voices >= 5 and minor else 1
    candidates = []
    for voicing in itertools.combinations(pitches, voices):
        classes = [p % 12 for p in voicing]
        if set(classes) != needed or classes.count(chord.third) != thirds * (chord.third in needed):
            continue
        pairs = list(itertools.pairwise(voicing))
        if any(b - a > 12 or not well_spaced(a, b) for a, b in pairs):
            continue
        if root_position and voices > 1 and classes[0] != chord.root:
            continue
        if bass is not None and not _room_below(voicing[0], bass):
            continue
        if (
            open_position
            and voices >= 3
            and (voicing[1] - voicing[0] < 7 or voicing[-1] - voicing[0] < 15)
        ):
            continue
        candidates.append(voicing)
    return candidates


def _room_below(lowest: int, bass: tuple[int, int, int]) -> bool:
    """Whether the bass can sound its pitch class below ``lowest`` (a pad's lowest voice)
    within its range and spaced by the low-interval limits."""
    pitch_class, low, high = bass
    return any(
        p % 12 == pitch_class and well_spaced(p, lowest)
        for p in range(low, min(high, lowest - 1) + 1)
    )


def pad_voices(seg: Segment) -> int:
    """Voices of the pad under ``seg``: its arousal band's. (A calm pedal mode keeps a dyad
    over its drone, four voices in all: a single voice over the tonic pedal leaves a bright
    mode's chord unnamed, and the bar reads minor.)"""
    return seg.band.pad_voices


def _movement(before: tuple[int, ...], after: tuple[int, ...]) -> float:
    """Semitones the voices move from ``before`` to ``after``: voice by voice when the pad
    keeps its size, else each new voice from the nearest old one (the texture grows or thins
    by voices entering next to their neighbours)."""
    if len(before) == len(after):
        return float(sum(abs(a - b) for a, b in zip(after, before, strict=True)))
    return float(sum(min(abs(a - b) for b in before) for a in after))


def _parallel_perfect(before: tuple[int, ...], after: tuple[int, ...]) -> bool:
    """Whether any two voices move in parallel fifths or octaves from ``before`` to ``after``."""
    for i, j in itertools.combinations(range(len(before)), 2):
        a, b = before[j] - before[i], after[j] - after[i]
        moved = before[i] != after[i]
        if moved and a % 12 == b % 12 and a % 12 in (0, 7) and a * b > 0:
            return True
    return False


def _voicings_for(
    segment: Segment,
    low: int,
    high: int,
    open_position: bool,
    bass_range: tuple[int, int],
) -> tuple[list[tuple[int, ...]], int]:
    """The candidate voicings of ``segment``'s pad and their number of voices, by preference:
    the band's voices leaving the bass room below, in root position for the final tonic and
    in open position when asked; then fewer voices; the bass's room is given up last."""
    pedal = segment.band.bass_16ths == 0 and _holds_pedal(segment)
    bass = (segment.tonic if _holds_pedal(segment) else segment.chord.root, *bass_range)
    for room in (bass, None):
        for voices in range(pad_voices(segment), 0, -1):
            # A pad of more than four voices spreads upward: the climax's widest register.
            top = high + WIDER_PAD_STEP * max(0, voices - 4)
            for options in (
                {
                    "root_position": segment.final or segment.root_position,
                    "open_position": open_position,
                },
                {"open_position": open_position},
                {},
            ):
                found = _voicing_candidates(
                    segment.chord, low, top, voices, pedal=pedal, bass=room, **options
                )
                if found:
                    return found, voices
    return [], 0


def voice_lead(
    segments: Sequence[Segment],
    rng: np.random.Generator,
    pitch_range: tuple[int, int] = HARMONY_RANGE,
    *,
    open_position: bool = False,
    bass_range: tuple[int, int] = BASS_RANGE,
) -> list[tuple[int, ...]]:
    """A voicing per segment, each as close as possible to the previous one.

    Cost = total semitones moved by the four voices, a penalty for parallel fifths or octaves
    between any two voices and for a triad without a doubled root, and a pull toward the
    middle of the range so the layer never drifts to an edge; a small random jitter (from the
    seed) picks among near-equal voicings.
    The final tonic stands in root position. ``open_position`` spreads every pad of three
    voices or more (see :func:`_voicing_candidates`), where it fits.
    """
    low, high = pitch_range
    phrases = max(seg.phrase.index for seg in segments) + 1 if segments else 0
    # Each phrase centres the pad a little higher or lower: the same chords come back in new
    # spacings, as an arranger re-voices a returning progression.
    middles = (low + high) / 2 + rng.uniform(-PHRASE_REGISTER_SHIFT, PHRASE_REGISTER_SHIFT, phrases)
    voicings: list[tuple[int, ...]] = []
    previous: tuple[int, ...] | None = None
    for segment in segments:
        candidates, voices = _voicings_for(segment, low, high, open_position, bass_range)
        jitter = rng.uniform(0.0, VOICING_JITTER, size=len(candidates))
        doubled_root = min(2, voices - 2)
        costs = [
            (
                0.0
                if previous is None
                else _movement(previous, c)
                + 6.0 * (len(c) == len(previous) and _parallel_perfect(previous, c))
            )
            + 0.35 * abs(float(np.mean(c)) - middles[segment.phrase.index])
            + ROOT_DOUBLING_COST * (sum(p % 12 == segment.chord.root for p in c) < doubled_root)
            + j
            for c, j in zip(candidates, jitter, strict=True)
        ]
        previous = candidates[int(np.argmin(costs))]
        voicings.append(previous)
    return voicings


def comping_strikes(seg: Segment, pattern: Sequence[int]) -> list[int]:
    """Ticks in ``seg`` where a comping ``pattern`` (16ths from the bar line) strikes; the
    segment's start too at a cut of the video (the film's cut is hit) or when the pattern
    leaves the segment empty."""
    bar_start = seg.start - seg.start % BAR
    inside = [bar_start + o * SIXTEENTH for o in pattern]
    strikes = [t for t in inside if seg.start <= t < seg.end]
    if seg.at_cut or not strikes:
        strikes = sorted({seg.start, *strikes})
    return strikes


def pad(
    segments: Sequence[Segment],
    voicings: Sequence[tuple[int, ...]],
    comping: Sequence[Sequence[int]] | None = None,
) -> list[Note]:
    """The chord pad: each voicing held for its segment, or re-struck at the arousal band's
    pulse.

    A held tone common to two chords inside one bar is tied through the change rather than
    struck again, as voice-leading asks; on each bar line the chord is struck anew, so a
    decaying instrument such as the piano keeps sounding. ``comping`` (one pattern of 16ths
    per segment) replaces the even pulse with a rhythm of the arranger's.
    """
    notes: list[Note] = []
    held: dict[int, tuple[int, int]] = {}  # pitch -> (start, velocity) of the sounding note

    def release(pitch: int, end: int) -> None:
        start, velocity = held.pop(pitch)
        notes.append(Note(start, end - start, pitch, velocity))

    for index_seg, (seg, voicing) in enumerate(zip(segments, voicings, strict=True)):
        pulse = seg.band.pad_pulse_16ths * SIXTEENTH
        strikes = [seg.start]
        if comping is not None and not seg.final:
            strikes = comping_strikes(seg, comping[index_seg])
        elif pulse and not seg.final:
            strikes += [t for t in range(seg.start - seg.start % pulse + pulse, seg.end, pulse)]
        if strikes[0] > seg.start:
            # A comping pad rests from the chord change to its first stab: the old chord
            # stops where the new one begins below and above it.
            for pitch in list(held):
                release(pitch, max(held[pitch][0] + SIXTEENTH, seg.start))
        for index, strike in enumerate(strikes):
            restrike = strike % BAR == 0 or index > 0
            for pitch in list(held):
                if restrike or pitch not in voicing:
                    gap = PULSE_GAP if index > 0 else 0
                    release(pitch, max(held[pitch][0] + SIXTEENTH, strike - gap))
            # The pad's loudness is shared among its voices (N voices sound ~10·log10 N dB over
            # one): a growing texture thickens the sound without burying the tune.
            share = len(voicing) ** -VOICE_SHARE_EXPONENT
            velocity = round(seg.velocity("harmony", strike) * share) - (6 if strike % BEAT else 0)
            for pitch in voicing:
                held.setdefault(pitch, (strike, velocity))
    end = segments[-1].end if segments else 0
    for pitch in list(held):
        release(pitch, end)
    return notes


def _bass_pitch(
    pitch_class: int, near: float, ceiling: int, pitch_range: tuple[int, int] = BASS_RANGE
) -> int:
    """The pitch of ``pitch_class`` in the bass register below ``ceiling`` (the pad's lowest
    voice) nearest ``near``, spaced from the pad by the low-interval limits where it can be."""
    low, high = pitch_range
    options = [p for p in range(low, min(high, ceiling - 1) + 1) if p % 12 == pitch_class]
    spaced = [p for p in options if well_spaced(p, ceiling)]
    options = spaced or options or [p for p in range(low - 12, low) if p % 12 == pitch_class]
    return min(options, key=lambda p: (abs(p - near), p))


def _holds_pedal(seg: Segment) -> bool:
    """Whether the bass holds the tonic under ``seg`` (the plan's word, else
    :func:`.harmony.holds_pedal`)."""
    if seg.pedal is not None:
        return seg.pedal
    return holds_pedal(seg.chord, seg.tonic, seg.valence, seg.cadence_role)


def bass_line(
    segments: Sequence[Segment],
    voicings: Sequence[tuple[int, ...]],
    rng: np.random.Generator,
    pitch_range: tuple[int, int] = BASS_RANGE,
    ostinati: Sequence[tuple[tuple[int, int], ...]] | None = None,
) -> list[Note]:
    """Roots with fifths and octaves at the arousal band's bass value (or a tonic pedal, see
    :class:`.mapping.ValenceBand`); in the calmest band only a pedal mode's drone and the
    closing cadence, where the dominant and the tonic always sound in the bass. Every bass
    note stays below the pad, so no pitch is doubled across parts, and inside
    ``pitch_range`` (the register and the bass instrument's range). ``ostinati`` (one per
    segment: (16th from the bar line, tone index) pairs) replaces the even figures with an
    arranger's rhythmic pattern."""
    notes: list[Note] = []
    previous = float(sum(pitch_range) / 2)
    for index_seg, (seg, voicing) in enumerate(zip(segments, voicings, strict=True)):
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
            previous = pitch_range[0] + (12 if seg.phrase.index % 2 else 0)
        root = _bass_pitch(seg.tonic if pedal else seg.chord.root, previous, ceiling, pitch_range)
        held = notes[-1] if notes else None
        if is_suspended(seg.chord) and held and held.end == seg.start and held.pitch == root:
            # A suspension over the chord before's root (a beat before a hit): the bass holds
            # on through it, only the suspended tone moves above.
            notes[-1] = Note(held.start, seg.end - held.start, root, held.velocity)
            continue
        if closing or not value:
            held = notes[-1] if notes else None
            if seg.final and held and held.pitch == root and held.end == seg.start:
                # The final tonic keeps ringing through a cut's change of colour above it.
                notes[-1] = Note(held.start, seg.end - held.start, root, held.velocity)
            else:
                notes.append(Note(seg.start, seg.duration, root, seg.velocity("bass", seg.start)))
            previous = root
            continue
        fifth = root if pedal else _bass_pitch(seg.chord.fifth, root + 5, ceiling, pitch_range)
        upper = root + 12
        octave = upper if upper < ceiling and well_spaced(upper, ceiling) else root
        tones = (root, fifth, octave)
        if ostinati is not None:
            notes.extend(_ostinato(seg, tones, ostinati[index_seg]))
            previous = root
            continue
        for index, start in enumerate(range(seg.start, seg.end, value)):
            pitch = tones[figure[index % len(figure)]]
            notes.append(
                Note(start, min(value, seg.end - start), pitch, seg.velocity("bass", start))
            )
        previous = root
    return notes


def _ostinato(
    seg: Segment, tones: tuple[int, int, int], pattern: tuple[tuple[int, int], ...]
) -> list[Note]:
    """The bass of ``seg`` on an ostinato ``pattern`` of (16th from the bar line, index into
    ``tones``) pairs; the segment's start always sounds the root."""
    bar_start = seg.start - seg.start % BAR
    hits = [(seg.start, 0)] + [
        (bar_start + o * SIXTEENTH, tone)
        for o, tone in pattern
        if seg.start < bar_start + o * SIXTEENTH < seg.end
    ]
    ends = [tick for tick, _ in hits[1:]] + [seg.end]
    return [
        Note(tick, end - tick, tones[tone], seg.velocity("bass", tick))
        for (tick, tone), end in zip(hits, ends, strict=True)
    ]
