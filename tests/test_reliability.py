"""Issue 11, in process: every bad input, option or file is one sentence, exit 2, nothing written.

One test (or parametrised case) per fault; process-level faults (signals, races, full disks)
are in ``test_reliability_processes.py``.
"""

from __future__ import annotations

import json
import os
import stat
import struct
import zipfile
from pathlib import Path

import av
import numpy as np
import pytest

from core.cli import main
from core.files import TEMP_MARKER, temp_path_for
from core.limits import MAX_DURATION_S
from core.rbm.model import SHIPPED_MODEL
from tests.cli_run import one_sentence_error, run_cli
from tests.clips import render_frames, write_clip

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _can(codec: str, mode: str) -> bool:
    try:
        av.codec.Codec(codec, mode)
    except av.codec.codec.UnknownCodecError:
        return False
    return True


@pytest.fixture
def emotions_file(tmp_path: Path) -> Path:
    path = tmp_path / "clip.emotions.txt"
    path.write_text("0.2, 0.3\n0.6, 0.7\n")
    return path


@pytest.fixture
def small_clip(tmp_path: Path) -> Path:
    """2 s, 160x90, grey."""
    frame = np.full((90, 160, 3), 110, np.uint8)
    return write_clip(tmp_path / "small.mp4", render_frames(lambda i, t: frame, 2.0, 25.0))


# AV1 video. PyAV's template copies the *decoder's* name (libdav1d) as a codec to
# open, which has no encoder: scoring and splitting used to fail after the whole analysis.
@pytest.mark.skipif(
    not (_can("libsvtav1", "w") and _can("av1", "r")),
    reason="this FFmpeg build cannot both encode (libsvtav1) and decode AV1",
)
def test_av1_video_is_scored_and_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = render_frames(lambda i, t: np.full((96, 160, 3), 20 + 4 * i, np.uint8), 3.0, 25.0)
    clip = write_clip(tmp_path / "av1.mp4", frames, codec="libsvtav1")
    capsys.readouterr()
    code, err = run_cli(capsys, "score", str(clip), "--out", str(tmp_path / "scored"))
    assert code == 0, err
    with av.open(str(tmp_path / "scored" / "av1.mp4")) as scored:
        assert scored.streams.video[0].codec_context.codec.canonical_name == "av1"
        assert sum(1 for _ in scored.decode(video=0)) == 75  # every frame, still decodable
    code, err = run_cli(capsys, "split", str(clip), "--seconds", "1", "--out", str(tmp_path / "p"))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "p").iterdir())[0] == "av1_part001.mp4"


def test_codec_mp4_cannot_carry_is_refused_before_analysis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], analysis_forbidden: None
) -> None:
    frame = np.full((64, 64, 3), 90, np.uint8)
    # Ut Video (an editing intermediate) in AVI: decodable, but MP4 has no tag for it.
    clip = write_clip(
        tmp_path / "edit.avi", render_frames(lambda i, t: frame, 1.0, 10.0), codec="utvideo"
    )
    code, err = run_cli(capsys, "score", str(clip), "--out", str(tmp_path / "o"))
    assert code == 2
    one_sentence_error(err, "UTVIDEO", "cannot carry", "re-encode")
    assert not (tmp_path / "o").exists()


def test_video_without_a_decoder_is_refused_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = np.full((64, 64, 3), 90, np.uint8)
    clip = write_clip(
        tmp_path / "ut.avi", render_frames(lambda i, t: frame, 1.0, 10.0), codec="utvideo"
    )
    # An AVI fourcc FFmpeg knows no decoder for: what a missing decoder looks like.
    unknown = tmp_path / "unknown.avi"
    unknown.write_bytes(clip.read_bytes().replace(b"ULY0", b"ZZZZ"))
    code, err = run_cli(capsys, "score", str(unknown), "--out", str(tmp_path / "o"))
    assert code == 2
    one_sentence_error(err, "no decoder", "re-encode it to H.264")
    assert not (tmp_path / "o").exists()


