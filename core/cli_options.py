"""The scoring options shared by ``moodscore``'s subcommands and ``moodscore batch``.

Both command lines (:mod:`core.cli`, :mod:`core.batch.cli`) import them from here, so neither
imports the other.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .config import Config, load_config, merge
from .edit.cli import bpm_option, edit_overrides
from .errors import InputError
from .generators import GENERATORS, resolve_name
from .limits import quoted

#: CLI option -> dotted config key it overrides (when given).
OVERRIDES = {
    "bpm": "bpm",
    "step_bars": "step_bars",
    "seed": "music.seed",
    "generator": "music.generator",
    "preset": "music.preset",
    "soundfont": "render.soundfont",
    "synth": "render.synth",
    "loudness": "render.loudness_lufs",
    "story_range": "render.story_range_lu",
    "match_balance": "render.match_balance",
    "sources": "analysis.sources",
    "keep_original_audio": "video.keep_original_audio",
    "model": "rbm.model",
}


def add_common(parser: argparse.ArgumentParser, *, music: bool) -> None:
    """Output, overwrite, quiet, config file and grid options; with ``music``, the music's."""
    parser.add_argument(
        "--out", metavar="DIR", type=Path, help="output folder (default: <stem>_moodscore/)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, warnings only")
    parser.add_argument("--config", metavar="FILE", type=Path, help="YAML file with any option")
    parser.add_argument(
        "--bpm",
        metavar="N",
        type=bpm_option,
        help="tempo of the time grid (30-300, default 120); 'auto' fits it to the cuts",
    )
    parser.add_argument(
        "--step-bars", metavar="N", type=int, help="bars per emotion step (default 1)"
    )
    if not music:
        return
    names = ", ".join(f"{name}={i}" for i, name in enumerate(GENERATORS, start=1))
    parser.add_argument(
        "--generator", "-g", metavar="NAME", help=f"music generator: {names} (default chords)"
    )
    parser.add_argument(
        "--seed", metavar="N", type=int, help="random seed; same seed, same MIDI bytes"
    )
    parser.add_argument("--preset", metavar="NAME", help="instrument preset (piano, strings, ...)")
    parser.add_argument(
        "--soundfont", metavar="SF2", help="General MIDI SoundFont (.sf2) for the WAV"
    )
    parser.add_argument(
        "--synth",
        choices=("auto", "fluidsynth", "rustysynth"),
        help="synthesizer: FluidSynth where installed, else the bundled RustySynth (default auto)",
    )
    parser.add_argument(
        "--loudness",
        metavar="LUFS",
        type=float,
        help="integrated loudness of the WAV (default -16; -23 EBU R128 broadcast, -14 streaming)",
    )
    parser.add_argument(
        "--story-range",
        metavar="LU",
        type=float,
        help="master calmer cues up to LU lower than --loudness, which then names the level of "
        "a cue at full intensity (default 0: every cue at --loudness)",
    )
    parser.add_argument(
        "--no-match-balance",
        dest="match_balance",
        action="store_false",
        default=None,
        help="render with the MIDI velocities only, without evening each part in the SoundFont "
        "(faster: the matching pass costs about one render with FluidSynth, 2-6 with RustySynth)",
    )
    parser.add_argument("--model", metavar="NPZ", help="RBM model (.npz) for the rbm generators")


def add_sources(parser: argparse.ArgumentParser) -> None:
    """``--sources``: the emotion sources of a video analysis."""
    parser.add_argument(
        "--sources",
        metavar="LIST",
        help="emotion sources, comma-separated from colour,face,motion,cloud "
        "(default colour,face,motion)",
    )


def resolve_config(args: argparse.Namespace) -> Config:
    """The config file (if any) with the options given on the command line on top."""
    config = load_config(args.config) if getattr(args, "config", None) else Config()
    if getattr(args, "generator_number", None):
        if getattr(args, "generator", None):
            raise InputError("Give the generator once: as a number/name or with --generator.")
        args.generator = args.generator_number
    overrides, labels = edit_overrides(args)
    for option, key in OVERRIDES.items():
        value = getattr(args, option, None)
        if value is not None:
            overrides[key] = value
            labels[key] = "--" + option.replace("_", "-")
    if "music.generator" in overrides:
        overrides["music.generator"] = resolve_name(overrides["music.generator"])
    # The same type and range checks as a config file, with errors naming the option.
    config = merge(config, overrides, labels) if overrides else config
    if getattr(args, "soundfont", None):
        from .music.soundfont import checked_soundfont

        checked_soundfont(args.soundfont)  # a missing file is named as --soundfont's
    _check_choices(config, labels)
    return config


def _check_choices(config: Config, labels: dict[str, str]) -> None:
    """What the type and range checks cannot see, named as the user gave it.

    The generator, the preset and its programs, a configured SoundFont and the tempo range:
    ``moodscore config`` must not print what ``score`` then refuses, and a value from the
    config file must not be called by an option's name.
    """
    from .music.instruments import PRESETS, programs_for
    from .music.soundfont import checked_soundfont

    def name(key: str) -> str:
        return labels.get(key, f"Config key '{key}'")

    try:
        resolve_name(config.music.generator)
    except InputError as exc:
        raise InputError(f"{name('music.generator')}: {exc}") from None
    if str(config.music.preset).strip().lower() not in PRESETS:
        raise InputError(
            f"{name('music.preset')} must be one of {', '.join(sorted(PRESETS))}, "
            f"got {quoted(config.music.preset)}."
        )
    programs_for(config.music.preset, config.music.programs)
    if config.render.soundfont and "render.soundfont" not in labels:
        checked_soundfont(None, config.render.soundfont)  # --soundfont was checked already
    low, high = config.edit.bpm_low, config.edit.bpm_high
    if "edit.bpm_low" in labels:
        from .edit.tempo import check_range

        check_range(low, high)  # names --bpm-range
    elif not low < high:
        raise InputError(
            f"Config keys 'edit.bpm_low' ({low:g}) and 'edit.bpm_high' ({high:g}) make an "
            "empty tempo range; give the slower tempo first."
        )
