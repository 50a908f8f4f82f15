"""The Locust child's protocol: its command line and the files that say it started.

Shared by everything that starts Locust with the gameday plugin (the run's load driver,
the profile check, the web UI, the cluster's Locust pods), so it lives in harness.load,
below all of them. Nothing here imports locust: the orchestrator never does (its gevent
monkey-patching would change the orchestrator's threads and sockets).
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.events import EVENTS_FILE, EventKind, kind_of

INJECT = Path(__file__).with_name("inject.py")
# How long Locust may take to import, fork its workers and start its test (1-6 s on a busy
# machine) before a run gives up on it as a crashed load generator.
LOAD_START_TIMEOUT_S = 60.0


def locust_argv(
    profile: Path,
    host: str,
    run_dir: Path,
    shape: str,
    duration: float,
    params: Mapping[str, float],
    processes: int | None,
    options: Mapping[str, Any],
    master_port: int | None = None,
) -> list[str]:
    """The locust command line: plugin first, then the profile, shape options as --gameday-*.

    With `processes` > 1 Locust forks that many workers under its master. No
    `--enable-rebalancing`, on purpose: if a worker dies the survivors keep their
    own users and their own share of the rate, so the load drops honestly, and the
    seconds short of a worker are counted as generator-bound (the `workers` count in
    the generator rows). Rebalancing would move the users but not the rate share of
    the open model, and the run would still be short of load while looking whole.

    The master listens on 127.0.0.1 at `master_port` (a free port when None), never
    Locust's default *:5557: two runs on one machine sharing 5557 swap workers (seen:
    a worker of another run reporting into this one, 3 workers for --processes 2).
    """
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        f"{INJECT},{profile}",
        "--headless",
        "--host",
        host,
        "--gameday-run-dir",
        str(Path(run_dir).resolve()),
        *shape_argv(shape, duration, params),
        # a backstop only: the shape ends the test at `duration`
        "--run-time",
        f"{int(duration) + 30}s",
        "--stop-timeout",
        "5",
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    if processes and processes > 1:
        port = str(master_port or free_local_port())
        argv += [
            "--processes",
            str(processes),
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            port,
            "--master-host",
            "127.0.0.1",
            "--master-port",
            port,
        ]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return argv


def shape_argv(shape: str, duration: float, params: Mapping[str, float]) -> list[str]:
    """The `--gameday-*` options that make the plugin's GamedayShape serve `shape` for `duration` s."""
    argv = ["--gameday-shape", shape, "--gameday-duration", f"{duration:g}"]
    for key, value in params.items():
        argv += [f"--gameday-{key.replace('_', '-')}", f"{value:g}" if isinstance(value, float) else str(value)]
    return argv


def free_local_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS's pick; taken again only by a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_started(run_dir: Path) -> bool:
    """Whether the load plugin's `test-start` is in `run_dir`'s events.jsonl (read at the start of a
    run, when the file holds a few lines)."""
    try:
        text = (Path(run_dir) / EVENTS_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(_is_test_start(line) for line in text.splitlines())


def _is_test_start(line: str) -> bool:
    try:
        event = json.loads(line)
    except ValueError:
        return False  # a line being written right now
    return isinstance(event, dict) and event.get("source") == "load" and kind_of(event) == EventKind.TEST_START
