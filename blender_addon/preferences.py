"""Add-on preferences: files and the secret cloud key live here, never in a .blend."""

from typing import Any

import bpy
from bpy.props import EnumProperty, FloatProperty, StringProperty

from .core.music.config import RenderConfig
from .properties import cloud_problem, config_range, generator_items, online_access

#: Loudness the score is mastered to: ``core``'s default and range (LUFS).
_LOUDNESS_RANGE = config_range(RenderConfig, "loudness_lufs")

#: The add-on's package (``moodscore``, ``bl_ext.<repo>.moodscore`` or ``blender_addon``).
ADDON_ID = __package__


class MoodscorePreferences(bpy.types.AddonPreferences):
    """SoundFont, RBM model, default generator and the optional cloud key."""

    bl_idname = ADDON_ID

    soundfont: StringProperty(
        name="SoundFont",
        description=(
            "General MIDI .sf2 file that plays the score (empty: one installed on the system, "
            "else the bundled TimGM6mb)"
        ),
        subtype="FILE_PATH",
    )
    model: StringProperty(
        name="RBM Model",
        description="Trained model (.npz) for the RBM generators (empty: the bundled one)",
        subtype="FILE_PATH",
    )
    default_generator: EnumProperty(
        name="Default Generator",
        description="How the music is composed when the panel's Generator is From Preferences",
        items=generator_items(with_default=False),
        default="chords",
    )
    loudness_lufs: FloatProperty(
        name="Loudness (LUFS)",
        description="Integrated loudness the score's WAV is mastered to (-16 suits the web, "
        "-23 broadcast; higher is louder)",
        default=RenderConfig.loudness_lufs,
        min=_LOUDNESS_RANGE[0],
        max=_LOUDNESS_RANGE[1],
        step=100,
        precision=1,
    )
    cloud_api_key: StringProperty(
        name="Cloud Vision API Key",
        description="Only for the Cloud emotion source; kept in the preferences, never in a .blend",
        subtype="PASSWORD",
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "soundfont")
        note = layout.column(align=True)
        note.scale_y = 0.8
        note.label(
            text="Left empty: a SoundFont installed on the system, else the bundled TimGM6mb.",
            icon="INFO",
        )
        note.label(text="Any General MIDI .sf2 works; a larger one (FluidR3_GM) sounds richer.")
        layout.prop(self, "model")
        layout.prop(self, "default_generator")
        layout.prop(self, "loudness_lufs")
        row = layout.row()
        row.enabled = online_access()
        row.prop(self, "cloud_api_key")
        problem = cloud_problem()
        if problem is not None:
            layout.label(text=f"Cloud: {problem}", icon="URL")


def addon_preferences(context: Any = None) -> MoodscorePreferences | None:
    """The preferences, or ``None`` when the add-on was registered without being enabled."""
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_ID)
    return addon.preferences if addon is not None else None


def apply_preferences(config: Any, context: Any = None) -> None:
    """Set the engine options the preferences hold on ``config`` (only those ``core`` knows)."""
    prefs = addon_preferences(context)
    if prefs is None:
        return
    config.render.loudness_lufs = float(prefs.loudness_lufs)


def without_secrets(message: str, context: Any = None) -> str:
    """``message`` with the cloud API key (if one is set) masked, for reports and the console."""
    prefs = addon_preferences(context)
    key = prefs.cloud_api_key if prefs is not None else ""
    return message.replace(key, "***") if key else message


CLASSES = (MoodscorePreferences,)
