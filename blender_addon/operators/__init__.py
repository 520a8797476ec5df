"""Operators: ``moodscore.score_strip``, ``moodscore.rescore_from_curves``, ``moodscore.cancel``."""

from . import cancel, edit_aids, scoring  # noqa: F401  (edit_aids registers itself, after the panels)

CLASSES = (*scoring.CLASSES, *cancel.CLASSES)
