"""Cut a video into segments without re-encoding (the seed's 30-second splitter)."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import av

from ..errors import InputError
from ..files import atomic_path

log = logging.getLogger(__name__)


def split_video(video: Path, out_dir: Path, seconds: float, *, force: bool = False) -> list[Path]:
    """Write ``<stem>_partNNN<suffix>`` segments of about ``seconds`` each into ``out_dir``.

    Streams are copied packet for packet, so a segment starts on the first video keyframe at
    or after each boundary and segments may run a little longer than ``seconds``.

    Returns
    -------
    list of Path
        The segment files, in order.
    """
    if seconds <= 0:
        raise InputError("--seconds must be a positive number of seconds per segment.")
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    # Filled segment by segment, so a failure part-way can remove the segments already
    # published: a run leaves either every segment or none.
    written: list[Path] = []
    try:
        with av.open(str(video)) as source:
            _copy_segments(source, video, out_dir, seconds, force, written)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        if created:
            with contextlib.suppress(OSError):
                out_dir.rmdir()
        raise
    return written


def _segment_path(video: Path, out_dir: Path, index: int, force: bool) -> Path:
    path = out_dir / f"{video.stem}_part{index:03d}{video.suffix}"
    if path.exists() and not force:
        raise InputError(f"{path} already exists; pass --force to overwrite it.")
    return path


def _copy_segments(
    source: av.container.InputContainer,
    video: Path,
    out_dir: Path,
    seconds: float,
    force: bool,
    written: list[Path],
) -> None:
    """Copy ``source`` into segments, appending each segment's path to ``written``."""
    video_in = source.streams.video[0]
    streams = [video_in, *source.streams.audio]
    with contextlib.ExitStack() as segment:
        sink = None
        current: Path | None = None  # the segment being written, not yet published
        mapping: dict[int, av.stream.Stream] = {}
        segment_start = 0.0
        boundary = 0.0
        for packet in source.demux(streams):
            if packet.dts is None:
                continue
            # Keyframes are placed by presentation time: with B-frames their dts runs early.
            at = float((packet.pts if packet.pts is not None else packet.dts) * packet.time_base)
            if packet.stream is video_in and packet.is_keyframe and at >= boundary - 1e-6:
                segment.close()  # publishes the previous segment
                if current is not None:
                    written.append(current)
                current = _segment_path(video, out_dir, len(written) + 1, force)
                tmp = segment.enter_context(atomic_path(current))
                # The temp file keeps the target's suffix, so FFmpeg picks the muxer from it.
                sink = segment.enter_context(av.open(str(tmp), "w"))
                mapping = {s.index: sink.add_stream_from_template(s) for s in streams}
                segment_start = at
                boundary = (int(at // seconds) + 1) * seconds
            if sink is None:
                continue
            # One shift for every stream keeps audio and video in sync.
            start = round(segment_start / packet.time_base)
            packet.dts -= start
            if packet.pts is not None:
                packet.pts -= start
            packet.stream = mapping[packet.stream.index]
            sink.mux(packet)
    if current is not None:
        written.append(current)
    log.info("split %s into %d segments", video, len(written))
