"""JSON over HTTP to the stack's admin APIs (fault proxy, gateway), with errors as ActivityFailed."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from chaoslib.exceptions import ActivityFailed

TIMEOUT_S = 5.0


class HttpStatusError(ActivityFailed):
    """The API answered with an error status; `status` and the API's `message` are kept."""

    def __init__(self, method: str, url: str, status: int, message: str):
        self.status = status
        super().__init__(f"{method} {url} answered {status}: {message}")


def call(method: str, url: str, body: Any = None, timeout: float = TIMEOUT_S) -> Any:
    """Send `body` as JSON, return the decoded JSON answer (None for an empty one).

    Raises HttpStatusError for a 4xx/5xx answer and ActivityFailed when the API
    cannot be reached.
    """
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", "User-Agent": "gameday-chaos"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        raise HttpStatusError(method, url, exc.code, _error_text(exc)) from None
    except (urllib.error.URLError, OSError) as exc:
        raise ActivityFailed(f"{method} {url}: cannot reach the API ({exc}); is the stack up?") from None
    return json.loads(raw) if raw.strip() else None


def _error_text(exc: urllib.error.HTTPError) -> str:
    raw = exc.read().decode(errors="replace")
    try:
        return json.loads(raw).get("error", raw)
    except (json.JSONDecodeError, AttributeError):
        return raw.strip()[:200]
