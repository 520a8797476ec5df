"""``python -m core`` runs the ``moodscore`` command line."""

import sys

from .cli import main

sys.exit(main())
