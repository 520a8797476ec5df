"""WAV rendering speed as a multiple of real time, with and without mastering, and memory.

Composes a score of each generator for a synthetic 60 s emotional arc (with cuts) and renders
it with FluidSynth and the system General MIDI SoundFont twice, side by side: the full render
(synthesis, DC blocking, loudness measurement, gain, true-peak limiting, 16-bit WAV, true-peak
check) and the synthesis alone written straight to a 16-bit WAV (no mastering). Each is timed
as the best of a few alternating runs, so a busy machine slows both alike. Wall time is what a
user waits; CPU time is shown too (FluidSynth renders on two cores). A last table gives the
peak memory of rendering a 4-minute piece in a fresh process.

A table of the loudness matching (core/music/balance.py) renders the same cues with and without
it, side by side, on FluidSynth and RustySynth: × real time of the mastered render both ways,
their ratio, and the matching pass's own seconds (the font's reference cached, as after the
first render of a process).

    .venv/bin/python benchmarks/bench_render.py [--seconds 60] [--presets piano,strings]
    .venv/bin/python benchmarks/bench_render.py --matching-only [--matching-seconds 60,120]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import python_child, run_measured

from core.config import Config
from core.generators import GENERATORS, get_composer
from core.music import balance
from core.music import synth as synth_module
from core.music.config import RenderConfig
from core.music.instruments import PRESETS
from core.music.render import render_wav
from core.music.soundfont import BUNDLED_SOUNDFONT, find_soundfont
from core.music.synth import SYNTH_SETTINGS, synthesize
from core.timeline import EmotionTimeline, TimeGrid

TARGET_X_REALTIME = 100.0
REPEATS = 3
MEMORY_SECONDS = 240.0


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


def render_unmastered(score, path: Path, config: RenderConfig, seconds: float, soundfont) -> None:
    """The synthesis alone, written straight to 16-bit PCM at a fixed gain: what rendering
    costs without mastering."""
    rate = config.sample_rate
    blocks = synthesize(score, soundfont, rate, round(seconds * rate))
    with contextlib.closing(blocks), contextlib.closing(wave.open(str(path), "wb")) as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        for block in blocks:
            pcm = np.clip(np.rint(block * 32767.0), -32768, 32767).astype("<i2")
            out.writeframesraw(pcm.tobytes())


def best_time(run, repeats: int) -> tuple[float, float]:
    """Best wall and CPU seconds of ``repeats`` runs of ``run()``."""
    wall, cpu = [], []
    for _ in range(repeats):
        started_wall, started_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - started_wall)
        cpu.append(time.process_time() - started_cpu)
    return min(wall), min(cpu)


def bench(seconds: float, presets: list[str], seed: int) -> list[dict[str, str]]:
    grid = TimeGrid()
    timeline = arc_timeline(seconds, grid)
    render_config = RenderConfig()
    soundfont = find_soundfont(None, render_config.soundfont)
    load_s = soundfont_load_seconds(soundfont, render_config.sample_rate)
    rows = []
    with tempfile.TemporaryDirectory(prefix="moodscore-bench-") as folder:
        out = Path(folder) / "out.wav"
        for generator in GENERATORS:
            for preset in presets:
                config = Config()
                config.music.preset = preset
                try:
                    score = get_composer(generator)(timeline, config, seed)
                except Exception as exc:  # a broken generator is reported, not fatal
                    rows.append({"generator": generator, "preset": preset, "note": repr(exc)})
                    break
                notes = sum(len(t.notes) for t in score.tracks)
                results: list = []

                def mastered(score=score, results=results):
                    results.append(
                        render_wav(score, out, render_config, seconds, soundfont=soundfont)
                    )

                def unmastered(score=score):
                    render_unmastered(score, out, render_config, seconds, soundfont)

                # Alternate the two so a burst of load on the machine hits both.
                plain_wall, plain_cpu, full_wall, full_cpu = [], [], [], []
                for _ in range(REPEATS):
                    wall, cpu = best_time(unmastered, 1)
                    plain_wall.append(wall)
                    plain_cpu.append(cpu)
                    wall, cpu = best_time(mastered, 1)
                    full_wall.append(wall)
                    full_cpu.append(cpu)
                plain, full = min(plain_wall), min(full_wall)
                rows.append(
                    {
                        "generator": generator,
                        "preset": preset,
                        "notes": str(notes),
                        "plain": f"{seconds / plain:.0f}×",
                        "full": f"{seconds / full:.0f}×",
                        "full_cpu": f"{seconds / min(full_cpu):.0f}×",
                        "cost": f"{100 * (full - plain) / plain:+.0f}%",
                        "lufs": f"{results[-1].loudness_lufs:.1f}",
                        "tp": f"{results[-1].true_peak_dbtp:.2f}",
                        "limited": f"{results[-1].limited_s:.1f}",
                    }
                )
    logging.info("SoundFont %s loads in %.2f s", soundfont, load_s)
    print(
        f"SoundFont: `{soundfont}` (load {load_s:.2f} s per render); audio {seconds:g} s, "
        f"48 kHz stereo, FluidSynth on {SYNTH_SETTINGS['synth.cpu-cores']} core(s); best of "
        f"{REPEATS} alternating runs; target ≥ {TARGET_X_REALTIME:.0f}× real time with "
        f"mastering (to {render_config.loudness_lufs:g} LUFS, ≤ "
        f"{render_config.true_peak_dbtp:g} dBTP).\n"
    )
    return rows


def markdown(rows: list[dict[str, str]]) -> str:
    header = (
        "| generator | preset | notes | × real time, synthesis only | × real time, mastered "
        "| × real time, mastered (CPU) | mastering cost | LUFS | dBTP | limited (s) |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = []
    for row in rows:
        if "note" in row:
            lines.append(f"| {row['generator']} | — | — | skipped: {row['note']} |" + " — |" * 6)
        else:
            lines.append(
                f"| {row['generator']} | {row['preset']} | {row['notes']} | {row['plain']} "
                f"| {row['full']} | {row['full_cpu']} | {row['cost']} | {row['lufs']} "
                f"| {row['tp']} | {row['limited']} |"
            )
    return header + "\n".join(lines)


#: (synthesizer, SoundFont or None for the one Moodscore finds) compared by the matching table.
MATCHING_PAIRS: tuple[tuple[str, Path | None], ...] = (
    ("fluidsynth", None),
    ("rustysynth", BUNDLED_SOUNDFONT),
    ("rustysynth", None),
)
MATCHING_REPEATS = 2


@contextlib.contextmanager
def matching_off():
    """Renders inside skip the loudness matching (every channel at its default volume)."""
    saved = balance.matched_volumes
    balance.matched_volumes = lambda *args, **kwargs: {}
    try:
        yield
    finally:
        balance.matched_volumes = saved


def matching_table(seconds_list: list[float], generators: list[str], presets: list[str],
                   seed: int) -> str:  # fmt: skip
    """Mastered render × real time with the loudness matching off and on, per synthesizer."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="moodscore-bench-") as folder:
        out = Path(folder) / "out.wav"
        for synth, font in MATCHING_PAIRS:
            if synth == "fluidsynth" and synth_module.fluidsynth_problem():
                continue
            soundfont = font or find_soundfont(None, "")
            config = RenderConfig()
            config.synth = synth
            for seconds in seconds_list:
                timeline = arc_timeline(seconds, TimeGrid())
                for generator in generators:
                    for preset in presets:
                        music = Config()
                        music.music.preset = preset
                        score = get_composer(generator)(timeline, music, seed)
                        # The font's reference is measured once per process: not timed here.
                        synth_module.matched_volumes(score, soundfont, synth=synth)

                        def render(
                            score=score, seconds=seconds, soundfont=soundfont, config=config
                        ):
                            render_wav(score, out, config, seconds, soundfont=soundfont)

                        def match(score=score, soundfont=soundfont, synth=synth):
                            synth_module.matched_volumes(score, soundfont, synth=synth)

                        off, on, alone = [], [], []
                        for _ in range(MATCHING_REPEATS):  # alternated: load hits all alike
                            with matching_off():
                                off.append(best_time(render, 1)[0])
                            on.append(best_time(render, 1)[0])
                            alone.append(best_time(match, 1)[0])
                        rows.append(
                            f"| {synth} | {soundfont.stem} | {generator} | {preset} | {seconds:g} "
                            f"| {seconds / min(off):.0f}× | {seconds / min(on):.0f}× "
                            f"| {min(off) / min(on):.2f} | {min(alone):.2f} | {min(off):.2f} "
                            f"| {100 * min(alone) / min(off):.0f}% |"
                        )
                        print(rows[-1], file=sys.stderr, flush=True)
    header = (
        "| synth | SoundFont | generator | preset | cue (s) | × real time, mastered, no matching "
        "| × real time, mastered, matching | ratio | matching pass (s) | render, no matching (s) "
        "| matching / render |\n|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    return (
        f"Loudness matching on and off (best of {MATCHING_REPEATS} alternating runs; 48 kHz, "
        f"mastered to {RenderConfig().loudness_lufs:g} LUFS; target ≥ "
        f"{TARGET_X_REALTIME:.0f}× with FluidSynth + FluidR3_GM at 60 s):\n\n"
        + header
        + "\n".join(rows)
    )


