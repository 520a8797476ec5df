"""The ``moodscore batch`` subcommand: its options and its run."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from ..cli_options import add_common, add_sources, resolve_config
from ..edit.cli import add_edit_arguments
from ..errors import InputError

log = logging.getLogger(__name__)

EPILOG = """examples:
  moodscore batch footage/ --out scored/                  # every video under footage/, all cores
  moodscore batch clips.txt a.mp4 --out scored/ --workers 1 --generator rbm-sampling --seed 3
  moodscore batch /mnt/library --out /mnt/scored --scheduler tcp://10.0.0.5:8786

A rerun skips videos whose outputs are complete (--force rescores them). Exit status: 0 when
every video is scored, 1 when any failed (see OUT/batch.csv), 2 for bad usage, 130 on Ctrl-C."""


def add_batch_parser(
    subparsers: argparse._SubParsersAction[Any],
) -> argparse.ArgumentParser:
    """Register ``batch`` with the scoring options it shares with ``moodscore score``."""
    batch: argparse.ArgumentParser = subparsers.add_parser(
        "batch",
        help="score many videos: files, folders or path lists, on all cores or a Dask cluster",
        description="Score every video the inputs name into OUT/<relative path>_moodscore/.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    batch.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="INPUT",
        help="a video file, a folder (searched recursively) or a .txt file of paths",
    )
    add_common(batch, music=True)
    for action in batch._actions:
        if action.dest == "out":  # the shared option's help describes single-video runs
            action.required = True
            action.help = "output folder; each video gets OUT/<relative path>_moodscore/"
    add_sources(batch)
    add_edit_arguments(batch, video=True)
    batch.add_argument(
        "--keep-original-audio",
        action="store_true",
        default=None,
        help="keep the source audio as a second track",
    )
    batch.add_argument(
        "--workers",
        metavar="N",
        type=int,
        help="local worker processes (default: one per core)",
    )
    batch.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on a Dask distributed cluster, e.g. tcp://HOST:8786 (needs a shared file system)",
    )
    batch.set_defaults(run=run_batch_command)
    return batch


def run_batch_command(args: argparse.Namespace) -> int:
    """Run ``moodscore batch``; returns 0 (all scored), 1 (some failed); raises for usage."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    from .inputs import collect
    from .runner import run_batch

    if args.scheduler is not None:
        from .pools import check_scheduler_address

        check_scheduler_address(args.scheduler)
    if args.workers is not None and args.scheduler is not None:
        raise InputError(
            "--workers sets the local pool; with --scheduler the cluster's workers do the work, "
            "so leave out --workers."
        )
    if args.workers is not None and not 1 <= args.workers <= 1024:
        raise InputError(f"--workers must be between 1 and 1024, got {args.workers}.")
    config = resolve_config(args)
    found = collect(args.inputs, args.out)
    with logging_redirect_tqdm():  # warnings print above the progress bar, not through it
        summary = run_batch(
            found,
            args.out,
            config,
            force=args.force,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=not args.quiet,
        )
    print(
        f"moodscore: batch: {summary.scored} scored, {summary.skipped} already complete, "
        f"{summary.failed} failed; table in {summary.table}"
    )
    return summary.exit_code
