"""A training run's record (``OUT/training.json``), readable without TensorFlow.

``--resume`` is checked against it before TensorFlow is imported: importing it prints half a
dozen log lines, which used to come before the one-sentence error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...errors import InputError

STATE_FILE = "training.json"


def state_path(out: Path) -> Path:
    """Where the run record of output folder ``out`` lives."""
    return out / STATE_FILE


def read_state(out: Path) -> dict[str, Any] | None:
    """The run record of an output folder, or ``None`` if it holds no run."""
    path = state_path(out)
    if not path.exists():
        return None
    try:
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return state
    except (OSError, ValueError):
        raise InputError(
            f"{path} is damaged; remove the folder's checkpoints or choose another --out."
        ) from None
