"""Imported first by the fork server (see :data:`.pools.WORKER_PRELOAD`), and only there.

The fork server imports the scoring code before it ignores Ctrl-C itself; a Ctrl-C reaches the
whole process group, so one during those imports printed a ``KeyboardInterrupt`` traceback
from the server. The batch decides when its workers stop (``_init_local_worker``).
"""

import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)
