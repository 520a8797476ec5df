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
