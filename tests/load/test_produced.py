"""harness.load.record_event: what a profile calls; the plugin's roles are exercised by real Locust runs in
tests/e2e/test_record_event_sinks.py (standalone and --processes 2) and tests/loadprofiles/test_inference.py."""

from __future__ import annotations

import logging
import time

import harness.load
from harness.load import record_event


class Ledger:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float]] = []

    def record(self, event_id: str, ts: float) -> None:
        self.rows.append((event_id, ts))


class Environment:
    pass


def test_an_event_is_recorded_with_the_time_it_was_sent():
    env = Environment()
    env._gameday_produced = Ledger()
    record_event(env, "e-1", ts=1_700_000_000.5)
    assert env._gameday_produced.rows == [("e-1", 1_700_000_000.5)]


def test_without_a_time_the_event_is_recorded_now_and_its_id_as_text():
    env = Environment()
    env._gameday_produced = Ledger()
    before = time.time()
    record_event(env, 42)
    ((event_id, ts),) = env._gameday_produced.rows
    assert event_id == "42" and before <= ts <= time.time()


def test_without_the_plugin_it_drops_the_id_and_warns_once(caplog, monkeypatch):
    monkeypatch.setattr(harness.load, "_warned_inactive", False)
    with caplog.at_level(logging.WARNING, logger="harness.load"):
        record_event(Environment(), "a")
        record_event(Environment(), "b")
    warnings = [r for r in caplog.records if "record_event without the harness plugin" in r.getMessage()]
    assert len(warnings) == 1
