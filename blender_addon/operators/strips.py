"""Main-thread work on ``bpy`` data: engine settings, score folders, score strips and curves."""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path
from typing import Any

import bpy
import numpy as np

from .. import compat, score_files
from ..core.config import Config
from ..core.emotion.config import ALL_SOURCES
from ..core.files import write_text_atomic
from ..core.timeline import EmotionTimeline, TimeGrid
from ..engine import ScoreOutcome
from ..geometry import SCORE_SUFFIX, StripSpan, free_channel, safe_name, scene_fps
from ..preferences import addon_preferences
from ..properties import AROUSAL_PROP, FROM_PREFERENCES, VALENCE_PROP, writing_curves

_SOURCE_ORDER = list(ALL_SOURCES)


def build_config(
    context: bpy.types.Context,
    *,
    bpm: float | None = None,
    step_bars: int | None = None,
    gain_db: float | None = None,
) -> Any:
    """The engine's ``Config`` from the scene's settings and the add-on preferences.

    ``bpm``/``step_bars`` override the scene's grid (a re-score keeps its curves' grid).
    ``gain_db`` is the mastering gain of the version a re-score replaces: mastered with it
    (the true-peak limiter still on) rather than normalised again, the music whose curves
    were not edited keeps its level, where normalising the whole piece would move it by the
    loudness the edited part gained or lost.
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
    if gain_db is not None:
        config.render.fixed_gain_db = float(gain_db)
    return config


def bundled_soundfont() -> str:
    """A SoundFont built into the add-on (``build_addon.py --soundfont``), else ``""``."""
    bundled = sorted((Path(__file__).resolve().parent.parent / "soundfonts").glob("*.sf[23]"))
    return str(bundled[0]) if bundled else ""


def output_base() -> tuple[Path, bool]:
    """Folder holding every strip's score folder, and whether it is beside a saved .blend.

    An unsaved .blend uses its Blender session's own temp folder: two unsaved sessions never
    share one (the first save moves the scores beside the .blend, ``score_files``).
    """
    if bpy.data.filepath:
        return Path(bpy.path.abspath("//moodscore")), True
    return score_files.session_root(), False


#: File in a score folder naming the strip it belongs to (see :func:`folder_owner`).
OWNER_FILE = score_files.OWNER_FILE


def owner_key(scene: bpy.types.Scene, strip: Any) -> str:
    """Who may reuse a score folder: this scene's strip of this identity (renames keep it)."""
    return f"{scene.name}/{strip.moodscore.uid}"


def _twins(scene: bpy.types.Scene, strip: Any) -> list[Any]:
    """The strips of ``scene`` that carry ``strip``'s id (more than one after Shift+D)."""
    uid, role = strip.moodscore.uid, strip.moodscore.role
    if not uid:
        return [strip]
    return [
        s for s in compat.all_strips(scene) if s.moodscore.uid == uid and s.moodscore.role == role
    ]


def _original(scene: bpy.types.Scene, twins: list[Any]) -> Any:
    """Which of strips sharing an id is the one it was given to (the others are copies).

    A copy gets a new name from Blender, so the one still called what the strip was called
    when its id was last confirmed is the original; if that one was renamed too, the one its
    score starts with; else the first in the editor's order (copies are appended).
    """
    named = [s for s in twins if s.name == s.moodscore.uid_name]
    if len(named) == 1:
        return named[0]
    scores = [
        s for s in compat.all_strips(scene) if s.moodscore.source_uid == twins[0].moodscore.uid
    ]
    starts = {compat.strip_timing(s, "left_handle") for s in scores}
    placed = [s for s in twins if compat.strip_timing(s, "left_handle") in starts]
    return placed[0] if placed else twins[0]


def is_original(scene: bpy.types.Scene, strip: Any) -> bool:
    """Whether ``strip`` owns its id (not a Shift+D copy of the strip that does)."""
    twins = _twins(scene, strip)
    return len(twins) == 1 or _original(scene, twins).name == strip.name


def ensure_identity(scene: bpy.types.Scene, strip: Any) -> str:
    """``strip``'s stable id: made once, and made anew for a copy of another strip."""
    info = strip.moodscore
    if info.uid and not is_original(scene, strip):
        info.uid = info.out_dir = info.owner = ""  # a copy's folder is the original's
    if not info.uid:
        info.uid = uuid.uuid4().hex
    info.uid_name = strip.name
    return info.uid


def find_by_uid(scene: bpy.types.Scene, uid: str, role: str = "NONE") -> Any | None:
    """The strip of ``scene`` with id ``uid`` and ``role``, or ``None``."""
    matches = [
        s for s in compat.all_strips(scene) if s.moodscore.uid == uid and s.moodscore.role == role
    ]
    return _original(scene, matches) if matches else None


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
    while candidate in taken or not score_files.free_for(candidate, owner):
        candidate, number = base / f"{name}-{number}", number + 1
    taken.add(candidate)
    return candidate


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


