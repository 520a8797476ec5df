"""Main-thread work on ``bpy`` data: engine settings, score folders, score strips and curves."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import bpy
import numpy as np

from .. import compat
from ..core.config import Config
from ..core.emotion.config import ALL_SOURCES
from ..core.files import write_text_atomic
from ..core.timeline import TimeGrid
from ..engine import ScoreOutcome
from ..geometry import SCORE_SUFFIX, StripSpan, free_channel, safe_name, scene_fps
from ..preferences import addon_preferences
from ..properties import AROUSAL_PROP, FROM_PREFERENCES, VALENCE_PROP

_SOURCE_ORDER = list(ALL_SOURCES)


def build_config(
    context: bpy.types.Context, *, bpm: float | None = None, step_bars: int | None = None
) -> Any:
    """The engine's ``Config`` from the scene's settings and the add-on preferences.

    ``bpm``/``step_bars`` override the scene's grid (a re-score keeps its curves' grid).
    """
    settings = context.scene.moodscore
    prefs = addon_preferences(context)
    config = Config()
    config.bpm = float(bpm if bpm is not None else settings.bpm)
    config.step_bars = int(step_bars if step_bars is not None else settings.step_bars)
    TimeGrid(config.bpm, config.step_bars)  # refuses a bad grid early
    config.analysis.sources = sorted(settings.sources, key=_SOURCE_ORDER.index)
    generator = settings.generator
    if generator == FROM_PREFERENCES:
        generator = prefs.default_generator if prefs is not None else "chords"
    config.music.generator = generator
    config.music.preset = settings.preset
    config.music.seed = settings.seed
    config.render.soundfont = bundled_soundfont()
    if prefs is not None:
        if prefs.soundfont:
            config.render.soundfont = bpy.path.abspath(prefs.soundfont)
        config.rbm.model = bpy.path.abspath(prefs.model) if prefs.model else ""
        config.analysis.cloud.api_key = prefs.cloud_api_key
    return config


def bundled_soundfont() -> str:
    """A SoundFont built into the add-on (``build_addon.py --soundfont``), else ``""``."""
    bundled = sorted((Path(__file__).resolve().parent.parent / "soundfonts").glob("*.sf[23]"))
    return str(bundled[0]) if bundled else ""


def output_base() -> tuple[Path, bool]:
    """Folder holding every strip's score folder, and whether it is beside a saved .blend."""
    if bpy.data.filepath:
        return Path(bpy.path.abspath("//moodscore")), True
    return Path(tempfile.gettempdir()) / "moodscore", False


#: File in a score folder naming the strip it belongs to (see :func:`folder_owner`).
OWNER_FILE = ".moodscore-owner"


def owner_key(scene: bpy.types.Scene, strip: Any) -> str:
    """Who may reuse a score folder: this scene's strip of this name."""
    return f"{scene.name}/{strip.name}"


def folder_owner(scene: bpy.types.Scene, strip: Any) -> str:
    """The owner recorded in a score folder: the .blend's file name, the scene, the strip.

    It lets a rerun on an unsaved copy of the edit (``scripts/batch_render.py`` without
    ``--save``), whose strips have forgotten their folders, score into the same folders again.
    """
    return f"{bpy.path.basename(bpy.data.filepath)}:{owner_key(scene, strip)}\n"


def choose_out_dir(scene: bpy.types.Scene, strip: Any, base: Path, taken: set[Path]) -> Path:
    """The strip's own score folder, or a new one that holds no other strip's files."""
    info = strip.moodscore
    if info.out_dir and info.owner == owner_key(scene, strip):
        return Path(bpy.path.abspath(info.out_dir))
    name, owner = safe_name(strip.name), folder_owner(scene, strip)
    candidate, number = base / name, 2
    while candidate in taken or not _free_for(candidate, owner):
        candidate, number = base / f"{name}-{number}", number + 1
    taken.add(candidate)
    return candidate


def _free_for(folder: Path, owner: str) -> bool:
    """Whether ``folder`` is missing, empty, or recorded as ``owner``'s."""
    if not folder.exists() or not any(folder.iterdir()):
        return True
    record = folder / OWNER_FILE
    return record.is_file() and record.read_text(encoding="utf-8") == owner


def record_owner(scene: bpy.types.Scene, strip: Any, folder: Path) -> None:
    """Mark ``folder`` as ``strip``'s score folder (:func:`folder_owner`)."""
    record = folder / OWNER_FILE
    owner = folder_owner(scene, strip)
    if not record.is_file() or record.read_text(encoding="utf-8") != owner:
        write_text_atomic(record, owner)


