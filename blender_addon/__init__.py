"""Moodscore for Blender: score the selected VSE strip with music that follows its emotions.

Loads as a Blender 4.2+ extension (``blender_manifest.toml``) and the legacy way (``bl_info``,
Blender 3.4+). The add-on is glue: every stage is the engine's (``core``), vendored into the
built add-on by ``scripts/build_addon.py``.
"""

import bpy

from . import dependencies, engine, operators, panels, preferences, properties

bl_info = {
    "name": "Moodscore",
    "author": "Moodscore developers",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "Sequencer > Sidebar > Moodscore",
    "description": "Score the selected strip with music that follows its emotional arc",
    "category": "Sequencer",
}

CLASSES = (*properties.CLASSES, *preferences.CLASSES, *operators.CLASSES, *panels.CLASSES)


def register() -> None:
    """Register classes, properties and the status-bar progress."""
    if not __package__.startswith("bl_ext."):  # extensions get their wheels from Blender
        dependencies.vendor_wheels()
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    properties.register()
    panels.register()


def unregister() -> None:
    """Undo :func:`register` in reverse order, after stopping a running job."""
    engine.shutdown()
    panels.unregister()
    properties.unregister()
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
