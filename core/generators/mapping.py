"""The emotion → music mapping: one readable table for every deterministic decision.

Valence picks the mode and the chord progression (bright modes and major chords high, dark
modes and minor chords low); arousal picks how fast things move (note values, arpeggio rate,
harmonic rhythm), how loud (velocity) and, with valence, how high (register). Presets pick
General MIDI programs per role. The Scales and Chords generators read only this module for
these choices; the RBM generator uses :func:`velocity_for` and :func:`preset_programs` to
post-process its output.

Sources for the directions of the mapping: Gabrielsson & Lindström (2010) on mode, tempo,
loudness and register; Persichetti's ordering of the modes from bright to dark.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import InputError

#: Semitones above the tonic of each mode, brightest first.
MODES: dict[str, tuple[int, ...]] = {
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "ionian": (0, 2, 4, 5, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "aeolian": (0, 2, 3, 5, 7, 8, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
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
        No cycle repeats a degree back to back (including the wrap-around), so every chord
        boundary is an audible change.
    """

    min_valence: float
    mode: str
    progressions: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class ArousalBand:
    """How fast and how detached the music is over a range of arousal.

    Durations are in 16th-note timesteps.

    Parameters
    ----------
    min_arousal
        Lower edge of the band (inclusive).
    melody_16ths
        Typical melody note value.
    figure_16ths
        Arpeggio (figuration) note value.
    bass_16ths
        Bass note value.
    chords_per_bar
        Harmonic rhythm: 1 or 2 chord changes per bar.
    legato
        Sounding fraction of each melody/figuration note (1 = fully legato).
    """

    min_arousal: float
    melody_16ths: int
    figure_16ths: int
    bass_16ths: int
    chords_per_bar: int
    legato: float


# fmt: off
#: Valence bands, brightest first. Each progression cycles through scale degrees of the mode;
#: diminished triads are played as half-diminished sevenths (see ``harmony.triad``). The dark
#: modes keep to their most minor-sounding chords: phrygian's bII and bvii, and dorian's ii,
#: tip a bar's pitch content toward the relative major, so their colour is left to the melody
#: (the b2 of phrygian, the raised 6th of dorian).
VALENCE_TABLE: tuple[ValenceBand, ...] = (
    #           valence ≥  mode          progressions (degrees, 0 = I)
    ValenceBand(0.80,      "lydian",     ((0, 1, 0, 4), (0, 4, 1, 4))),   # I II I V
    ValenceBand(0.60,      "ionian",     ((0, 3, 0, 4), (0, 3, 4, 3))),   # I IV I V
    ValenceBand(0.50,      "mixolydian", ((0, 6, 0, 3), (0, 3, 6, 3))),   # I bVII I IV
    ValenceBand(0.35,      "dorian",     ((0, 4, 0, 4),)),                # i v i v
    ValenceBand(0.20,      "aeolian",    ((0, 3, 0, 4), (0, 1, 0, 4), (0, 3, 1, 4))),  # i ii∅7 iv v
    ValenceBand(0.00,      "phrygian",   ((0, 3, 0, 4), (0, 3, 4, 3))),   # i iv i v∅7
)

#: Arousal bands, calmest first.
AROUSAL_TABLE: tuple[ArousalBand, ...] = (
    #            arousal ≥  melody  figure  bass  chords/bar  legato
    ArousalBand(0.00,       8,      4,      16,   1,          1.00),   # half notes, still
    ArousalBand(0.20,       4,      4,      8,    1,          0.95),   # quarters
    ArousalBand(0.40,       4,      2,      8,    1,          0.90),   # quarters, 8th arpeggios
    ArousalBand(0.60,       2,      2,      4,    2,          0.85),   # 8ths, two chords a bar
    ArousalBand(0.80,       1,      1,      2,    2,          0.75),   # 16ths, detached
)
# fmt: on

#: Velocity at arousal 0 and 1 (linear in between): louder when more aroused.
VELOCITY_RANGE: tuple[int, int] = (42, 112)
#: Velocity offsets per role, so the melody sits on top of the accompaniment.
ROLE_VELOCITY_OFFSET: dict[str, int] = {"melody": 0, "figure": -10, "harmony": -22, "bass": -8}
#: Extra velocity on the first beat of a bar and on beat 3 (metric accent).
DOWNBEAT_ACCENT = 8
#: Extra velocity where a cut of the video falls inside a bar (film music hits the cut).
CUT_ACCENT = 10
#: MIDI pitch of the melody's centre at arousal = valence = 0.5, and how far each dimension
#: moves it (semitones across 0..1): higher when brighter and more excited. The centre stays
#: above the held chords (MIDI 48-67) so the tune is never buried in the harmony.
REGISTER_CENTRE = 72
REGISTER_SPAN_AROUSAL = 8
REGISTER_SPAN_VALENCE = 6

