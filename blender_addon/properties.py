"""The add-on's data: scene settings, per-strip bookkeeping and the animated emotion curves.

Enum items and limits come from ``core``'s own tables; only the labels live here.
"""

import dataclasses
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
    """Bookkeeping on a strip: its score folder, and on a score strip what it was made from."""

    role: EnumProperty(items=(("NONE", "None", ""), ("SCORE", "Score", "")), default="NONE")
    out_dir: StringProperty(name="Score Folder")
    owner: StringProperty(description="Scene and strip that own out_dir")
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


def register() -> None:
    """Attach the settings to scenes and the bookkeeping and curves to strips."""
    bpy.types.Scene.moodscore = PointerProperty(type=MoodscoreSettings)
    compat.STRIP_TYPE.moodscore = PointerProperty(type=MoodscoreStripInfo)
    # Plain properties on the strip itself: keyframe_insert cannot reach into a group here.
    setattr(
        compat.STRIP_TYPE,
        AROUSAL_PROP,
        FloatProperty(
            name="Arousal", description="Calm (0) to excited (1), keyed per step", min=0.0, max=1.0
        ),
    )
    setattr(
        compat.STRIP_TYPE,
        VALENCE_PROP,
        FloatProperty(
            name="Valence", description="Sad (0) to happy (1), keyed per step", min=0.0, max=1.0
        ),
    )


def unregister() -> None:
    """Detach everything :func:`register` attached."""
    for prop in (VALENCE_PROP, AROUSAL_PROP, "moodscore"):
        delattr(compat.STRIP_TYPE, prop)
    del bpy.types.Scene.moodscore
