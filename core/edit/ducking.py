"""Lower the music under dialogue: a gain envelope from speech segments, applied to a WAV.

The music goes down *before* a line starts and comes back after it ends (the piece is known
in advance, so nothing has to react late), over ``fade_s`` each way, with a raised-cosine
shape in decibels. Lines closer together than two fades plus :data:`HOLD_S` are ducked as one,
so the music does not pump up between sentences. The same envelope is offered as keyframes
(time, gain) for an editor that keeps ducking editable, as the Blender add-on does.
"""

from __future__ import annotations

import contextlib
import threading
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import Cancelled, InputError
from ..files import atomic_path
from .speech import Segment, merge_segments

#: Gaps shorter than this (beyond the two fades) between lines stay ducked.
HOLD_S = 0.5
BLOCK_FRAMES = 1 << 16


def duck_intervals(segments: Sequence[Segment], fade_s: float) -> list[Segment]:
    """The stretches held fully down: speech segments with short gaps bridged."""
    return merge_segments(list(segments), 2.0 * fade_s + HOLD_S)


def attenuation_db(
    times: NDArray[Any], intervals: Sequence[Segment], amount_db: float, fade_s: float
) -> NDArray[Any]:
    """How many dB the music is lowered at each of ``times`` (0 away from speech).

    Parameters
    ----------
    times
        Seconds, ascending.
    intervals
        Fully ducked stretches from :func:`duck_intervals`.
    amount_db
        Reduction inside them.
    fade_s
        Length of the fade down before and back up after each stretch.
    """
    depth = np.zeros(len(times))
    if not len(times) or amount_db <= 0:
        return depth
    for start, end in intervals:
        lo, hi = np.searchsorted(times, [start - fade_s, end + fade_s])
        if lo >= hi:
            continue
        t = times[lo:hi]
        if fade_s > 0:
            into = np.clip((t - (start - fade_s)) / fade_s, 0.0, 1.0)
            out_of = np.clip(((end + fade_s) - t) / fade_s, 0.0, 1.0)
            shape = 0.5 - 0.5 * np.cos(np.pi * np.minimum(into, out_of))
        else:
            shape = ((t >= start) & (t <= end)).astype(float)
        depth[lo:hi] = np.maximum(depth[lo:hi], amount_db * shape)
    return depth


def keyframes(
    intervals: Sequence[Segment], amount_db: float, fade_s: float, duration_s: float
) -> list[tuple[float, float]]:
    """Volume keyframes ``(time_s, linear gain)``: full before each fade, lowered inside.

    Four points per stretch (fade start, full depth, end of depth, back to full), clipped to
    ``[0, duration_s]``; an editor interpolates between them.
    """
    low = 10.0 ** (-amount_db / 20.0)
    points: list[tuple[float, float]] = []
    for start, end in intervals:
        for time_s, gain in (
            (start - fade_s, 1.0),
            (start, low),
            (end, low),
            (end + fade_s, 1.0),
        ):
            clipped = min(max(time_s, 0.0), duration_s)
            if points and clipped <= points[-1][0]:
                continue  # a fade cut off by the start or the end of the piece
            points.append((clipped, gain))
    return points


_SAMPLE_TYPES = {2: "<i2", 4: "<i4"}


def duck_wav(
    path: str | Path,
    segments: Sequence[Segment],
    amount_db: float,
    fade_s: float,
    *,
    cancel: threading.Event | None = None,
) -> list[Segment]:
    """Lower the music in the PCM WAV at ``path`` under ``segments``, rewriting it atomically.

    Returns
    -------
    list of Segment
        The fully ducked stretches (see :func:`duck_intervals`).
    """
    intervals = duck_intervals(segments, fade_s)
    if not intervals or amount_db <= 0:
        return intervals
    path = Path(path)
    with contextlib.closing(wave.open(str(path), "rb")) as source:
        channels, width, rate, frames = source.getparams()[:4]
        if width not in _SAMPLE_TYPES:
            raise InputError(f"{path.name} is {8 * width}-bit PCM; ducking takes 16 or 32 bits.")
        dtype = np.dtype(_SAMPLE_TYPES[width])
        full = float(np.iinfo(dtype).max)
        with atomic_path(path) as tmp, contextlib.closing(wave.open(str(tmp), "wb")) as out:
            out.setparams(source.getparams())
            for block_start in range(0, frames, BLOCK_FRAMES):
                if cancel is not None and cancel.is_set():
                    raise Cancelled("Ducking was cancelled.")
                raw = source.readframes(BLOCK_FRAMES)
                block = np.frombuffer(raw, dtype).reshape(-1, channels).astype(np.float64)
                times = (block_start + np.arange(len(block))) / rate
                gain = 10.0 ** (-attenuation_db(times, intervals, amount_db, fade_s) / 20.0)
                scaled = np.rint(block * gain[:, None])
                out.writeframesraw(np.clip(scaled, -full - 1, full).astype(dtype).tobytes())
    return intervals
