"""Optional face backend: Google Cloud Vision ``images:annotate`` with ``FACE_DETECTION``.

Each request sends one JPEG frame (base64 in the JSON body, as the REST reference documents)
and reads the faces' joy / sorrow / anger / surprise likelihoods. The API key travels in the
``X-Goog-Api-Key`` header, which Google Cloud accepts in place of ``?key=``: a key in the URL
would show up in urllib3's debug log and in connection-error messages. Any failure raises
:class:`CloudError` with a message that never contains the key; the caller then falls back to
the local face model.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
from numpy.typing import NDArray

from .config import CloudConfig
from .faces import expression_point

logger = logging.getLogger(__name__)

KEY_ENV = "MOODSCORE_VISION_API_KEY"
JPEG_QUALITY = 85
MAX_FACES = 10
RETRY_STATUSES = {429, 500, 502, 503, 504}
#: Largest answer read: one frame's face annotations are a few KB.
MAX_ANSWER_BYTES = 8 * 1024 * 1024
# Vision reports likelihoods as enums; read them as rough probabilities.
LIKELIHOOD = {
    "UNKNOWN": 0.0,
    "VERY_UNLIKELY": 0.0,
    "UNLIKELY": 0.15,
    "POSSIBLE": 0.5,
    "LIKELY": 0.75,
    "VERY_LIKELY": 1.0,
}
EXPRESSION_FIELDS = {
    "joyLikelihood": "happy",
    "sorrowLikelihood": "sad",
    "angerLikelihood": "angry",
    "surpriseLikelihood": "surprise",
}


class CloudError(Exception):
    """The cloud backend cannot be used; the message names the cause (and never the key)."""


@dataclass(frozen=True)
class CloudFace:
    """A face Vision found: its box area in pixels and its (arousal, valence)."""

    area: float
    point: tuple[float, float]


def resolve_key(config: CloudConfig) -> str:
    """The API key from the config, else from ``MOODSCORE_VISION_API_KEY`` (may be empty)."""
    return config.api_key or os.environ.get(KEY_ENV, "")


def encode_request(rgb: NDArray[Any]) -> dict[str, Any]:
    """The documented ``images:annotate`` body for one RGB frame."""
    ok, jpeg = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    )
    if not ok:
        raise CloudError("the frame could not be encoded as JPEG")
    return {
        "requests": [
            {
                "image": {"content": base64.b64encode(jpeg.tobytes()).decode("ascii")},
                "features": [{"type": "FACE_DETECTION", "maxResults": MAX_FACES}],
            }
        ]
    }


def face_from_annotation(annotation: dict[str, Any]) -> CloudFace:
    """One ``faceAnnotations`` entry → area and (arousal, valence)."""
    poly = annotation.get("fdBoundingPoly") or annotation.get("boundingPoly") or {}
    xs = [float(v.get("x", 0)) for v in poly.get("vertices", [])]
    ys = [float(v.get("y", 0)) for v in poly.get("vertices", [])]
    area = (max(xs) - min(xs)) * (max(ys) - min(ys)) if xs and ys else 0.0
    scores = {
        expression: LIKELIHOOD.get(str(annotation.get(field, "UNKNOWN")), 0.0)
        for field, expression in EXPRESSION_FIELDS.items()
    }
    # Whatever the four expressions leave unexplained counts as neutral.
    scores["neutral"] = max(0.0, 1.0 - sum(scores.values()))
    return CloudFace(area=max(area, 1.0), point=expression_point(scores))


def parse_response(payload: Any) -> list[CloudFace]:
    """Faces from an ``images:annotate`` response; :class:`CloudError` if malformed."""
    try:
        response = payload["responses"][0]
        if "error" in response:
            error = response["error"]
            raise CloudError(
                f"the API returned error {error.get('code')}: {str(error.get('message', ''))[:120]}"
            )
        return [face_from_annotation(a) for a in response.get("faceAnnotations", [])]
    except CloudError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        raise CloudError("the API answered with malformed JSON") from None


def _read_until(response: Any, deadline: float) -> bytes | None:
    """The response body, or ``None`` when the deadline passes or it outgrows the limit.

    ``read1`` returns whatever one socket read brings, so the deadline is checked after every
    arrival however slowly the bytes come.
    """
    body = bytearray()
    while time.monotonic() < deadline and len(body) <= MAX_ANSWER_BYTES:
        chunk = response.raw.read1(65536, decode_content=True)
        if not chunk:
            return bytes(body)
        body += chunk
    return None


class CloudFaces:
    """A Vision client with retries, exponential backoff and a request budget per video.

    Parameters
    ----------
    config
        Endpoint, timeouts, retries, backoff and budget.
    sleep
        Injected for tests; ``time.sleep`` by default.
    """

    def __init__(self, config: CloudConfig, sleep: Callable[[float], None] = time.sleep) -> None:
        import requests  # optional at import time: only the cloud backend needs it

        self._requests = requests
        self.config = config
        self._key = resolve_key(config)
        self._sleep = sleep
        self._session = requests.Session()
        self.requests_made = 0

    def __repr__(self) -> str:  # never show the key
        endpoint = self._redact(self.config.endpoint)
        return f"CloudFaces(endpoint={endpoint!r}, requests={self.requests_made})"

    @property
    def budget_left(self) -> int:
        """Requests left in this video's budget."""
        return max(0, self.config.max_requests - self.requests_made)

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def read(self, rgb: NDArray[Any]) -> list[CloudFace]:
        """Faces in one RGB frame.

        Raises
        ------
        CloudError
            No key, no connection, 401/403, 429 or 5xx after the retries, malformed JSON, or
            the request budget spent.
        """
        if not self._key:
            raise CloudError(f"no API key (set {KEY_ENV} or analysis.cloud.api_key)")
        body = encode_request(rgb)
        for attempt in range(self.config.max_retries + 1):
            if self.budget_left == 0:
                raise CloudError(f"the budget of {self.config.max_requests} requests is spent")
            status, payload = self._post(body)
            if status == 200:
                try:
                    return parse_response(payload)
                except CloudError as failure:
                    # The message quotes the API's own error text: keep the key out of it.
                    raise CloudError(self._redact(str(failure))) from None
            if status in (401, 403):
                raise CloudError(f"the API refused the key (HTTP {status})")
            if status not in RETRY_STATUSES:
                raise CloudError(f"the API answered HTTP {status}")
            if attempt < self.config.max_retries:
                self._sleep(self.config.backoff_s * 2**attempt)
        raise CloudError(
            f"the API kept answering HTTP {status} after {self.config.max_retries} retries"
        )

    def _post(self, body: dict[str, Any]) -> tuple[int, Any]:
        self.requests_made += 1
        # One deadline for the whole request: requests' timeout bounds each socket read, so a
        # server trickling a byte a second could hold a run for minutes (issue 20).
        timeout_s = self.config.timeout_s
        deadline = time.monotonic() + timeout_s
        try:
            response = self._session.post(
                self.config.endpoint,
                json=body,
                headers={"X-Goog-Api-Key": self._key},
                timeout=timeout_s,
                stream=True,
            )
            with response:
                if response.status_code != 200:
                    return response.status_code, None
                payload = _read_until(response, deadline)
        except self._requests.Timeout:
            raise CloudError(f"no answer within {timeout_s:g} s") from None
        except self._requests.RequestException as exc:
            # The exception text holds host and path only (the key is in a header), but
            # redact anyway in case an endpoint was configured with a key in its URL.
            raise CloudError(
                f"cannot reach {self._redact(self.config.endpoint)} ({type(exc).__name__})"
            ) from None
        if payload is None:
            raise CloudError(f"no complete answer within {timeout_s:g} s")
        try:
            return 200, json.loads(payload)
        except ValueError:
            raise CloudError("the API answered with malformed JSON") from None

    def close(self) -> None:
        self._session.close()
