"""Open a video file and read its facts, turning every kind of bad input into one sentence."""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from ..errors import InputError
from ..files import check_input_file


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
    check_input_file(path, "Video", "pass a video file such as clip.mp4")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError):
        raise InputError(
            f"{path} is not a readable video (FFmpeg cannot open it); pass an MP4, MOV, MKV "
            "or other video file."
        ) from None
    with container:
        # FFmpeg opens a single picture as a one-frame "video" (png_pipe, image2 ...).
        if container.format.name == "image2" or container.format.name.endswith("_pipe"):
            raise InputError(
                f"{path} is a still image ({container.format.name.removesuffix('_pipe')}), "
                "not a video; pass a video file."
            )
        if not container.streams.video:
            kind = "an audio-only file" if container.streams.audio else "not a video"
            raise InputError(f"{path} is {kind}: it has no video stream; pass a video file.")
        stream = container.streams.video[0]
        if stream.codec_context is None:
            raise InputError(
                f"{path} holds video in a codec this FFmpeg build has no decoder for; "
                "re-encode it to H.264 (e.g. ffmpeg -i IN -c:v libx264 OUT.mp4)."
            )
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        info = VideoInfo(
            path=path,
            duration_s=_stream_duration_s(container),
            fps=float(rate),
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            codec=stream.codec_context.codec.canonical_name,
            has_audio=bool(container.streams.audio),
        )
        if not _first_frame_decodes(container):
            raise InputError(
                f"{path} has no decodable video frame (truncated or corrupt?); re-export it."
            )
    return info


def check_remuxable(info: VideoInfo, container_format: str) -> None:
    """Refuse up front a video stream that ``container_format`` cannot carry as it is.

    Scored videos and split segments copy the video packets without re-encoding, so the
    output container must take the source codec (MP4 takes H.264, HEVC, AV1, VP9, MPEG-4;
    not e.g. Theora or raw video).
    """
    with (
        av.open(str(info.path)) as source,
        av.open(io.BytesIO(), "w", format=container_format) as sink,
    ):
        try:
            sink.add_stream_from_template(source.streams.video[0], opaque=True)
        except (ValueError, av.error.FFmpegError):
            kind = container_format.upper()
            raise InputError(
                f"{info.path} holds {info.codec.upper()} video, which an {kind} file cannot "
                "carry without re-encoding; re-encode it to H.264 first."
            ) from None


def muxer_for(path: Path) -> str:
    """The FFmpeg muxer that writes files named like ``path`` (split segments keep its suffix)."""
    try:
        # An output container only opens its file when the first packet is written.
        with av.open(f"probe{path.suffix}", "w") as sink:
            return sink.format.name.split(",")[0]
    except (ValueError, av.error.FFmpegError, OSError):
        raise InputError(
            f"FFmpeg cannot write '{path.suffix}' files, so {path.name} cannot be split "
            "without re-encoding; convert it to MP4 first."
        ) from None


def _first_frame_decodes(container: av.container.InputContainer) -> bool:
    try:
        for _ in container.decode(video=0):
            return True
    except av.error.FFmpegError:
        return False
    return False
