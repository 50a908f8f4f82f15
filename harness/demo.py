"""`gameday demo`: the README's first command.

Until the orchestrator lands this is: stack up, real requests through the
gateway (scores checked for correctness, events followed through Kafka), stack
down. It exits non-zero if any check fails, so it is a real smoke test.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Callable

from harness.targets import local
from stack.model import check_response, example_features


def run(base_port: int = 19300, progress: Callable[[str], None] = print) -> int:
    config = local.resolve_config(name="demo", base_port=base_port)
    local.up(config, progress=progress)
    try:
        progress(local.describe(config))
        ok = _score(config.url("gateway"), 100, progress)
        progress(local.format_status(local.status("demo")))
    finally:
        local.down("demo", progress=progress)
    return 0 if ok else 1


def _score(gateway: str, n: int, progress: Callable[[str], None]) -> bool:
    correct, started = 0, time.monotonic()
    for i in range(n):
        body = {"features": example_features(i)}
        req = urllib.request.Request(f"{gateway}/v1/score", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            correct += check_response(body, json.load(resp))
    elapsed = time.monotonic() - started
    progress(f"POST /v1/score: {correct}/{n} correct scores in {elapsed:.2f}s")
    return correct == n
