"""harness.events: one style for every event kind, and old run directories still read."""

from __future__ import annotations

import json
import re

from harness.analysis.rundir import read_events
from harness.analysis.status import run_status
from harness.events import EventKind, kind_of, normalized
from harness.status import RunStatus

T0 = 1_790_000_000.0


def test_every_kind_is_lowercase_words_joined_by_dashes():
    assert [k for k in EventKind if not re.fullmatch(r"[a-z]+(-[a-z]+)*", k)] == []


def test_the_load_plugins_old_kinds_read_as_todays():
    assert kind_of({"kind": "test_start"}) == EventKind.TEST_START
    assert kind_of({"kind": "worker_missing"}) == EventKind.WORKER_MISSING
    event = {"ts": T0, "source": "load", "kind": "run-start"}
    assert normalized(event) is event  # already in today's style: not copied


def test_a_run_directory_from_before_the_rename_reads_as_a_completed_locust_run(tmp_path):
    """Locust alone wrote test_start/test_stop (no harness run-start): completed once it stopped."""
    lines = [
        {"ts": T0, "source": "load", "kind": "test_start", "name": "constant_rate", "detail": {}},
        {"ts": T0 + 5, "source": "load", "kind": "worker_missing", "name": "w1", "detail": {"remaining": 1}},
        {"ts": T0 + 60, "source": "load", "kind": "test_stop", "name": "load", "detail": {}},
    ]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    events = read_events(tmp_path)
    assert [e["kind"] for e in events] == ["test-start", "worker-missing", "test-stop"]
    assert run_status(events) == RunStatus.COMPLETED
