"""Test material for the editor features: real speech (espeak-ng), clips with known cuts."""

from __future__ import annotations

import shutil
import subprocess
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

AUDIO_RATE = 48000

SENTENCES = (
    "The storm had passed by the time we reached the harbour, and nobody said a word.",
    "Keep the door closed while the projector is running, the light leaks into the hall.",
    "We will meet again at dawn near the old bridge, bring the letters with you.",
)


def require_espeak() -> str:
    """The espeak-ng binary, or skip with the command that installs it."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        pytest.skip("espeak-ng is not installed (sudo apt-get install espeak-ng)")
    return binary


def spoken(text: str, folder: Path, rate: int = AUDIO_RATE) -> np.ndarray:
    """``text`` spoken by espeak-ng as float mono samples at ``rate``, trimmed of silence."""
    from scipy.signal import resample_poly

    path = folder / f"speech-{abs(hash(text))}.wav"
    subprocess.run([require_espeak(), "-w", str(path), text], check=True, capture_output=True)
    with wave.open(str(path)) as source:
        native = source.getframerate()
        samples = np.frombuffer(source.readframes(source.getnframes()), "<i2") / 32768.0
    voiced = np.nonzero(np.abs(samples) > 0.01)[0]
    samples = samples[voiced[0] : voiced[-1] + 1]
    divisor = np.gcd(rate, native)
    return resample_poly(samples, rate // divisor, native // divisor).astype(np.float32)


def dialogue_track(
    seconds: float, lines: list[tuple[float, str]], folder: Path, rate: int = AUDIO_RATE
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """A mono track with each ``(start_s, text)`` spoken at its time over faint room noise.

    Returns the samples and the true (start_s, end_s) of each spoken line.
    """
    rng = np.random.default_rng(7)
    track = (0.002 * rng.standard_normal(round(seconds * rate))).astype(np.float32)
    truth = []
    for start_s, text in lines:
        voice = spoken(text, folder, rate)
        begin = round(start_s * rate)
        track[begin : begin + len(voice)] += 0.5 * voice[: len(track) - begin]
        truth.append((start_s, start_s + len(voice) / rate))
    return track, truth


def write_clip_with_audio(
    path: Path,
    seconds: float,
    *,
    fps: float = 25.0,
    audio: np.ndarray | None = None,
    cuts_s: tuple[float, ...] = (),
    size: tuple[int, int] = (160, 96),
    rate: int = AUDIO_RATE,
) -> Path:
    """An H.264 clip whose picture changes colour hard at ``cuts_s``, with an optional AAC track."""
    width, height = size
    palette = np.array(
        [
            [200, 40, 40],
            [40, 160, 220],
            [240, 220, 60],
            [30, 30, 30],
            [90, 200, 90],
            [220, 120, 250],
        ],
        np.uint8,
    )
    frame_rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=frame_rate)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = container.add_stream("aac", rate=rate) if audio is not None else None
        for index in range(round(seconds * fps)):
            shot = int(np.searchsorted(np.asarray(cuts_s), index / fps + 1e-9, side="right"))
            rgb = np.empty((height, width, 3), np.uint8)
            rgb[:] = palette[shot % len(palette)]
            rgb[: height // 3, : width // 3] = palette[(shot + 3) % len(palette)]
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            container.mux(video.encode(frame))
        container.mux(video.encode())
        if sound is not None:
            for start in range(0, len(audio), 1024):
                chunk = np.ascontiguousarray(audio[start : start + 1024], np.float32)
                frame = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
                frame.sample_rate = rate
                container.mux(sound.encode(frame))
            container.mux(sound.encode())
    return path
