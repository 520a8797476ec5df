"""Score strips and re-score from edited curves, without freezing the UI.

Both operators share :class:`_JobOperator`: called from a button (``invoke``) they start the
engine process and return at once, then a modal timer reads its progress into the status bar
and the panel and applies the result on the main thread (Esc or Cancel stops it); called from
a script (``execute``) or with ``bpy.app.background`` they wait for the same process.
"""

import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bpy
from bpy.props import StringProperty

from .. import compat, engine, messages, score_files
from ..core import errors
from ..core.config import Config
from ..engine import ScoreRequest, ScoringJob
from ..geometry import StripError, file_stem, strip_span
from ..panels import progress
from ..preferences import apply_preferences, without_secrets
from ..properties import OFFLINE_NOTE, online_access
from . import edit_aids
from . import strips as strip_ops

log = logging.getLogger(__name__)

#: How often the modal timer reads the engine's progress (seconds).
_TIMER_INTERVAL_S = 0.1


def engine_config(context: bpy.types.Context, **grid: Any) -> tuple[Config, list[str]]:
    """The engine's settings for this scene, and warnings for the user.

    ``grid`` (``bpm``, ``step_bars``, ``gain_db``) is a re-score's: see
    :func:`.strips.build_config`. With Blender's online access off, the Cloud source is left
    out (nothing may contact the network); a request with no other source is refused.
    """
    config = strip_ops.build_config(context, **grid)
    apply_preferences(config, context)
    # A re-score makes its stems and ducking anew, as the Editor Aids panel says now (the
    # old stems would add up to the old mix), but the curves keep the tempo they are keyed on.
    edit_aids.configure(config, context.scene, keep_tempo=bool(grid))
    warnings = []
    if "cloud" in config.analysis.sources and not online_access():
        config.analysis.sources = [s for s in config.analysis.sources if s != "cloud"]
        if not config.analysis.sources:
            raise StripError(
                "Blender's online access is off, so the Cloud emotion source cannot run; "
                "tick another source or allow online access in Preferences > System."
            )
        warnings.append(f"Cloud source skipped: {OFFLINE_NOTE}.")
    return config, warnings


