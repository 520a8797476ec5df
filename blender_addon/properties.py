"""The add-on's data: scene settings, per-strip bookkeeping and the animated emotion curves.

Enum items and limits come from ``core``'s own tables; only the labels live here.
"""

import contextlib
import dataclasses
import functools
import importlib.util
from collections.abc import Callable, Iterator
from typing import Any, cast

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
from .core.limits import MAX_SEED
from .core.music.instruments import PRESETS
from .core.timeline import MAX_BPM, MIN_BPM

#: Panel labels and tooltips (what each does to the music) of the engine's generators; the
#: names themselves are ``core``'s.
GENERATOR_LABELS = {
    "scales": (
        "Scales",
        "A tune built from a motif in the mode of the moment (bright lydian to dark phrygian) "
        "over a pad and a bass, in four-bar phrases that cadence",
    ),
    "chords": (
        "Chords",
        "Broken chords: happier picture, major chords; sadder, minor; more excitement, faster "
        "chord changes and figures, more layers, louder",
    ),
    "rbm-feedback": (
        "RBM-Feedback",
        "A neural network (RBM) trained on real music improvises, steered by the emotion; "
        "each passage continues from the last, so ideas carry over",
    ),
    "rbm-sampling": (
        "RBM-Sampling",
        "The same trained RBM, each passage improvised afresh: more variety, less continuity",
    ),
}
#: Panel labels and tooltips of the engine's emotion sources (``ALL_SOURCES``).
SOURCE_LABELS = {
    "colour": (
        "Colour",
        "Reads the frames' colours: brighter, more saturated shots make the music happier, "
        "more varied hues make it more excited",
    ),
    "face": (
        "Faces",
        "Reads facial expressions with a local model: smiles make the music happier, fear or "
        "anger tenser and more excited",
    ),
    "motion": (
        "Motion",
        "Reads movement and cuts: action makes the music faster, busier and louder",
    ),
    "cloud": (
        "Cloud",
        "Reads facial expressions with Google Cloud Vision (sends frames to Google); needs the "
        "API key in the add-on's preferences and Blender's online access "
        "(Preferences > System > Network)",
    ),
}
#: Tooltips of ``core``'s instrument presets: the General MIDI instruments of their parts.
PRESET_TOOLTIPS = {
    "piano": "Every part on the grand piano, with the standard drum kit: plain and intimate",
    "strings": "Violin tune, pizzicato figures, string-ensemble chords, cello bass and "
    "orchestral percussion",
    "orchestral": "Flute tune and clarinet figures over string-ensemble chords and cello "
    "bass, with orchestral percussion",
    "ambient": "Vibraphone tune and figures over choir 'ooh' chords and electric bass, with "
    "brushed drums: soft and airy",
    "electric": "Electric piano tune and figures over organ chords and electric bass, with "
    "an 808 drum kit",
}
FROM_PREFERENCES = "PREFERENCES"
#: Why the Cloud source is unavailable, and where the user can change it.
OFFLINE_NOTE = "online access is off in Blender's preferences (System > Network)"
#: Why the Cloud source cannot run in a Blender whose Python lacks ``requests`` (Debian's
#: Blender on a system without python3-requests; official builds ship it).
NO_REQUESTS_NOTE = (
    "it needs the Python package 'requests', which this Blender lacks "
    "(official Blender builds include it)"
)
#: Names of the animated per-strip properties holding the curves.
AROUSAL_PROP, VALENCE_PROP = "moodscore_arousal", "moodscore_valence"


def online_access() -> bool:
    """Whether Blender lets add-ons go online (4.2+); older Blenders have no such switch."""
    return bool(getattr(bpy.app, "online_access", True))


@functools.cache
def _has_requests() -> bool:
    # The engine runs Blender's own Python with Blender's sys.path: the same answer there.
    return importlib.util.find_spec("requests") is not None


def cloud_problem() -> str | None:
    """Why the Cloud source cannot run here (a note for the panel), else ``None``."""
    if not online_access():
        return OFFLINE_NOTE
    if not _has_requests():
        return NO_REQUESTS_NOTE
    return None


