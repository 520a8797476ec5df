"""What Blender and its engine process say to each other: the event names, in one place.

Both sides load this file: :mod:`.engine` imports it with the add-on, and the engine process
(``engine_worker.py``, run as a script with the standard library only) loads it from its own
folder. It therefore imports nothing but the standard library.

The engine appends one JSON object per line to the job's events file; ``"event"`` holds one of
the :class:`Event` values and the other keys are that event's fields.
"""

from __future__ import annotations

from enum import StrEnum


class Event(StrEnum):
    """The kinds of line in the events file."""

    #: The engine has imported its packages and waits for its job (no fields).
    READY = "ready"
    #: A request's stage and overall fraction (``index``, ``stage``, ``fraction``).
    PROGRESS = "progress"
    #: Something the user should know that did not stop the work (``message``, ``source``:
    #: the name of the logger that warned), e.g. a cloud fallback or a clipped synthesizer.
    WARNING = "warning"
    #: One request scored (``key``, ``outputs``, ``timeline``).
    OUTCOME = "outcome"
    #: Every request scored.
    DONE = "done"
    #: The job failed (``kind``: the exception's class name, ``message``, ``expected``:
    #: whether it is one of Moodscore's own errors, whose message is meant for the user).
    ERROR = "error"


#: The JSON key naming a line's event.
EVENT_KEY = "event"
