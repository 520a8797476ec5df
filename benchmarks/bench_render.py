"""WAV rendering speed as a multiple of real time, per generator and instrument preset.

Composes a score of each generator for a synthetic 60 s emotional arc (with cuts), renders it
with FluidSynth and the system General MIDI SoundFont, and prints a markdown table. Wall time
is what a user waits; CPU time is shown too because the benchmark machine may be shared.

    .venv/bin/python benchmarks/bench_render.py [--seconds 60] [--presets piano,strings]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.config import Config
from core.errors import MoodscoreError
from core.generators import GENERATORS, get_composer
from core.generators.mapping import PRESETS
from core.music.config import RenderConfig
from core.music.render import SYNTH_SETTINGS, find_soundfont, render_wav
from core.timeline import EmotionTimeline, TimeGrid

TARGET_X_REALTIME = 100.0


def arc_timeline(seconds: float, grid: TimeGrid) -> EmotionTimeline:
    """Arousal rising to a climax and falling back; valence from dark to bright; a cut every
    7.3 s, so every mode, speed and cut path of the generators is exercised."""
    steps = grid.step_count(seconds)
    phase = np.linspace(0.0, 1.0, steps)
    arousal = 0.1 + 0.85 * np.sin(np.pi * phase) ** 2
    valence = 0.05 + 0.9 * phase
    cuts = tuple(np.arange(7.3, seconds, 7.3))
    return EmotionTimeline.from_values(arousal, valence, grid, seconds, cuts)


def soundfont_load_seconds(soundfont: Path, sample_rate: int) -> float:
    """Wall time of creating a synthesizer and loading the SoundFont (paid once per render)."""
    import fluidsynth

    start = time.perf_counter()
    synth = fluidsynth.Synth(samplerate=float(sample_rate), **SYNTH_SETTINGS)
    synth.sfload(str(soundfont))
    elapsed = time.perf_counter() - start
    synth.delete()
    return elapsed


def bench(seconds: float, presets: list[str], seed: int) -> list[dict[str, str]]:
    grid = TimeGrid()
    timeline = arc_timeline(seconds, grid)
    render_config = RenderConfig()
    soundfont = find_soundfont(None, render_config.soundfont)
    load_s = soundfont_load_seconds(soundfont, render_config.sample_rate)
    rows = []
    with tempfile.TemporaryDirectory(prefix="moodscore-bench-") as folder:
        for generator in GENERATORS:
            for preset in presets:
                config = Config()
                config.music.preset = preset
                try:
                    score = get_composer(generator)(timeline, config, seed)
                except (ImportError, MoodscoreError) as exc:
                    rows.append({"generator": generator, "preset": preset, "note": str(exc)})
                    break
                notes = sum(len(t.notes) for t in score.tracks)
                wall, cpu = time.perf_counter(), time.process_time()
                render_wav(score, Path(folder) / "out.wav", render_config, seconds,
                           soundfont=soundfont)  # fmt: skip
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                rows.append(
                    {
                        "generator": generator,
                        "preset": preset,
                        "notes": str(notes),
                        "wall": f"{wall:.2f}",
                        "x_rt": f"{seconds / wall:.0f}×",
                        "x_rt_cpu": f"{seconds / cpu:.0f}×",
                        "x_rt_no_load": f"{seconds / max(wall - load_s, 1e-9):.0f}×",
                    }
                )
    logging.info("SoundFont %s loads in %.2f s", soundfont, load_s)
    print(f"SoundFont: `{soundfont}` (load {load_s:.2f} s per render); audio {seconds:g} s, "
          f"48 kHz stereo; target ≥ {TARGET_X_REALTIME:.0f}× real time.\n")  # fmt: skip
    return rows


def markdown(rows: list[dict[str, str]]) -> str:
    header = (
        "| generator | preset | notes | render wall (s) | × real time | × real time (CPU) "
        "| × real time excl. SoundFont load |\n|---|---|---:|---:|---:|---:|---:|\n"
    )
    lines = []
    for row in rows:
        if "note" in row:
            lines.append(f"| {row['generator']} | — | — | — | skipped: {row['note']} | — | — |")
        else:
            lines.append(
                f"| {row['generator']} | {row['preset']} | {row['notes']} | {row['wall']} "
                f"| {row['x_rt']} | {row['x_rt_cpu']} | {row['x_rt_no_load']} |"
            )
    return header + "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    print(markdown(bench(args.seconds, presets, args.seed)))


if __name__ == "__main__":
    main()
