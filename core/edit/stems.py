"""``--stems``: one WAV per part (melody, figuration, harmony, bass, percussion).

Each part is rendered on its own through the same synthesizer, DC blocker and end fade as the
mix's first pass, at the channel volumes the loudness matching gave the whole score (not matched
again alone), and every stem gets the mix's mastering: its one loudness gain and, frame by
frame, the gain its true-peak limiter applied (read back from the mastered mix), so the stems
add up to the mix as written. FluidSynth's parts do not add up exactly, though: rendered alone,
a part differs from its share of the mix by up to about -43 dBFS in the 64-frame block where a
note starts as another voice ends (measured with FluidR3_GM, with and without reverb, one or two
cores, any polyphony). So the last stem is the mix minus the other stems, and that small
difference sits in it.
"""

from __future__ import annotations

import contextlib
import struct
import tempfile
import threading
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from ..files import atomic_path
from ..music.config import RenderConfig
from ..music.instruments import ROLE_CHANNELS
from ..music.master import DcBlocker
from ..music.render import SAMPLE_WIDTH, _fade_out
from ..music.score import Score, Track
from ..music.synth import BLOCK_FRAMES, CHANNELS, matched_volumes, synthesize

#: MIDI channel -> role (the stem's name); parts on other channels count as melody.
_ROLE_OF_CHANNEL = {channel: role for role, channel in ROLE_CHANNELS.items()}


#: Below this level (about -60 dBFS) a frame of the mix is too quiet to read the limiter's gain
#: from; it is interpolated there from the louder frames around.
GAIN_READ_FLOOR = 1e-3


def stem_parts(score: Score) -> dict[str, list[Track]]:
    """The score's tracks grouped by role, in the order of :data:`ROLE_CHANNELS`."""
    parts: dict[str, list[Track]] = {}
    for track in score.tracks:
        if track.notes:
            parts.setdefault(_ROLE_OF_CHANNEL.get(track.channel, "melody"), []).append(track)
    return {role: parts[role] for role in ROLE_CHANNELS if role in parts}


def render_float(
    score: Score,
    spool: IO[bytes],
    config: RenderConfig,
    duration_s: float,
    soundfont: Path,
    cancel: threading.Event | None = None,
    volumes: dict[int, int] | None = None,
) -> int:
    """Render ``score`` into ``spool`` as the mix's first pass does (float32 stereo, DC-blocked,
    faded at the end); returns the frame count. ``volumes`` (CC 7 per channel) replace the
    loudness matching of ``score`` itself (see :func:`render_stems`)."""
    rate = int(config.sample_rate)
    total = round(duration_s * rate)
    fade = min(total, round(config.fade_s * rate))
    dc_blocker = DcBlocker(rate, CHANNELS)
    start = 0
    blocks = synthesize(score, soundfont, rate, total, cancel, synth=config.synth, volumes=volumes)
    with contextlib.closing(blocks):
        for synthesized in blocks:
            block = dc_blocker(synthesized)
            if start + len(block) > total - fade:
                block *= _fade_out(total, fade, start, len(block))[:, None]
            spool.write(block.astype(np.float32).tobytes())
            start += len(block)
    return total


def render_stems(
    score: Score,
    paths: dict[str, Path],
    config: RenderConfig,
    duration_s: float,
    soundfont: Path,
    gain_db: float,
    *,
    mastered: Path | None = None,
    cancel: threading.Event | None = None,
) -> list[str]:
    """Write each role in ``paths`` that the score plays as a float32 WAV, scaled by ``gain_db``.

    With ``mastered`` (the mix as written), the stems also follow the mix's true-peak limiter:
    its gain is read back from that file (:func:`limiter_gain`).

    Returns
    -------
    list of str
        The roles written.
    """
    gain = 10.0 ** (gain_db / 20.0)
    parts = {role: tracks for role, tracks in stem_parts(score).items() if role in paths}
    if not parts:
        return []
    folder = next(iter(paths.values())).parent
    *alone, last = parts
    rate = int(config.sample_rate)
    with (
        tempfile.TemporaryFile(prefix=".moodscore-stem-", dir=folder) as mix,
        tempfile.TemporaryFile(prefix=".moodscore-stem-", dir=folder) as others,
        tempfile.TemporaryFile(prefix=".moodscore-stem-", dir=folder) as curve,
    ):
        # The parts keep the channel volumes matched on the whole score: matched alone, a part
        # could move by the common shift that keeps every boost under CC 7's 127.
        volumes = (
            matched_volumes(score, soundfont, synth=config.synth) if config.match_balance else {}
        )
        total = render_float(score, mix, config, duration_s, soundfont, cancel, volumes)
        limited = mastered is not None and limiter_gain(mix, mastered, gain, total, curve)
        gains = curve if limited else None
        others.write(bytes(total * CHANNELS * 4))
        for role in alone:
            part = Score(score.bpm, parts[role], score.length_ticks, score.ticks_per_beat)
            with tempfile.TemporaryFile(prefix=".moodscore-stem-", dir=folder) as spool:
                render_float(part, spool, config, duration_s, soundfont, cancel, volumes)
                _add(others, spool, total)
                _write_wav(spool, total, gain, paths[role], rate, gains)
        _add(mix, others, total, -1.0)  # what the mix holds beyond the parts alone
        _write_wav(mix, total, gain, paths[last], rate, gains)
    return [*alone, last]


