"""``score.json``: what a run read, chose, wrote and with which versions."""

from __future__ import annotations

import importlib.metadata
import platform
import time
from pathlib import Path
from typing import Any

from . import __version__
from .config import Config, config_to_dict
from .generators import resolve_name
from .timeline import EmotionTimeline

#: Distributions whose versions shape the output (recorded in every manifest).
VERSIONED_PACKAGES = (
    "numpy",
    "av",
    "opencv-python-headless",
    "mido",
    "pyfluidsynth",
    "midirenderer",
    "PyYAML",
)


def build_manifest(
    config: Config,
    targets: dict[str, Path],
    timeline: EmotionTimeline,
    timings: dict[str, Any],
    *,
    inputs: dict[str, Any],
    soundfont: Path | None = None,
) -> dict[str, Any]:
    """``score.json``: inputs, options, generator, seed, durations, outputs, versions.

    Secrets (the cloud API key) are left out by :func:`core.config.config_to_dict`.
    """
    generator = resolve_name(config.music.generator)
    manifest: dict[str, Any] = {
        "moodscore": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "inputs": inputs,
        "generator": generator,
        "seed": config.music.seed,
        "grid": {
            "bpm": timeline.grid.bpm,
            "step_bars": timeline.grid.step_bars,
            "step_s": timeline.grid.step_s,
            "steps": len(timeline.steps),
        },
        "duration_s": timeline.duration_s,
        "cuts": len(timeline.cuts_s),
        "timings": timings,
        "soundfont": str(soundfont) if soundfont else None,
        "synth": _synth_used(config) if soundfont else None,
        "options": config_to_dict(config),
        "outputs": {kind: path.name for kind, path in targets.items()},
        "versions": package_versions(),
    }
    if generator.startswith("rbm"):
        from .rbm.model import resolve_model

        model_path, digest = resolve_model(config)
        manifest["model"] = {"path": str(model_path), "sha256": digest}
    return manifest


def _synth_used(config: Config) -> str:
    """The synthesizer that rendered the WAV, with its version."""
    from .music.synth import choose_synth, synth_version

    return synth_version(choose_synth(config.render.synth))


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages that shape the output."""
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions
