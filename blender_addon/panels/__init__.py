"""The Sequencer sidebar tab and the status-bar progress."""

from . import sidebar

CLASSES = sidebar.CLASSES
register = sidebar.register
unregister = sidebar.unregister
