"""Which General MIDI SoundFont renders the music.

A SoundFont travels inside the package (``core/data/soundfonts/``), so every machine can render
with nothing installed. A SoundFont the user names wins, then one installed on the system
(usually better sounding than the small bundled one), then the bundled one.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from ..files import check_input_file, check_riff_complete, describe_os_error

SOUNDFONT_ENV = "MOODSCORE_SOUNDFONT"
#: The General MIDI SoundFont that ships with Moodscore (GPL-2; see its README).
BUNDLED_SOUNDFONT = Path(__file__).resolve().parent.parent / "data" / "soundfonts" / "TimGM6mb.sf2"
#: Where Debian/Ubuntu, Fedora, Arch, Homebrew and MacPorts put General MIDI SoundFonts.
WELL_KNOWN_SOUNDFONTS: tuple[Path, ...] = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
    Path("/usr/share/soundfonts/FluidR3_GM.sf2"),
    Path("/usr/share/soundfonts/default.sf2"),
    Path("/usr/share/soundfonts/FluidR3_GM2-2.sf2"),
    Path("/usr/local/share/soundfonts/default.sf2"),
    Path("/opt/homebrew/share/soundfonts/default.sf2"),
    Path("/opt/local/share/sounds/sf2/FluidR3_GM.sf2"),
)


def reinstall_hint() -> str:
    """How to repair a Moodscore install that lost a bundled file (the engine never runs in
    Blender's own process; the add-on rewords this for its users, see its ``messages.py``)."""
    return "reinstall Moodscore (`pip install --force-reinstall moodscore`)"


def find_soundfont(
    explicit: str | None = None,
    configured: str = "",
    *,
    search_paths: tuple[Path, ...] | None = None,
) -> Path:
    """The SoundFont to render with.

    Looked for in order: ``explicit`` (``--soundfont``), ``configured`` (``render.soundfont``),
    the ``MOODSCORE_SOUNDFONT`` environment variable, well-known system paths, and last the
    bundled :data:`BUNDLED_SOUNDFONT`. A path that is named but missing is an error rather than
    silently skipped.

    Raises
    ------
    InputError
        If a named SoundFont does not exist, or the bundled one is missing (a broken install).
    """
    named = [
        ("--soundfont", explicit),
        ("render.soundfont in the config", configured),
        (SOUNDFONT_ENV, os.environ.get(SOUNDFONT_ENV, "")),
    ]
    for origin, value in named:
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise InputError(
                    f"SoundFont {path} (from {origin}) does not exist; give an existing .sf2 "
                    f"file, or leave {origin} unset to use the bundled one."
                )
            return path
    for path in WELL_KNOWN_SOUNDFONTS if search_paths is None else search_paths:
        if path.is_file():
            return path
    if BUNDLED_SOUNDFONT.is_file():
        return BUNDLED_SOUNDFONT
    raise InputError(
        f"The bundled SoundFont {BUNDLED_SOUNDFONT.name} is missing; {reinstall_hint()}, "
        f"or name a General MIDI .sf2 file with --soundfont or {SOUNDFONT_ENV}."
    )


def checked_soundfont(explicit: str | None, configured: str = "") -> Path:
    """:func:`find_soundfont`, then a check that the file is an SF2.

    Checked here, by its RIFF header, rather than by FluidSynth, which prints native errors.
    """
    for named in (explicit, configured, os.environ.get(SOUNDFONT_ENV)):
        # A FIFO, a device or a link loop would otherwise be reported as missing, or block.
        if named and os.path.lexists(os.path.expanduser(named)):
            check_input_file(Path(named).expanduser(), "SoundFont", "pass a General MIDI .sf2 file")
    path = find_soundfont(explicit, configured)
    check_riff_complete(path, "SoundFont", "download it again or pass another .sf2 file")
    try:
        with open(path, "rb") as handle:
            header = handle.read(12)
    except OSError as exc:
        raise InputError(f"SoundFont {describe_os_error(exc, path)}") from None
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"sfbk":
        raise InputError(f"{path} is not a SoundFont 2 (.sf2) file; pass a General MIDI .sf2 file.")
    return path
