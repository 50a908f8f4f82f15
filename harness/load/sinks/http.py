"""HTTP sink reader: a URL polled for the event ids that came out of the pipeline.

What the URL must answer to `GET` (status 200, JSON), either of:

    ["e-1", "e-2"]                                    ids out since the last poll
    {"ids": ["e-1", {"id": "e-2", "ts": 1764201000.5}], "next": "opaque-cursor"}

Each id is a string, or an object with `id` and optionally `ts` (the epoch
second the service saw it come out; without it, the time of the poll is used).
When an answer carries `next`, the following poll sends it back as the query
parameter `cursor`, so the service can answer "everything after this" instead of
keeping per-client state. Failed polls (refused, timeout, non-200, bad JSON)
are reported on stderr and retried at the next interval: the pipeline may be
down on purpose during a game day.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from harness.load.sinks import Seen, SinkConfigError


class HttpSource:
    """Polls `url` every `interval` seconds (with `cursor=` once the server handed one out)."""

    def __init__(self, url: str, interval: float = 0.5, request_timeout: float = 5.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise SinkConfigError(f"http sink: url '{url}' must start with http:// or https://")
        self.url, self.interval, self.request_timeout = url, interval, request_timeout
        self.cursor: str | None = None
        self.failures = 0
        self._next_poll = 0.0

    def poll(self, timeout: float) -> list[Seen]:
        """One GET if the interval has passed, else wait (at most `timeout`) and return nothing."""
        wait = self._next_poll - time.monotonic()
        if wait > 0:
            time.sleep(min(wait, timeout))
            return []
        self._next_poll = time.monotonic() + self.interval
        try:
            return self._parse(self._get())
        except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors
            self.failures += 1
            print(f"http sink: poll of {self.url} failed: {exc}; retrying in {self.interval}s", file=sys.stderr)
            return []

    def _get(self) -> Any:
        url = self.url
        if self.cursor is not None:
            sep = "&" if urllib.parse.urlsplit(url).query else "?"
            url = f"{url}{sep}{urllib.parse.urlencode({'cursor': self.cursor})}"
        with urllib.request.urlopen(url, timeout=self.request_timeout) as response:
            return json.loads(response.read())

    def _parse(self, body: Any) -> list[Seen]:
        now = time.time()
        if isinstance(body, dict):
            if body.get("next") is not None:
                self.cursor = str(body["next"])
            body = body.get("ids", [])
        if not isinstance(body, list):
            raise ValueError(f"expected a JSON list of ids or {{'ids': [...]}}, got {type(body).__name__}")
        return [_seen(item, now) for item in body]

    def close(self) -> None:
        pass


def _seen(item: Any, now: float) -> Seen:
    if isinstance(item, dict):
        return str(item["id"]), float(item.get("ts", now))
    return str(item), now
