"""The ``moodscore`` command line: score, emotions, compose, split, plot, config, train, batch."""

from __future__ import annotations

from .signals import exit_quietly_on_stop_signals, started_as_the_command

# The installed script imports this module first: before any other import, a stop signal
# must already end the run quietly (python -m core does this in core/__main__.py).
if started_as_the_command():
    exit_quietly_on_stop_signals()

import argparse
import logging
import os
import sys
import typing
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .cli_options import add_common, add_sources, resolve_config
from .edit.cli import add_edit_arguments
from .errors import Cancelled, InputError, MoodscoreError
from .files import NAME_MAX, check_out_option, describe_os_error
from .limits import MAX_QUOTED_CHARS
from .signals import Stopped, stop_on_signals, stop_received, stopped_by
from .timeline import TimeGrid

#: The commands that run the scoring pipeline (and so need its stage modules).
PIPELINE_COMMANDS = frozenset({"score", "emotions", "compose", "batch"})


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as one sentence, like every other error (usage on --help)."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(
            InputError.exit_code,
            f"moodscore: error: {self.prog}: {quoted_message(message)}; see {self.prog} --help.\n",
        )


def quoted_message(message: str) -> str:
    """argparse's message, cut to a readable length (it quotes the bad value whole)."""
    limit = 2 * MAX_QUOTED_CHARS + 40
    return message if len(message) <= limit else message[: limit - 1] + "…"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = _Parser(
        prog="moodscore",
        description="Read the emotional arc of a video and compose music that follows it.",
    )
    parser.add_argument("--version", action="version", version=f"moodscore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    score = sub.add_parser(
        "score",
        help="score a video: emotions, MIDI, WAV and a scored MP4",
        epilog="example: moodscore score clip.mp4 --generator chords --seed 3 --out scored/",
    )
    score.add_argument("video", type=Path, help="the video file to score")
    score.add_argument(
        "generator_number",
        nargs="?",
        metavar="GENERATOR",
        help="generator name or its number in the original system (1-4), instead of --generator",
    )
    add_common(score, music=True)
    add_sources(score)
    score.add_argument(
        "--keep-original-audio",
        action="store_true",
        default=None,
        help="keep the source audio as a second track",
    )
    add_edit_arguments(score, video=True)
    score.set_defaults(run=_run_score)

    emotions = sub.add_parser("emotions", help="write only the emotion files of a video")
    emotions.add_argument("video", type=Path, help="the video file to analyse")
    add_common(emotions, music=False)
    add_sources(emotions)
    emotions.set_defaults(run=_run_emotions)

    compose = sub.add_parser("compose", help="music from an emotion file, no video")
    compose.add_argument("emotions", type=Path, help="emotion file: 'arousal, valence' per line")
    add_common(compose, music=True)
    add_edit_arguments(compose, video=False)
    compose.set_defaults(run=_run_compose)

    split = sub.add_parser("split", help="cut a video into segments without re-encoding")
    split.add_argument("video", type=Path, help="the video file to cut")
    split.add_argument("--seconds", type=float, default=30.0, help="segment length (default 30)")
    split.add_argument("--out", type=Path, help="folder for the segments (default: beside it)")
    split.add_argument("--force", action="store_true", help="overwrite existing segments")
    split.add_argument("--quiet", action="store_true")
    split.set_defaults(run=_run_split)

    plot = sub.add_parser("plot", help="draw an emotion file or a MIDI file to PNG")
    plot.add_argument("file", type=Path, help="an .emotions.txt or a .mid file")
    plot.add_argument("--output", "-o", type=Path, help="PNG path (default: <file>.png)")
    plot.add_argument("--force", action="store_true", help="overwrite an existing PNG")
    plot.add_argument("--bpm", type=float, help="tempo of the emotion file's grid (default 120)")
    plot.add_argument("--step-bars", type=int, help="bars per emotion step (default 1)")
    plot.add_argument("--quiet", action="store_true")
    plot.set_defaults(run=_run_plot)

    show = sub.add_parser("config", help="print the effective configuration as YAML")
    show.add_argument("--config", type=Path, help="YAML file to start from")
    show.add_argument("--bpm", type=float)
    show.add_argument("--step-bars", type=int)
    show.add_argument("--quiet", action="store_true")
    show.set_defaults(run=_run_config)

    train = sub.add_parser("train", help="train the RBM on MIDI files (needs TensorFlow)")
    from .rbm.training.cli import add_train_arguments, run_train

    add_train_arguments(train)
    train.set_defaults(run=run_train)

    from .batch.cli import add_batch_parser

    add_batch_parser(sub)
    return parser


