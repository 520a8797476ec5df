"""The bundled renderer (RustySynth + TimGM6mb) beside FluidSynth + FluidR3_GM, on the same MIDI.

Every generator × every preset composes one piece on an emotion arc that changes every 1-4 bars;
each piece is rendered and mastered by four pairs side by side in one run: FluidSynth or
RustySynth, each with FluidR3_GM (141 MB, the reference) or the bundled TimGM6mb (6 MB), so
that the synthesizer's share of a difference is told apart from the SoundFont's. Measured on
the written WAVs, with code that shares nothing with the renderers:

* **loudness** (BS.1770-4, pyloudnorm) and true peak after mastering;
* **spectral balance**: energy per octave band (63 Hz … 16 kHz) as a share of the total, and its
  mean absolute difference from the reference pair over 63 Hz … 8 kHz, in dB;
* **onsets**: onsets found in the audio by spectral flux against the note onsets of the MIDI
  file (read back with mido), F-measure at ±50 ms;
* **speed**: synthesis alone and the whole render with mastering, × real time (best of 2);
* **zip sizes**: every platform's add-on zip as built, and what the synthesizer and SoundFont add.

Usage: ``python benchmarks/bench_synth.py [--seconds 40]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import random
import subprocess
import sys
import tempfile
import time
import wave
import zipfile
from pathlib import Path

import mido
import numpy as np
import pyloudnorm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import REPO, WORK, markdown_table, python_child, run_measured
from core.config import Config
from core.generators import get_composer
from core.music.config import RenderConfig
from core.music.instruments import PRESETS
from core.music.midi import midi_bytes
from core.music.render import render_wav
from core.music.soundfont import BUNDLED_SOUNDFONT
from core.music.synth import synthesize
from core.timeline import EmotionTimeline

REFERENCE_FONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
GENERATORS = ("scales", "chords", "rbm-feedback", "rbm-sampling")
#: (synthesizer, SoundFont label, path); the first is the reference.
PAIRS = (
    ("fluidsynth", "FluidR3_GM", REFERENCE_FONT),
    ("fluidsynth", "TimGM6mb", BUNDLED_SOUNDFONT),
    ("rustysynth", "FluidR3_GM", REFERENCE_FONT),
    ("rustysynth", "TimGM6mb", BUNDLED_SOUNDFONT),
)
OCTAVE_CENTRES = (63, 125, 250, 500, 1000, 2000, 4000, 8000, 16000)
#: Bands compared for the balance difference: 63 Hz - 8 kHz hold all but a hundredth of the
#: energy; above, a few dB more or less of almost nothing would dominate the mean.
COMPARED_BANDS = slice(0, 8)
ONSET_TOLERANCE_S = 0.05
RATE = 48000


def changing_arc(bars: int, seed: int) -> EmotionTimeline:
    """Arousal and valence that jump every 1-4 bars, as in a cut film."""
    rng = random.Random(seed)
    arousal, valence = [], []
    while len(arousal) < bars:
        hold = rng.randint(1, 4)
        a, v = rng.random(), rng.random()
        arousal += [a] * hold
        valence += [v] * hold
    return EmotionTimeline.from_values(arousal[:bars], valence[:bars])


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as audio:
        data = np.frombuffer(audio.readframes(audio.getnframes()), "<i2")
    return data.reshape(-1, 2) / 32768.0


def octave_balance_db(audio: np.ndarray) -> np.ndarray:
    """Energy per octave band as a share of the total, in dB (Welch-averaged power spectrum)."""
    mono = audio.mean(axis=1)
    size, hop = 8192, 4096
    window = np.hanning(size)
    frames = np.lib.stride_tricks.sliding_window_view(mono, size)[::hop] * window
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0)
    freqs = np.fft.rfftfreq(size, 1 / RATE)
    bands = [
        power[(freqs >= c / np.sqrt(2)) & (freqs < c * np.sqrt(2))].sum() for c in OCTAVE_CENTRES
    ]
    return 10 * np.log10(np.array(bands) / power.sum() + 1e-12)


def audio_onsets(audio: np.ndarray) -> np.ndarray:
    """Onset times (s) by half-wave-rectified log spectral flux and adaptive peak picking."""
    mono = audio.mean(axis=1)
    size, hop = 2048, 480  # 10 ms hop
    frames = np.lib.stride_tricks.sliding_window_view(mono, size)[::hop] * np.hanning(size)
    magnitude = np.log1p(1000 * np.abs(np.fft.rfft(frames, axis=1)))
    flux = np.maximum(np.diff(magnitude, axis=0), 0).sum(axis=1)
    flux /= flux.max() + 1e-12
    peaks = []
    for i in range(1, len(flux) - 1):
        local = flux[max(0, i - 10) : i + 11]
        is_peak = flux[i] == local.max() and flux[i] > np.median(local) + 0.05
        if is_peak and (not peaks or i - peaks[-1] >= 5):  # at most one onset per 50 ms
            peaks.append(i)
    return (np.array(peaks) + 1) * hop / RATE + size / 2 / RATE


def midi_onsets(data: bytes, seconds: float) -> np.ndarray:
    """Note-on times (s) of a MIDI file, simultaneous ones (within 50 ms) counted once."""
    times = sorted(
        t
        for t, m in _timed(mido.MidiFile(file=io.BytesIO(data)))
        if m.type == "note_on" and m.velocity > 0 and t < seconds - 0.05
    )
    merged: list[float] = []
    for t in times:
        if not merged or t - merged[-1] > ONSET_TOLERANCE_S:
            merged.append(t)
    return np.array(merged)


def _timed(midi: mido.MidiFile):
    now = 0.0
    for message in midi:
        now += message.time
        yield now, message


def onset_f_measure(found: np.ndarray, truth: np.ndarray) -> float:
    """F-measure of ``found`` against ``truth`` with one-to-one matching within the tolerance."""
    if not len(found) or not len(truth):
        return 0.0
    used, hits = set(), 0
    for t in found:
        candidates = np.flatnonzero(np.abs(truth - t) <= ONSET_TOLERANCE_S)
        free = [c for c in candidates if c not in used]
        if free:
            used.add(min(free, key=lambda c: abs(truth[c] - t)))
            hits += 1
    precision, recall = hits / len(found), hits / len(truth)
    return 2 * precision * recall / (precision + recall) if hits else 0.0


def best_of(run, repeats: int = 2) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def measure(seconds: float, seed: int) -> list[dict[str, object]]:
    """One row per (generator, preset, pair)."""
    rows = []
    timeline = changing_arc(round(seconds / 2), seed)  # one bar = 2 s at 120 bpm
    for generator in GENERATORS:
        for preset in PRESETS:
            config = Config()
            config.music.preset = preset
            score = get_composer(generator)(timeline, config, seed)
            data = midi_bytes(score)
            truth = midi_onsets(data, seconds)
            reference = None
            for synth, font_name, font in PAIRS:
                render_config = RenderConfig(synth=synth)
                frames = round(seconds * RATE)
                with tempfile.TemporaryDirectory() as folder:
                    path = Path(folder) / "out.wav"

                    def synthesis(score=score, synth=synth, font=font, frames=frames) -> None:
                        blocks = synthesize(score, font, RATE, frames, synth=synth)
                        with contextlib.closing(blocks):
                            for _ in blocks:
                                pass

                    def whole(score=score, config=render_config, font=font, path=path) -> None:
                        render_wav(score, path, config, seconds, soundfont=font)

                    synth_s = best_of(synthesis)
                    whole_s = best_of(whole)
                    result = render_wav(score, path, render_config, seconds, soundfont=font)
                    audio = read_wav(path)
                balance = octave_balance_db(audio)
                if reference is None:
                    reference = balance
                rows.append(
                    {
                        "generator": generator,
                        "preset": preset,
                        "pair": f"{synth} + {font_name}",
                        "lufs": pyloudnorm.Meter(RATE).integrated_loudness(audio),
                        "true_peak": result.true_peak_dbtp,
                        "balance": balance,
                        "balance_diff": float(np.abs(balance - reference)[COMPARED_BANDS].mean()),
                        "onset_f": onset_f_measure(audio_onsets(audio), truth),
                        "synth_x": seconds / synth_s,
                        "whole_x": seconds / whole_s,
                    }
                )
    return rows


def summary_table(rows: list[dict[str, object]]) -> str:
    """Per pair: the spread over every generator × preset piece."""
    out = []
    for pair in dict.fromkeys(row["pair"] for row in rows):
        mine = [row for row in rows if row["pair"] == pair]

        def spread(key: str, fmt: str, mine=mine) -> str:
            values = np.array([row[key] for row in mine], dtype=float)
            return f"{np.median(values):{fmt}} ({values.min():{fmt}} – {values.max():{fmt}})"

        out.append(
            [
                pair,
                spread("lufs", ".2f"),
                spread("true_peak", ".2f"),
                spread("balance_diff", ".1f"),
                spread("onset_f", ".2f"),
                spread("synth_x", ".0f"),
                spread("whole_x", ".0f"),
            ]
        )
    header = [
        "renderer + SoundFont",
        "loudness, LUFS",
        "true peak, dBTP",
        "octave balance vs reference, mean dB off (63 Hz–8 kHz)",
        "onset F-measure (±50 ms)",
        "synthesis, × real time",
        "render + master, × real time",
    ]
    return markdown_table(header, out)


def balance_table(rows: list[dict[str, object]]) -> str:
    """Mean energy share per octave band, per pair (dB of the total)."""
    out = []
    for pair in dict.fromkeys(row["pair"] for row in rows):
        bands = np.mean([row["balance"] for row in rows if row["pair"] == pair], axis=0)
        out.append([pair, *(f"{b:.1f}" for b in bands)])
    header = ["renderer + SoundFont", *(f"{c} Hz" for c in OCTAVE_CENTRES)]
    return markdown_table(header, out)


def per_preset_table(rows: list[dict[str, object]]) -> str:
    """Onset F-measure per preset and pair, and the bundled pair's balance difference."""
    pairs = list(dict.fromkeys(row["pair"] for row in rows))
    out = []
    for preset in PRESETS:
        mine = [r for r in rows if r["preset"] == preset]
        onsets = [np.mean([r["onset_f"] for r in mine if r["pair"] == pair]) for pair in pairs]
        bundled = [r["balance_diff"] for r in mine if r["pair"] == pairs[-1]]
        out.append([preset, *(f"{f:.2f}" for f in onsets), f"{np.mean(bundled):.1f}"])
    header = ["preset", *(f"onset F, {pair}" for pair in pairs), f"{pairs[-1]}: balance dB off"]
    return markdown_table(header, out)


