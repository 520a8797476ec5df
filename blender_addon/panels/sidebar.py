"""The **Moodscore** tab of the Sequencer sidebar, and the job's progress in the status bar."""

import bpy

from .. import compat, engine
from ..geometry import StripError, strip_span


def _draw_job(layout: bpy.types.UILayout, job: engine.ScoringJob) -> None:
    row = layout.row(align=True)
    compat.draw_progress(row, job.fraction, job.stage)
    row.operator("moodscore.cancel", text="", icon="CANCEL")


def _draw_active_strip(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    strip = context.scene.sequence_editor.active_strip
    if strip is None:
        layout.label(text="Select a movie strip", icon="INFO")
        return
    if strip.moodscore.role == "SCORE":
        layout.label(text=f"Score of '{strip.moodscore.source}'", icon="SOUND")
        layout.prop(strip, "moodscore_arousal", text="Arousal")
        layout.prop(strip, "moodscore_valence", text="Valence")
        return
    try:
        span = strip_span(context.scene, strip)
    except StripError as exc:
        layout.label(text=str(exc).split(";")[0], icon="ERROR")
        return
    layout.label(text=strip.name, icon="FILE_MOVIE")
    layout.label(
        text=f"Frames {span.first_frame}–{span.first_frame + span.frame_count - 1} "
        f"· {span.file_start_s:.2f}–{span.file_end_s:.2f} s of the file"
    )


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
        _draw_active_strip(layout.box(), context)

        settings = context.scene.moodscore
        column = layout.column(align=True)
        column.use_property_split = True
        column.use_property_decorate = False
        column.prop(settings, "generator")
        column.prop(settings, "bpm")
        column.prop(settings, "step_bars")
        column.prop(settings, "seed")
        column.prop(settings, "preset")
        layout.label(text="Emotion Sources")
        layout.row(align=True).prop(settings, "sources", expand=True)

        job = engine.active_job()
        if job is not None:
            _draw_job(layout, job)
        else:
            layout.operator("moodscore.score_strip", icon="SOUND")
            layout.operator("moodscore.rescore_from_curves", icon="GRAPH")
        if not bpy.data.filepath:
            layout.label(text="Unsaved .blend: scores go to a temp folder", icon="ERROR")


def draw_status(self: bpy.types.Header, context: bpy.types.Context) -> None:
    """Status-bar progress while a job runs (appended to ``STATUSBAR_HT_header``)."""
    job = engine.active_job()
    if job is not None:
        row = self.layout.row(align=True)
        row.label(text="Moodscore")
        _draw_job(row, job)


CLASSES = (SEQUENCER_PT_moodscore,)


def register() -> None:
    """Show progress in the status bar."""
    bpy.types.STATUSBAR_HT_header.append(draw_status)


def unregister() -> None:
    """Stop showing progress in the status bar."""
    bpy.types.STATUSBAR_HT_header.remove(draw_status)
