"""Moodscore for Blender: score the selected VSE strip with music that follows its emotions.

Loads as a Blender 4.2+ extension (``blender_manifest.toml``) and the legacy way (``bl_info``,
Blender 3.4+). The add-on is glue: every stage is the engine's, the ``core`` subpackage
(``scripts/build_addon.py`` copies it into the built add-on; in the repository
:mod:`.core_link` loads the repository's ``core/`` under that name). Scoring runs in a separate
engine process (:mod:`.engine`), never in Blender's.
"""

import bpy

# ``dependencies`` first: importing it puts the legacy add-on's unpacked wheels on sys.path,
# which every later module (numpy, the engine's packages) needs.
from . import dependencies  # noqa: F401  (imported for that side effect)

# isort: split
# Then ``core_link``: in the repository, importing it loads ``core/`` as this package's ``core``.
from . import core_link  # noqa: F401  (imported for that side effect)

# isort: split
from . import engine, operators, panels, preferences, properties, score_files

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
    """Register classes and properties."""
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    properties.register()
    panels.register()
    operators.edit_aids.register()
    score_files.register()


def unregister() -> None:
    """Undo :func:`register` in reverse order, after stopping a running job."""
    engine.shutdown()
    score_files.unregister()
    operators.edit_aids.unregister()
    panels.unregister()
    properties.unregister()
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