def score_strips_of(scene: bpy.types.Scene, source: Any) -> list[Any]:
    """The score strips made from ``source`` (a movie strip, or its name).

    They belong to it by its id, so a renamed strip keeps them and a Shift+D copy has none;
    scores made before strips had ids belong by name.
    """
    if isinstance(source, str):
        source = compat.find_strip(scene, source)
        if source is None:
            return []
    if not is_original(scene, source):
        return []
    uid, name = source.moodscore.uid, source.name
    return [
        strip
        for strip in compat.all_strips(scene)
        if strip.moodscore.role == "SCORE"
        and (
            strip.moodscore.source_uid == uid
            if uid and strip.moodscore.source_uid
            else strip.moodscore.source == name
        )
    ]


def source_of(scene: bpy.types.Scene, score: Any) -> Any | None:
    """The movie strip ``score`` was made from (by id; by name for older scores)."""
    info = score.moodscore
    if info.source_uid:
        return find_by_uid(scene, info.source_uid)
    return compat.find_strip(scene, info.source)


def stems_of(scene: bpy.types.Scene, score: Any) -> list[Any]:
    """The stem strips placed with ``score``."""
    uid = score.moodscore.uid
    return [
        strip
        for strip in compat.all_strips(scene)
        if uid and strip.moodscore.role == "STEM" and strip.moodscore.source_uid == uid
    ]


def remove_stems(scene: bpy.types.Scene, score: Any) -> None:
    """Remove ``score``'s stem strips (they add up to its mix, not to a new one)."""
    for stem in stems_of(scene, score):
        compat.parent_collection(scene, stem).remove(stem)


def tag_stems(scene: bpy.types.Scene, score: Any, published: dict[str, Path]) -> None:
    """Mark the stem strips just placed for ``score``'s ``published`` files as its stems."""
    stems = {score_files.real(path) for kind, path in published.items() if kind.startswith("stem_")}
    for strip in compat.parent_collection(scene, score):
        sound = getattr(strip, "sound", None)
        if strip.moodscore.role != "NONE" or sound is None or not sound.filepath:
            continue
        if score_files.real(bpy.path.abspath(sound.filepath)) in stems:
            strip.moodscore.role = "STEM"
            strip.moodscore.source_uid = score.moodscore.uid
            strip.moodscore.version_dir = score.moodscore.version_dir


def version_gain_db(score: Any) -> float | None:
    """Mastering gain of the version ``score`` plays (its ``score.json``), if recorded."""
    info = score.moodscore
    folder = info.version_dir or info.out_dir  # scores from before versions: the folder
    if not folder:
        return None
    try:
        manifest = (Path(bpy.path.abspath(folder)) / "score.json").read_text(encoding="utf-8")
        gain = json.loads(manifest)["audio"]["gain_db"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return float(gain) if isinstance(gain, int | float) and math.isfinite(gain) else None


def place_score_strip(
    scene: bpy.types.Scene,
    source: Any,
    span: StripSpan,
    outcome: ScoreOutcome,
    published: dict[str, Path],
) -> Any:
    """Replace ``source``'s score strip (and its stems) with one playing ``published['wav']``."""
    for old in score_strips_of(scene, source):
        remove_stems(scene, old)
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
    folder = request.out_dir.parent  # the request's folder is the new version's
    info = strip.moodscore
    info.role = "SCORE"
    info.uid, info.uid_name = uuid.uuid4().hex, strip.name
    info.source, info.source_uid = source.name, source.moodscore.uid
    info.out_dir = stored_path(folder)
    info.version_dir = stored_path(request.out_dir)
    info.stem = request.stem
    info.video = stored_path(request.video)
    info.start_s, info.end_s = request.start_s, request.end_s
    info.bpm, info.step_bars = timeline.grid.bpm, timeline.grid.step_bars
    info.duration_s = timeline.duration_s
    info.cuts = ",".join(f"{cut:.4f}" for cut in timeline.cuts_s)
    info.generator = request.config.music.generator
    source.moodscore.out_dir = info.out_dir
    source.moodscore.owner = owner_key(scene, source)
    record_owner(scene, source, folder)
    key_curves(scene, strip, timeline)
    return strip


def retarget(scene: bpy.types.Scene, score: Any, published: dict[str, Path]) -> None:
    """Make ``score`` play the new version ``published`` (a re-score), keeping the strip.

    The strip gets a new sound datablock rather than a new path on its old one: undo then
    restores the old, untouched datablock, whose file is still there.
    """
    sound = bpy.data.sounds.load(stored_path(published["wav"]), check_existing=False)
    score.sound = sound
    remove_stems(scene, score)
    score.moodscore.version_dir = stored_path(published["wav"].parent)


def key_curves(scene: bpy.types.Scene, strip: Any, timeline: EmotionTimeline) -> None:
    """Key arousal and valence on ``strip`` at the start frame of every step."""
    fps, start = scene_fps(scene), compat.strip_timing(strip, "content_start")
    for prop, values in ((AROUSAL_PROP, timeline.arousal), (VALENCE_PROP, timeline.valence)):
        compat.remove_fcurve(scene, strip.path_from_id(prop))
        for step, value in zip(timeline.steps, values, strict=True):
            with writing_curves():
                setattr(strip, prop, float(value))
            strip.keyframe_insert(prop, frame=start + step.start_s * fps)
        fcurve = compat.find_fcurve(scene, strip.path_from_id(prop))
        assert fcurve is not None  # keyed just above
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
