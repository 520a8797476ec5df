"""General MIDI instruments: the presets' programs per role, channels and the drum kit.

A *role* is one layer of the orchestra: ``melody`` (the tune), ``figure`` (broken chords),
``harmony`` (the sustained or pulsing chord pad), ``bass`` and ``percussion``. Each role has
its own MIDI channel; percussion is on General MIDI channel 10 (index 9), where the renderer
selects the drum bank and the program picks the kit.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import InputError

ROLES: tuple[str, ...] = ("melody", "figure", "harmony", "bass", "percussion")
#: MIDI channel (0-based) per role; 9 is General MIDI's percussion channel.
ROLE_CHANNELS: dict[str, int] = {
    "melody": 0,
    "figure": 1,
    "harmony": 2,
    "bass": 3,
    "percussion": 9,
}
TRACK_NAMES: dict[str, str] = {
    "melody": "Melody",
    "figure": "Figuration",
    "harmony": "Harmony",
    "bass": "Bass",
    "percussion": "Percussion",
}

# fmt: off
#: General MIDI programs (0-based) per role. Percussion programs are drum kits of bank 128
#: (0 Standard, 25 TR-808, 40 Brush, 48 Orchestra Kit, all in FluidR3_GM).
#: Programs whose FluidR3_GM voices ring on after note-off (harp, "Fantasia", "Bowed Glass")
#: or stack many layers per note (the synth pads 88-95: ~12 voices a note) are avoided:
#: rendering time grows with the number of sounding voices.
PRESETS: dict[str, dict[str, int]] = {
    #               melody         figure        harmony        bass          percussion
    "piano":      {"melody": 0,  "figure": 0,  "harmony": 0,  "bass": 0,  "percussion": 0},
    "strings":    {"melody": 40, "figure": 45, "harmony": 48, "bass": 42, "percussion": 48},
    "orchestral": {"melody": 73, "figure": 71, "harmony": 48, "bass": 42, "percussion": 48},
    "ambient":    {"melody": 11, "figure": 11, "harmony": 53, "bass": 33, "percussion": 40},
    "electric":   {"melody": 4,  "figure": 4,  "harmony": 16, "bass": 33, "percussion": 25},
}
# fmt: on

#: Sounding range (MIDI, inclusive) of the General MIDI programs the presets use, after the
#: orchestration texts (Adler's practical ranges; a section spans its lowest and highest
#: member); a program not listed gets :data:`FULL_RANGE`.
PROGRAM_RANGES: dict[int, tuple[int, int]] = {
    0: (21, 108),  # acoustic grand piano
    4: (28, 103),  # electric piano (73 keys)
    11: (53, 89),  # vibraphone, F3-F6
    16: (36, 96),  # drawbar organ, one manual
    33: (28, 67),  # electric bass (finger), E1-G4
    40: (55, 100),  # violin, G3 up
    42: (36, 76),  # cello, C2 (its lowest string) up
    45: (28, 100),  # pizzicato strings: basses to violins
    48: (28, 100),  # string ensemble
    53: (40, 81),  # choir "aahs", a bass's E2 to a soprano's A5
    71: (50, 94),  # clarinet in B-flat, sounding D3 up
    73: (60, 96),  # flute, C4-C7
}
FULL_RANGE = (21, 108)
#: Integrated loudness (LUFS) of each program playing the same 16 notes at velocity 80,
#: the mean of FluidR3_GM and the bundled TimGM6mb (rendered and measured for issue 18; the
#: two differ by up to 7 dB per program, so this evens out only what they agree on).
PROGRAM_LOUDNESS_LUFS: dict[int, float] = {
    0: -35.5, 4: -29.1, 11: -32.0, 16: -32.6, 33: -30.8, 40: -29.0, 42: -31.2, 45: -34.0,
    48: -30.5, 53: -30.5, 71: -28.3, 73: -29.3,
}  # fmt: skip
#: The loudness the other programs are evened to: the piano's.
REFERENCE_LOUDNESS_LUFS = PROGRAM_LOUDNESS_LUFS[0]
#: dB of loudness per factor of 10 in velocity (a SoundFont's default velocity curve).
VELOCITY_DB_PER_DECADE = 40.0
#: Kits of bank 128 that are orchestral: timpani, concert bass drum and cymbals instead of a
#: drum set (General MIDI's Orchestra Kit).
ORCHESTRA_KIT = 48


def balanced_velocity(velocity: int, program: int) -> int:
    """``velocity`` for ``program`` evened to the piano's loudness
    (:data:`PROGRAM_LOUDNESS_LUFS`): a flute sounds 6 dB over a piano at the same velocity, so
    it plays softer; programs not measured keep their velocity."""
    loudness = PROGRAM_LOUDNESS_LUFS.get(program)
    if loudness is None:
        return velocity
    factor = 10.0 ** ((REFERENCE_LOUDNESS_LUFS - loudness) / VELOCITY_DB_PER_DECADE)
    return int(min(127, max(1, round(velocity * factor))))


#: Loudness (LU) of each drum kit of bank 128 over the standard kit (0) playing the same
#: kick-snare-hat groove at velocity 80: the mean of FluidR3_GM (+10.9 for kit 25) and TimGM6mb
#: (+1.1), rendered and measured like :data:`PROGRAM_LOUDNESS_LUFS`.
KIT_LOUDNESS_LU: dict[int, float] = {25: 6.0, 40: -0.4, 48: 0.6}


def balanced_drum_velocity(velocity: int, kit: int) -> int:
    """``velocity`` for drum ``kit`` evened to the standard kit's loudness
    (:data:`KIT_LOUDNESS_LU`): the electronic kit sounds about 6 LU over it, so it plays softer;
    kits not measured keep their velocity."""
    factor = 10.0 ** (-KIT_LOUDNESS_LU.get(kit, 0.0) / VELOCITY_DB_PER_DECADE)
    return int(min(127, max(1, round(velocity * factor))))


def program_range(program: int) -> tuple[int, int]:
    """The sounding range of a General MIDI program (:data:`PROGRAM_RANGES`)."""
    return PROGRAM_RANGES.get(program, FULL_RANGE)


#: General MIDI percussion key numbers (channel 10) used by the grooves and the cut accents.
KICK = 36
SIDE_STICK = 37
SNARE = 38
CLOSED_HAT = 42
PEDAL_HAT = 44
OPEN_HAT = 46
LOW_TOM = 45
HIGH_TOM = 50
CRASH = 49
RIDE = 51
#: The Orchestra Kit's own keys (bank 128, program 48): measured in FluidR3_GM by rendering
#: each key (``benchmarks/bench_music.py``, percussion table). Keys 41-53 are timpani sounding
#: their own MIDI pitch (F2-F3); the hi-hat, tom and crash keys of the standard kit are
#: timpani too, so an orchestral part uses only these.
CONCERT_BASS_DRUM = 36
CONCERT_SNARE = 38
TIMPANI_KEYS = range(41, 54)
CONCERT_CYMBAL = 57


def preset_programs(name: str) -> dict[str, int]:
    """General MIDI program per role of a preset.

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
