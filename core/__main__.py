"""``python -m core`` runs the ``moodscore`` command line."""

import sys

from .cli import main

# Guarded: a process pool that spawns its workers (Windows) imports the main module again.
if __name__ == "__main__":
    sys.exit(main())
