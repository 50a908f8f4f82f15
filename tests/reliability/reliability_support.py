"""Helpers the reliability tests share (benchmarks/storm.py uses the target's client too):
a run's processes, waiting, its events, a scorer-kafka partition experiment, the proxy's toxics."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psutil

SERVER = Path(__file__).with_name("misbehaving_server.py")

# A plain Locust client of misbehaving_server.py: short timeouts so a hanging target
# costs 2 s a request, and a 200 that is not JSON counts as a failure.
SCORE_CLIENT = """
from locust import FastHttpUser, constant, task


class Client(FastHttpUser):
    network_timeout = 2.0
    connection_timeout = 2.0
    wait_time = constant(0)

    @task
    def score(self):
        with self.client.get("/api/score", catch_response=True) as response:
            if response.status_code == 200 and "json" in response.headers.get("content-type", ""):
                try:
                    response.json()
                except ValueError:
                    response.failure("invalid JSON in a 200 response")
"""


def processes_naming(run_dir: Path) -> list[psutil.Process]:
    """Live processes whose command line names `run_dir` (Locust, `chaos run`, the sink reader)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(str(run_dir) in part for part in proc.info["cmdline"] or []):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def wait_until(predicate, timeout: float) -> bool:
    """Poll `predicate` every 0.2 s until it holds or `timeout` passes; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def events_of(run_dir: Path) -> list[dict]:
    path = run_dir / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def partition_experiment(stack: str, seconds: float, title: str) -> dict:
    """scorer-kafka partitioned (TTL 120 s) for `seconds`, healed in the method and again in the rollbacks."""

    def act(name: str, func: str, args: dict, **extra) -> dict:
        return {
            "type": "action",
            "name": name,
            **extra,
            "provider": {
                "type": "python",
                "module": "harness.chaos.network",
                "func": func,
                "arguments": {"stack": stack, **args},
            },
        }

    return {
        "version": "1.0.0",
        "title": title,
        "description": "a reliability test's fault",
        "method": [
            act("partition-scorers", "partition", {"service": "scorer-kafka", "ttl": 120}, pauses={"after": seconds}),
            act("heal-scorers", "heal", {"hop": "scorer-kafka"}),
        ],
        "rollbacks": [act("heal-scorers-again", "heal", {"hop": "scorer-kafka"})],
    }


def toxics(stack) -> list:
    """Every toxic on the stack's fault proxy right now."""
    return [t for p in stack.status()["proxies"] for t in p.get("toxics", [])]
