"""``python -m core`` runs the ``moodscore`` command line."""

import sys

from .signals import exit_quietly_on_stop_signals

# Guarded: importing this module (pydoc, a test collector) must not run the command line.
if __name__ == "__main__":
    # Before the command line's heavy imports: a Ctrl-C during them exits 130, quietly.
    exit_quietly_on_stop_signals()
    from .cli import main

    sys.exit(main())
