"""Output naming: each output kind's file name, the output folder and stem of an input.

Pure names, no file system work (:mod:`core.outputs` publishes the files).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

#: Output kind -> file name pattern (``{stem}`` is the input's stem).
OUTPUT_NAMES: dict[str, str] = {
    "video": "{stem}.mp4",
    "midi": "{stem}.mid",
    "wav": "{stem}.wav",
    "emotions_txt": "{stem}.emotions.txt",
    "emotions_csv": "{stem}.emotions.csv",
    "cuts_csv": "{stem}.cuts.csv",
    "plot": "{stem}.emotions.png",
    "manifest": "score.json",
    "beats_csv": "{stem}.beats.csv",
    # Only with --duck and --stems (core.edit.run.selected_outputs drops them otherwise).
    "speech_csv": "{stem}.speech.csv",
    "stem_melody": "{stem}.melody.wav",
    "stem_figure": "{stem}.figure.wav",
    "stem_harmony": "{stem}.harmony.wav",
    "stem_bass": "{stem}.bass.wav",
    "stem_percussion": "{stem}.percussion.wav",
}
ALL_OUTPUTS = tuple(OUTPUT_NAMES)
EMOTION_OUTPUTS = ("emotions_txt", "emotions_csv", "cuts_csv", "plot")
#: The editor aids' outputs, written only when their feature is on (``--duck``, ``--stems``).
SPEECH_OUTPUT = "speech_csv"
STEM_PREFIX = "stem_"
STEM_OUTPUTS = tuple(kind for kind in OUTPUT_NAMES if kind.startswith(STEM_PREFIX))
EDIT_OUTPUTS = (SPEECH_OUTPUT, *STEM_OUTPUTS)


def output_paths(out_dir: Path, stem: str, kinds: Collection[str]) -> dict[str, Path]:
    """Final paths of the requested output kinds."""
    unknown = sorted(set(kinds) - set(OUTPUT_NAMES))
    if unknown:
        raise ValueError(f"unknown output kinds: {unknown}")
    return {
        kind: out_dir / OUTPUT_NAMES[kind].format(stem=stem)
        for kind in OUTPUT_NAMES
        if kind in kinds
    }


def default_out_dir(source: Path) -> Path:
    """``<stem>_moodscore/`` beside the input file."""
    return source.parent / f"{output_stem(source)}_moodscore"


def output_stem(source: Path) -> str:
    """Stem for output names: ``clip.mp4`` and ``clip.emotions.txt`` both give ``clip``."""
    name = source.name
    for suffix in (".emotions.txt", ".txt"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return source.stem
