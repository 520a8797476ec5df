"""Operators: ``moodscore.score_strip``, ``moodscore.rescore_from_curves``, ``moodscore.cancel``."""

from . import cancel, scoring

CLASSES = (*scoring.CLASSES, *cancel.CLASSES)
