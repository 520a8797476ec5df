"""Reading the WAVs Moodscore writes, for tests: no scipy needed (the bpy 5.2 environment has
none), 16-bit PCM and 32-bit float alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def read_wav_rate(path: Path) -> tuple[int, np.ndarray]:
    """Sample rate and frames x channels as floats: 16-bit PCM / 32768, 32-bit float as is."""
    data = path.read_bytes()
    position, fmt, bits, samples = 12, None, 16, None
    while position < len(data):
        chunk = data[position : position + 4]
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        body = data[position + 8 : position + 8 + size]
        if chunk == b"fmt ":
            fmt = [int.from_bytes(body[i : i + 2], "little") for i in (0, 2)]
            fmt.append(int.from_bytes(body[4:8], "little"))
            bits = int.from_bytes(body[14:16], "little")
        elif chunk == b"data":
            kind = "<f4" if fmt[0] == 3 or (fmt[0] == 0xFFFE and bits == 32) else "<i2"
            samples = np.frombuffer(body, kind).astype(np.float64)
            if kind == "<i2":
                samples /= 32768.0
        position += 8 + size + (size & 1)
    return fmt[2], samples.reshape(-1, fmt[1])


def read_wav(path: Path) -> np.ndarray:
    """Frames x channels as floats (see :func:`read_wav_rate`)."""
    return read_wav_rate(path)[1]


def rms_db(values: np.ndarray) -> float:
    """Mean power in dB relative to full scale (−240 for silence)."""
    return float(10 * np.log10(max(np.mean(values**2), 1e-24)))
