"""Expiry records for faults whose TTL lives "at the supervisor", and their reapers.

The proxy and the gateway expire their own faults. A stopped or frozen process
and a shifted canary weight have no such owner, so the action that injects one
writes `<state_dir>/faults/<id>.json` and starts a detached reaper
(`python -m harness.chaos.reaper`, in its own session, so a `kill -9` of the
chaos process group does not take it along). The reaper undoes the fault at
its expiry unless the record is gone or belongs to a newer fault. Undoing a
fault by hand (start_replica, resume_replica, cleanup) removes the record.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TypedDict

from harness.files import atomic_write
from stack.config import StackConfig

UNDO_ACTIONS = ("start", "cont", "split")


class FaultRecord(TypedDict):
    """One pending fault, as written to `<state_dir>/faults/<id>.json`."""

    id: str
    token: str
    undo: str  # start | cont | split
    target: str  # a process name, or the canary weight to restore for `split`
    created_at: float  # UTC epoch seconds
    expires_at: float
    reaper_pid: int | None


def faults_dir(config: StackConfig) -> Path:
    return config.state_dir / "faults"


def record_path(config: StackConfig, fault_id: str) -> Path:
    return faults_dir(config) / f"{fault_id}.json"


def write(config: StackConfig, record: FaultRecord) -> None:
    """Write (or replace) a record atomically, so a reaper never reads half a file."""
    path = record_path(config, record["id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(record))


def read(config: StackConfig, fault_id: str) -> FaultRecord | None:
    try:
        return json.loads(record_path(config, fault_id).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def pending(config: StackConfig) -> list[FaultRecord]:
    """Every record still on disk, oldest first."""
    folder = faults_dir(config)
    records = [read(config, p.stem) for p in folder.glob("*.json")] if folder.exists() else []
    return sorted((r for r in records if r), key=lambda r: r["created_at"])


def remove(config: StackConfig, fault_id: str, token: str | None = None) -> bool:
    """Delete a record (only if it still carries `token`, when given); True if one was removed."""
    record = read(config, fault_id)
    if record is None or (token is not None and record["token"] != token):
        return False
    record_path(config, fault_id).unlink(missing_ok=True)
    return True


def arm(config: StackConfig, fault_id: str, undo: str, target: str, ttl_s: float) -> FaultRecord:
    """Record a fault and start the reaper that undoes it after `ttl_s` seconds."""
    if undo not in UNDO_ACTIONS:
        raise ValueError(f"undo must be one of {UNDO_ACTIONS}, got {undo!r}")
    now = time.time()
    record = FaultRecord(
        id=fault_id,
        token=uuid.uuid4().hex,
        undo=undo,
        target=target,
        created_at=now,
        expires_at=now + ttl_s,
        reaper_pid=None,
    )
    write(config, record)  # first, so the reaper always finds its record
    record["reaper_pid"] = _spawn_reaper(config, record, ttl_s)
    write(config, record)
    return record


def _spawn_reaper(config: StackConfig, record: FaultRecord, ttl_s: float) -> int:
    log = faults_dir(config) / "reaper.log"
    argv = [
        sys.executable,
        "-m",
        "harness.chaos.reaper",
        "--stack",
        config.name,
        "--state-root",
        config.state_root,
        "--after",
        str(ttl_s),
        "--id",
        record["id"],
        "--token",
        record["token"],
    ]
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, close_fds=True
        )
    return proc.pid


def stop_reaper(record: FaultRecord) -> bool:
    """Kill the record's reaper if it is still waiting; True if one was killed."""
    pid = record.get("reaper_pid")
    if not pid or not _is_reaper(pid):
        return False
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        return False
    return True


def _is_reaper(pid: int) -> bool:
    try:
        return b"harness.chaos.reaper" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
