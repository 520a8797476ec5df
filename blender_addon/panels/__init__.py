"""The Sequencer sidebar tab and the job's progress in the status bar."""

from . import progress, sidebar

CLASSES = sidebar.CLASSES


def register() -> None:
    """Nothing beyond the classes: the status bar shows a job only while it runs."""


def unregister() -> None:
    """Give the status bar back if a job was showing in it."""
    progress.restore_status_bar()
