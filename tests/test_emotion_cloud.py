"""Cloud Vision backend against a local server speaking the documented JSON, failures included."""

from __future__ import annotations

import base64
import json
import logging
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import cv2
import numpy as np
import pytest

from core.config import Config, config_to_dict
from core.emotion import analyze
from core.emotion.cloud import KEY_ENV, CloudError, CloudFaces, parse_response
from core.emotion.config import CloudConfig
from core.emotion.export import plot_timeline, write_csv
from tests.photos import photo_clip

KEY = "AIzaTEST-secret-key-0123456789"
JOYFUL = {
    "responses": [
        {
            "faceAnnotations": [
                {
                    "boundingPoly": {
                        "vertices": [
                            {"x": 10, "y": 10},
                            {"x": 110},
                            {"x": 110, "y": 130},
                            {"y": 130},
                        ]
                    },
                    "joyLikelihood": "VERY_LIKELY",
                    "sorrowLikelihood": "VERY_UNLIKELY",
                    "angerLikelihood": "VERY_UNLIKELY",
                    "surpriseLikelihood": "UNLIKELY",
                }
            ]
        }
    ]
}


class VisionStub(BaseHTTPRequestHandler):
    """Answers POSTs from a script of ``(status, body)``; the last entry repeats."""

    script: ClassVar[list[tuple[int, bytes]]] = []
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        status, answer = self.script[min(len(self.received) - 1, len(self.script) - 1)]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args) -> None:  # keep the test output quiet
        pass


