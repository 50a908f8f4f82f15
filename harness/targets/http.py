"""The `http` target: a stack someone else runs, reached at a base URL.

gameday neither starts nor stops it; `up` only checks that it answers HTTP.
Its host must be loopback unless $GAMEDAY_ALLOWED_HOSTS lists it
(harness.allowlist); the spec loader refuses it first, and `HttpRun`
refuses it again, before any packet, for callers that build one themselves.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from harness.allowlist import url_problem
from harness.clock import wait_until
from harness.errors import SpecError, TargetError


class HttpRun:
    def __init__(self, base_url: str, reach_timeout_s: float = 15.0):
        problem = url_problem(base_url, "base_url")
        if problem:
            raise SpecError(f"target.base_url: {problem}")
        self.base_url = base_url.rstrip("/")
        self.reach_timeout_s = reach_timeout_s

    def up(self, say: Callable[[str], None] = print) -> None:
        """Wait until the base URL answers any HTTP status; TargetError if it never does."""
        last = [""]

        def answers() -> bool:
            try:
                urllib.request.urlopen(self.base_url + "/", timeout=2).close()
            except urllib.error.HTTPError:
                pass  # it answered: a 404 at / is still a reachable server
            except (urllib.error.URLError, OSError) as exc:
                last[0] = str(exc)
                return False
            return True

        if not wait_until(answers, self.reach_timeout_s, interval=0.3):
            raise TargetError(
                f"{self.base_url} is not reachable after {self.reach_timeout_s:g}s ({last[0]}); "
                "is the service running and the URL right?"
            )

    def down(self) -> None:
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

    def detail(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "started_by_run": False}
