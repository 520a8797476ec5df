"""The **Moodscore** tab of the Sequencer sidebar.

Drawing it the first time (and again after each score) starts an engine process in the
background (:func:`engine.prewarm`, from a timer so that drawing never waits), so the next
score does not wait for the engine's imports.
"""

import functools
import json
from pathlib import Path
from typing import Any

import bpy

from .. import engine
from ..core.emotion.config import ALL_SOURCES
from ..geometry import StripError, strip_span
from ..properties import cloud_problem
from .progress import draw_job, draw_warnings, wrapped_label

#: Once a user has this tab open, the next score's engine waits ready after this delay
#: (seconds): long enough for the tab to finish drawing first.
PREWARM_DELAY_S = 0.2


def _prewarm() -> None:
    engine.prewarm()


def prewarm_soon() -> None:
    """Start an idle engine from a timer unless one runs (never in background mode)."""
    if bpy.app.background or engine.active_job() is not None or engine.has_warm():
        return
    if not bpy.app.timers.is_registered(_prewarm):
        bpy.app.timers.register(_prewarm, first_interval=PREWARM_DELAY_S)


@functools.lru_cache(maxsize=32)
def _tempo_record(manifest: str, mtime_ns: int) -> dict[str, Any]:
    # Read once per version: the panel redraws often, and score.json never changes in place.
    try:
        data = json.loads(Path(manifest).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data.get("edit", {}).get("tempo", {})


def tempo_text(score: Any) -> str:
    """What a score strip plays at: "Tempo: 104 bpm (fitted to the cuts: 3 of 3 on a beat)".

    A re-score keeps its curves' tempo, so the version that chose it may be an earlier one
    (while it still exists: unreachable versions go on save).
    """
    info = score.moodscore
    text = f"Tempo: {info.bpm:.0f} bpm"
    version = Path(bpy.path.abspath(info.version_dir))
    for folder in (version, *sorted(version.parent.glob("v*"))):
        manifest = folder / "score.json"
        try:
            record = _tempo_record(str(manifest), manifest.stat().st_mtime_ns)
        except OSError:
            continue
        # Single precision on the strip: the same tempo within a hundredth of a beat.
        if record.get("auto") and abs(record.get("bpm", 0.0) - info.bpm) < 0.01:
            cuts, on_beat = record.get("cuts", 0), record.get("cuts_on_beat", 0)
            fitted = f"fitted to the cuts: {on_beat} of {cuts} on a beat" if cuts else "by Auto"
            return f"{text} ({fitted})"
    return text


def _draw_active_strip(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    strip = context.scene.sequence_editor.active_strip
    # The active strip stays active when deselected, but Score works on the selection.
    if strip is None or not strip.select:
        layout.label(text="Select a movie strip", icon="INFO")
        return
    from ..operators.strips import score_strips_of, source_of  # operators import this package

    if strip.moodscore.role == "SCORE":
        source = source_of(context.scene, strip)
        name = source.name if source is not None else strip.moodscore.source
        layout.label(text=f"Score of '{name}'", icon="SOUND")
        layout.label(text=tempo_text(strip), icon="TIME")
        # Animated values: a change is keyed at the playhead (properties._key_at_playhead).
        layout.label(text=f"At frame {context.scene.frame_current} (edits are keyed):")
        column = layout.column(align=True)
        column.use_property_decorate = True
        column.prop(strip, "moodscore_arousal", text="Arousal", slider=True)
        column.prop(strip, "moodscore_valence", text="Valence", slider=True)
        return
    try:
        span = strip_span(context.scene, strip)
    except StripError as exc:
        wrapped_label(layout, context, str(exc), icon="ERROR")  # whole: the fix is at the end
        return
    layout.label(text=strip.name, icon="FILE_MOVIE")
    layout.label(
        text=f"Frames {span.first_frame}–{span.first_frame + span.frame_count - 1} "
        f"· {span.file_start_s:.2f}–{span.file_end_s:.2f} s of the file"
    )
    scores = score_strips_of(context.scene, strip)
    if scores:
        layout.label(text=f"Scored · {tempo_text(scores[-1])}", icon="SOUND")


def _draw_sources(
    layout: bpy.types.UILayout, context: bpy.types.Context, settings: bpy.types.PropertyGroup
) -> None:
    """One toggle per source; Cloud greyed out, with the reason, when it cannot run here."""
    row = layout.row(align=True)
    problem = cloud_problem()
    for name in ALL_SOURCES:
        cell = row.row(align=True)
        cell.enabled = problem is None or name != "cloud"
        cell.prop_enum(settings, "sources", name)
    if problem is not None:
        wrapped_label(layout, context, f"Cloud: {problem}", icon="URL")


class SEQUENCER_PT_moodscore(bpy.types.Panel):  # noqa: N801 (Blender naming)
    """Score the selected strip with music that follows its emotional arc"""

    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "Moodscore"
    bl_label = "Moodscore"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return context.scene is not None

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        missing = engine.missing_dependencies()
        if missing:
            box = layout.box()
            box.label(text="Missing Python packages:", icon="ERROR")
            box.label(text=", ".join(missing))
            box.label(text="Install the Moodscore extension zip, which bundles them.")
            return
        if context.scene.sequence_editor is None:
            layout.label(text="Add a movie strip to the sequencer first", icon="INFO")
            return
        prewarm_soon()
        _draw_active_strip(layout.box(), context)

        settings = context.scene.moodscore
        column = layout.column(align=True)
        column.use_property_split = True
        column.use_property_decorate = False
        column.prop(settings, "generator")
        edit = getattr(context.scene, "moodscore_edit", None)
        auto = edit is not None and edit.tempo_mode == "AUTO"
        # With Auto the field only sets the analysis grid; the music's tempo is chosen later.
        if auto:
            column.prop(settings, "bpm", text="Analysis Tempo")
        else:
            column.prop(settings, "bpm")
        column.prop(settings, "step_bars")
        column.prop(settings, "seed")
        column.prop(settings, "preset")
        layout.label(text="Emotion Sources")
        _draw_sources(layout, context, settings)

        job = engine.active_job()
        if job is not None:
            draw_job(layout, job)
            draw_warnings(layout, context, [*job.notes, *job.warnings])
        else:
            layout.operator("moodscore.score_strip", icon="SOUND")
            layout.operator("moodscore.rescore_from_curves", icon="GRAPH")
            draw_warnings(layout, context, engine.last_warnings())
        if not bpy.data.filepath:
            layout.label(text="Unsaved: scores wait in a temp folder until you save", icon="INFO")


CLASSES: tuple[type, ...] = (SEQUENCER_PT_moodscore,)