@pytest.fixture
def analysis_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the emotion analysis starts: the check under test must come first."""

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the analysis started before an up-front check")

    monkeypatch.setattr("core.emotion.analyze", must_not_run)


# a FIFO (or any non-regular file) as input used to block forever.
@pytest.mark.parametrize(
    ("command", "extra"),
    [
        ("score", []),
        ("emotions", []),
        ("compose", []),
        ("plot", []),
        ("split", []),
        ("config-file", []),
    ],
)
def test_fifo_inputs_are_refused(
    command: str, extra: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "input.mp4"
    os.mkfifo(fifo)
    argv = {
        "config-file": ["config", "--config", str(fifo)],
        "plot": ["plot", str(fifo)],
    }.get(command, [command, str(fifo), "--out", str(tmp_path / "o")])
    code, err = run_cli(capsys, *argv, *extra)
    assert code == 2
    one_sentence_error(err, "not a regular file")
    assert not (tmp_path / "o").exists()


# bad output paths.
def test_plot_into_a_missing_folder_is_refused(
    emotions_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_cli(capsys, "plot", str(emotions_file), "-o", str(tmp_path / "nodir" / "x.png"))
    assert code == 2
    one_sentence_error(err, "nodir", "does not exist")


def test_plot_onto_a_folder_is_refused(
    emotions_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "somedir").mkdir()
    code, err = run_cli(
        capsys, "plot", str(emotions_file), "-o", str(tmp_path / "somedir"), "--force"
    )
    assert code == 2
    one_sentence_error(err, "is a directory")
    assert list((tmp_path / "somedir").iterdir()) == []


def test_split_into_a_file_is_refused(
    small_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("mine")
    code, err = run_cli(capsys, "split", str(small_clip), "--out", str(blocker))
    assert code == 2
    one_sentence_error(err, "afile", "is a file")
    assert blocker.read_text() == "mine"


def test_train_into_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("mine")
    code, err = run_cli(capsys, "train", "--data", str(tmp_path), "--out", str(blocker))
    assert code == 2
    one_sentence_error(err, "--out", "is a file")


def test_a_236_character_video_name_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = np.full((90, 160, 3), 70, np.uint8)
    name = "v" * 232 + ".mp4"
    clip = write_clip(tmp_path / name, render_frames(lambda i, t: frame, 2.0, 25.0))
    out = tmp_path / "o"
    code, err = run_cli(capsys, "score", str(clip), "--out", str(out))
    assert code == 0, err
    assert (out / ("v" * 232 + ".emotions.txt")).is_file()
    assert not [p for p in out.iterdir() if TEMP_MARKER in p.name]


def test_temp_names_never_exceed_the_file_system_limit(tmp_path: Path) -> None:
    target = tmp_path / ("n" * 250 + ".wav")
    temp = temp_path_for(target)
    assert len(temp.name.encode()) <= 255 and temp.suffix == ".wav" and temp.is_file()


@pytest.fixture
def read_only_folder(tmp_path: Path):
    """A read-only tmpfs (root only; unmounted in teardown)."""
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a read-only tmpfs needs root")
    folder = tmp_path / "ro"
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_read_only_output_folder(
    read_only_folder: Path, emotions_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_cli(capsys, "compose", str(emotions_file), "--out", str(read_only_folder / "o"))
    assert code == 2
    one_sentence_error(err, "not writable", "read-only file system")
    code, err = run_cli(capsys, "plot", str(emotions_file), "-o", str(read_only_folder / "p.png"))
    assert code == 2
    one_sentence_error(err, "read-only", "writable folder")


# plot used to overwrite its own input.
def test_plot_never_overwrites_its_input(
    emotions_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = emotions_file.read_bytes()
    code, err = run_cli(capsys, "plot", str(emotions_file), "-o", str(emotions_file), "--force")
    assert code == 2
    one_sentence_error(err, "input file itself")
    assert emotions_file.read_bytes() == before


# a negative seed, from the command line or the config file, refused before any work.
@pytest.mark.parametrize("where", ["option", "config"])
def test_a_negative_seed_is_refused_before_any_work(
    where: str,
    small_clip: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    analysis_forbidden: None,
) -> None:
    if where == "option":
        extra, words = ["--seed", "-1"], ("--seed", "between 0 and")
    else:
        config = tmp_path / "c.yaml"
        config.write_text("music: {seed: -1}\n")
        extra, words = ["--config", str(config)], ("music.seed", "between 0 and")
    code, err = run_cli(capsys, "score", str(small_clip), *extra, "--out", str(tmp_path / "o"))
    assert code == 2
    one_sentence_error(err, *words)
    assert not (tmp_path / "o").exists()


# every config number is range- and type-checked in one place.
@pytest.mark.parametrize(
    ("yaml_text", "key"),
    [
        ("analysis: {analysis_width: 0}", "analysis.analysis_width"),
        ("analysis: {colour_clusters: 0}", "analysis.colour_clusters"),
        ("analysis: {colour_clusters: 100000}", "analysis.colour_clusters"),
        ("analysis: {face_detect_width: -5}", "analysis.face_detect_width"),
        ("analysis: {smoothing: 5}", "analysis.smoothing"),
        ("video: {audio_bitrate: -1}", "video.audio_bitrate"),
        ("render: {sample_rate: 1e8}", "render.sample_rate"),
        ("render: {fade_s: 11}", "render.fade_s"),
        ("render: {fade_s: -1}", "render.fade_s"),
        ("step_bars: true", "step_bars"),
        ("bpm: .nan", "bpm"),
        ("rbm: {gibbs_steps: 0}", "rbm.gibbs_steps"),
        ("analysis: {cloud: {timeout_s: -1}}", "analysis.cloud.timeout_s"),
    ],
)
def test_config_values_are_range_checked(
    yaml_text: str,
    key: str,
    emotions_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(yaml_text + "\n")
    out = tmp_path / "o"
    code, err = run_cli(
        capsys, "compose", str(emotions_file), "--config", str(config), "--out", str(out)
    )
    assert code == 2
    one_sentence_error(err, f"'{key}'", "must be")
    assert not out.exists()


def test_plot_bpm_zero_is_refused(emotions_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_cli(capsys, "plot", str(emotions_file), "--bpm", "0")
    assert code == 2
    one_sentence_error(err, "--bpm", "between 30 and 300")
    assert not emotions_file.with_name(emotions_file.name + ".png").exists()


# model files are checked member by member before anything is read in full.
def _model_arrays() -> dict[str, np.ndarray]:
    with np.load(SHIPPED_MODEL) as data:
        return {key: data[key] for key in data.files}


def _npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez(path, **arrays)
    return path


def _claim_size(path: Path, member: str, size: int) -> Path:
    """Rewrite the zip directory so ``member`` claims ``size`` uncompressed bytes."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    at = 0
    while True:
        at = data.index(b"PK\x01\x02", at)
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if bytes(data[at + 46 : at + 46 + name_length]) == name:
            struct.pack_into("<I", data, at + 24, size)
            break
        at += 4
    path.write_bytes(bytes(data))
    return path


