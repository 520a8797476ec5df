"""The editor features' part of one scoring run, called by :mod:`core.pipeline`.

One :class:`EditRun` per run: it picks the tempo before composing (``--bpm auto``), finds the
speech before rendering (``--duck``), and after rendering lowers the music under it, writes the
beat grid and renders the stems. What it did goes into ``score.json`` under ``"edit"``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..naming import SPEECH_OUTPUT, STEM_PREFIX
from .beats import write_beats_csv
from .speech import Segment, SpeechTrack, detect_speech, detector_version, write_speech_csv
from .tempo import TempoFit, check_range, fit_timeline

if TYPE_CHECKING:
    from ..config import Config
    from ..music.score import Score
    from ..outputs import Staging
    from ..timeline import EmotionTimeline

log = logging.getLogger(__name__)


def selected_outputs(kinds: Collection[str], config: Config) -> tuple[str, ...]:
    """``kinds`` without the outputs of features that are off (speech CSV, stems)."""
    edit = config.edit
    return tuple(
        kind
        for kind in kinds
        if (kind != SPEECH_OUTPUT or edit.duck) and (not kind.startswith(STEM_PREFIX) or edit.stems)
    )


@dataclass
class EditRun:
    """State of the editor features through one run.

    Parameters
    ----------
    config
        The run's configuration (``config.edit`` holds the features' options).
    fps
        The picture's frame rate: a cut is on a beat within half a frame.
    """

    config: Config
    fps: float = 25.0
    tempo: TempoFit | None = None
    speech: SpeechTrack | None = None
    ducked: list[Segment] = field(default_factory=list)
    stems: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.config.edit.bpm_auto:
            check_range(self.config.edit.bpm_low, self.config.edit.bpm_high)

    def fit_tempo(self, timeline: EmotionTimeline) -> EmotionTimeline:
        """With ``bpm_auto``, the timeline moved onto the tempo that suits its cuts and mood."""
        edit = self.config.edit
        if not edit.bpm_auto:
            return timeline
        timeline, self.tempo = fit_timeline(timeline, self.fps, edit.bpm_low, edit.bpm_high)
        log.info(
            "Tempo %.2f bpm: %d of %d cuts on a beat.",
            self.tempo.bpm,
            sum(self.tempo.on_beat),
            len(self.tempo.cuts_s),
        )
        return timeline

    def find_speech(
        self,
        video: Path,
        staging: Staging,
        *,
        start_s: float = 0.0,
        end_s: float | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        """With ``duck``, find the speech in ``video``'s range and stage the speech CSV."""
        if not self.config.edit.duck:
            return
        self.speech = detect_speech(
            video,
            start_s=start_s,
            end_s=end_s,
            threshold=self.config.edit.speech_threshold,
            cancel=cancel,
        )
        if SPEECH_OUTPUT in staging.targets:
            write_speech_csv(self.speech, staging.path(SPEECH_OUTPUT))

    def after_compose(self, score: Score, timeline: EmotionTimeline, staging: Staging) -> None:
        """Stage the beat grid of the composed score."""
        if "beats_csv" in staging.targets:
            write_beats_csv(score.bpm, timeline.duration_s, staging.path("beats_csv"))

    def after_render(
        self,
        staging: Staging,
        score: Score,
        duration_s: float,
        soundfont: Path,
        gain_db: float,
        cancel: threading.Event | None = None,
    ) -> None:
        """Render the stems with the mix's mastering gain, then lower the mix (the WAV the MP4
        is muxed from) under the speech found. Stems are not ducked: they are for remixing."""
        edit = self.config.edit
        stem_paths = {
            kind.removeprefix(STEM_PREFIX): staging.path(kind)
            for kind in staging.targets
            if kind.startswith(STEM_PREFIX)
        }
        if edit.stems and stem_paths:
            from .stems import render_stems

            roles = render_stems(
                score, stem_paths, self.config.render, duration_s, soundfont, gain_db,
                mastered=staging.temps.get("wav"), cancel=cancel,
            )  # fmt: skip
            self.stems = {role: staging.targets[STEM_PREFIX + role].name for role in roles}
            for role in set(stem_paths) - set(roles):
                # A part this score does not play: no file, and not listed as an output.
                del staging.targets[STEM_PREFIX + role]
        if self.speech is None or not self.speech.segments or "wav" not in staging.temps:
            return
        from .ducking import duck_wav

        self.ducked = duck_wav(
            staging.path("wav"),
            self.speech.segments,
            edit.duck_db,
            edit.duck_fade_ms / 1000.0,
            cancel=cancel,
        )

    def summary(self) -> dict[str, Any]:
        """The ``"edit"`` section of ``score.json``."""
        edit = self.config.edit
        out: dict[str, Any] = {"tempo": self.tempo.summary() if self.tempo else {"auto": False}}
        if self.speech is not None:
            out["speech"] = {
                "has_audio": self.speech.has_audio,
                "segments": len(self.speech.segments),
                "speech_s": round(self.speech.speech_s, 3),
                "detector": detector_version(),
            }
            out["ducking"] = {
                "amount_db": edit.duck_db,
                "fade_ms": edit.duck_fade_ms,
                "ducked": [[round(a, 3), round(b, 3)] for a, b in self.ducked],
            }
        if self.stems:
            out["stems"] = self.stems
        return out
