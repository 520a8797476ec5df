"""``python -m core`` runs the ``moodscore`` command line."""

import sys

from .cli import main

# Guarded: importing this module (pydoc, a test collector) must not run the command line.
if __name__ == "__main__":
    sys.exit(main())
