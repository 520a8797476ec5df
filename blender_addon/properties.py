"""The add-on's data: scene settings, per-strip bookkeeping and the animated emotion curves."""

import bpy
from bpy.props import (
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from . import compat
from .engine import core_module

#: Panel labels of the engine's generators (``core.generators.GENERATORS``).
GENERATOR_LABELS = {
    "scales": ("Scales", "Major/minor scales following valence, tempo feel from arousal"),
    "chords": ("Chords", "Chord progressions chosen by the emotion of each step"),
    "rbm-feedback": ("RBM-Feedback", "The trained RBM, fed its own output"),
    "rbm-sampling": ("RBM-Sampling", "Independent samples of the trained RBM per step"),
}
FROM_PREFERENCES = "PREFERENCES"
SOURCE_ITEMS = (
    ("colour", "Colour", "Brightness, saturation and hue of the frames"),
    ("face", "Faces", "Facial expressions (local model)"),
    ("motion", "Motion", "Amount of movement and cuts"),
    ("cloud", "Cloud", "Google Cloud Vision faces (needs the API key in the preferences)"),
)
#: Names of the animated per-strip properties holding the curves.
AROUSAL_PROP, VALENCE_PROP = "moodscore_arousal", "moodscore_valence"


def _preset_items() -> list[tuple[str, str, str]]:
    """Enum items for the engine's instrument presets (``core.generators.mapping.PRESETS``)."""
    try:
        names = list(core_module("generators.mapping").PRESETS)
    except ImportError:  # the engine's dependencies are missing; the panel says so
        names = ["piano"]
    return [(name, name.title(), f"The '{name}' instrument preset") for name in names]


def generator_items(*, with_default: bool) -> list[tuple[str, str, str]]:
    """Enum items for the generators, optionally led by "From Preferences"."""
    items = [(name, *GENERATOR_LABELS[name]) for name in GENERATOR_LABELS]
    if with_default:
        items.insert(0, (FROM_PREFERENCES, "From Preferences", "The add-on's default generator"))
    return items


class MoodscoreSettings(bpy.types.PropertyGroup):
    """What the next score is made with (per scene, saved in the .blend)."""

    generator: EnumProperty(
        name="Generator", items=generator_items(with_default=True), default=FROM_PREFERENCES
    )
    bpm: FloatProperty(
        name="Tempo", description="Quarter notes per minute", default=120.0, min=30.0, max=300.0
    )
    step_bars: IntProperty(
        name="Bars per Step", description="Bars per emotion reading", default=1, min=1, max=8
    )
    seed: IntProperty(name="Seed", description="Same seed, same music", default=0, min=0)
    sources: EnumProperty(
        name="Emotion Sources",
        items=SOURCE_ITEMS,
        options={"ENUM_FLAG"},
        default={"colour", "face", "motion"},
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
