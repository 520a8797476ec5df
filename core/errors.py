"""Exceptions that carry a user-facing sentence."""


class MoodscoreError(Exception):
    """Base class for errors Moodscore reports to the user."""

    exit_code = 1


class InputError(MoodscoreError):
    """Bad input or usage: one sentence naming the problem and the fix; exit status 2."""

    exit_code = 2


class FolderBusy(InputError):
    """Another run holds the output folder's lock."""


class Cancelled(MoodscoreError):
    """The user cancelled a run (Ctrl-C, Esc in Blender, a cancel event)."""

    exit_code = 130
