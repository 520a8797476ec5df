"""The add-on's data: scene settings, per-strip bookkeeping and the animated emotion curves.

Enum items and limits come from ``core``'s own tables; only the labels live here.
"""

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import bpy
from bpy.props import (
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from . import compat
from .core.config import Config
from .core.emotion.config import ALL_SOURCES
from .core.generators import GENERATORS
from .core.generators.mapping import PRESETS
from .core.limits import MAX_SEED
from .core.timeline import MAX_BPM, MIN_BPM

#: Panel labels of the engine's generators; the names themselves are ``core``'s.
GENERATOR_LABELS = {
    "scales": ("Scales", "Major/minor scales following valence, tempo feel from arousal"),
    "chords": ("Chords", "Chord progressions chosen by the emotion of each step"),
    "rbm-feedback": ("RBM-Feedback", "The trained RBM, fed its own output"),
    "rbm-sampling": ("RBM-Sampling", "Independent samples of the trained RBM per step"),
}
#: Panel labels of the engine's emotion sources (``core.emotion.config.ALL_SOURCES``).
SOURCE_LABELS = {
    "colour": ("Colour", "Brightness, saturation and hue of the frames"),
    "face": ("Faces", "Facial expressions (local model)"),
    "motion": ("Motion", "Amount of movement and cuts"),
    "cloud": (
        "Cloud",
        "Google Cloud Vision faces; needs the API key in the add-on's preferences and "
        "Blender's online access (Preferences > System > Network)",
    ),
}
FROM_PREFERENCES = "PREFERENCES"
#: Why the Cloud source is unavailable, and where the user can change it.
OFFLINE_NOTE = "online access is off in Blender's preferences (System > Network)"
#: Names of the animated per-strip properties holding the curves.
AROUSAL_PROP, VALENCE_PROP = "moodscore_arousal", "moodscore_valence"


def online_access() -> bool:
    """Whether Blender lets add-ons go online (4.2+); older Blenders have no such switch."""
    return bool(getattr(bpy.app, "online_access", True))


def _label(name: str, labels: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """Label and tooltip of a ``core`` name; a name the add-on does not know shows as is."""
    return labels.get(name, (name.replace("-", " ").title(), ""))


def _source_items() -> list[tuple[str, str, str]]:
    """Enum items for the engine's emotion sources (``core.emotion.config.ALL_SOURCES``)."""
    return [(name, *_label(name, SOURCE_LABELS)) for name in ALL_SOURCES]


def _preset_items() -> list[tuple[str, str, str]]:
    """Enum items for the engine's instrument presets (``core.generators.mapping.PRESETS``)."""
    return [(name, name.title(), f"The '{name}' instrument preset") for name in PRESETS]


def generator_items(*, with_default: bool) -> list[tuple[str, str, str]]:
    """Enum items for the engine's generators, optionally led by "From Preferences"."""
    items = [(name, *_label(name, GENERATOR_LABELS)) for name in GENERATORS]
    if with_default:
        items.insert(0, (FROM_PREFERENCES, "From Preferences", "The add-on's default generator"))
    return items


def config_range(section: Any, name: str) -> tuple[float, float]:
    """The accepted range ``core`` declares for a config field."""
    spec = next(f for f in dataclasses.fields(section) if f.name == name)
    return spec.metadata["range"]


_STEP_BARS_RANGE = config_range(Config, "step_bars")


class MoodscoreSettings(bpy.types.PropertyGroup):
    """What the next score is made with (per scene, saved in the .blend)."""

    generator: EnumProperty(
        name="Generator", items=generator_items(with_default=True), default=FROM_PREFERENCES
    )
    bpm: FloatProperty(
        name="Tempo",
        description="Quarter notes per minute",
        default=Config.bpm,
        min=MIN_BPM,
        max=MAX_BPM,
    )
    step_bars: IntProperty(
        name="Bars per Step",
        description="Bars per emotion reading",
        default=Config.step_bars,
        min=int(_STEP_BARS_RANGE[0]),
        max=int(_STEP_BARS_RANGE[1]),
    )
    # Blender's integer properties are signed 32-bit: the seed range stops there.
    seed: IntProperty(
        name="Seed",
        description="Same seed, same music",
        default=0,
        min=0,
        max=min(MAX_SEED, 2**31 - 1),
    )
    sources: EnumProperty(
        name="Emotion Sources",
        items=_source_items(),
        options={"ENUM_FLAG"},
        default=set(Config().analysis.sources),
    )
    preset: EnumProperty(name="Instruments", items=_preset_items(), default="piano")


class MoodscoreStripInfo(bpy.types.PropertyGroup):
    """Bookkeeping on a strip: its identity and score folder, and on a score (or stem) strip
    what it was made from and which version of the files it plays.

    ``uid`` is generated once and survives renames and moves; Shift+D copies it, so a
    duplicate is told apart by ``uid_name`` (the name it had when last scored) and given its
    own id on its first score (``operators.strips.ensure_identity``).
    """

    role: EnumProperty(
        items=(("NONE", "None", ""), ("SCORE", "Score", ""), ("STEM", "Stem", "")),
        default="NONE",
    )
    uid: StringProperty(description="Stable id of this strip")
    uid_name: StringProperty(description="The strip's name when its id was last confirmed")
    source_uid: StringProperty(description="Id of the strip this one was made from")
    out_dir: StringProperty(name="Score Folder")
    owner: StringProperty(description="Scene and strip id that own out_dir")
    version_dir: StringProperty(name="Version Folder", description="Folder of the files it plays")
    stem: StringProperty()
    source: StringProperty(name="Source Strip")
    video: StringProperty(name="Video")
    start_s: FloatProperty()
    end_s: FloatProperty()
    bpm: FloatProperty(default=120.0)
    step_bars: IntProperty(default=1)
    duration_s: FloatProperty()
    cuts: StringProperty(description="Cut times in seconds, comma-separated")
    generator: StringProperty()


CLASSES = (MoodscoreSettings, MoodscoreStripInfo)

#: Set while the add-on itself writes curve values (keying a new score), so that the slider's
#: update callback does not key them a second time at the playhead.
_writing_curves = False


@contextlib.contextmanager
def writing_curves() -> Iterator[None]:
    """Write the curve properties without :func:`_key_at_playhead` reacting."""
    global _writing_curves
    before, _writing_curves = _writing_curves, True
    try:
        yield
    finally:
        _writing_curves = before


def _key_at_playhead(prop: str) -> Callable[[Any, Any], None]:
    """The slider's update callback: a changed value is keyed at the playhead.

    An animated property that is only set snaps back to its curve on the next frame change,
    so an edit that is not keyed would do nothing; an editor expects the value to stick
    where the playhead is (as After Effects or Premiere do once a property is animated).
    """

    def update(strip: Any, context: Any) -> None:
        if _writing_curves or strip.moodscore.role != "SCORE":
            return
        scene = strip.id_data
        strip.keyframe_insert(prop, frame=scene.frame_current)
        fcurve = compat.find_fcurve(scene, strip.path_from_id(prop))
        if fcurve is not None:
            for point in fcurve.keyframe_points:
                if point.co[0] == scene.frame_current:
                    point.interpolation = "LINEAR"

    return update


def register() -> None:
    """Attach the settings to scenes and the bookkeeping and curves to strips."""
    bpy.types.Scene.moodscore = PointerProperty(type=MoodscoreSettings)
    compat.STRIP_TYPE.moodscore = PointerProperty(type=MoodscoreStripInfo)
    # Plain properties on the strip itself: keyframe_insert cannot reach into a group here.
    for prop, name, description in (
        (AROUSAL_PROP, "Arousal", "Calm (0) to excited (1)"),
        (VALENCE_PROP, "Valence", "Sad (0) to happy (1)"),
    ):
        curve = FloatProperty(
            name=name,
            description=f"{description}; changing it keys the curve at the playhead, "
            "and Re-score from Curves composes from the curve",
            min=0.0,
            max=1.0,
            update=_key_at_playhead(prop),
        )
        setattr(compat.STRIP_TYPE, prop, curve)


def unregister() -> None:
    """Detach everything :func:`register` attached."""
    for prop in (VALENCE_PROP, AROUSAL_PROP, "moodscore"):
        delattr(compat.STRIP_TYPE, prop)
    del bpy.types.Scene.moodscore
