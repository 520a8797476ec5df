"""The whole chain: video -> emotions -> score -> MIDI, WAV, scored video, manifest.

The CLI and the Blender add-on both call :func:`score_video`; neither re-implements a stage.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Config
from .edit.run import EditRun, selected_outputs
from .errors import Cancelled, InputError
from .generators import get_composer, resolve_name
from .limits import MAX_DURATION_S
from .manifest import build_manifest
from .music.soundfont import checked_soundfont
from .naming import (
    ALL_OUTPUTS,
    EMOTION_OUTPUTS,
    STEM_OUTPUTS,
    default_out_dir,
    output_paths,
    output_stem,
)
from .outputs import Staging, staged_outputs
from .timeline import EmotionTimeline, format_emotion_text

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]

#: Share of the overall progress bar each stage takes (analysis dominates).
_STAGE_SPANS = {
    "analysis": (0.0, 0.55),
    "compose": (0.55, 0.6),
    "render": (0.6, 0.85),
    "mux": (0.85, 1.0),
}


@dataclass
class ScoreResult:
    """What a run produced."""

    out_dir: Path
    outputs: dict[str, Path]
    timeline: EmotionTimeline
    duration_s: float
    manifest: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Run:
    """What one run carries from stage to stage, and what its stages measure on the way."""

    config: Config
    staging: Staging
    edits: EditRun
    soundfont: Path | None
    progress: Progress | None = None
    cancel: threading.Event | None = None
    #: Seconds per stage (``analysis_s``, ``compose_s``, ...), for the manifest.
    timings: dict[str, float] = field(default_factory=dict)
    #: The rendered WAV's loudness, true peak and DC offset (before any ducking).
    audio: dict[str, float] = field(default_factory=dict)

    def stage(self, name: str) -> Callable[[float], None]:
        """The progress callback of one stage."""
        return _stage_reporter(self.progress, name)

    def check_cancel(self) -> None:
        """Stop with :class:`Cancelled` when the caller asked to."""
        _check_cancel(self.cancel)


#: The modules a scoring run imports as it reaches each stage (OpenCV, PyAV, the synthesizers).
#: ``core.config`` and the add-on stay light by not importing them; the command line imports
#: them before a run starts (:func:`import_stages`), where a stop signal still just exits.
STAGE_MODULES = (
    "emotion.analysis",
    "emotion.export",
    "video.probe",
    "video.mux",
    "music.midi",
    "music.render",
    "music.synth",
)


def import_stages() -> None:
    """Import every stage module of a run now, rather than when the run reaches it."""
    for name in STAGE_MODULES:
        importlib.import_module(f"{__package__}.{name}")


def _stage_reporter(progress: Progress | None, stage: str) -> Callable[[float], None]:
    low, high = _STAGE_SPANS[stage]

    def report(fraction: float) -> None:
        if progress is not None:
            progress(stage, low + (high - low) * min(max(fraction, 0.0), 1.0))

    return report


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("Scoring was cancelled; no output was written.")


def score_video(
    video: str | Path,
    out_dir: str | Path | None,
    config: Config,
    *,
    force: bool = False,
    start_s: float = 0.0,
    end_s: float | None = None,
    outputs: Collection[str] = ALL_OUTPUTS,
    timeline: EmotionTimeline | None = None,
    stem: str | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> ScoreResult:
    """Score a video (or the part ``start_s``-``end_s`` of it, in file seconds).

    Parameters
    ----------
    video
        The input video file.
    out_dir
        Folder for the outputs; ``None`` means ``<stem>_moodscore/`` beside the video.
    config
        Every option; ``config.music.generator`` and ``config.music.seed`` pick the music.
    force
        Overwrite existing outputs; without it an existing output is refused up front.
    outputs
        Output kinds to write (keys of :data:`core.naming.OUTPUT_NAMES`).
    timeline
        A ready timeline (e.g. edited curves): skips video analysis.
    stem
        Stem of the output file names (default: the video's stem).
    progress
        Called with (stage, overall fraction 0-1).
    cancel
        When set, the run stops with :class:`~core.errors.Cancelled` and leaves no file.

    Returns
    -------
    ScoreResult
        Output paths, the timeline used, the scored duration and the manifest.
    """
    from .video.probe import check_remuxable, probe

    video = Path(video)
    info = probe(video)
    outputs = selected_outputs(outputs, config)
    if "video" in outputs and (start_s > 0 or end_s is not None):
        raise InputError("A scored video can only be made of the whole file; leave out the range.")
    scored_s = (end_s if end_s is not None else info.duration_s) - start_s
    check_duration(scored_s, f"Video {video}")
    if "video" in outputs:
        check_remuxable(info, "mp4")
    out = Path(out_dir) if out_dir is not None else default_out_dir(video)
    targets = output_paths(out, stem or video.stem, outputs)
    soundfont = preflight(config, targets)
    edits = EditRun(config, fps=info.fps)
    started = time.perf_counter()
    with staged_outputs(targets, out, force=force, protected=[video]) as staging:
        run = _Run(config, staging, edits, soundfont, progress, cancel)
        if timeline is None:
            from .emotion import analyze

            tick = time.perf_counter()
            timeline = analyze(
                video,
                config,
                start_s=start_s,
                end_s=end_s,
                progress=run.stage("analysis"),
                cancel=cancel,
            )
            run.timings["analysis_s"] = time.perf_counter() - tick
        edits.find_speech(video, staging, start_s=start_s, end_s=end_s, cancel=cancel)
        timeline = _compose_and_write(run, timeline)
        if "video" in targets:
            from .video.mux import mux

            tick = time.perf_counter()
            mux(
                video,
                staging.path("wav"),
                staging.path("video"),
                keep_original_audio=config.video.keep_original_audio,
                audio_bitrate=config.video.audio_bitrate,
                progress=run.stage("mux"),
                cancel=cancel,
            )
            run.timings["mux_s"] = time.perf_counter() - tick
        run.timings["total_s"] = time.perf_counter() - started
        inputs = {
            "video": str(video.resolve()),
            "video_duration_s": info.duration_s,
            "fps": info.fps,
            "width": info.width,
            "height": info.height,
            "start_s": start_s,
            "end_s": end_s,
        }
        manifest = _write_manifest(run, timeline, inputs)
    if progress is not None:
        progress("done", 1.0)
    return ScoreResult(out, dict(targets), timeline, timeline.duration_s, manifest)


def score_timeline(
    timeline: EmotionTimeline,
    out_dir: str | Path,
    config: Config,
    *,
    stem: str,
    force: bool = False,
    outputs: Collection[str] = ("midi", "wav", "beats_csv", "manifest", *STEM_OUTPUTS),
    source: Path | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> ScoreResult:
    """Compose and render music for a timeline with no video (``moodscore compose``)."""
    out = Path(out_dir)
    check_duration(timeline.duration_s, "The emotion timeline")
    targets = output_paths(out, stem, selected_outputs(outputs, config))
    soundfont = preflight(config, targets)
    edits = EditRun(config)
    started = time.perf_counter()
    protected = [source] if source else []
    with staged_outputs(targets, out, force=force, protected=protected) as staging:
        run = _Run(config, staging, edits, soundfont, progress, cancel)
        timeline = _compose_and_write(run, timeline)
        run.timings["total_s"] = time.perf_counter() - started
        inputs = {"emotions": str(source.resolve()) if source else None}
        manifest = _write_manifest(run, timeline, inputs)
    return ScoreResult(out, dict(targets), timeline, timeline.duration_s, manifest)


def write_emotions(
    video: str | Path,
    out_dir: Path,
    config: Config,
    *,
    force: bool,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> tuple[EmotionTimeline, dict[str, Path]]:
    """``moodscore emotions``: the emotion text, CSVs and plot of a whole video.

    The output folder is checked, created and locked before the analysis starts.
    """
    from .emotion import analyze
    from .video.probe import probe

    video = Path(video)
    probe(video)
    stem = video.stem
    targets = output_paths(out_dir, stem, EMOTION_OUTPUTS)
    with staged_outputs(targets, out_dir, force=force, protected=[video]) as staging:
        timeline = analyze(
            video, config, progress=_stage_reporter(progress, "analysis"), cancel=cancel
        )
        _write_emotion_files(timeline, staging, title=stem)
    return timeline, targets


def _compose_and_write(run: _Run, timeline: EmotionTimeline) -> EmotionTimeline:
    """Compose, write the MIDI, render (and duck) the WAV, write the emotion files.

    Returns the timeline composed to (moved onto the fitted tempo with ``--bpm auto``); the
    stages' timings and the WAV's measurements go into ``run``.
    """
    from .music.midi import write_midi
    from .music.render import render_wav

    config, staging, edits = run.config, run.staging, run.edits
    targets = staging.targets
    run.check_cancel()
    tick = time.perf_counter()
    timeline = edits.fit_tempo(timeline)
    compose = get_composer(config.music.generator)
    score = compose(timeline, config, config.music.seed)
    run.timings["compose_s"] = time.perf_counter() - tick
    run.stage("compose")(1.0)
    run.check_cancel()
    if "midi" in targets:
        write_midi(score, staging.path("midi"))
    edits.after_compose(score, timeline, staging)
    if run.soundfont is not None:
        tick = time.perf_counter()
        rendered = render_wav(
            score,
            staging.path("wav"),
            config.render,
            timeline.duration_s,
            soundfont=run.soundfont,
            progress=run.stage("render"),
            cancel=run.cancel,
            intensity=float(timeline.arousal.max()),
        )
        run.timings["render_s"] = time.perf_counter() - tick
        run.audio.update(rendered.as_dict())
        edits.after_render(
            staging, score, timeline.duration_s, run.soundfont, rendered.gain_db, run.cancel
        )
    _write_emotion_files(timeline, staging, title=targets.get("midi", Path("score")).stem)
    return timeline


def check_duration(duration_s: float, what: str) -> None:
    """Refuse a piece longer than :data:`~core.limits.MAX_DURATION_S` before any work."""
    if duration_s > MAX_DURATION_S:
        raise InputError(
            f"{what} lasts {duration_s / 3600:.1f} hours; Moodscore scores at most "
            f"{MAX_DURATION_S / 3600:g} hours (a WAV file cannot hold more than 4 GiB), "
            "so split it first (moodscore split)."
        )


def preflight(config: Config, targets: dict[str, Path]) -> Path | None:
    """Check everything a run needs before the first frame is decoded.

    The generator name, the instrument preset and its program overrides, the RBM model file
    (read and validated in full) and the SoundFont (present and really an SF2).

    Returns
    -------
    Path or None
        The SoundFont the run renders with (``None`` when it writes no audio).
    """
    from .music.instruments import programs_for

    generator = resolve_name(config.music.generator)
    programs_for(config.music.preset, config.music.programs)
    if generator.startswith("rbm"):
        from .rbm.model import load_model, resolve_model

        load_model(resolve_model(config)[0])
    if not {"wav", "video"} & set(targets):
        return None
    from .music.synth import choose_synth

    choose_synth(config.render.synth)
    return checked_soundfont(None, config.render.soundfont)


def _write_emotion_files(timeline: EmotionTimeline, staging: Staging, *, title: str) -> None:
    """Write whichever of the emotion text, CSVs and plot the run asked for."""
    targets = staging.targets
    if "emotions_txt" in targets:
        staging.path("emotions_txt").write_text(format_emotion_text(timeline))
    if not {"emotions_csv", "cuts_csv", "plot"} & set(targets):
        return
    from .emotion.export import plot_timeline, write_csv, write_cuts_csv

    if "emotions_csv" in targets:
        write_csv(timeline, staging.path("emotions_csv"))
    if "cuts_csv" in targets:
        write_cuts_csv(timeline, staging.path("cuts_csv"))
    if "plot" in targets:
        plot_timeline(timeline, staging.path("plot"), title=title)


def _write_manifest(run: _Run, timeline: EmotionTimeline, inputs: dict[str, Any]) -> dict[str, Any]:
    """Build the manifest and stage ``score.json`` when the run asked for it."""
    staging = run.staging
    manifest = build_manifest(
        run.config,
        staging.targets,
        timeline,
        dict(run.timings),
        inputs=inputs,
        soundfont=run.soundfont,
    )
    manifest["edit"] = run.edits.summary()
    if run.audio:
        manifest["audio"] = dict(run.audio)
    if "manifest" in staging.targets:
        staging.path("manifest").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


__all__ = [
    "ScoreResult",
    "check_duration",
    "checked_soundfont",
    "default_out_dir",
    "output_stem",
    "preflight",
    "score_timeline",
    "score_video",
    "write_emotions",
]
