"""Write an emotion timeline as CSV (per step, per source), a cut list and a PNG plot."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from ..files import atomic_path, write_text_atomic
from ..timeline import EmotionTimeline

BASE_COLUMNS = ("start_s", "end_s", "arousal", "valence")
AROUSAL_COLOUR, VALENCE_COLOUR = "#d1495b", "#00798c"
SOURCE_STYLES = {  # source column -> (curve it belongs to, line style)
    "colour_arousal": (AROUSAL_COLOUR, ":"),
    "colour_valence": (VALENCE_COLOUR, ":"),
    "face_arousal": (AROUSAL_COLOUR, "--"),
    "face_valence": (VALENCE_COLOUR, "--"),
    "cloud_arousal": (AROUSAL_COLOUR, "-."),
    "cloud_valence": (VALENCE_COLOUR, "-."),
    "motion": ("#6c757d", "-"),
}


def source_columns(timeline: EmotionTimeline) -> list[str]:
    """Source keys in the order the steps first list them."""
    return list(dict.fromkeys(key for step in timeline.steps for key in step.sources))


def _number(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def write_csv(timeline: EmotionTimeline, path: str | Path) -> Path:
    """One row per step: ``start_s, end_s, arousal, valence`` then every source column.

    Missing readings (a source that is off or saw nothing) are written as ``nan``.
    """
    columns = source_columns(timeline)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*BASE_COLUMNS, *columns])
    for step in timeline.steps:
        values = [step.start_s, step.end_s, step.arousal, step.valence]
        values += [step.sources.get(key, math.nan) for key in columns]
        writer.writerow([_number(float(v)) for v in values])
    write_text_atomic(path, buffer.getvalue())
    return Path(path)


def write_cuts_csv(timeline: EmotionTimeline, path: str | Path) -> Path:
    """The hard cuts, one ``time_s`` per row (seconds from the start of the analysed range)."""
    lines = ["time_s", *(f"{t:.4f}" for t in timeline.cuts_s)]
    write_text_atomic(path, "\n".join(lines) + "\n")
    return Path(path)


def plot_timeline(timeline: EmotionTimeline, path: str | Path, title: str | None = None) -> Path:
    """Arousal and valence over time as a PNG: bold final curves, faint sources, cut markers."""
    # The Agg canvas is attached to this figure only: no pyplot, no global backend switch
    # (which would disturb a host application such as Blender).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    times = [s.start_s for s in timeline.steps] + [timeline.steps[-1].end_s]

    def stairs(values: list[float]) -> list[float]:
        return [*values, values[-1]]  # a step is one constant value from start to end

    figure = Figure(figsize=(10, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for key in source_columns(timeline):
        if key not in SOURCE_STYLES:
            continue
        values = [s.sources.get(key, math.nan) for s in timeline.steps]
        if all(math.isnan(v) for v in values):
            continue
        colour, style = SOURCE_STYLES[key]
        axes.step(
            times,
            stairs(values),
            where="post",
            color=colour,
            linestyle=style,
            linewidth=1,
            alpha=0.35,
            label=key.replace("_", " "),
        )
    for label, curve, colour in (
        ("arousal", timeline.arousal, AROUSAL_COLOUR),
        ("valence", timeline.valence, VALENCE_COLOUR),
    ):
        axes.step(
            times, stairs(list(curve)), where="post", color=colour, linewidth=2.5, label=label
        )
    for i, cut in enumerate(timeline.cuts_s):
        axes.axvline(cut, color="black", linewidth=0.8, alpha=0.5, label="cut" if i == 0 else None)
    axes.set(
        xlim=(0, timeline.duration_s),
        ylim=(-0.02, 1.02),
        xlabel="time (s)",
        ylabel="0 = calm / negative, 1 = excited / positive",
        title=title or "Emotion timeline",
    )
    axes.grid(alpha=0.25)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, format="png")
    return Path(path)
