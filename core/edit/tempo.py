"""``--bpm auto``: the tempo that puts the cuts on beats, as a film composer picks a click.

The music starts with the picture, so the beat grid's phase is fixed and the tempo is the
only freedom. Every candidate tempo in the allowed range is scored by its cuts: a cut counts
when a beat falls within half a frame of it (the beat then rounds to the cut's own frame),
closer counts more, and a cut on a bar's first beat counts :data:`DOWNBEAT_BONUS` more. A
gentle pull towards a tempo set by the mean arousal (slow for calm pictures, fast for excited
ones) breaks ties, such as a tempo and its double hitting the same cuts, and sets the tempo
when there are no cuts at all.

The analysis runs once, on the configured grid; :func:`regrid` then averages its curves over
the steps of the new grid (each new step is the time-weighted mean of the old ones it
overlaps), so no frame is decoded twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from ..timeline import TIMESTEPS_PER_BAR, TIMESTEPS_PER_BEAT, EmotionStep, EmotionTimeline, TimeGrid

BEATS_PER_BAR = TIMESTEPS_PER_BAR // TIMESTEPS_PER_BEAT
#: Extra weight of a cut that falls on a downbeat (beat 1 of a bar).
DOWNBEAT_BONUS = 0.5
#: Score lost between the arousal's preferred tempo and the far end of the range (in log
#: tempo): less than the least a cut on a beat earns (0.75), so a tempo that lands one more
#: cut always wins, and among equals the one nearer the mood does.
TEMPO_PULL = 0.5
#: Most candidate tempi scored on the dense grid (the long-film cap on work).
MAX_CANDIDATES = 60_000
#: Cuts whose exact tempi (every whole beat count in range) join the candidates.
EXACT_CUTS = 24


@dataclass(frozen=True)
class TempoFit:
    """The chosen tempo and how the cuts sit on its beats."""

    bpm: float
    preferred_bpm: float
    cuts_s: tuple[float, ...]
    offsets_s: tuple[float, ...]
    tolerance_s: float

    @property
    def on_beat(self) -> tuple[bool, ...]:
        """Per cut: a beat lies within the tolerance (half a frame)."""
        return tuple(abs(d) <= self.tolerance_s + 1e-9 for d in self.offsets_s)

    @property
    def on_downbeat(self) -> tuple[bool, ...]:
        """Per cut: on a beat that starts a bar."""
        beat_s = 60.0 / self.bpm
        return tuple(
            hit and round((cut - offset) / beat_s) % BEATS_PER_BAR == 0
            for cut, offset, hit in zip(self.cuts_s, self.offsets_s, self.on_beat, strict=True)
        )

    def summary(self) -> dict[str, Any]:
        """What ``score.json`` records: tempo, cuts on beats and each cut's offset."""
        return {
            "auto": True,
            "bpm": round(self.bpm, 4),
            "preferred_bpm": round(self.preferred_bpm, 2),
            "cuts": len(self.cuts_s),
            "cuts_on_beat": sum(self.on_beat),
            "cuts_on_downbeat": sum(self.on_downbeat),
            "tolerance_s": round(self.tolerance_s, 5),
            "cut_offsets_s": [
                {"cut_s": round(c, 4), "offset_s": round(d, 4)}
                for c, d in zip(self.cuts_s, self.offsets_s, strict=True)
            ],
        }


def preferred_bpm(mean_arousal: float, low: float, high: float) -> float:
    """The tempo the mood asks for: ``low`` when calm (0), ``high`` when excited (1)."""
    return float(low * (high / low) ** float(np.clip(mean_arousal, 0.0, 1.0)))


def check_range(low: float, high: float) -> None:
    """Refuse an empty tempo range with the option's name."""
    if not low < high:
        raise InputError(
            f"--bpm-range {low:g}-{high:g} is empty; give the slower tempo first, e.g. 70-140."
        )


