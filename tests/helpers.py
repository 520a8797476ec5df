"""Helpers the music tests share (test modules never import each other): the generators under
test, composing a piece and finding its parts, the benchmarks' modules they judge with (the
independent music judge, the random arcs), and reading a 16-bit WAV as integers."""

from __future__ import annotations

import importlib.util
import io
import sys
import wave
from pathlib import Path
from types import ModuleType
from typing import Any

import mido
import numpy as np
from numpy.typing import NDArray

from core.config import Config
from core.generators import get_composer
from core.music.midi import to_midi_file
from core.music.score import TICKS_PER_BEAT, Score, Track
from core.timeline import EmotionTimeline

REPO = Path(__file__).resolve().parents[1]

#: The deterministic generators.
GENERATORS = ("scales", "chords")
#: Ticks per 4/4 bar.
BAR = 4 * TICKS_PER_BEAT


def benchmark_module(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as a module, loaded once and registered under ``name`` (the name
    the benchmarks import it by)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def compose(name: str, timeline: EmotionTimeline, seed: int = 0, preset: str = "piano") -> Score:
    """The piece generator ``name`` writes for ``timeline`` with instrument ``preset``."""
    config = Config()
    config.music.preset = preset
    return get_composer(name)(timeline, config, seed)


def compose_values(
    name: str,
    arousal: list[float],
    valence: list[float],
    *,
    seed: int = 0,
    preset: str = "piano",
    **timeline_options: Any,
) -> Score:
    """:func:`compose` over per-step values (``timeline_options``: those of
    :meth:`EmotionTimeline.from_values`)."""
    timeline = EmotionTimeline.from_values(arousal, valence, **timeline_options)
    return compose(name, timeline, seed, preset)


def track(score: Score, name: str) -> Track:
    """The part called ``name``."""
    found = next((t for t in score.tracks if t.name == name), None)
    if found is None:
        raise LookupError(f"no track {name!r} in {[t.name for t in score.tracks]}")
    return found


def judged(score: Score) -> Any:
    """The score as the independent judge reads it: through a MIDI file."""
    buffer = io.BytesIO()
    to_midi_file(score).save(file=buffer)
    buffer.seek(0)
    return benchmark_module("music_judge").piece_from_midi(mido.MidiFile(file=buffer))


def read_pcm16(path: Path) -> tuple[wave._wave_params, NDArray[np.int32]]:
    """A 16-bit PCM WAV's parameters and its frames ``(n, channels)`` as integers."""
    with wave.open(str(path), "rb") as wav:
        params = wav.getparams()
        frames = np.frombuffer(wav.readframes(params.nframes), dtype="<i2")
    return params, frames.reshape(-1, params.nchannels).astype(np.int32)
