"""Differences between the Blender versions the add-on supports (3.4 to 5.x), found by feature.

Blender 5.0 renamed ``sequence_editor.sequences*`` to ``strips*`` (and 4.4 renamed the RNA type
``Sequence`` to ``Strip``); Blender 5.0 also dropped ``Action.fcurves`` for layered actions;
Blender 5.2 renamed the strip timing properties (the old names warn and go in 6.0).
Everything version-specific lives here so the rest of the add-on reads the same everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import bpy

#: The RNA type of every VSE strip: ``Strip`` from 4.4, ``Sequence`` before.
STRIP_TYPE: type = getattr(bpy.types, "Strip", None) or bpy.types.Sequence


#: Whether a movie strip shows the source frame *nearest* its (fractional) frame index: 4.5 and
#: 5.x round it, 3.4 truncates (measured by rendering); taken from 3.6 on, where retiming made
#: the index fractional.
SHOWS_NEAREST_SOURCE_FRAME: bool = bpy.app.version >= (3, 6, 0)

#: Strip timing properties by their Blender 5.2 names, with the names older versions use.
STRIP_TIMING_NAMES = {
    "content_start": "frame_start",  # timeline frame of the content's first frame
    "left_handle": "frame_final_start",  # first visible frame
    "right_handle": "frame_final_end",  # first frame after the visible part
    "duration": "frame_final_duration",  # visible frames
    "left_handle_offset": "frame_offset_start",
    "right_handle_offset": "frame_offset_end",
    "content_trim_start": "animation_offset_start",  # source frames skipped (hold offset)
    "content_trim_end": "animation_offset_end",  # source frames cut off the end
    # Timeline frames of the whole content from 4.x on; up to 3.x the *source* frame count
    # (see :func:`source_frame_count`).
    "content_duration": "frame_duration",
}


def _timing_name(strip: Any, name: str) -> str:
    return name if name in strip.bl_rna.properties else STRIP_TIMING_NAMES[name]


def strip_timing(strip: Any, name: str) -> Any:
    """A strip's timing property by its 5.2 name (:data:`STRIP_TIMING_NAMES`) on any version.

    ``content_trim_start``/``_end`` are 0 on strips that have none (e.g. sound strips before
    3.x).
    """
    if name in ("content_trim_start", "content_trim_end") and not (
        {name, STRIP_TIMING_NAMES[name]} & set(strip.bl_rna.properties.keys())
    ):
        return 0
    return getattr(strip, _timing_name(strip, name))


def content_frames(strip: Any) -> int:
    """Timeline frames the strip's whole content spans, handles and holds aside.

    From the handles, so it means the same on every version (``frame_duration`` does not).
    """
    return round(
        strip_timing(strip, "right_handle")
        + strip_timing(strip, "right_handle_offset")
        - strip_timing(strip, "content_start")
    )


def source_frame_count(strip: Any) -> int | None:
    """How many source frames the content holds, where Blender tells (else ``None``).

    Up to 3.x ``frame_duration`` is that count (Blender's ``len``); from 4.x it is the content's
    timeline length, so it only tells when it differs from :func:`content_frames` by more than
    that length's rounding (a fractional start).
    """
    reported = strip_timing(strip, "content_duration")
    return int(reported) if abs(reported - content_frames(strip)) > 1 else None


def speed_factor(strip: Any) -> float:
    """The strip's Speed Factor (Time panel, 3.0-4.1); 1 where retiming keys replaced it."""
    return float(getattr(strip, "speed_factor", 1.0) or 1.0)


def retiming_frames(strip: Any) -> list[int]:
    """Timeline frames of the strip's retiming keys (4.2+); empty when it is not retimed."""
    return [key.timeline_frame for key in getattr(strip, "retiming_keys", ())]


def set_strip_timing(strip: Any, name: str, value: float) -> None:
    """Set a strip's timing property by its 5.2 name on any version."""
    setattr(strip, _timing_name(strip, name), value)


def strips_in(container: Any) -> Any:
    """The strip collection of a sequence editor or meta strip (``strips`` or ``sequences``)."""
    return container.strips if hasattr(container, "strips") else container.sequences


def all_strips(scene: bpy.types.Scene) -> Iterable[Any]:
    """Every strip of the scene, including those inside meta strips."""
    editor = scene.sequence_editor
    if editor is None:
        return ()
    return editor.strips_all if hasattr(editor, "strips_all") else editor.sequences_all


def find_strip(scene: bpy.types.Scene, name: str) -> Any | None:
    """The strip called ``name`` in ``scene``, or ``None``."""
    for strip in all_strips(scene):
        if strip.name == name:
            return strip
    return None


def parent_collection(scene: bpy.types.Scene, strip: Any) -> Any:
    """The collection holding ``strip``: its meta strip's, or the editor's top level."""
    meta = strip.parent_meta() if hasattr(strip, "parent_meta") else None
    return strips_in(meta if meta is not None else scene.sequence_editor)


def scene_fcurves(scene: bpy.types.Scene) -> Any:
    """The F-curve collection that animates ``scene``, or ``None`` without animation."""
    anim = scene.animation_data
    if anim is None or anim.action is None:
        return None
    action = anim.action
    if hasattr(action, "fcurves"):  # up to 4.5 (4.4-4.5: the first slot's channels)
        return action.fcurves
    from bpy_extras import anim_utils

    channelbag = anim_utils.action_get_channelbag_for_slot(action, anim.action_slot)
    return channelbag.fcurves if channelbag is not None else None


def find_fcurve(scene: bpy.types.Scene, data_path: str) -> Any | None:
    """The scene F-curve animating ``data_path``, or ``None``."""
    fcurves = scene_fcurves(scene)
    if fcurves is None:
        return None
    return next((fc for fc in fcurves if fc.data_path == data_path), None)


def remove_fcurve(scene: bpy.types.Scene, data_path: str) -> None:
    """Drop the scene F-curve animating ``data_path`` (e.g. before re-keying it)."""
    fcurve = find_fcurve(scene, data_path)
    if fcurve is not None:
        scene_fcurves(scene).remove(fcurve)


def draw_progress(layout: Any, fraction: float, text: str) -> None:
    """A progress bar (4.0+) or, on older versions, a label with the percentage."""
    if hasattr(layout, "progress"):
        layout.progress(factor=fraction, type="BAR", text=text)
    else:
        layout.label(text=f"{text} ({fraction:.0%})", icon="TIME")
