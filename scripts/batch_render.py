"""Score every movie strip of an edit that has no score yet, then render the edit with sound.

Run inside Blender::

    blender -b edit.blend -P scripts/batch_render.py -- --generator chords --output out.mp4

or, with the ``bpy`` module, call :func:`main` (``--blend`` opens a file first). ``--save``
saves the .blend with its new score strips, so the next run scores nothing again; without it a
rerun scores the strips anew into the same score folders (each records its strip), never into
new ``-2`` folders. Exits non-zero with a one-line message on failure.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bpy

log = logging.getLogger("moodscore.batch_render")

REPO_ROOT = Path(__file__).resolve().parent.parent


class BatchError(Exception):
    """A failure to report in one line."""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Arguments after Blender's ``--``."""
    parser = argparse.ArgumentParser(
        prog="blender -b edit.blend -P scripts/batch_render.py --",
        description="Score the edit's movie strips with Moodscore and render it with sound.",
    )
    parser.add_argument("--output", required=True, type=Path, help="MP4 file to write")
    parser.add_argument("--generator", help="scales, chords, rbm-feedback or rbm-sampling")
    parser.add_argument("--seed", type=int, help="music seed (default: the scene's)")
    parser.add_argument("--rescore", action="store_true", help="score strips that have a score too")
    parser.add_argument("--blend", type=Path, help="open this .blend first (bpy module use)")
    parser.add_argument("--scene", help="scene to render (default: the active one)")
    parser.add_argument(
        "--save", action="store_true", help="save the .blend with its score strips before rendering"
    )
    return parser.parse_args(list(argv))


def blender_argv() -> list[str]:
    """Blender's command line after ``--`` (empty when there is none)."""
    return sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else []


def ensure_addon() -> None:
    """Use the installed Moodscore add-on, or register the one of this repository."""
    if hasattr(bpy.types, "MOODSCORE_OT_score_strip"):
        return
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    import addon_utils

    if addon_utils.enable("blender_addon", default_set=False) is None:
        raise BatchError("the Moodscore add-on could not be enabled; see the messages above")


def addon_module(name: str) -> Any:
    """A module of the enabled add-on, whatever its package (extension, legacy or repo)."""
    operator_module = bpy.types.MOODSCORE_OT_score_strip.__module__
    root = operator_module.rpartition(".operators")[0]
    return importlib.import_module(f"{root}.{name}")


def strips_to_score(scene: bpy.types.Scene, rescore: bool) -> list[str]:
    """Names of the scene's movie strips to score, in timeline order."""
    compat = addon_module("compat")
    score_strips_of = addon_module("operators.strips").score_strips_of

    movies = sorted(
        (s for s in compat.all_strips(scene) if s.type == "MOVIE" and not s.mute),
        key=lambda s: (compat.strip_timing(s, "left_handle"), s.channel),
    )
    return [s.name for s in movies if rescore or not score_strips_of(scene, s.name)]


def configure_ffmpeg(scene: bpy.types.Scene, output: Path) -> None:
    """MP4 with H.264 video and AAC audio."""
    render = scene.render
    settings = render.image_settings
    if hasattr(settings, "media_type"):  # Blender 5.0 lists FFMPEG only for video media
        settings.media_type = "VIDEO"
    settings.file_format = "FFMPEG"
    render.ffmpeg.format = "MPEG4"
    render.ffmpeg.codec = "H264"
    render.ffmpeg.audio_codec = "AAC"
    render.ffmpeg.audio_channels = "STEREO"
    render.ffmpeg.audio_mixrate = 48000
    render.use_sequencer = True
    render.use_file_extension = False
    render.filepath = str(output)


def run(args: argparse.Namespace) -> Path:
    """Score, then render; return the rendered file."""
    if args.blend is not None:
        if not args.blend.is_file():
            raise BatchError(f"{args.blend} does not exist")
        bpy.ops.wm.open_mainfile(filepath=str(args.blend))
    ensure_addon()
    scene = bpy.data.scenes.get(args.scene) if args.scene else bpy.context.scene
    if scene is None:
        raise BatchError(f"there is no scene called '{args.scene}'")
    if scene.sequence_editor is None:
        raise BatchError(f"scene '{scene.name}' has no strips to render")
    if args.save and not bpy.data.filepath:
        raise BatchError("--save needs a saved .blend; open one (or pass --blend) first")
    if args.generator:
        generators = addon_module("core.generators")
        scene.moodscore.generator = generators.resolve_name(args.generator)
    if args.seed is not None:
        scene.moodscore.seed = args.seed
    context_override = {"scene": scene}
    for name in strips_to_score(scene, args.rescore):
        log.info("Scoring %s", name)
        with bpy.context.temp_override(**context_override):
            result = bpy.ops.moodscore.score_strip(strip=name)
        if result != {"FINISHED"}:
            raise BatchError(f"scoring strip '{name}' failed")
    if args.save:
        # Blender saves to a temporary file and renames it over the .blend (keeping .blend1).
        bpy.ops.wm.save_mainfile(filepath=bpy.data.filepath)
        log.info("Saved %s", bpy.data.filepath)
    output = args.output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    # Blender writes the movie while it renders: render beside the output and rename into
    # place only when complete, so a failed or interrupted render leaves no partial MP4.
    partial = output.with_name(f".{output.stem}.partial{output.suffix}")
    configure_ffmpeg(scene, partial)
    try:
        with bpy.context.temp_override(**context_override):
            bpy.ops.render.render(animation=True, scene=scene.name)
        if not partial.is_file() or partial.stat().st_size == 0:
            raise BatchError(f"Blender rendered no file at {output}")
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return output


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(blender_argv() if argv is None else argv)
    try:
        output = run(args)
    except Exception as exc:
        # bpy.ops reports an operator's error as RuntimeError, the engine as MoodscoreError
        # (from whichever copy of core the add-on uses); anything else is a bug: trace it.
        expected = {"BatchError", "RuntimeError", "MoodscoreError"}
        if not expected & {cls.__name__ for cls in type(exc).__mro__}:
            log.exception("batch_render failed")
        print(f"batch_render: error: {exc}", file=sys.stderr)
        return 1
    print(f"batch_render: wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
