"""The **Moodscore** tab of the Sequencer sidebar."""

import bpy

from .. import engine
from ..core.emotion.config import ALL_SOURCES
from ..geometry import StripError, strip_span
from ..properties import OFFLINE_NOTE, online_access
from .progress import draw_job


def _draw_active_strip(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    strip = context.scene.sequence_editor.active_strip
    if strip is None:
        layout.label(text="Select a movie strip", icon="INFO")
        return
    if strip.moodscore.role == "SCORE":
        from ..operators.strips import source_of  # operators import this module's package

        source = source_of(context.scene, strip)
        name = source.name if source is not None else strip.moodscore.source
        layout.label(text=f"Score of '{name}'", icon="SOUND")
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
        layout.label(text=str(exc).split(";")[0], icon="ERROR")
        return
    layout.label(text=strip.name, icon="FILE_MOVIE")
    layout.label(
        text=f"Frames {span.first_frame}–{span.first_frame + span.frame_count - 1} "
        f"· {span.file_start_s:.2f}–{span.file_end_s:.2f} s of the file"
    )


def _draw_sources(layout: bpy.types.UILayout, settings: bpy.types.PropertyGroup) -> None:
    """One toggle per source; Cloud greyed out (its tooltip says why) when offline."""
    row = layout.row(align=True)
    online = online_access()
    for name in ALL_SOURCES:
        cell = row.row(align=True)
        cell.enabled = online or name != "cloud"
        cell.prop_enum(settings, "sources", name)
    if not online:
        note = layout.row()
        note.scale_y = 0.8
        note.label(text=f"Cloud: {OFFLINE_NOTE}", icon="URL")


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
        _draw_sources(layout, settings)

        job = engine.active_job()
        if job is not None:
            draw_job(layout, job)
        else:
            layout.operator("moodscore.score_strip", icon="SOUND")
            layout.operator("moodscore.rescore_from_curves", icon="GRAPH")
        if not bpy.data.filepath:
            layout.label(text="Unsaved: scores wait in a temp folder until you save", icon="INFO")


CLASSES = (SEQUENCER_PT_moodscore,)
