"""Streaming decode for analysis: every frame once, cheap views of it, nothing kept.

Cut detection needs every frame, colour and faces only a few per step, so a decoded
:class:`Frame` offers a near-free strided thumbnail and zero-copy views of its planes (for face
crops), and, on request, the costlier scaled RGB picture for the sampled frames. Frames are never
accumulated: at most :data:`PREFETCH_FRAMES` decoded frames (plus FFmpeg's own thread queue)
are alive at a time, queued by the decode thread that overlaps decoding with the analysis.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Generator, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import cv2
import numpy as np
from numpy.typing import NDArray

from ..errors import Cancelled, InputError

# 8-bit planar YUV layouts whose planes can be read in place; anything else (RGB, 10-bit,
# NV12…) is converted once per frame to yuv420p, which is slower but correct.
PLANAR_FORMATS = {
    "yuv420p": (2, 2),
    "yuvj420p": (2, 2),
    "yuv422p": (2, 1),
    "yuvj422p": (2, 1),
    "yuv444p": (1, 1),
    "yuvj444p": (1, 1),
}
FULL_RANGE = 2  # AVCOL_RANGE_JPEG
FALLBACK_MAX_WIDTH = 1280
#: Frames the decode thread runs ahead of the analysis (about 3 MB each at 1080p).
PREFETCH_FRAMES = 6

logger = logging.getLogger(__name__)


class Frame:
    """One decoded video frame, valid only until the iterator advances.

    Attributes
    ----------
    index
        Position among the frames yielded (0 for the first frame at or after ``start_s``).
    time_s
        Presentation time in seconds from the start of the stream.
    """

    __slots__ = ("_frame", "_sub", "full_range", "index", "time_s")

    def __init__(self, frame: av.VideoFrame, index: int, time_s: float) -> None:
        if frame.format.name not in PLANAR_FORMATS:
            width = min(frame.width, FALLBACK_MAX_WIDTH)
            height = max(2, round(frame.height * width / frame.width / 2) * 2)
            frame = frame.reformat(width=width, height=height, format="yuv420p")
        self._frame = frame
        self._sub = PLANAR_FORMATS[frame.format.name]
        self.full_range = frame.format.name.startswith("yuvj") or frame.color_range == FULL_RANGE
        self.index = index
        self.time_s = time_s

    @property
    def width(self) -> int:
        return self._frame.width

    @property
    def height(self) -> int:
        return self._frame.height

    def plane(self, which: int) -> NDArray[Any]:
        """A zero-copy ``(rows, cols)`` uint8 view of plane 0 (Y), 1 (U) or 2 (V)."""
        plane = self._frame.planes[which]
        sub_x, sub_y = (1, 1) if which == 0 else self._sub
        rows, cols = -(-self.height // sub_y), -(-self.width // sub_x)
        # numpy's stubs for Python 3.11 take only bytes-like types, not any buffer (a plane).
        buffer = np.frombuffer(plane, np.uint8)  # type: ignore[call-overload]
        return cast(
            NDArray[Any], buffer[: rows * plane.line_size].reshape(rows, plane.line_size)[:, :cols]
        )

    def thumb(self, stride: int) -> NDArray[Any]:
        """Every ``stride``-th Y, U and V sample as an ``(h, w, 3)`` uint8 array.

        Point sampling costs microseconds even at 4K, which is what lets cut detection and
        motion run on every frame; the chroma planes are sampled on the same grid.
        """
        luma = self.plane(0)[::stride, ::stride]
        sub_x, sub_y = self._sub
        height, width = luma.shape
        # The chroma sample under luma pixel (r, c) is (r // sub_y, c // sub_x).
        rows = np.arange(height) * stride // sub_y
        cols = np.arange(width) * stride // sub_x
        out = np.empty((height, width, 3), np.uint8)
        out[..., 0] = luma
        out[..., 1] = self.plane(1)[np.ix_(rows, cols)]
        out[..., 2] = self.plane(2)[np.ix_(rows, cols)]
        return out

    def rgb(self, width: int) -> NDArray[Any]:
        """The picture as ``(h, w, 3)`` uint8 RGB scaled to ``width`` (keeps aspect)."""
        width = min(width, self.width)
        height = max(2, round(self.height * width / self.width))
        return self._frame.to_ndarray(
            width=width, height=height, format="rgb24", interpolation="AREA"
        )


def expand_limited_range(luma: NDArray[Any]) -> NDArray[Any]:
    """Map video-range luma (16-235) onto 0-255, as photos and face models expect."""
    flat = luma if luma.ndim == 2 else luma.reshape(-1, luma.shape[-1])
    stretched = cv2.convertScaleAbs(flat, alpha=255.0 / 219.0, beta=-16.0 * 255.0 / 219.0)
    return stretched.reshape(luma.shape)


def stride_for(width: int, target_width: int) -> int:
    """The sampling stride that brings ``width`` down to about ``target_width`` (at least 1)."""
    return max(1, round(width / target_width))


def iter_frames(
    path: str | Path,
    *,
    start_s: float = 0.0,
    end_s: float | None = None,
    cancel: threading.Event | None = None,
    fast: bool = True,
    prefetch: int | None = None,
) -> Iterator[Frame]:
    """Decode the first video stream from ``start_s`` to ``end_s``, one frame at a time.

    Decoding runs in a thread of its own, ``prefetch`` frames ahead of the caller, so the
    caller's analysis of one frame overlaps the decoding of the next ones (PyAV releases the
    GIL while FFmpeg decodes). The frames and their order are exactly those of decoding in the
    caller's thread.

    Parameters
    ----------
    path
        Video file (already checked with :func:`core.video.probe.probe`).
    start_s, end_s
        Time range in seconds from the stream start; frames before ``start_s`` are decoded
        (after a seek to the keyframe before it) but not yielded.
    cancel
        Checked before every frame; when set, :class:`core.errors.Cancelled` is raised.
    fast
        Skip the in-loop deblocking filter: pictures are slightly blockier, decoding is
        about 15-25 % cheaper. Right for analysis, wrong for anything shown to people.
    prefetch
        Frames decoded ahead in the decode thread (default :data:`PREFETCH_FRAMES`); 0 decodes
        in the caller's thread.

    Raises
    ------
    InputError
        When the stream turns out to be corrupt mid-way.
    """
    depth = PREFETCH_FRAMES if prefetch is None else prefetch
    frames = _decode(Path(path), start_s, end_s, fast)
    source = _prefetched(frames, depth) if depth > 0 else frames
    try:
        for frame in source:
            if cancel is not None and cancel.is_set():
                raise Cancelled("Analysis cancelled.")
            yield frame
    finally:
        source.close()


def set_decode_threads(threads: int | None) -> None:
    """FFmpeg decoding threads per video in this process (``None``: FFmpeg's choice).

    A batch worker sharing the machine with other workers takes its share of the cores
    instead of one thread per core each: frame threading costs extra CPU that only pays
    while cores would otherwise sit idle.
    """
    global _decode_threads
    _decode_threads = threads


_decode_threads: int | None = None


def _decode(
    path: Path, start_s: float, end_s: float | None, fast: bool
) -> Generator[Frame, None, None]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if _decode_threads:
            stream.codec_context.thread_count = _decode_threads
        if fast:
            # Deblocking is a sizeable share of H.264/HEVC decode time and changes nothing
            # that thumbnails, colour clusters or face crops can see.
            stream.codec_context.options = {"skip_loop_filter": "all"}
        time_base = float(cast(Fraction, stream.time_base))  # a demuxed stream has one
        origin = stream.start_time or 0
        if start_s > 0:
            container.seek(origin + int(start_s / time_base), stream=stream, backward=True)
        index = 0
        try:
            for decoded in container.decode(stream):
                if decoded.pts is None:
                    continue
                time_s = (decoded.pts - origin) * time_base
                if time_s < start_s - 1e-6:
                    continue
                if end_s is not None and time_s >= end_s - 1e-6:
                    break
                yield Frame(decoded, index, time_s)
                index += 1
        except av.error.FFmpegError as exc:
            if index == 0:
                raise InputError(
                    f"{path.name} has no decodable video frame in the chosen range "
                    f"({type(exc).__name__}); re-export the video."
                ) from None
            # A damaged tail should not throw away a whole analysis: keep what decoded.
            logger.warning(
                "%s stops decoding after %d frames (%s); analysing the decodable part.",
                path.name,
                index,
                type(exc).__name__,
            )


_END = object()


def _prefetched(frames: Generator[Frame, None, None], depth: int) -> Generator[Frame, None, None]:
    """``frames`` produced by a decode thread through a queue of ``depth`` frames.

    An error in the decode thread is raised in the caller at the point the stream reached;
    when the caller stops early (a break, an exception, a signal) the thread is told to stop,
    closes the file and is joined before this generator returns.
    """
    handoff: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        outcome: Any = _END
        try:
            for frame in frames:
                if not put(frame):
                    return
        except BaseException as exc:  # handed to the caller's thread, which raises it
            outcome = exc
        finally:
            frames.close()
        put(outcome)

    thread = threading.Thread(target=produce, name="moodscore-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
