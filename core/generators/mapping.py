"""The emotion → music mapping: one readable table for every deterministic decision.

Valence picks the mode and the chords (bright modes and major chords high, dark modes and
minor chords low); arousal picks the orchestration (which layers play), how fast things move
(note values, harmonic rhythm, the rhythm of the tune), how detached the notes are, and with
valence how high the tune sits. Loudness lives in :mod:`core.music.dynamics`, instruments in
:mod:`core.music.instruments`. The Scales and Chords generators read only these three modules
for these choices.

Sources for the directions of the mapping: Gabrielsson & Lindström (2010) on mode, tempo,
loudness and register; Persichetti's ordering of the modes from bright to dark.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

#: Semitones above the tonic of each mode, brightest first.
MODES: dict[str, tuple[int, ...]] = {
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "ionian": (0, 2, 4, 5, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "aeolian": (0, 2, 3, 5, 7, 8, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
}
#: The scale under a cadential dominant: the major scale in a bright key, harmonic minor (a
#: raised leading tone) in a dark one, so the tune never rubs against the dominant's third.
DOMINANT_SCALES: dict[bool, tuple[int, ...]] = {
    True: (0, 2, 4, 5, 7, 9, 11),
    False: (0, 2, 3, 5, 7, 8, 11),
}


@dataclass(frozen=True)
class ValenceBand:
    """What a range of valence sounds like.

    Parameters
    ----------
    min_valence
        Lower edge of the band (inclusive).
    mode
        Key of :data:`MODES`.
    progressions
        Cycles of scale degrees (0 = tonic) whose triads, stacked in thirds inside the mode,
        have the band's quality: only major triads in bright bands, only minor or diminished
        ones in dark bands, so every bar's pitch content says "major" or "minor" on its own.
        A phrase walks one cycle; its cadence adds the dominant (see ``harmony``).
    predominant
        The degree that leads into the cadence's dominant (IV in bright keys, iv or ii∅7 in
        dark ones).
    pedal
        The bass holds the tonic under the progression (not the cadence) wherever no chord
        tone rubs against it: lydian's raised 4th floats over it (II over I, the sound of
        flight in film scores) and dorian's v and ii stay anchored, instead of pulling the key
        toward the dominant or the relative major.
    """

    min_valence: float
    mode: str
    progressions: tuple[tuple[int, ...], ...]
    predominant: int
    pedal: bool = False

    @property
    def bright(self) -> bool:
        """Major-sounding band (valence at or above 0.5)."""
        return self.min_valence >= 0.5


@dataclass(frozen=True)
class ArousalBand:
    """How much is playing, how fast and how detached, over a range of arousal.

    Durations are in 16th-note timesteps.

    Parameters
    ----------
    min_arousal
        Lower edge of the band (inclusive).
    rhythms
        Bar rhythms the tune's motifs are cut from (durations summing to a bar), all with the
        band's number of notes, so that how busy a bar is follows arousal alone.
    cadence_rhythms
        Rhythms of a phrase's last bar: motion into a long final note.
    figure_16ths
        Arpeggio (figuration) note value.
    bass_16ths
        Bass note value; 0 = no bass layer.
    pad_pulse_16ths
        0 = the pad holds its chords; otherwise it re-strikes them at this value.
    drums
        Percussion groove on GM channel 10 (see ``percussion.Kit``), or "" for none.
    chords_per_bar
        Harmonic rhythm: 1 or 2 chord changes per bar.
    gap_ticks
        Silence before the next note of the tune or figuration (articulation): 0 is legato.
        Shorter than half a 16th so the line never falls silent on the 16th grid.
    pad_voices
        Voices of the chord pad: the texture grows from a dyad under a calm tune (three
        voices in all) to six at the top, where the lead is doubled an octave below too
        (eight or nine voices with the bass).
    lead_octaves
        1, or 2 where the tune (or figuration) is doubled an octave below: the climax's
        fullest orchestration.
    """

    min_arousal: float
    rhythms: tuple[tuple[int, ...], ...]
    cadence_rhythms: tuple[tuple[int, ...], ...]
    figure_16ths: int
    bass_16ths: int
    pad_pulse_16ths: int
    drums: str
    chords_per_bar: int
    gap_ticks: int
    pad_voices: int = 4
    lead_octaves: int = 1


# fmt: off
#: Valence bands, brightest first. Diminished triads are played as half-diminished sevenths.
#: The dark modes keep to their most minor-sounding chords: phrygian's bII and bvii, and
#: dorian's IV, tip a bar's pitch content toward the relative major, so their colour is
#: left to the tune (the b2 of phrygian, the raised 6th of dorian).
VALENCE_TABLE: tuple[ValenceBand, ...] = (
    #       valence ≥  mode          progressions (degrees, 0 = I)                 pre  pedal
    ValenceBand(0.80, "lydian",     ((0, 1, 0, 4), (0, 1, 0, 1), (0, 1, 4, 1)),  1,   True),
    ValenceBand(0.60, "ionian",     ((0, 3, 0, 4), (0, 3, 4, 3), (0, 4, 3, 4)),  3,   False),
    ValenceBand(0.50, "mixolydian", ((0, 6, 0, 3), (0, 3, 6, 3), (0, 6, 3, 6)),  3,   False),
    ValenceBand(0.35, "dorian",     ((0, 4, 0, 4), (0, 1, 0, 4), (0, 4, 0, 1)),  1,   True),
    ValenceBand(0.20, "aeolian",    ((0, 3, 0, 4), (0, 1, 0, 4), (0, 3, 1, 4)),  3,   False),
    ValenceBand(0.00, "phrygian",   ((0, 3, 0, 4), (0, 3, 4, 3)),                3,   False),
)

#: Arousal bands, calmest first: the orchestration grows layer by layer (a two-voice pad and
#: the tune → a bass → a pulsing three-, then four-voice pad → percussion → six voices and the
#: tune in octaves), the tune's note values shrink, the harmony moves faster.
AROUSAL_TABLE: tuple[ArousalBand, ...] = (
    ArousalBand(0.00,
                rhythms=((8, 8), (12, 4), (4, 12), (6, 10), (10, 6)),
                cadence_rhythms=((16,), (8, 8)),
                figure_16ths=4, bass_16ths=0, pad_pulse_16ths=0, drums="",
                chords_per_bar=1, gap_ticks=0, pad_voices=2),
    ArousalBand(0.20,
                rhythms=((4, 4, 4, 4), (6, 2, 4, 4), (4, 2, 2, 8), (4, 4, 6, 2), (2, 2, 4, 8)),
                cadence_rhythms=((4, 4, 8), (6, 2, 8)),
                figure_16ths=4, bass_16ths=16, pad_pulse_16ths=0, drums="",
                chords_per_bar=1, gap_ticks=10, pad_voices=3),
    ArousalBand(0.40,
                rhythms=((4, 2, 2, 4, 4), (2, 2, 4, 4, 4), (4, 4, 2, 2, 4), (6, 2, 2, 2, 4)),
                cadence_rhythms=((4, 2, 2, 8), (2, 2, 4, 8)),
                figure_16ths=2, bass_16ths=8, pad_pulse_16ths=4, drums="",
                chords_per_bar=1, gap_ticks=20),
    ArousalBand(0.60,
                rhythms=((2, 2, 2, 2, 4, 2, 2), (2, 2, 4, 2, 2, 2, 2), (3, 1, 2, 2, 2, 2, 4),
                         (2, 2, 2, 2, 2, 2, 4)),
                cadence_rhythms=((2, 2, 2, 2, 8), (3, 1, 2, 2, 8)),
                figure_16ths=2, bass_16ths=2, pad_pulse_16ths=4, drums="backbeat",
                chords_per_bar=2, gap_ticks=30),
    ArousalBand(0.80,
                rhythms=((1, 1, 2, 1, 1, 2, 2, 2, 2, 2), (2, 1, 1, 2, 1, 1, 2, 2, 2, 2),
                         (1, 1, 1, 1, 2, 2, 1, 1, 2, 4), (2, 2, 1, 1, 2, 2, 2, 1, 1, 2)),
                cadence_rhythms=((1, 1, 2, 2, 2, 8), (2, 1, 1, 2, 2, 8)),
                figure_16ths=1, bass_16ths=2, pad_pulse_16ths=4, drums="drive",
                chords_per_bar=2, gap_ticks=40, pad_voices=5, lead_octaves=2),
)
# fmt: on

#: Valence jump (between neighbouring bars, across 0.5) that moves to the relative key.
MODULATION_JUMP = 0.35
#: Distance in the (arousal, valence) plane across a cut that makes it a hit point: a forte
#: chord and a cymbal.
HIT_JUMP = 0.3
#: MIDI pitch of the tune's centre at arousal = valence = 0.5, and how far each dimension
#: moves it (semitones across 0..1): higher when brighter and more excited.
REGISTER_CENTRE = 74
REGISTER_SPAN_AROUSAL = 8
REGISTER_SPAN_VALENCE = 6
#: How far the tune may wander below and above its centre (semitones).
MELODY_REACH = (-7, 9)


class Emotional(Protocol):
    """Anything holding an emotion: a step of a timeline, a segment of a plan."""

    @property
    def arousal(self) -> float: ...

    @property
    def valence(self) -> float: ...


def emotion_jump(before: Emotional, after: Emotional) -> float:
    """How far the emotion moves from ``before`` to ``after``: their distance in the
    (arousal, valence) plane, as :data:`HIT_JUMP` measures it."""
    return math.hypot(after.arousal - before.arousal, after.valence - before.valence)


def valence_band(valence: float) -> ValenceBand:
    """The band of :data:`VALENCE_TABLE` that ``valence`` falls in."""
    return next(b for b in VALENCE_TABLE if valence >= b.min_valence or b is VALENCE_TABLE[-1])


def arousal_band(arousal: float) -> ArousalBand:
    """The band of :data:`AROUSAL_TABLE` that ``arousal`` falls in."""
    return next(
        b for b in reversed(AROUSAL_TABLE) if arousal >= b.min_arousal or b is AROUSAL_TABLE[0]
    )


def busier(arousal: float) -> bool:
    """Whether ``arousal`` lies in the upper half of its band, where the tune adds a passing
    note to each bar and a held bass moves in half notes: the music gets busier by degrees,
    not only at the band's edges."""
    band = arousal_band(arousal)
    index = AROUSAL_TABLE.index(band)
    top = AROUSAL_TABLE[index + 1].min_arousal if index + 1 < len(AROUSAL_TABLE) else 1.0
    return arousal >= (band.min_arousal + top) / 2


def register_centre(arousal: float, valence: float) -> int:
    """MIDI pitch around which the tune moves."""
    return round(
        REGISTER_CENTRE
        + REGISTER_SPAN_AROUSAL * (arousal - 0.5)
        + REGISTER_SPAN_VALENCE * (valence - 0.5)
    )