def _string_version(tmp: Path) -> Path:
    return _npz(tmp / "m.npz", {**_model_arrays(), "format_version": np.array("one")})


def _mismatched_info(tmp: Path) -> Path:
    arrays = _model_arrays()
    return _npz(tmp / "m.npz", {**arrays, "info_values": arrays["info_values"][:-1]})


def _nan_bias(tmp: Path) -> Path:
    arrays = _model_arrays()
    bias = arrays["hidden_bias"].copy()
    bias[3] = np.nan
    return _npz(tmp / "m.npz", {**arrays, "hidden_bias": bias})


def _huge_weights(tmp: Path) -> Path:
    return _claim_size(_npz(tmp / "m.npz", _model_arrays()), "weights.npy", 3 * 2**30)


def _plain_text(tmp: Path) -> Path:
    path = tmp / "m.npz"
    path.write_text("weights: 0.1 0.2 0.3\n")
    return path


MODEL_CASES = {
    "string format_version": (_string_version, ("format_version",)),
    "mismatched info": (_mismatched_info, ("info keys", "info values")),
    "nan bias": (_nan_bias, ("hidden_bias", "NaN")),
    "member claims 3 GB": (_huge_weights, ("weights", "3072 MB", "limit")),
    "plain text": (_plain_text, ("not a readable .npz", "not a zip archive")),
}