class _JobOperator:
    """Runs a :class:`ScoringJob` made by :meth:`prepare`, then applies it with :meth:`apply`."""

    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender reads a set)

    strip: StringProperty(
        name="Strip",
        description="Name of the strip to work on (empty: the selected strips)",
        options={"SKIP_SAVE", "HIDDEN"},
    )

    # Per run (set on the instance): the job, the modal timer, what the status bar shows and
    # the warnings given before the engine started (the panel shows them with the engine's).
    _job: ScoringJob | None = None
    _timer: Any = None
    _shown: progress.Shown | None = None
    _notes: list[str] | None = None

    if TYPE_CHECKING:  # bpy.types.Operator's, which the operators below also derive from

        def report(self, type: set[str], message: str) -> set[str]: ...

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return context.scene is not None and context.scene.sequence_editor is not None

    def prepare(self, context: bpy.types.Context) -> ScoringJob:
        """Build the job from bpy data (main thread); raise ``StripError``/``InputError``."""
        raise NotImplementedError

    def apply(self, context: bpy.types.Context, job: ScoringJob) -> None:
        """Turn the finished job into bpy data (main thread)."""
        raise NotImplementedError

    def target_strips(self, context: bpy.types.Context) -> list[Any]:
        """The strip named by the ``strip`` property, else the selected strips."""
        scene = context.scene
        if self.strip:
            strip = compat.find_strip(scene, self.strip)
            if strip is None:
                raise StripError(f"There is no strip called '{self.strip}' in this scene.")
            return [strip]
        return [strip for strip in compat.all_strips(scene) if strip.select]

    def configured(self, context: bpy.types.Context, **grid: Any) -> Config:
        """:func:`engine_config`, its warnings reported."""
        config, warnings = engine_config(context, **grid)
        for warning in warnings:
            self.warn(warning)
        return config

    def warn(self, message: str) -> None:
        """Report a warning now, and keep it for the panel beside the engine's."""
        self.report({"WARNING"}, message)
        assert self._notes is not None  # set by _begin, before prepare
        self._notes.append(message)

    def execute(self, context: bpy.types.Context) -> set[str]:
        if not self._begin(context):
            return {"CANCELLED"}
        assert self._job is not None  # set by _begin
        self._job.run()
        return self._end(context)

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        if bpy.app.background:
            return self.execute(context)
        if not self._begin(context):
            return {"CANCELLED"}
        assert self._job is not None  # set by _begin
        self._job.start()
        wm = context.window_manager
        self._timer = wm.event_timer_add(_TIMER_INTERVAL_S, window=context.window)
        wm.modal_handler_add(self)
        self._shown = progress.show(context, self._job)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: Any) -> set[str]:
        try:
            return self._modal(context, event)
        except Exception as exc:  # a bug here must not leave the engine running, the job claimed
            log.exception("Moodscore: the scoring operator failed")
            assert self._job is not None  # modal runs only after invoke started the job
            self._job.cancel()
            self._job.poll()
            context.window_manager.event_timer_remove(self._timer)
            engine.release(self._job)
            progress.clear(context)
            self.report({"ERROR"}, f"Moodscore stopped ({type(exc).__name__}: {exc}).")
            return {"CANCELLED"}

    def _modal(self, context: bpy.types.Context, event: Any) -> set[str]:
        if event.type == "ESC" and event.value == "PRESS":
            assert self._job is not None  # modal runs only after invoke started the job
            self._job.cancel()
            return {"RUNNING_MODAL"}
        if event.type == "TIMER":
            assert self._job is not None
            done = self._job.poll()
            if not done:
                self._shown = progress.update(context, self._job, self._shown)
                return {"PASS_THROUGH"}
            context.window_manager.event_timer_remove(self._timer)
            return self._end(context)
        return {"PASS_THROUGH"}  # the user keeps editing while the job runs

    def _begin(self, context: bpy.types.Context) -> bool:
        if engine.active_job() is not None:
            self.report({"ERROR"}, "Moodscore is already scoring; wait for it or press Cancel.")
            return False
        self._notes = []
        try:
            self._job = self.prepare(context)
            self._job.check()  # what needs no engine is refused before one starts
        except (StripError, errors.MoodscoreError) as exc:
            self.report({"ERROR"}, messages.for_addon(str(exc)))
            return False
        self._job.notes.extend(self._notes)
        engine.claim(self._job)
        return True

    def _end(self, context: bpy.types.Context) -> set[str]:
        job = self._job
        assert job is not None  # set by _begin
        engine.release(job)
        if not bpy.app.background:
            progress.clear(context)
        for warning in job.warnings:  # worded for the add-on by the engine bridge
            self.report({"WARNING"}, without_secrets(warning, context))
        if job.cancelled or isinstance(job.error, errors.Cancelled):
            _discard(job)
            self.report({"INFO"}, "Moodscore cancelled; nothing was written.")
            return {"CANCELLED"}
        if job.error is not None:
            _discard(job)
            self.report({"ERROR"}, without_secrets(str(job.error), context))
            return {"CANCELLED"}
        try:
            self.apply(context, job)
        except (StripError, errors.MoodscoreError) as exc:
            _discard(job)
            self.report({"ERROR"}, messages.for_addon(str(exc)))
            return {"CANCELLED"}
        finally:
            score_files.note_state()  # undo may come back to what the strips use now
        return {"FINISHED"}


def _discard(job: ScoringJob) -> None:
    """Remove what the job staged, and the score folders it made that stay empty."""
    job.discard()
    for request in job.requests:
        # A request's folder is a version folder: its strip's folder, then the folder of
        # every strip's folder, may be left empty by a first score.
        for folder in (request.out_dir.parent, request.out_dir.parent.parent):
            with contextlib.suppress(OSError):  # only succeeds when empty
                folder.rmdir()