def _label(name: str, labels: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """Label and tooltip of a ``core`` name; a name the add-on does not know shows as is."""
    label = name.replace("-", " ").title()
    return labels.get(name, (label, f"Moodscore's '{label}' option (no description yet)"))


def _source_items() -> list[tuple[str, str, str]]:
    """Enum items for the engine's emotion sources (``core.emotion.config.ALL_SOURCES``)."""
    return [(name, *_label(name, SOURCE_LABELS)) for name in ALL_SOURCES]


def _preset_items() -> list[tuple[str, str, str]]:
    """Enum items for the engine's instrument presets (``core.music.instruments.PRESETS``)."""
    fallback = "Instruments of core's '{}' preset for the tune, figures, chords, bass and drums"
    return [
        (name, name.title(), PRESET_TOOLTIPS.get(name, fallback.format(name))) for name in PRESETS
    ]


def generator_items(*, with_default: bool) -> list[tuple[str, str, str]]:
    """Enum items for the engine's generators, optionally led by "From Preferences"."""
    items = [(name, *_label(name, GENERATOR_LABELS)) for name in GENERATORS]
    if with_default:
        items.insert(
            0,
            (
                FROM_PREFERENCES,
                "From Preferences",
                "Compose with the Default Generator chosen in Moodscore's add-on preferences",
            ),
        )
    return items


def config_range(section: Any, name: str) -> tuple[float, float]:
    """The accepted range ``core`` declares for a config field."""
    spec = next(f for f in dataclasses.fields(section) if f.name == name)
    return spec.metadata["range"]


_STEP_BARS_RANGE = config_range(Config, "step_bars")


class MoodscoreSettings(bpy.types.PropertyGroup):
    """What the next score is made with (per scene, saved in the .blend)."""

    generator: EnumProperty(
        name="Generator",
        description="How the music is composed from the emotion curves",
        items=generator_items(with_default=True),
        default=FROM_PREFERENCES,
    )
    bpm: FloatProperty(
        name="Tempo (BPM)",
        description="Beats per minute of the music; with Tempo Mode Auto (Editor Aids) only "
        "the analysis grid, and Auto chooses the music's tempo from the cuts",
        default=Config.bpm,
        min=MIN_BPM,
        max=MAX_BPM,
    )
    step_bars: IntProperty(
        name="Bars per Step",
        description="Bars the music holds one emotion reading: fewer follows the picture "
        "more closely, more gives longer phrases",
        default=Config.step_bars,
        min=int(_STEP_BARS_RANGE[0]),
        max=int(_STEP_BARS_RANGE[1]),
    )
    # Blender's integer properties are signed 32-bit: the seed range stops there.
    seed: IntProperty(
        name="Seed",
        description="Variation of the music: the same seed and settings give the same music, "
        "another seed another tune",
        default=0,
        min=0,
        max=min(MAX_SEED, 2**31 - 1),
    )
    sources: EnumProperty(
        name="Emotion Sources",
        description="What the picture's emotion is read from; the music follows their "
        "combined arousal (calm to excited) and valence (sad to happy)",
        items=_source_items(),
        options={"ENUM_FLAG"},
        default=set(Config().analysis.sources),
    )
    preset: EnumProperty(
        name="Instruments",
        description="The instruments that play the tune, figures, chords, bass and drums",
        items=_preset_items(),
        default="piano",
    )


class MoodscoreStripInfo(bpy.types.PropertyGroup):
    """Bookkeeping on a strip: its identity and score folder, and on a score (or stem) strip
    what it was made from and which version of the files it plays.

    ``uid`` is generated once and survives renames and moves; Shift+D copies it, so a
    duplicate is told apart by ``uid_name`` (the name it had when last scored) and given its
    own id on its first score (``operators.strips.ensure_identity``).
    """

    role: EnumProperty(
        name="Role",
        description="What Moodscore made this strip as",
        items=(
            ("NONE", "None", "Not made by Moodscore (a movie strip it may score)"),
            ("SCORE", "Score", "The music Moodscore composed for a movie strip"),
            ("STEM", "Stem", "One part of a score's music, muted, to rebalance the mix"),
        ),
        default="NONE",
    )
    uid: StringProperty(name="Id", description="Stable id of this strip")
    uid_name: StringProperty(
        name="Id Name", description="The strip's name when its id was last confirmed"
    )
    source_uid: StringProperty(
        name="Source Id", description="Id of the strip this one was made from"
    )
    out_dir: StringProperty(
        name="Score Folder", description="Folder of this strip's scores (one version each)"
    )
    owner: StringProperty(name="Owner", description="Scene and strip id that own out_dir")
    version_dir: StringProperty(name="Version Folder", description="Folder of the files it plays")
    stem: StringProperty(name="File Stem", description="Name the score's files start with")
    source: StringProperty(name="Source Strip", description="Movie strip this music was made for")
    video: StringProperty(name="Video", description="Movie file the music was made from")
    start_s: FloatProperty(name="Start", description="Scored part's start in the file (s)")
    end_s: FloatProperty(name="End", description="Scored part's end in the file (s)")
    bpm: FloatProperty(
        name="Tempo (BPM)",
        description="Tempo the music plays at (chosen from the cuts with Tempo Mode Auto)",
        default=120.0,
    )
    step_bars: IntProperty(
        name="Bars per Step", description="Bars per emotion reading of the curves", default=1
    )
    duration_s: FloatProperty(name="Duration", description="Length of the music (s)")
    cuts: StringProperty(name="Cuts", description="Cut times in seconds, comma-separated")
    generator: StringProperty(name="Generator", description="Generator that composed it")


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
    cast(Any, compat.STRIP_TYPE).moodscore = PointerProperty(type=MoodscoreStripInfo)
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