def _offsets(bpm: NDArray[Any], cuts: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
    """Signed distance of each cut from its nearest beat, and that beat's index."""
    beat_s = 60.0 / bpm[:, None]
    index = np.rint(cuts[None, :] / beat_s)
    return cuts[None, :] - index * beat_s, index


def _scores(
    bpm: NDArray[Any], cuts: NDArray[Any], tolerance_s: float, preferred: float, span: float
) -> NDArray[Any]:
    """Per candidate: each cut within the tolerance earns 0.75-1 (closer earns more), times
    1.5 on a downbeat; minus the pull towards ``preferred`` (``span``: the range's log width)."""
    offsets, index = _offsets(bpm, cuts)
    distance = np.abs(offsets) / tolerance_s
    closeness = np.where(distance <= 1.0 + 1e-9, 1.0 - 0.25 * distance, 0.0)
    weight = 1.0 + DOWNBEAT_BONUS * (index % BEATS_PER_BAR == 0)
    pull = TEMPO_PULL * np.abs(np.log(bpm / preferred)) / span
    return cast(NDArray[Any], (closeness * weight).sum(axis=1) - pull)


def _candidates(cuts: NDArray[Any], low: float, high: float, tolerance_s: float) -> NDArray[Any]:
    """A geometric grid fine enough that the last cut moves under a quarter of the tolerance
    between neighbours (capped), plus the exact tempi that put an early cut on a beat."""
    last = float(cuts.max()) if len(cuts) else 1.0
    ratio_step = max(tolerance_s / 4.0 / max(last, 1e-3), math.log(high / low) / MAX_CANDIDATES)
    count = math.ceil(math.log(high / low) / ratio_step) + 1
    grid = low * np.exp(np.linspace(0.0, math.log(high / low), count))
    exact = [
        60.0 * beats / cut
        for cut in cuts[:EXACT_CUTS]
        for beats in range(math.ceil(low * cut / 60.0), math.floor(high * cut / 60.0) + 1)
    ]
    return cast(NDArray[Any], np.unique(np.concatenate([grid, np.asarray(exact, float)])))


def fit_tempo(
    cuts_s: tuple[float, ...] | list[float],
    fps: float,
    mean_arousal: float,
    low: float = 70.0,
    high: float = 140.0,
) -> TempoFit:
    """The tempo in ``[low, high]`` that lands the most cuts on beats (see the module notes).

    Parameters
    ----------
    cuts_s
        Cut times in seconds from the start of the music.
    fps
        The picture's frame rate; a cut is on a beat within half a frame.
    mean_arousal
        The piece's mean arousal (0-1), which sets the preferred tempo.
    low, high
        The allowed range in quarter notes per minute.
    """
    check_range(low, high)
    tolerance_s = 0.5 / fps
    preferred = preferred_bpm(mean_arousal, low, high)
    cuts = np.asarray(sorted(c for c in cuts_s if c > tolerance_s), float)
    if not len(cuts):
        bpm = round(preferred, 1)
        return TempoFit(bpm, preferred, (), (), tolerance_s)
    candidates = _candidates(cuts, low, high, tolerance_s)
    best_bpm, best_score = low, -math.inf
    chunk = max(1, 4_000_000 // len(cuts))
    for begin in range(0, len(candidates), chunk):
        part = candidates[begin : begin + chunk]
        scores = _scores(part, cuts, tolerance_s, preferred, math.log(high / low))
        top = int(np.argmax(scores))
        if scores[top] > best_score + 1e-12:
            best_bpm, best_score = float(part[top]), float(scores[top])
    offsets, _ = _offsets(np.array([best_bpm]), cuts)
    return TempoFit(best_bpm, preferred, tuple(map(float, cuts)), tuple(map(float, offsets[0])),
                    tolerance_s)  # fmt: skip


def mean_arousal(timeline: EmotionTimeline) -> float:
    """Time-weighted mean arousal of the timeline (0.5 when it has no steps)."""
    lengths = np.array([s.end_s - s.start_s for s in timeline.steps])
    if not len(lengths) or lengths.sum() <= 0:
        return 0.5
    return float(np.average(timeline.arousal, weights=lengths))


def _step_means(
    bounds: NDArray[Any], new_bounds: NDArray[Any], values: NDArray[Any]
) -> NDArray[Any]:
    """Time-weighted means of a piecewise-constant curve over new intervals (NaN = no data)."""
    known = ~np.isnan(values)
    widths = np.diff(bounds)
    area = np.concatenate([[0.0], np.cumsum(np.where(known, values, 0.0) * widths)])
    cover = np.concatenate([[0.0], np.cumsum(known * widths)])
    area_at = np.interp(new_bounds, bounds, area)
    cover_at = np.interp(new_bounds, bounds, cover)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.diff(area_at) / np.diff(cover_at)
    return np.where(np.diff(cover_at) > 1e-12, means, np.nan)


def regrid(timeline: EmotionTimeline, grid: TimeGrid) -> EmotionTimeline:
    """The same curves on ``grid``: each new step is the time-weighted mean of the old ones.

    Per-source readings are averaged the same way (ignoring steps where a source saw
    nothing); the cuts and the duration stay as they are.
    """
    if grid == timeline.grid or not timeline.steps:
        return replace(timeline, grid=grid)
    duration = timeline.duration_s
    bounds = np.array([timeline.steps[0].start_s, *(s.end_s for s in timeline.steps)])
    count = max(1, grid.step_count(duration))
    new_bounds = np.minimum(np.arange(count + 1) * grid.step_s, duration)
    new_bounds[-1] = duration
    arousal = _step_means(bounds, new_bounds, timeline.arousal)
    valence = _step_means(bounds, new_bounds, timeline.valence)
    keys = sorted({key for step in timeline.steps for key in step.sources})
    sources = {
        key: _step_means(
            bounds, new_bounds, np.array([s.sources.get(key, math.nan) for s in timeline.steps])
        )
        for key in keys
    }
    steps = tuple(
        EmotionStep(
            start_s=float(new_bounds[i]),
            end_s=float(new_bounds[i + 1]),
            arousal=float(arousal[i]),
            valence=float(valence[i]),
            sources={key: float(values[i]) for key, values in sources.items()},
        )
        for i in range(count)
    )
    return EmotionTimeline(grid=grid, duration_s=duration, steps=steps, cuts_s=timeline.cuts_s)


def fit_timeline(
    timeline: EmotionTimeline, fps: float, low: float, high: float
) -> tuple[EmotionTimeline, TempoFit]:
    """Pick the tempo for ``timeline``'s cuts and mood, and move the timeline onto it."""
    fit = fit_tempo(timeline.cuts_s, fps, mean_arousal(timeline), low, high)
    grid = TimeGrid(fit.bpm, timeline.grid.step_bars)
    return regrid(timeline, grid), fit
