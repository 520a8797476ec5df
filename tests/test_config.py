"""The configuration tree: YAML in and out, unknown keys and bad types named, secrets kept out."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Config, config_to_dict, dump_yaml, load_config, merge
from core.errors import InputError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "moodscore.yaml"


def test_yaml_round_trip_gives_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(dump_yaml(Config()))
    assert load_config(path) == Config()


def test_the_documented_example_loads() -> None:
    config = load_config(EXAMPLE)
    assert config.music.generator in {"scales", "chords", "rbm-feedback", "rbm-sampling"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("analysis:\n  colour_clusterz: 4\n", "analysis.colour_clusterz"),
        ("bpm: fast\n", "'bpm' must be of type float"),
        ("video:\n  keep_original_audio: maybe\n", "true or false"),
        ("step_bars: 1.5\n", "'step_bars' must be of type int"),
        ("- a list\n", "mapping"),
        ("bpm: [\n", "not valid YAML"),
    ],
)
def test_bad_config_is_named(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=message.replace("[", r"\[")):
        load_config(path)


def test_secrets_never_leave_the_config() -> None:
    config = Config()
    config.analysis.cloud.api_key = "AIza-very-secret"
    assert "AIza-very-secret" not in dump_yaml(config)
    assert "api_key" not in config_to_dict(config)["analysis"]["cloud"]
    assert "AIza-very-secret" not in repr(config)
    merged = merge(config, {"music.seed": 4})
    assert merged.analysis.cloud.api_key == "AIza-very-secret"
    assert merged.music.seed == 4