@pytest.fixture
def vision() -> Iterator[type[VisionStub]]:
    handler = type("Handler", (VisionStub,), {"script": [], "received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/images:annotate"
    yield handler
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def smile_clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cloud")
    return photo_clip(folder / "smile.mp4", [("astronaut", 180, 10, 340)])


def cloud_config(endpoint: str, sources: tuple[str, ...] = ("colour", "cloud")) -> Config:
    config = Config(bpm=240.0)
    config.analysis.sources = list(sources)
    config.analysis.face_frames_per_step = 2
    config.analysis.cloud = CloudConfig(
        api_key=KEY, endpoint=endpoint, timeout_s=2.0, max_retries=2, backoff_s=0.001
    )
    return config


def run_and_scan(clip, config, caplog, tmp_path):
    """Analyse, write every output, and assert the key shows up nowhere."""
    caplog.set_level(logging.DEBUG)  # urllib3 logs request lines at DEBUG
    timeline = analyze(clip, config)
    write_csv(timeline, tmp_path / "e.csv")
    plot_timeline(timeline, tmp_path / "e.png")
    (tmp_path / "score.json").write_text(json.dumps(config_to_dict(config)))
    assert KEY not in caplog.text
    assert KEY not in repr(config) and KEY not in repr(timeline)
    for path in tmp_path.iterdir():
        assert KEY.encode() not in path.read_bytes(), path.name
    return timeline


def warnings_of(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith("core.")
    ]


def test_happy_path_sends_the_documented_request_and_uses_the_answer(
    vision, smile_clip, caplog, tmp_path
):
    vision.script = [(200, json.dumps(JOYFUL).encode())]
    timeline = run_and_scan(smile_clip, cloud_config(vision.endpoint), caplog, tmp_path)
    assert len(vision.received) == len(timeline.steps)  # one request per step
    request = vision.received[0]
    assert request["path"] == "/v1/images:annotate" and KEY not in request["path"]
    assert request["headers"]["X-Goog-Api-Key"] == KEY
    body = json.loads(request["body"])
    (item,) = body["requests"]
    assert item["features"] == [{"type": "FACE_DETECTION", "maxResults": 10}]
    jpeg = np.frombuffer(base64.b64decode(item["image"]["content"]), np.uint8)
    assert cv2.imdecode(jpeg, cv2.IMREAD_COLOR).shape[1] == 640
    for step in timeline.steps:
        assert step.sources["cloud_valence"] > 0.9 and step.sources["cloud_arousal"] > 0.9
        assert math.isnan(step.sources["face_valence"])  # the local model was not needed
        assert step.sources["faces"] == 1
        assert step.valence > step.sources["colour_valence"]
    assert warnings_of(caplog) == []


@pytest.mark.parametrize(
    ("script", "cause", "requests"),
    [
        ([(401, b'{"error": {"code": 401}}')], "refused the key (HTTP 401)", 1),
        (
            [(403, b'{"error": {"code": 403, "status": "PERMISSION_DENIED"}}')],
            "refused the key (HTTP 403)",
            1,
        ),
        ([(429, b"{}")], "HTTP 429 after 2 retries", 3),
        ([(503, b"{}")], "HTTP 503 after 2 retries", 3),
        ([(200, b"<html>not json")], "malformed JSON", 1),
        ([(200, b'{"responses": "nope"}')], "malformed JSON", 1),
        (
            # An error text that echoes the key: the warning must not repeat it.
            [(200, json.dumps({"responses": [{"error": {"code": 400, "message": KEY}}]}).encode())],
            "error 400",
            1,
        ),
    ],
)
def test_failures_fall_back_to_the_local_model_with_one_warning(
    vision, smile_clip, caplog, tmp_path, script, cause, requests
):
    vision.script = script
    timeline = run_and_scan(smile_clip, cloud_config(vision.endpoint), caplog, tmp_path)
    (warning,) = warnings_of(caplog)
    assert cause in warning and "local face model" in warning
    assert len(vision.received) == requests  # gave up for the whole video after the failure
    for step in timeline.steps:
        assert step.sources["face_valence"] > 0.8  # the astronaut smiles for the local model
        assert math.isnan(step.sources["cloud_valence"])


def test_retry_after_429_succeeds(vision, smile_clip, caplog, tmp_path):
    vision.script = [(429, b"{}"), (500, b"{}"), (200, json.dumps(JOYFUL).encode())]
    timeline = run_and_scan(smile_clip, cloud_config(vision.endpoint), caplog, tmp_path)
    assert warnings_of(caplog) == []
    assert all(s.sources["cloud_valence"] > 0.9 for s in timeline.steps)


def test_unreachable_server_falls_back(smile_clip, caplog, tmp_path):
    config = cloud_config("http://127.0.0.1:9/v1/images:annotate")  # discard port: refused
    timeline = run_and_scan(smile_clip, config, caplog, tmp_path)
    (warning,) = warnings_of(caplog)
    assert "cannot reach" in warning or "no answer" in warning
    assert all(s.sources["face_valence"] > 0.8 for s in timeline.steps)


def test_request_budget_is_spread_and_then_local_takes_over(vision, smile_clip, caplog, tmp_path):
    vision.script = [(200, json.dumps(JOYFUL).encode())]
    config = cloud_config(vision.endpoint)
    config.analysis.cloud.max_requests = 1
    timeline = run_and_scan(smile_clip, config, caplog, tmp_path)
    assert len(vision.received) == 1
    covered = [not math.isnan(s.sources["cloud_valence"]) for s in timeline.steps]
    assert covered == [True, False]
    assert timeline.steps[1].sources["face_valence"] > 0.8


def test_key_comes_from_the_environment_and_its_absence_is_one_warning(
    vision, smile_clip, caplog, tmp_path, monkeypatch
):
    vision.script = [(200, json.dumps(JOYFUL).encode())]
    config = cloud_config(vision.endpoint)
    config.analysis.cloud.api_key = ""
    monkeypatch.setenv(KEY_ENV, KEY)
    run_and_scan(smile_clip, config, caplog, tmp_path)
    assert vision.received[0]["headers"]["X-Goog-Api-Key"] == KEY
    monkeypatch.delenv(KEY_ENV)
    caplog.clear()
    analyze(smile_clip, config)
    (warning,) = warnings_of(caplog)
    assert KEY_ENV in warning


def test_error_messages_never_hold_the_key():
    client = CloudFaces(
        CloudConfig(
            api_key=KEY, endpoint=f"http://127.0.0.1:9/x?key={KEY}", timeout_s=1.0, max_retries=0
        )
    )
    with pytest.raises(CloudError) as caught:
        client.read(np.zeros((20, 20, 3), np.uint8))
    assert KEY not in str(caught.value) and KEY not in repr(client)
    with pytest.raises(CloudError, match="error 3"):
        parse_response({"responses": [{"error": {"code": 3, "message": "Bad image"}}]})
    assert parse_response({"responses": [{}]}) == []
