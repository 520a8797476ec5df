"""Command-line options of the editor features: ``--bpm auto``, ``--bpm-range``, ``--duck``,
``--duck-fade`` and ``--stems``."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InputError
from ..limits import quoted

#: Reduction under speech when ``--duck`` is given without a number.
DEFAULT_DUCK_DB = 10.0


def bpm_option(text: str) -> float | str:
    """``--bpm``'s value: a number, or ``auto``."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a tempo such as 96 or 'auto', got {quoted(text)}"
        ) from None


def _bpm_range(text: str) -> tuple[float, float]:
    low, sep, high = text.partition("-")
    try:
        if not sep:
            raise ValueError
        return float(low), float(high)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected two tempi as LO-HI, such as 70-140, got {quoted(text)}"
        ) from None


def add_edit_arguments(parser: argparse.ArgumentParser, *, video: bool) -> None:
    """Add the options; ``video`` adds the ducking ones (they listen to the video's audio)."""
    parser.add_argument(
        "--bpm-range",
        metavar="LO-HI",
        type=_bpm_range,
        help="tempo range --bpm auto chooses from (default 70-140)",
    )
    parser.add_argument(
        "--stems",
        action="store_true",
        default=None,
        help="also write one WAV per part (<stem>.melody.wav, ...) that sum to the mix",
    )
    if not video:
        return
    parser.add_argument(
        "--duck",
        metavar="DB",
        nargs="?",
        type=float,
        const=DEFAULT_DUCK_DB,
        help=f"lower the music by DB under speech in the video (default {DEFAULT_DUCK_DB:g})",
    )
    parser.add_argument(
        "--duck-fade",
        metavar="MS",
        type=float,
        help="fade into and out of ducking over MS milliseconds (default 250)",
    )


def edit_overrides(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str]]:
    """Dotted config overrides and their option labels; takes ``auto`` out of ``args.bpm``."""
    overrides: dict[str, Any] = {}
    labels: dict[str, str] = {}

    def put(key: str, value: Any, option: str) -> None:
        overrides[key] = value
        labels[key] = option

    auto = getattr(args, "bpm", None) == "auto"
    if getattr(args, "bpm_range", None) is not None and not auto:
        raise InputError("--bpm-range is the range --bpm auto chooses from; add --bpm auto.")
    if auto:
        if not hasattr(args, "stems"):
            raise InputError(
                "--bpm auto picks the music's tempo, and this command writes no music; "
                "give a number, e.g. --bpm 120."
            )
        args.bpm = None
        put("edit.bpm_auto", True, "--bpm")
    if getattr(args, "bpm_range", None) is not None:
        low, high = args.bpm_range
        put("edit.bpm_low", low, "--bpm-range")
        put("edit.bpm_high", high, "--bpm-range")
    if getattr(args, "stems", None):
        put("edit.stems", True, "--stems")
    if getattr(args, "duck", None) is not None:
        put("edit.duck", True, "--duck")
        put("edit.duck_db", args.duck, "--duck")
    if getattr(args, "duck_fade", None) is not None:
        put("edit.duck_fade_ms", args.duck_fade, "--duck-fade")
    return overrides, labels
