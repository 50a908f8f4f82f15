"""The timeline record shared by every writer of `events.jsonl`.

Three processes append to the same file: the orchestrator (harness.run.timeline),
the Chaos Toolkit control in the chaos child (harness.chaos.control) and the
Locust plugin (harness.load.rundir). Each line is one complete JSON object
written with a single `write` on an O_APPEND descriptor, so lines from different
processes never interleave and a crash loses at most the line being written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TypedDict

EVENTS_FILE = "events.jsonl"
SOURCES = ("load", "chaos", "target", "guardrail", "harness")


class Event(TypedDict):
    ts: float            # UTC epoch seconds
    source: str          # one of SOURCES
    kind: str
    name: str
    detail: dict[str, Any]


def encode(event: Event) -> bytes:
    """One events.jsonl line for `event`."""
    return (json.dumps(event, default=str) + "\n").encode()


def append(run_dir: str | Path, *events: Event) -> None:
    """Append `events` to <run_dir>/events.jsonl in one write."""
    fd = os.open(Path(run_dir) / EVENTS_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, b"".join(encode(e) for e in events))
    finally:
        os.close(fd)