def numpy_only_line(seconds: float, seed: int) -> str:
    """Speed of a mastered piano render with mastering's numpy filters, as in Blender's
    Python (no scipy, no pyloudnorm), beside the same render with them."""
    from core.music import master

    timeline = arc_timeline(seconds, TimeGrid())
    score = get_composer("chords")(timeline, Config(), seed)
    walls: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="moodscore-bench-") as folder:
        out = Path(folder) / "out.wav"
        for label in ("scipy", "numpy", "scipy", "numpy"):
            saved = master._scipy_signal, sys.modules.get("pyloudnorm")
            if label == "numpy":
                master._scipy_signal, sys.modules["pyloudnorm"] = None, None
            try:
                wall, _ = best_time(lambda: render_wav(score, out, RenderConfig(), seconds), 1)
            finally:
                master._scipy_signal = saved[0]
                if saved[1] is None:
                    sys.modules.pop("pyloudnorm", None)
                else:
                    sys.modules["pyloudnorm"] = saved[1]
            walls[label] = min(walls.get(label, math.inf), wall)
    return (
        f"Mastering without scipy and pyloudnorm (Blender's Python; exact numpy filters): "
        f"chords/piano renders at {seconds / walls['numpy']:.0f}× real time, against "
        f"{seconds / walls['scipy']:.0f}× with them."
    )