class MOODSCORE_OT_score_strip(_JobOperator, bpy.types.Operator):  # noqa: N801 (Blender naming)
    """Score the selected movie strips: analyse their visible part and add a music strip"""

    bl_idname = "moodscore.score_strip"
    bl_label = "Score Selected Strip"

    def prepare(self, context: bpy.types.Context) -> ScoringJob:
        scene = context.scene
        candidates = [s for s in self.target_strips(context) if s.moodscore.role == "NONE"]
        if not candidates:
            raise StripError("Select a movie strip to score.")
        config = self.configured(context)
        base, beside_blend = strip_ops.output_base()
        requests, refusals = [], []
        taken: set[Path] = set()
        self._spans, self._uids, self._scene_name = {}, {}, scene.name
        for strip in candidates:
            try:
                span = strip_span(scene, strip)
            except StripError as exc:
                refusals.append(str(exc))
                continue
            self._spans[strip.name] = span
            self._uids[strip.name] = strip_ops.ensure_identity(scene, strip)
            folder = strip_ops.choose_out_dir(scene, strip, base, taken)
            requests.append(
                ScoreRequest(
                    key=strip.name,
                    video=span.video,
                    out_dir=score_files.new_version(folder, taken),
                    stem=file_stem(strip.name),
                    config=config,
                    start_s=span.file_start_s,
                    end_s=span.file_end_s,
                    stretch_to_s=span.edit_duration_s if span.needs_stretch else None,
                )
            )
        if not requests:
            raise StripError(refusals[0])
        for refusal in refusals:
            self.warn(refusal)
        if not beside_blend:
            self.warn(
                f"The .blend is not saved, so the scores go to {base} for now; "
                "saving it moves them beside it.",
            )
        return ScoringJob(requests)

    def apply(self, context: bpy.types.Context, job: ScoringJob) -> None:
        scene = bpy.data.scenes.get(self._scene_name)
        made = []
        for outcome in job.outcomes:
            key = outcome.request.key
            # By id: the user may rename the strip while the engine works.
            source = strip_ops.find_by_uid(scene, self._uids[key]) if scene else None
            if source is None:
                outcome.discard()
                self.report({"WARNING"}, f"Strip '{key}' went away; not scored.")
                continue
            published = outcome.publish()
            strip = strip_ops.place_score_strip(scene, source, self._spans[key], outcome, published)
            _add_editor_aids(scene, strip, outcome, published)
            made.append(strip)
        if made:
            names = ", ".join(f"'{strip.name}' (channel {strip.channel})" for strip in made)
            folder = Path(job.outcomes[0].request.out_dir).parent.parent
            self.report({"INFO"}, f"Added {names}; files in {strip_ops.stored_path(folder)}.")


def _add_editor_aids(scene: Any, strip: Any, outcome: Any, published: dict[str, Path]) -> None:
    """Markers, ducking keys and stems for a new version, the stems marked as ``strip``'s."""
    edit_aids.after_score(scene, strip, outcome, published)
    strip_ops.tag_stems(scene, strip, published)


class MOODSCORE_OT_rescore_from_curves(_JobOperator, bpy.types.Operator):  # noqa: N801 (Blender naming)
    """New music from the edited arousal and valence curves (no video analysis)"""

    bl_idname = "moodscore.rescore_from_curves"
    bl_label = "Re-score from Curves"

    def prepare(self, context: bpy.types.Context) -> ScoringJob:
        scene = context.scene
        self._scene_name = scene.name
        scores: dict[str, Any] = {}
        for strip in self.target_strips(context):
            role = strip.moodscore.role
            if role == "STEM":
                continue
            found = [strip] if role == "SCORE" else strip_ops.score_strips_of(scene, strip)
            scores.update((score.name, score) for score in found)
        if not scores:
            raise StripError(
                "Select a score strip made by Moodscore (or its movie strip); score it first."
            )
        requests = []
        taken: set[Path] = set()
        self._uids = {}
        for score in scores.values():
            self._uids[score.name] = strip_ops.ensure_identity(scene, score)
            info = score.moodscore
            arousal, valence = strip_ops.read_curves(scene, score)
            timeline = engine.timeline_from_curves(
                arousal,
                valence,
                bpm=info.bpm,
                step_bars=info.step_bars,
                duration_s=info.duration_s,
                cuts_s=strip_ops.stored_cuts(score),
            )
            folder = Path(bpy.path.abspath(info.out_dir))
            grid = {"bpm": info.bpm, "step_bars": info.step_bars}
            requests.append(
                ScoreRequest(
                    key=score.name,
                    video=Path(bpy.path.abspath(info.video)),
                    out_dir=score_files.new_version(folder, taken),
                    stem=info.stem,
                    config=self.configured(
                        context, **grid, gain_db=strip_ops.version_gain_db(score)
                    ),
                    start_s=info.start_s,
                    end_s=info.end_s,
                    timeline=timeline,
                )
            )
        return ScoringJob(requests)

    def apply(self, context: bpy.types.Context, job: ScoringJob) -> None:
        scene = bpy.data.scenes.get(self._scene_name)
        done = 0
        for outcome in job.outcomes:
            key = outcome.request.key
            score = strip_ops.find_by_uid(scene, self._uids[key], "SCORE") if scene else None
            if score is None:
                outcome.discard()
                self.report({"WARNING"}, f"Score strip '{key}' went away; not re-scored.")
                continue
            # A new version beside the old one, which undo goes back to: nothing is replaced.
            published = outcome.publish()
            strip_ops.retarget(scene, score, published)
            score.moodscore.generator = outcome.request.config.music.generator
            _add_editor_aids(scene, score, outcome, published)
            done += 1
        self.report({"INFO"}, f"Re-scored {done} strip(s) from their curves.")


CLASSES: tuple[type, ...] = (MOODSCORE_OT_score_strip, MOODSCORE_OT_rescore_from_curves)