def limiter_gain(mix: IO[bytes], mastered: Path, gain: float, total: int, curve: IO[bytes]) -> bool:
    """Write to ``curve`` (float32 per frame) the gain the mix's limiter applied on top of
    ``gain``; returns whether it acted at all.

    Read back from the mastered 16-bit file against the unlimited float mix: 1 wherever the
    file is the plain gain within rounding, else per frame the least-squares ratio of the two
    channels, interpolated over frames too quiet (below :data:`GAIN_READ_FLOOR`) to read it.
    """
    acted = False
    with contextlib.closing(wave.open(str(mastered), "rb")) as source:
        if source.getnframes() != total or source.getsampwidth() != SAMPLE_WIDTH:
            return False
        for _, block in _blocks(mix, total):
            plain = block.reshape(-1, CHANNELS).astype(np.float64) * gain * 32767.0
            written = np.frombuffer(source.readframes(len(plain)), "<i2").reshape(-1, CHANNELS)
            ratio = np.ones(len(plain))
            if np.abs(np.clip(np.rint(plain), -32768, 32767) - written).max() > 1:
                acted = True
                power = (plain * plain).sum(axis=1)
                loud = np.nonzero(power > (GAIN_READ_FLOOR * 32767.0) ** 2)[0]
                if len(loud):
                    measured = (plain[loud] * written[loud]).sum(axis=1) / power[loud]
                    ratio = np.interp(np.arange(len(plain)), loud, measured)
            curve.write(np.clip(ratio, 0.0, 1.0).astype(np.float32).tobytes())
    return acted


def _blocks(spool: IO[bytes], total: int) -> Iterator[tuple[int, NDArray[Any]]]:
    spool.seek(0)
    for start in range(0, total, BLOCK_FRAMES):
        count = min(BLOCK_FRAMES, total - start)
        yield start, np.frombuffer(spool.read(count * CHANNELS * 4), np.float32)


def _add(into: IO[bytes], spool: IO[bytes], total: int, sign: float = 1.0) -> None:
    """``into += sign * spool``, block by block, in place (float32 stereo spools)."""
    for start, block in _blocks(spool, total):
        into.seek(start * CHANNELS * 4)
        current = np.frombuffer(into.read(len(block) * 4), np.float32)
        into.seek(start * CHANNELS * 4)
        into.write((current + np.float32(sign) * block).tobytes())


#: 32-bit float WAV (WAVE_FORMAT_IEEE_FLOAT): a part may peak above full scale where another
#: part cancels it in the mix, and float keeps it, so the stems still add up to the mix.
_FLOAT_FORMAT = 3
#: A 16-bit reader's full scale (32768) over the writer's (32767): a float stem sample matches
#: the value a reader gives the mix's 16-bit samples.
_READER_SCALE = 32767.0 / 32768.0


def _float_wav_header(frames: int, rate: int) -> bytes:
    """RIFF header of a float32 stereo WAV of ``frames`` frames (fmt, fact and data chunks)."""
    block_align = CHANNELS * 4
    data = frames * block_align
    fmt = struct.pack("<HHIIHHH", _FLOAT_FORMAT, CHANNELS, rate, rate * block_align,
                      block_align, 32, 0)  # fmt: skip
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"fact" + struct.pack("<II", 4, frames)
    chunks += b"data" + struct.pack("<I", data)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks) + data) + b"WAVE" + chunks


def _write_wav(
    spool: IO[bytes], total: int, gain: float, path: Path, rate: int, gains: IO[bytes] | None
) -> None:
    """The float spool scaled by ``gain`` (and per frame by ``gains``) as a float32 WAV."""
    if gains is not None:
        gains.seek(0)
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        out.write(_float_wav_header(total, rate))
        for _, block in _blocks(spool, total):
            scaled = block.reshape(-1, CHANNELS).astype(np.float64) * (gain * _READER_SCALE)
            if gains is not None:
                scaled *= np.frombuffer(gains.read(len(scaled) * 4), np.float32)[:, None]
            out.write(scaled.astype("<f4").tobytes())
