"""``moodscore batch``: score a whole footage library on local worker processes or a Dask cluster.

- :mod:`.inputs` turns the command line's files, folders and path lists into jobs with their
  output folders;
- :mod:`.jobs` is what a worker runs for one video, and what "already complete" means;
- :mod:`.ledger` keeps ``batch.csv`` up to date;
- :mod:`.pools` runs jobs on a local process pool or on a Dask distributed cluster;
- :mod:`.runner` drives a batch: skips, progress, cancellation, the exit status.
"""

from typing import Any

__all__ = ["BatchSummary", "run_batch"]


def __getattr__(name: str) -> Any:
    # Lazy: the fork server imports .forkserver_start first and must not pay for (or be
    # interruptible during) the scoring imports before it ignores Ctrl-C.
    if name in __all__:
        from . import runner

        return getattr(runner, name)
    raise AttributeError(name)
