"""``batch.csv``: one row per input, rewritten atomically as jobs finish.

A reader (a person, a spreadsheet, a monitoring script) always sees a whole table: each update
goes to a temp file renamed over the last one. Updates are throttled to one a second so a batch
of thousands of short clips does not spend its time rewriting the table.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..files import write_text_atomic
from .jobs import PENDING

NAME = "batch.csv"
HEADER = ("path", "status", "seconds", "output folder", "error")


@dataclass
class Row:
    """One input's line of the table."""

    path: Path
    out_dir: Path
    status: str = PENDING
    seconds: float | None = None
    error: str = ""


class Ledger:
    """The rows of a batch and the file they are written to."""

    def __init__(self, out_root: Path, rows: list[Row], *, min_interval_s: float = 1.0) -> None:
        self.path = out_root / NAME
        self.rows = rows
        self.min_interval_s = min_interval_s
        self._written_at = -float("inf")
        self._dirty = False

    def update(self, index: int, status: str, seconds: float | None, error: str = "") -> None:
        """Record how input ``index`` ended and write the table unless it was just written."""
        row = self.rows[index]
        row.status, row.seconds, row.error = status, seconds, error
        self._dirty = True
        self.write_if_due()

    def write_if_due(self) -> None:
        """Write pending updates unless the table was written less than a second ago."""
        if self._dirty and time.monotonic() - self._written_at >= self.min_interval_s:
            self.write()

    def write(self) -> None:
        """Write the whole table now (atomically)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(HEADER)
        for row in self.rows:
            seconds = "" if row.seconds is None else f"{row.seconds:.2f}"
            writer.writerow((row.path, row.status, seconds, row.out_dir, row.error))
        write_text_atomic(self.path, buffer.getvalue())
        self._written_at = time.monotonic()
        self._dirty = False

    def flush(self) -> None:
        """Write the table if an update is not on disk yet."""
        if self._dirty:
            self.write()

    def count(self, status: str) -> int:
        return sum(row.status == status for row in self.rows)


def check_replaceable(out_root: Path) -> None:
    """Refuse to replace a ``batch.csv`` that is not a Moodscore batch table."""
    path = out_root / NAME
    if not path.exists():
        return
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            first = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError, csv.Error):
        first = None
    if first is None or tuple(first) != HEADER:
        raise InputError(
            f"{path} exists and is not a Moodscore batch table; move it or choose another --out "
            "folder."
        )
