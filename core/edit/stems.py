"""``--stems``: one WAV per part (melody, figuration, harmony, bass, percussion).

Each part is rendered on its own through the same synthesizer, DC blocker and end fade as the
mix's first pass, and every stem is scaled by the mix's one mastering gain. FluidSynth's parts
do not add up exactly, though: rendered alone, a part differs from its share of the mix by up
to about -43 dBFS around some note onsets (measured with FluidR3_GM, with and without reverb,
one or two cores, any polyphony). So the last stem is the mix minus the other stems: the stems
then add up to the mix's first pass to float precision, and that small difference sits in the
last part. The mix's true-peak limiter is not applied to the stems; it acts only where the mix
would clip (``limited_s`` in the render log), and an editor who rebalances the stems masters
the new balance anyway.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

from ..files import atomic_path
from ..music.config import RenderConfig
from ..music.instruments import ROLE_CHANNELS
from ..music.master import DcBlocker
from ..music.render import BLOCK_FRAMES, CHANNELS, SAMPLE_WIDTH, _fade_out, synthesize
from ..music.score import Score, Track

#: MIDI channel -> role (the stem's name); parts on other channels count as melody.
_ROLE_OF_CHANNEL = {channel: role for role, channel in ROLE_CHANNELS.items()}


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
) -> int:
    """Render ``score`` into ``spool`` as the mix's first pass does (float32 stereo, DC-blocked,
    faded at the end); returns the frame count."""
    rate = int(config.sample_rate)
    total = round(duration_s * rate)
    fade = min(total, round(config.fade_s * rate))
    dc_blocker = DcBlocker(rate, CHANNELS)
    start = 0
    with contextlib.closing(synthesize(score, soundfont, rate, total, cancel)) as blocks:
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
    cancel: threading.Event | None = None,
) -> list[str]:
    """Write each role in ``paths`` that the score plays as a 16-bit WAV, scaled by ``gain_db``.

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
    with (
        tempfile.TemporaryFile(prefix=".moodscore-stem-", dir=folder) as mix,
        tempfile.TemporaryFile(prefix=".moodscore-stem-", dir=folder) as others,
    ):
        total = render_float(score, mix, config, duration_s, soundfont, cancel)
        others.write(bytes(total * CHANNELS * 4))
        for role in alone:
            part = Score(score.bpm, parts[role], score.length_ticks, score.ticks_per_beat)
            with tempfile.TemporaryFile(prefix=".moodscore-stem-", dir=folder) as spool:
                render_float(part, spool, config, duration_s, soundfont, cancel)
                _add(others, spool, total)
                _write_pcm(spool, total, gain, paths[role], int(config.sample_rate))
        _add(mix, others, total, -1.0)  # what the mix holds beyond the parts alone
        _write_pcm(mix, total, gain, paths[last], int(config.sample_rate))
    return [*alone, last]


def _blocks(spool: IO[bytes], total: int) -> Iterator[tuple[int, np.ndarray]]:
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


def _write_pcm(spool: IO[bytes], total: int, gain: float, path: Path, rate: int) -> None:
    with atomic_path(path) as tmp, contextlib.closing(wave.open(str(tmp), "wb")) as out:
        out.setnchannels(CHANNELS)
        out.setsampwidth(SAMPLE_WIDTH)
        out.setframerate(rate)
        for _, block in _blocks(spool, total):
            pcm = np.clip(np.rint(block * gain * 32767.0), -32768, 32767).astype("<i2")
            out.writeframesraw(pcm.tobytes())