# fmt: off
#: General MIDI programs (0-based) per role; the Scales generator plays a melody, the Chords
#: generator a figuration, both over harmony and bass. Channel 10 (index 9) is never used.
#: Programs whose FluidR3_GM voices ring on after note-off (harp, "Fantasia", "Bowed Glass")
#: or stack many layers per note (the synth pads 88-95: ~12 voices a note) are avoided:
#: rendering time grows with the number of sounding voices.
PRESETS: dict[str, dict[str, int]] = {
    #               melody                figure                harmony                 bass
    "piano":      {"melody": 0,           "figure": 0,          "harmony": 0,           "bass": 0},
    "strings":    {"melody": 40,          "figure": 45,         "harmony": 48,          "bass": 42},
    "orchestral": {"melody": 73,          "figure": 71,         "harmony": 48,          "bass": 42},
    "ambient":    {"melody": 11,          "figure": 11,         "harmony": 53,          "bass": 33},
    "electric":   {"melody": 4,           "figure": 4,          "harmony": 16,          "bass": 33},
}
# fmt: on
#: MIDI channel (0-based) per role.
ROLE_CHANNELS: dict[str, int] = {"melody": 0, "figure": 1, "harmony": 2, "bass": 3}


def valence_band(valence: float) -> ValenceBand:
    """The band of :data:`VALENCE_TABLE` that ``valence`` falls in."""
    return next(b for b in VALENCE_TABLE if valence >= b.min_valence or b is VALENCE_TABLE[-1])


def arousal_band(arousal: float) -> ArousalBand:
    """The band of :data:`AROUSAL_TABLE` that ``arousal`` falls in."""
    return next(
        b for b in reversed(AROUSAL_TABLE) if arousal >= b.min_arousal or b is AROUSAL_TABLE[0]
    )


def velocity_for(arousal: float, role: str = "melody") -> int:
    """MIDI velocity (1-127) for ``arousal`` in [0, 1], offset for ``role``.

    Examples
    --------
    >>> velocity_for(0.0), velocity_for(1.0)
    (42, 112)
    """
    low, high = VELOCITY_RANGE
    clamped = min(1.0, max(0.0, float(arousal)))
    velocity = round(low + (high - low) * clamped) + ROLE_VELOCITY_OFFSET.get(role, 0)
    return int(min(127, max(1, velocity)))


def register_centre(arousal: float, valence: float) -> int:
    """MIDI pitch around which the melody moves."""
    return round(
        REGISTER_CENTRE
        + REGISTER_SPAN_AROUSAL * (arousal - 0.5)
        + REGISTER_SPAN_VALENCE * (valence - 0.5)
    )


def preset_programs(name: str) -> dict[str, int]:
    """General MIDI program per role (melody, figure, harmony, bass) of a preset.

    Raises
    ------
    InputError
        For an unknown preset, naming the valid ones.
    """
    key = str(name).strip().lower()
    if key not in PRESETS:
        raise InputError(
            f"Unknown instrument preset {name!r}; set music.preset to one of "
            f"{', '.join(sorted(PRESETS))}."
        )
    return dict(PRESETS[key])


def programs_for(preset: str, overrides: Mapping[str, int] | None = None) -> dict[str, int]:
    """The preset's programs with per-role overrides (``music.programs`` in the config).

    Raises
    ------
    InputError
        For an unknown preset, an unknown role or a program outside 0-127.
    """
    programs = preset_programs(preset)
    for role, program in (overrides or {}).items():
        if role not in programs:
            raise InputError(
                f"Unknown role {role!r} in music.programs; use one of {', '.join(programs)}."
            )
        if isinstance(program, bool) or not isinstance(program, int) or not 0 <= program <= 127:
            raise InputError(
                f"music.programs.{role} must be a General MIDI program number 0-127, "
                f"got {program!r}."
            )
        programs[role] = program
    return programs
