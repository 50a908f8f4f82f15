"""The `http` target: a stack someone else runs, reached at a base URL.

gameday neither starts nor stops it; `up` only checks that it answers HTTP.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from urllib.parse import urlparse

from harness.errors import TargetError

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class HttpRun:
    def __init__(self, base_url: str, reach_timeout_s: float = 15.0):
        self.base_url = base_url.rstrip("/")
        self.reach_timeout_s = reach_timeout_s

    def up(self, ctx=None) -> None:
        """Wait until the base URL answers any HTTP status; TargetError if it never does."""
        deadline = time.monotonic() + self.reach_timeout_s
        last = ""
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.base_url + "/", timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # it answered: a 404 at / is still a reachable server
            except (urllib.error.URLError, OSError) as exc:
                last = str(exc)
                time.sleep(0.3)
        raise TargetError(f"{self.base_url} is not reachable after {self.reach_timeout_s:g}s ({last}); "
                          "is the service running and the URL right?")

    def down(self, ctx=None) -> None:
        """Nothing to stop: the harness did not start this target."""

    @property
    def host(self) -> str:
        return self.base_url

    def env(self) -> dict[str, str]:
        return {"GAMEDAY_BASE_URL": self.base_url}

    def sink_argv(self) -> list[str] | None:
        return None

    def describe(self) -> str:
        return f"http target {self.base_url}"

    def detail(self) -> dict:
        return {"base_url": self.base_url, "started_by_run": False}


def loopback_problem(base_url: str) -> str | None:
    """A message if `base_url` is not a loopback http(s) URL (only loopback targets are allowed here)."""
    parsed = urlparse(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return f"'{base_url}' is not an http(s) URL"
    if parsed.hostname not in LOOPBACK:
        return f"'{base_url}' is not a loopback address; this harness only sends load to 127.0.0.1/localhost"
    return None