def stored_path(path: Path) -> str:
    """``path`` as Blender should store it: ``//``-relative beside a saved .blend."""
    if not bpy.data.filepath:
        return str(path)
    try:
        return bpy.path.relpath(str(path))
    except ValueError:  # another drive on Windows
        return str(path)


def score_strips_of(scene: bpy.types.Scene, source_name: str) -> list[Any]:
    """The score strips made from the strip called ``source_name``."""
    return [
        strip
        for strip in compat.all_strips(scene)
        if strip.moodscore.role == "SCORE" and strip.moodscore.source == source_name
    ]


def place_score_strip(
    scene: bpy.types.Scene,
    source: Any,
    span: StripSpan,
    outcome: ScoreOutcome,
    published: dict[str, Path],
) -> Any:
    """Replace ``source``'s score strip with a new one playing ``published['wav']``."""
    for old in score_strips_of(scene, source.name):
        compat.parent_collection(scene, old).remove(old)
    last_frame = span.first_frame + span.frame_count
    channel = free_channel(scene, source, span.first_frame, last_frame)
    strip = compat.parent_collection(scene, source).new_sound(
        name=source.name + SCORE_SUFFIX,
        filepath=stored_path(published["wav"]),
        channel=channel,
        frame_start=span.first_frame,
    )
    if compat.strip_timing(strip, "right_handle") > last_frame:  # the last partial frame
        compat.set_strip_timing(strip, "right_handle", last_frame)
    request, timeline = outcome.request, outcome.timeline
    info = strip.moodscore
    info.role = "SCORE"
    info.source = source.name
    info.out_dir = stored_path(request.out_dir)
    info.stem = request.stem
    info.video = stored_path(request.video)
    info.start_s, info.end_s = request.start_s, request.end_s
    info.bpm, info.step_bars = timeline.grid.bpm, timeline.grid.step_bars
    info.duration_s = timeline.duration_s
    info.cuts = ",".join(f"{cut:.4f}" for cut in timeline.cuts_s)
    info.generator = request.config.music.generator
    source.moodscore.out_dir = info.out_dir
    source.moodscore.owner = owner_key(scene, source)
    record_owner(scene, source, request.out_dir)
    key_curves(scene, strip, timeline)
    return strip


def key_curves(scene: bpy.types.Scene, strip: Any, timeline: Any) -> None:
    """Key arousal and valence on ``strip`` at the start frame of every step."""
    fps, start = scene_fps(scene), compat.strip_timing(strip, "content_start")
    for prop, values in ((AROUSAL_PROP, timeline.arousal), (VALENCE_PROP, timeline.valence)):
        compat.remove_fcurve(scene, strip.path_from_id(prop))
        for step, value in zip(timeline.steps, values, strict=True):
            setattr(strip, prop, float(value))
            strip.keyframe_insert(prop, frame=start + step.start_s * fps)
        fcurve = compat.find_fcurve(scene, strip.path_from_id(prop))
        for point in fcurve.keyframe_points:
            point.interpolation = "LINEAR"  # reads like the emotion plot, no overshoot


def read_curves(scene: bpy.types.Scene, strip: Any) -> tuple[np.ndarray, np.ndarray]:
    """Arousal and valence per step of ``strip``'s grid, as its (edited) curves say now."""
    info = strip.moodscore
    grid = TimeGrid(info.bpm, info.step_bars)
    frames = compat.strip_timing(strip, "content_start") + np.arange(
        grid.step_count(info.duration_s)
    ) * grid.step_s * scene_fps(scene)
    values = []
    for prop in (AROUSAL_PROP, VALENCE_PROP):
        fcurve = compat.find_fcurve(scene, strip.path_from_id(prop))
        if fcurve is None:  # keys deleted: the property's one value holds everywhere
            values.append(np.full(len(frames), getattr(strip, prop)))
        else:
            values.append(np.array([fcurve.evaluate(float(frame)) for frame in frames]))
    return values[0], values[1]


def stored_cuts(strip: Any) -> tuple[float, ...]:
    """The cut times recorded on a score strip."""
    return tuple(float(cut) for cut in strip.moodscore.cuts.split(",") if cut)


def reload_sound(strip: Any) -> None:
    """Make Blender read the score strip's (replaced) WAV file again."""
    sound = strip.sound
    sound.filepath = sound.filepath  # the RNA update reloads the file
