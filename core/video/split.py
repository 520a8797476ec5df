"""Cut a video into segments without re-encoding (the original system's 30-second splitter)."""

from __future__ import annotations

import contextlib
import logging
import math
from pathlib import Path
from typing import cast

import av

from ..errors import InputError
from ..limits import MAX_DURATION_S
from ..outputs import Staging, locked_staging
from .packets import VideoSpan, verify_copy, with_decode_times

#: Shortest segment: a tenth of a second is already below one keyframe interval of any
#: real video, so shorter only makes one segment per keyframe.
MIN_SEGMENT_S = 0.1

log = logging.getLogger(__name__)


def split_video(video: Path, out_dir: Path, seconds: float, *, force: bool = False) -> list[Path]:
    """Write ``<stem>_partNNN<suffix>`` segments of about ``seconds`` each into ``out_dir``.

    Streams are copied packet for packet, so a segment starts on the first video keyframe at
    or after each boundary and segments may run a little longer than ``seconds``. Segments
    are written as temp files and renamed into place together at the end: a run that fails
    part-way (a full disk, a signal) leaves the folder as it was, old segments included.

    Returns
    -------
    list of Path
        The segment files, in order.
    """
    if not (math.isfinite(seconds) and MIN_SEGMENT_S <= seconds <= MAX_DURATION_S):
        raise InputError(
            f"--seconds must be a segment length between {MIN_SEGMENT_S:g} and "
            f"{MAX_DURATION_S:g} seconds, got {seconds!r}."
        )
    with locked_staging({}, out_dir) as staging, av.open(str(video)) as source:
        _copy_segments(source, video, out_dir, seconds, force, staging)
    return list(staging.targets.values())


def _segment_path(video: Path, out_dir: Path, index: int, force: bool) -> Path:
    path = out_dir / f"{video.stem}_part{index:03d}{video.suffix}"
    if path.exists() and not force:
        raise InputError(f"{path} already exists; pass --force to overwrite it.")
    if path.is_dir():
        raise InputError(f"{path} is a directory; remove it or choose another --out folder.")
    return path


def _copy_segments(
    source: av.container.InputContainer,
    video: Path,
    out_dir: Path,
    seconds: float,
    force: bool,
    staging: Staging,
) -> None:
    """Copy ``source`` into segments, each staged (as a temp file) under its file name."""
    video_in = source.streams.video[0]
    streams = [video_in, *source.streams.audio]
    written: list[tuple[Path, str, VideoSpan]] = []
    with contextlib.ExitStack() as segment:
        sink = None
        mapping: dict[int, av.stream.Stream] = {}
        segment_start = 0.0
        boundary = 0.0
        # Matroska gives the first packets no decode time: skipping them lost a single-keyframe
        # video entirely ("split into 0 segments").
        for packet in with_decode_times(source.demux(streams), video_in):
            # Keyframes are placed by presentation time: with B-frames their dts runs early.
            # with_decode_times fills in every dts.
            at = float(
                cast(int, packet.pts if packet.pts is not None else packet.dts) * packet.time_base
            )
            if packet.stream is video_in and packet.is_keyframe and at >= boundary - 1e-6:
                segment.close()  # finishes the previous segment's file
                final = _segment_path(video, out_dir, len(staging.targets) + 1, force)
                # The temp file keeps the target's suffix, so FFmpeg picks the muxer from it.
                temp = staging.add(final.name, final)
                sink = segment.enter_context(av.open(str(temp), "w"))
                mapping = {s.index: sink.add_stream_from_template(s, opaque=True) for s in streams}
                written.append((temp, final.name, VideoSpan()))
                segment_start = at
                boundary = (int(at // seconds) + 1) * seconds
            if sink is None:
                continue
            # One shift for every stream keeps audio and video in sync.
            start = round(segment_start / packet.time_base)
            packet.dts = cast(int, packet.dts) - start
            if packet.pts is not None:
                packet.pts -= start
            if packet.stream is video_in:
                written[-1][2].add(packet)
            packet.stream = mapping[packet.stream.index]
            sink.mux(packet)
    if not written:
        raise InputError(
            f"{video} has no video keyframe to start a segment at; re-encode it first "
            "(e.g. ffmpeg -i IN -c:v libx264 OUT.mp4)."
        )
    for temp, name, span in written:
        verify_copy(video, temp, span, name)
    log.info("split %s into %d segments", video, len(staging.targets))
