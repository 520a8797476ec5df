"""Put the music into the video: the input's video packets copied as they are, music as AAC."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Generator
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av

from ..errors import Cancelled
from ..files import atomic_path
from .packets import verify_copy, video_span, with_decode_times

log = logging.getLogger(__name__)

#: Containers an MP4 can carry without re-encoding.
_MP4_AUDIO_CODECS = {"aac", "mp3", "alac", "opus", "ac3", "eac3", "flac"}


def _aac_packets(
    wav: Path, stream: av.audio.stream.AudioStream
) -> Generator[av.Packet[Any], None, None]:
    with av.open(str(wav)) as source:
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=stream.rate)
        for frame in source.decode(audio=0):
            for resampled in resampler.resample(frame):
                yield from stream.encode(resampled)
        for resampled in resampler.resample(None):
            yield from stream.encode(resampled)
    yield from stream.encode(None)


def _seconds(packet: av.Packet[Any]) -> float:
    stamp = packet.dts if packet.dts is not None else packet.pts
    return float(stamp * packet.time_base) if stamp is not None else 0.0


def mux(
    video: Path,
    wav: Path,
    out: Path,
    *,
    keep_original_audio: bool = False,
    audio_bitrate: int = 192_000,
    progress: Callable[[float], None] | None = None,
    cancel: threading.Event | None = None,
) -> None:
    """Write ``out`` (MP4): ``video``'s video stream copied packet for packet plus ``wav`` as AAC.

    With ``keep_original_audio`` the source's first audio track follows as a second track
    (copied when MP4 can carry its codec, otherwise re-encoded to AAC). The written file is
    read back before it is published: it must hold every video packet of the source over
    the same span of time (:func:`~core.video.packets.verify_copy`).
    """
    with av.open(str(video)) as source, atomic_path(out) as tmp:
        video_in = source.streams.video[0]
        original = source.streams.audio[0] if keep_original_audio and source.streams.audio else None
        time_base = cast(Fraction, video_in.time_base)  # a demuxed stream has one
        duration = float(video_in.duration * time_base) if video_in.duration else 0.0
        with av.open(str(tmp), "w", format="mp4") as sink, contextlib.ExitStack() as stack:
            video_out = sink.add_stream_from_template(video_in, opaque=True)
            music = sink.add_stream("aac", rate=48000, layout="stereo")
            music.bit_rate = audio_bitrate
            original_out = _original_audio_stream(sink, original) if original else None
            # Closed explicitly so a cancel or error releases the WAV at once.
            music_packets = stack.enter_context(contextlib.closing(_aac_packets(wav, music)))
            pending = next(music_packets, None)
            demuxed = [video_in] + ([original] if original else [])
            for packet in with_decode_times(source.demux(demuxed), video_in):
                if cancel is not None and cancel.is_set():
                    raise Cancelled("Scoring was cancelled; no video was written.")
                now = _seconds(packet)
                # Interleave the music by time so players need no large buffers.
                while pending is not None and _seconds(pending) <= now:
                    sink.mux(pending)
                    pending = next(music_packets, None)
                if packet.stream is video_in:
                    packet.stream = video_out
                    sink.mux(packet)
                    if progress and duration:
                        progress(min(1.0, now / duration))
                else:
                    assert original_out is not None  # the packet is the original audio's
                    _mux_original(sink, original_out, packet)
            while pending is not None:
                sink.mux(pending)
                pending = next(music_packets, None)
            if original_out is not None and original_out.codec_context.is_encoder:
                sink.mux(original_out.encode(None))
        # Counted from the source itself, not from what the loop copied: a packet the copy
        # skipped must show.
        verify_copy(video, tmp, video_span(video), "MP4")
    log.debug("muxed %s", out)


def _original_audio_stream(
    sink: av.container.OutputContainer, original: av.audio.stream.AudioStream
) -> av.audio.stream.AudioStream:
    if original.codec_context.name in _MP4_AUDIO_CODECS:
        return sink.add_stream_from_template(original)
    reencoded = sink.add_stream("aac", rate=original.rate or 48000)
    reencoded.bit_rate = 192_000
    return reencoded


def _mux_original(
    sink: av.container.OutputContainer, stream: av.audio.stream.AudioStream, packet: av.Packet[Any]
) -> None:
    if not stream.codec_context.is_encoder:
        packet.stream = stream
        sink.mux(packet)
        return
    for frame in packet.decode():
        sink.mux(stream.encode(cast(av.AudioFrame, frame)))  # an audio packet's frames
