"""``moodscore batch``: score a whole footage library on local worker processes or a Dask cluster.

- :mod:`.inputs` turns the command line's files, folders and path lists into jobs with their
  output folders;
- :mod:`.jobs` is what a worker runs for one video, and what "already complete" means;
- :mod:`.ledger` keeps ``batch.csv`` up to date;
- :mod:`.pools` runs jobs on a local process pool or on a Dask distributed cluster;
- :mod:`.runner` drives a batch: skips, progress, cancellation, the exit status.
"""

from .runner import BatchSummary, run_batch

__all__ = ["BatchSummary", "run_batch"]