class _ProgressBar:
    """A tqdm bar on stderr fed by the pipeline's (stage, fraction) callbacks."""

    def __init__(self, enabled: bool) -> None:
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(
                total=100,
                file=sys.stderr,
                unit="%",
                leave=False,
                mininterval=0.25,
                bar_format="{desc:<9} {bar} {percentage:3.0f}% {elapsed}",
            )

    def __call__(self, stage: str, fraction: float) -> None:
        if self.bar is None:
            return
        if self.bar.desc != stage:
            self.bar.set_description_str(stage, refresh=False)
        # update() redraws at most every mininterval, unlike refresh().
        self.bar.update(round(fraction * 100, 1) - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _with_progress(args: argparse.Namespace, work: Callable[[_ProgressBar], Any]) -> Any:
    from tqdm.contrib.logging import logging_redirect_tqdm

    bar = _ProgressBar(enabled=not args.quiet)
    try:
        with logging_redirect_tqdm():
            return work(bar)
    finally:
        bar.close()


def _run_score(args: argparse.Namespace) -> int:
    from .pipeline import score_video

    config = resolve_config(args)
    result = _with_progress(
        args, lambda bar: score_video(args.video, args.out, config, force=args.force, progress=bar)
    )
    _summary(result.out_dir, result.outputs.values(), result.duration_s, config.music.generator)
    return 0


def _run_emotions(args: argparse.Namespace) -> int:
    from .pipeline import default_out_dir, write_emotions

    config = resolve_config(args)
    _import_in_background("matplotlib.backends.backend_agg")  # the plot's, while frames decode
    out = args.out or default_out_dir(args.video)
    timeline, paths = _with_progress(
        args, lambda bar: write_emotions(args.video, out, config, force=args.force, progress=bar)
    )
    _summary(out, paths.values(), timeline.duration_s, None)
    return 0


def _import_in_background(module: str) -> None:
    """Import ``module`` in a thread: its import overlaps the analysis instead of following it.

    Not a daemon: the interpreter waits for the import at exit rather than freezing it half-done.
    """
    import importlib
    import threading

    threading.Thread(target=importlib.import_module, args=(module,), name="import").start()


def _run_compose(args: argparse.Namespace) -> int:
    from .pipeline import default_out_dir, output_stem, score_timeline
    from .timeline import read_emotion_file

    config = resolve_config(args)
    timeline = read_emotion_file(args.emotions, TimeGrid(config.bpm, config.step_bars))
    out = args.out or default_out_dir(args.emotions)
    result = _with_progress(
        args,
        lambda bar: score_timeline(
            timeline,
            out,
            config,
            stem=output_stem(args.emotions),
            force=args.force,
            source=args.emotions,
            progress=bar,
        ),
    )
    _summary(result.out_dir, result.outputs.values(), result.duration_s, config.music.generator)
    return 0


def _run_split(args: argparse.Namespace) -> int:
    from .video.probe import check_remuxable, muxer_for, probe
    from .video.split import split_video

    info = probe(args.video)
    check_remuxable(info, muxer_for(args.video))
    out = args.out or args.video.parent
    parts = split_video(args.video, out, args.seconds, force=args.force)
    _summary(out, parts, None, None)
    return 0


def _run_plot(args: argparse.Namespace) -> int:
    from .files import check_input_file

    source: Path = args.file
    check_input_file(source, "Plot input", "pass an .emotions.txt or a .mid file")
    output: Path = args.output or source.with_name(source.name + ".png")
    _check_plot_output(source, output, force=args.force)
    if source.suffix.lower() in (".mid", ".midi"):
        from .music.plot import plot_piano_roll

        plot_piano_roll(source, output)
    else:
        from .emotion.export import plot_timeline
        from .timeline import read_emotion_file

        config = resolve_config(args)
        grid = TimeGrid(config.bpm, config.step_bars)
        plot_timeline(read_emotion_file(source, grid), output, title=source.name)
    _summary(output.parent, [output], None, None)
    return 0


def _check_plot_output(source: Path, output: Path, *, force: bool) -> None:
    """Refuse, before drawing, a PNG path that is the input, a folder, or in no folder."""
    if output.resolve() == source.resolve():
        raise InputError(f"-o {output} is the input file itself; choose another PNG path.")
    if output.is_dir():
        raise InputError(f"-o {output} is a directory; give a file name such as plot.png.")
    if not output.parent.is_dir():
        raise InputError(
            f"The folder {output.parent} of -o {output} does not exist; create it first."
        )
    if output.exists() and not force:
        raise InputError(f"{output} already exists; pass --force to overwrite it.")
    if len(output.name.encode()) > NAME_MAX:
        raise InputError(f"-o {output.name[:40]}... is longer than {NAME_MAX} bytes; shorten it.")


def _run_config(args: argparse.Namespace) -> int:
    from .config import dump_yaml

    sys.stdout.write(dump_yaml(resolve_config(args)))
    return 0


def _summary(
    out: Path, paths: Iterable[str | Path], duration_s: float | None, generator: str | None
) -> None:
    """Print the one-line summary of what a command wrote."""
    names = ", ".join(sorted(Path(p).name for p in paths))
    detail = f" ({duration_s:.1f} s, {generator})" if duration_s and generator else ""
    print(f"moodscore: wrote {names}{detail} to {out}{os.sep}")


def _escape_unencodable_output() -> None:
    """Print a character the output cannot encode as an escape instead of failing the run.

    On Windows a redirected stdout uses the ANSI code page (cp1252 ...), where a path such as
    ``映像\\clip.mp4`` in the summary line would otherwise end a finished run with a traceback.
    """
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    0 on success; 2 for usage, input and environment errors (one sentence on stderr, nothing
    written); 1 for an internal failure; 128 + N when stopped by signal N (SIGINT 130,
    SIGTERM 143, SIGHUP 129 on POSIX, SIGBREAK 149 on Windows), after removing every partial
    output.
    """
    _escape_unencodable_output()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="moodscore: %(message)s",
        stream=sys.stderr,
    )
    if args.command in PIPELINE_COMMANDS:
        # Imported while a stop signal still ends the process at once with one line: a signal
        # inside a native module's import cannot always be told from that import failing.
        from .pipeline import import_stages

        import_stages()
    with stop_on_signals():
        try:
            if getattr(args, "out", None) is not None:
                check_out_option(args.out)
            return int(args.run(args) or 0)
        except KeyboardInterrupt as exc:
            return _report_stop(exc)
        except MoodscoreError as exc:
            print(f"moodscore: error: {exc}", file=sys.stderr)
            return exc.exit_code
        except OSError as exc:
            # The disk, the permissions or a path the user gave: their environment, exit 2.
            print(f"moodscore: error: {describe_os_error(exc)}", file=sys.stderr)
            return InputError.exit_code
        except Exception as exc:
            # Python 3.11 wraps an exception raised while a class is created (a signal during a
            # lazy import, e.g. scipy's) in a RuntimeError whose cause is the stop.
            stop = stopped_by(exc) or stop_received()
            if stop is None:
                raise
            return _report_stop(stop)


def _report_stop(exc: KeyboardInterrupt) -> int:
    """The one line for a run stopped by a signal, and its exit status."""
    name = exc.args[0] if isinstance(exc, Stopped) else "SIGINT"
    print(f"moodscore: stopped by {name}; no partial output was left.", file=sys.stderr)
    return exc.exit_code if isinstance(exc, Stopped) else Cancelled.exit_code