def zip_table() -> str:
    """Every platform's zips as built now, and the bundled synthesizer's and SoundFont's share."""
    out_dir = WORK / "zips"
    built = subprocess.run(
        [sys.executable, str(REPO / "scripts/build_addon.py"), "--out-dir", str(out_dir),
         "--no-validate"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    rows = []
    for name in built:
        path = Path(name)
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
        synth = sum(i.compress_size for i in infos if "/midirenderer-" in i.filename)
        font = sum(i.compress_size for i in infos if "/soundfonts/" in i.filename)
        rows.append(
            [
                path.name,
                f"{path.stat().st_size / 1e6:.1f}",
                f"{synth / 1e6:.1f}",
                f"{font / 1e6:.1f}",
            ]
        )
    header = ["zip", "size, MB (budget 120)", "synthesizer wheel, MB", "SoundFont + licence, MB"]
    return markdown_table(header, rows)


MEMORY_CHILD = """
import random, sys, tempfile
sys.path.insert(0, {repo!r})
from pathlib import Path
from core.config import Config
from core.generators import get_composer
from core.music.config import RenderConfig
from core.music.render import render_wav
from core.timeline import EmotionTimeline
rng = random.Random(1)
bars = round({minutes} * 30)
timeline = EmotionTimeline.from_values(
    [rng.random() for _ in range(bars)], [rng.random() for _ in range(bars)]
)
score = get_composer("chords")(timeline, Config(), 0)
config = RenderConfig(synth={synth!r}, soundfont={font!r})
with tempfile.TemporaryDirectory() as folder:
    render_wav(score, Path(folder) / "m.wav", config, score.duration_s)
"""


def memory_table(minutes: tuple[float, ...] = (2.0, 30.0)) -> str:
    """Peak memory of a fresh process composing and rendering, per synthesizer and length."""
    rows = []
    for synth in ("fluidsynth", "rustysynth"):
        cells = []
        for length in minutes:
            code = MEMORY_CHILD.format(
                repo=str(REPO), minutes=length, synth=synth, font=str(BUNDLED_SOUNDFONT)
            )
            _, peak_mb = run_measured(python_child(code))
            cells.append(f"{peak_mb:.0f}")
        rows.append([f"{synth} + TimGM6mb", *cells])
    header = ["renderer", *(f"peak RSS, {m:g} min (MB)" for m in minutes)]
    return markdown_table(header, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if not REFERENCE_FONT.is_file():
        raise SystemExit(f"bench_synth needs the reference {REFERENCE_FONT} (fluid-soundfont-gm)")
    # First, while this process is small: a child's peak RSS starts at its parent's (fork).
    memory = memory_table()
    rows = measure(args.seconds, args.seed)
    pieces = len(GENERATORS) * len(PRESETS)
    print(
        f"{pieces} pieces ({len(GENERATORS)} generators × {len(PRESETS)} presets, "
        f"{args.seconds:g} s each, an arc changing every 1–4 bars, seed {args.seed}), each "
        "rendered and mastered to −16 LUFS by four renderer + SoundFont pairs in one run. "
        "Median (min – max) over the pieces; the reference is FluidSynth + FluidR3_GM."
    )
    print()
    print(summary_table(rows))
    print()
    print("Mean energy per octave band, dB of the total (all pieces):")
    print()
    print(balance_table(rows))
    print()
    print("Per preset (all four generators):")
    print()
    print(per_preset_table(rows))
    print()
    print("Peak memory of a fresh process composing and rendering (Python, numpy included):")
    print()
    print(memory)
    print()
    print(zip_table())


if __name__ == "__main__":
    main()