MEMORY_CHILD = """
import sys, tempfile
sys.path.insert(0, {repo!r}); sys.path.insert(0, {bench!r})
from pathlib import Path
from bench_render import arc_timeline, render_unmastered
from core.config import Config
from core.generators import get_composer
from core.music.config import RenderConfig
from core.music.render import render_wav
from core.music.soundfont import BUNDLED_SOUNDFONT, find_soundfont
from core.timeline import TimeGrid
score = get_composer("chords")(arc_timeline({seconds}, TimeGrid()), Config(), 0)
with tempfile.TemporaryDirectory() as folder:
    if {mastered}:
        render_wav(score, Path(folder) / "m.wav", RenderConfig(), {seconds})
    else:
        soundfont = find_soundfont()
        render_unmastered(score, Path(folder) / "m.wav", RenderConfig(), {seconds}, soundfont)
"""


def memory_table(seconds: float) -> str:
    """Peak resident memory of a fresh process rendering ``seconds`` of piano, both ways."""
    rows = []
    here = Path(__file__).resolve().parent
    for mastered in (False, True):
        code = MEMORY_CHILD.format(repo=str(here.parent), bench=str(here), seconds=seconds,
                                   mastered=mastered)  # fmt: skip
        wall, peak_mb = run_measured(python_child(code))
        rows.append(
            f"| {'mastered' if mastered else 'synthesis only'} | {peak_mb:.0f} | {wall:.1f} |"
        )
    header = (
        f"Peak memory of a fresh process composing and rendering {seconds / 60:g} minutes "
        "(chords, piano; Python, numpy and the SoundFont's samples included):\n\n"
        "| render | peak RSS (MB) | wall (s) |\n|---|---:|---:|\n"
    )
    return header + "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-seconds", type=float, default=MEMORY_SECONDS)
    parser.add_argument("--matching-seconds", default="60,120")
    parser.add_argument("--matching-presets", default="piano,orchestral")
    parser.add_argument("--matching-only", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    matching = matching_table(
        [float(s) for s in args.matching_seconds.split(",")],
        ["scales", "chords"],
        [p.strip() for p in args.matching_presets.split(",") if p.strip()],
        args.seed,
    )
    if args.matching_only:
        print(matching)
        return
    print(markdown(bench(args.seconds, presets, args.seed)))
    print()
    print(numpy_only_line(args.seconds, args.seed))
    print()
    print(memory_table(args.memory_seconds))
    print()
    print(matching)


if __name__ == "__main__":
    main()
