"""Open a video file and read its facts, turning every kind of bad input into one sentence."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from ..errors import InputError


@dataclass(frozen=True)
class VideoInfo:
    """Facts about a video file's first video stream."""

    path: Path
    duration_s: float
    fps: float
    width: int
    height: int
    codec: str
    has_audio: bool


def _stream_duration_s(container: av.container.InputContainer) -> float:
    stream = container.streams.video[0]
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return 0.0


def probe(path: str | Path) -> VideoInfo:
    """Read a video's duration, frame rate, size and codec, checking it decodes.

    Raises
    ------
    InputError
        For a missing path, a folder, a file that is not a video, an audio-only file or a
        video with no decodable frame.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"Video {path} does not exist; check the path.")
    if path.is_dir():
        raise InputError(f"{path} is a directory; pass a video file such as clip.mp4.")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError):
        raise InputError(
            f"{path} is not a readable video (FFmpeg cannot open it); pass an MP4, MOV, MKV "
            "or other video file."
        ) from None
    with container:
        if not container.streams.video:
            kind = "an audio-only file" if container.streams.audio else "not a video"
            raise InputError(f"{path} is {kind}: it has no video stream; pass a video file.")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        info = VideoInfo(
            path=path,
            duration_s=_stream_duration_s(container),
            fps=float(rate),
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            codec=stream.codec_context.name,
            has_audio=bool(container.streams.audio),
        )
        if not _first_frame_decodes(container):
            raise InputError(
                f"{path} has no decodable video frame (truncated or corrupt?); re-export it."
            )
    return info


def _first_frame_decodes(container: av.container.InputContainer) -> bool:
    try:
        for _ in container.decode(video=0):
            return True
    except av.error.FFmpegError:
        return False
    return False
