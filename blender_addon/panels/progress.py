"""The running job's progress where users look: the status bar and the Moodscore panel.

While a job runs, the operator's modal timer calls :func:`update`. The status bar shows the
job through ``WorkSpace.status_text_set`` with a draw function (as Blender's own modal tools
do): setting it also redraws the status bar, which is a global area that Blender 3.x does not
list in ``screen.areas``. On Blender 4.0+ both places draw a real progress bar
(``UILayout.progress``); older versions show the percentage as text. The engine's warnings
show there too as they come (the status bar the latest, the panel all of them), and the panel
keeps the last job's until the next one starts.
"""

from __future__ import annotations

import textwrap

import bpy

from .. import compat, engine

#: Width of one character of the UI font at scale 1, in pixels (a generous average, so a
#: wrapped line fits rather than being cut with an ellipsis).
CHAR_PX = 7.0
#: The status bar shows at most this much of the latest warning (it never wraps).
STATUS_CHARS = 120

#: What was last shown: (stage, whole percent, warnings); a repeat changes nothing on screen.
Shown = tuple[str, int, int]


def wrapped_label(
    layout: bpy.types.UILayout, context: bpy.types.Context, text: str, icon: str = "NONE"
) -> None:
    """``text`` as labels wrapped to the region's width: a label is cut off, never wrapped."""
    region = context.region
    scale = context.preferences.view.ui_scale
    width = region.width if region is not None and region.width > 1 else 300
    chars = max(20, int((width - 40) / (CHAR_PX * scale)))
    column = layout.column(align=True)
    column.scale_y = 0.8
    for number, line in enumerate(textwrap.wrap(text, chars) or [""]):
        column.label(text=line, icon=icon if number == 0 else "BLANK1")


def draw_warnings(
    layout: bpy.types.UILayout, context: bpy.types.Context, warnings: list[str]
) -> None:
    """The warnings of the running (or last) job, whole, in a box."""
    if not warnings:
        return
    box = layout.box()
    for warning in warnings:
        wrapped_label(box, context, warning, icon="ERROR")


def draw_job(layout: bpy.types.UILayout, job: engine.ScoringJob) -> None:
    """The progress bar (or percentage) and the cancel button."""
    row = layout.row(align=True)
    compat.draw_progress(row, job.fraction, job.stage)
    row.operator("moodscore.cancel", text="", icon="CANCEL")


def draw_status(header: bpy.types.Header, context: bpy.types.Context) -> None:
    """The status bar while a job runs (Blender's own status bar otherwise)."""
    job = engine.active_job()
    if job is None:
        original = getattr(type(header), "_draw_orig", None)
        if original is not None:
            original(header, context)
        return
    row = header.layout.row(align=True)
    row.label(text="Moodscore", icon="SOUND")
    draw_job(row, job)
    row.label(text="Esc cancels")
    if job.warnings:
        latest = job.warnings[-1]
        if len(latest) > STATUS_CHARS:
            latest = latest[: STATUS_CHARS - 1] + "…"
        row.label(text=latest, icon="ERROR")


def _shown(job: engine.ScoringJob) -> Shown:
    return job.stage, int(job.fraction * 100), len(job.warnings)


def _redraw_panels(context: bpy.types.Context) -> None:
    # Only the sidebars: redrawing the whole Sequencer (strips, thumbnails) costs the UI more.
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "SEQUENCE_EDITOR":
                for region in area.regions:
                    if region.type == "UI":
                        region.tag_redraw()


def show(context: bpy.types.Context, job: engine.ScoringJob) -> Shown:
    """Start showing ``job``'s progress; return what is shown."""
    if context.workspace is not None:
        context.workspace.status_text_set(draw_status)
    _redraw_panels(context)
    return _shown(job)


def update(context: bpy.types.Context, job: engine.ScoringJob, shown: Shown | None) -> Shown:
    """Redraw the status bar and the panels if the progress changed; return what is shown."""
    now = _shown(job)
    if now != shown:
        show(context, job)
    return now


def clear(context: bpy.types.Context) -> None:
    """Give the status bar back to Blender and redraw the panels."""
    if context.workspace is not None:
        context.workspace.status_text_set(None)
    _redraw_panels(context)


def restore_status_bar() -> None:
    """Put Blender's status bar back if a job's draw function is still installed (unregister)."""
    header = bpy.types.STATUSBAR_HT_header
    original = getattr(header, "_draw_orig", None)
    if original is not None and header.draw is draw_status:
        header.draw = original