@pytest.mark.parametrize("case", list(MODEL_CASES))
def test_damaged_models_are_one_sentence_before_any_work(
    case: str, emotions_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, words = MODEL_CASES[case]
    model = make(tmp_path)
    out = tmp_path / "o"
    code, err = run_cli(
        capsys, "compose", str(emotions_file), "-g", "3", "--model", str(model), "--out", str(out)
    )
    assert code == 2
    one_sentence_error(err, *words)
    assert not out.exists()


def test_an_unused_member_is_never_read(
    emotions_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arrays = {**_model_arrays(), "notes_to_self": np.zeros(16, np.uint8)}
    model = _claim_size(_npz(tmp_path / "m.npz", arrays), "notes_to_self.npy", 3 * 2**30)
    code, err = run_cli(
        capsys, "compose", str(emotions_file), "-g", "3", "--model", str(model),
        "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert code == 0, err


# training options; checked before TensorFlow or the data are touched.
@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--learning-rate", "nan", ("--learning-rate", "finite")),
        ("--weight-decay", "nan", ("--weight-decay", "finite")),
        ("--hidden", "100000000", ("--hidden", "between 1 and 4096")),
        ("--momentum", "1.5", ("--momentum",)),
        ("--seed", "-3", ("--seed",)),
    ],
)
def test_training_options_are_range_checked(
    option: str, value: str, words: tuple[str, ...], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    out = tmp_path / "run"
    code, err = run_cli(capsys, "train", "--data", str(tmp_path), "--out", str(out), option, value)
    assert code == 2
    one_sentence_error(err, *words)
    assert not out.exists()


def test_resume_without_a_checkpoint_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tensorflow")  # the checkpoint state is read by the training module
    out = tmp_path / "run"
    out.mkdir()
    code, err = run_cli(capsys, "train", "--data", str(tmp_path), "--out", str(out), "--resume")
    assert code == 2
    one_sentence_error(err, "--resume", "no checkpoint")
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("seconds", ["nan", "inf", "0", "-3", "1e9"])
def test_split_seconds_must_be_a_length(
    seconds: str, small_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_cli(capsys, "split", str(small_clip), "--seconds", seconds, "--out",
                     str(tmp_path / "p"))  # fmt: skip
    assert code == 2
    one_sentence_error(err, "--seconds")
    assert not (tmp_path / "p").exists()


# Notepad's byte-order mark.
def test_emotion_file_with_a_bom(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bom = tmp_path / "bom.txt"
    bom.write_bytes(b"\xef\xbb\xbf0.1, 0.2\n0.7, 0.8\n")
    code, err = run_cli(capsys, "compose", str(bom), "--out", str(tmp_path / "o"))
    assert code == 0, err
    manifest = json.loads((tmp_path / "o" / "score.json").read_text())
    assert manifest["grid"]["steps"] == 2 and (tmp_path / "o" / "bom.mid").is_file()


# The emotion file's size and the clip-length limit.
def test_emotion_file_longer_than_the_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = int(MAX_DURATION_S / 2.0) + 1  # one step is 2 s at 120 bpm
    long_file = tmp_path / "long.txt"
    long_file.write_text("0.5, 0.5\n" * steps)
    code, err = run_cli(capsys, "compose", str(long_file), "--out", str(tmp_path / "o"))
    assert code == 2
    one_sentence_error(err, f"{steps} steps", "at most 3 hours")
    assert not (tmp_path / "o").exists()


def test_oversized_emotion_file_is_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = tmp_path / "huge.txt"
    with open(huge, "wb") as handle:
        handle.truncate(64 * 2**20)  # sparse: 64 MB claimed, nothing to read
    code, err = run_cli(capsys, "compose", str(huge), "--out", str(tmp_path / "o"))
    assert code == 2
    one_sentence_error(err, "64 MB", "more than")


def test_a_video_longer_than_three_hours_is_refused_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], analysis_forbidden: None
) -> None:
    frame = np.full((32, 32, 3), 90, np.uint8)
    clip = write_clip(tmp_path / "film.mp4", (frame for _ in range(182)), 1 / 60)  # 3 h 2 min
    code, err = run_cli(capsys, "score", str(clip), "--out", str(tmp_path / "o"))
    assert code == 2
    one_sentence_error(err, "3.0 hours", "at most 3 hours", "moodscore split")


# a key inside the endpoint URL never reaches score.json or `moodscore config`.
def test_key_in_endpoint_url_is_masked(
    emotions_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "analysis:\n  cloud:\n    endpoint: https://vision.googleapis.com/v1/images:annotate"
        "?key=AIzaSECRET123&alt=json\n"
    )
    code, err = run_cli(capsys, "compose", str(emotions_file), "--config", str(config), "--out",
                     str(tmp_path / "o"))  # fmt: skip
    assert code == 0, err
    manifest = (tmp_path / "o" / "score.json").read_text()
    assert "AIzaSECRET123" not in manifest
    endpoint = json.loads(manifest)["options"]["analysis"]["cloud"]["endpoint"]
    assert endpoint.endswith("images:annotate?key=REDACTED&alt=REDACTED")
    assert main(["config", "--config", str(config), "--quiet"]) == 0
    assert "AIzaSECRET123" not in capsys.readouterr().out


def test_missing_soundfont_is_named_as_the_option(
    emotions_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_cli(capsys, "compose", str(emotions_file), "--soundfont", "/nope.sf2", "--out",
                     str(tmp_path / "o"))  # fmt: skip
    assert code == 2
    line = one_sentence_error(err, "/nope.sf2", "from --soundfont")
    assert "config" not in line


# "Also seen".
def test_non_sf2_soundfont_is_refused_without_native_noise(
    emotions_file: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(64))
    code = main(["compose", str(emotions_file), "--soundfont", str(fake), "--out",
                 str(tmp_path / "o"), "--quiet"])  # fmt: skip
    assert code == 2
    err = capfd.readouterr().err  # file-descriptor level: FluidSynth writes there directly
    one_sentence_error(err, "not a SoundFont 2")


def test_bad_preset_and_model_are_refused_before_analysis(
    small_clip: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    analysis_forbidden: None,
) -> None:
    out = str(tmp_path / "o")
    code, err = run_cli(capsys, "score", str(small_clip), "--preset", "kazoo", "--out", out)
    assert code == 2
    one_sentence_error(err, "kazoo")
    code, err = run_cli(
        capsys, "score", str(small_clip), "-g", "3", "--model", "/nope.npz", "--out", out
    )
    assert code == 2
    one_sentence_error(err, "/nope.npz")
    assert not (tmp_path / "o").exists()


def test_emotions_checks_the_output_folder_before_analysis(
    small_clip: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    analysis_forbidden: None,
) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    code, err = run_cli(capsys, "emotions", str(small_clip), "--out", str(blocker / "sub"))
    assert code == 2
    one_sentence_error(err, "not writable")


def test_malformed_yaml_is_one_line(emotions_file: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    config = tmp_path / "c.yaml"
    config.write_text("music:\n  seed: [1,\n  generator: chords\n")
    code, err = run_cli(capsys, "compose", str(emotions_file), "--config", str(config))
    assert code == 2
    one_sentence_error(err, "not valid YAML", "at line 4, column 1")


def test_symlink_loop_is_named_as_such(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loop = tmp_path / "loop.mp4"
    loop.symlink_to(tmp_path / "loop.mp4")
    code, err = run_cli(capsys, "score", str(loop), "--out", str(tmp_path / "o"))
    assert code == 2
    one_sentence_error(err, "symbolic link loop")


# Files get the user's normal permissions (issue 10 asked it too): 0666 minus the umask.
@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_outputs_have_the_users_normal_permissions(
    umask: int, emotions_file: Path, small_clip: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    previous = os.umask(umask)
    try:
        assert main(["compose", str(emotions_file), "--out", str(tmp_path / "c"), "--quiet"]) == 0
        assert main(["plot", str(emotions_file), "--quiet"]) == 0
        split_out = tmp_path / "s"
        assert (
            main(["split", str(small_clip), "--seconds", "1", "--out", str(split_out), "--quiet"])
            == 0
        )
    finally:
        os.umask(previous)
    written = [*(tmp_path / "c").iterdir(), emotions_file.with_name(emotions_file.name + ".png"),
               *split_out.iterdir()]  # fmt: skip
    assert len(written) >= 5
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path


def test_zip_directory_patch_helper_really_claims_the_size(tmp_path: Path) -> None:
    path = _claim_size(_npz(tmp_path / "m.npz", {"a": np.zeros(3)}), "a.npy", 3 * 2**30)
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("a.npy").file_size == 3 * 2**30


@pytest.mark.parametrize("kind", ["fifo", "loop"])
def test_soundfont_that_is_a_fifo_or_a_link_loop(
    kind: str, emotions_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    soundfont = tmp_path / "gm.sf2"
    if kind == "fifo":
        os.mkfifo(soundfont)
    else:
        soundfont.symlink_to(soundfont)
    code, err = run_cli(capsys, "compose", str(emotions_file), "--soundfont", str(soundfont),
                     "--out", str(tmp_path / "o"))  # fmt: skip
    assert code == 2
    one_sentence_error(err, "not a regular file" if kind == "fifo" else "symbolic link loop")


def test_output_folder_name_too_long(
    emotions_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / ("x" * 300)
    code, err = run_cli(capsys, "compose", str(emotions_file), "--out", str(out))
    assert code == 2
    one_sentence_error(err, "file name too long", "use a shorter file or folder name")
    assert list(tmp_path.iterdir()) == [emotions_file]
