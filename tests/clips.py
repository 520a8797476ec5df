"""Synthetic test material written with PyAV: clips whose content the tests know."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

FrameFn = Callable[[int, float], np.ndarray]


def write_clip(
    path: Path,
    frames: Iterable[np.ndarray],
    fps: float = 25.0,
    *,
    tone_hz: float | None = None,
    codec: str = "libx264",
) -> Path:
    """Encode RGB frames (H x W x 3, uint8) into a video; optionally add a sine-tone AAC track."""
    frames = iter(frames)
    first = next(frames)
    height, width = first.shape[:2]
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"g": str(round(fps))}
        audio = container.add_stream("aac", rate=48000) if tone_hz else None
        count = 0
        for frame_rgb in (first, *frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame_rgb), format="rgb24")
            container.mux(stream.encode(frame))
            count += 1
        container.mux(stream.encode())
        if audio is not None:
            _write_tone(container, audio, tone_hz, count / float(rate))
    return path


def _write_tone(container: av.container.OutputContainer, stream, hz: float, seconds: float) -> None:
    sr = 48000
    t = np.arange(int(sr * seconds)) / sr
    samples = (0.2 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    for start in range(0, len(samples), 1024):
        chunk = samples[start : start + 1024]
        frame = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
        frame.sample_rate = sr
        container.mux(stream.encode(frame))
    container.mux(stream.encode())


def render_frames(fn: FrameFn, seconds: float, fps: float) -> Iterable[np.ndarray]:
    """Frames ``fn(index, time_s)`` for ``seconds`` of video at ``fps``."""
    for i in range(round(seconds * fps)):
        yield fn(i, i / fps)


def dark_to_bright(width: int = 320, height: int = 180) -> FrameFn:
    """First half: dark, grey, still. Second half: bright, saturated, many hues, moving."""
    import cv2

    def frame(index: int, t: float, *, half: float = 4.0) -> np.ndarray:
        if t < half:
            return np.full((height, width, 3), 40, np.uint8)
        hsv = np.zeros((height, width, 3), np.uint8)
        stripes = (np.arange(width)[None, :] * 6 // width + index // 3) % 6
        hsv[..., 0] = (stripes * 30).astype(np.uint8)
        hsv[..., 1] = 230
        hsv[..., 2] = 240
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)

    return frame


def write_audio_only(path: Path, seconds: float = 1.0, hz: float = 440.0) -> Path:
    """An AAC file (e.g. ``.m4a``) with a sine tone and no video stream."""
    with av.open(str(path), "w") as container:
        _write_tone(container, container.add_stream("aac", rate=48000), hz, seconds)
    return path
