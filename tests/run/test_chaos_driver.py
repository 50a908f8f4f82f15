"""ChaosDriver runs the real `chaos run`; SIGINT to its group stops the method and plays rollbacks."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from harness.run.chaos_driver import ChaosDriver, declares_control, journal_status

CONTROLS = [{"name": "gameday", "provider": {"type": "python", "module": "harness.chaos.control"}}]


@pytest.fixture
def start_driver():
    """`start_driver(experiment, run_dir)`: a started ChaosDriver, whose process group is
    killed at teardown whatever the test did (its method sleeps for up to 30 s)."""
    started: list[ChaosDriver] = []

    def start(*args, **kwargs) -> ChaosDriver:
        driver = ChaosDriver(*args, **kwargs)
        started.append(driver)
        driver.start()
        return driver

    yield start
    for driver in started:
        driver.kill()


def experiment(path: Path, with_control: bool = True, pause: float = 30) -> Path:
    """A stack-free experiment whose method sleeps in a `process` action, so it can be interrupted."""

    def act(name, args, kind="action", pauses=None):
        a = {"type": kind, "name": name, "provider": {"type": "process", "path": "sleep", "arguments": args}}
        if pauses:
            a["pauses"] = pauses
        return a

    doc = {
        "title": "driver",
        "description": "stack-free",
        "method": [act("long-sleep", str(pause))],
        "rollbacks": [act("rollback-sleep", "0")],
    }
    if with_control:
        doc["controls"] = CONTROLS
    path.write_text(json.dumps(doc))
    return path


def events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def wait_for_event(run_dir: Path, kind: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (run_dir / "events.jsonl").exists() and any(e["kind"] == kind for e in events(run_dir)):
            return
        time.sleep(0.05)
    raise AssertionError(f"no {kind} event in {run_dir} after {timeout}s")


def test_completed_run_writes_journal_and_exits_zero(tmp_path, start_driver):
    driver = start_driver(experiment(tmp_path / "e.json", pause=0), tmp_path / "run")
    assert driver.wait(60) == 0
    assert driver.status == "completed" and not driver.running
    assert driver.journal()["rollbacks"][0]["activity"]["name"] == "rollback-sleep"


def test_a_steady_state_unmet_before_the_method_is_status_not_run_though_chaos_says_completed(tmp_path, start_driver):
    path = experiment(tmp_path / "e.json", pause=0)
    doc = json.loads(path.read_text())
    doc["steady-state-hypothesis"] = {
        "title": "a file that is not there",
        "probes": [
            {
                "type": "probe",
                "name": "absent",
                "provider": {"type": "python", "module": "os.path", "func": "exists", "arguments": {"path": "/nope"}},
                "tolerance": True,
            }
        ],
    }
    path.write_text(json.dumps(doc))
    driver = start_driver(path, tmp_path / "run")
    assert driver.wait(60) == 0  # chaos's own exit code
    assert driver.journal()["status"] == "completed" and driver.journal()["run"] == []
    assert driver.status == "not-run"


def test_interrupt_runs_rollbacks_even_when_the_parent_ignores_sigint(tmp_path, start_driver):
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as under a non-interactive shell
    try:
        driver = start_driver(experiment(tmp_path / "e.json"), tmp_path / "run")
    finally:
        signal.signal(signal.SIGINT, previous)
    wait_for_event(tmp_path / "run", "activity-start")
    started = time.monotonic()
    driver.interrupt()
    assert driver.wait(30) is not None
    assert time.monotonic() - started < 25  # the 30 s sleep did not run out
    assert driver.interrupted and driver.status == "interrupted"
    assert [r["activity"]["name"] for r in driver.journal()["rollbacks"]] == ["rollback-sleep"]
    assert "rollback-start" in [e["kind"] for e in events(tmp_path / "run")]


def test_control_is_added_when_the_experiment_does_not_declare_it(tmp_path, start_driver):
    path = experiment(tmp_path / "e.json", with_control=False, pause=0)
    assert not declares_control(path)
    driver = start_driver(path, tmp_path / "run")
    assert driver.wait(60) == 0
    kinds = [e["kind"] for e in events(tmp_path / "run")]
    assert kinds.count("experiment-start") == 1 and "activity-end" in kinds


def test_declared_control_is_not_added_twice(tmp_path, start_driver):
    driver = start_driver(experiment(tmp_path / "e.json", pause=0), tmp_path / "run")
    assert driver.wait(60) == 0
    assert [e["kind"] for e in events(tmp_path / "run")].count("experiment-start") == 1


def test_a_second_interrupt_does_not_cut_the_rollbacks_short(tmp_path, start_driver):
    """chaos run skips the remaining rollbacks on a second SIGINT; the driver must send only one."""
    marker = tmp_path / "rolled-back"
    experiment = tmp_path / "exp.json"
    experiment.write_text(
        json.dumps(
            {
                "title": "sleep then roll back slowly",
                "description": "x",
                "method": [
                    {
                        "type": "action",
                        "name": "wait",
                        "provider": {"type": "process", "path": "sleep", "arguments": "30"},
                    }
                ],
                "rollbacks": [
                    {
                        "type": "action",
                        "name": "slow-rollback",
                        "provider": {"type": "process", "path": "sh", "arguments": ["-c", f"sleep 2; touch {marker}"]},
                    }
                ],
            }
        )
    )
    driver = start_driver(experiment, tmp_path / "run")
    wait_for_event(tmp_path / "run", "activity-start", timeout=60)  # the method's `sleep 30` runs
    driver.interrupt()
    wait_for_event(tmp_path / "run", "rollback-start", timeout=60)  # the 2 s rollback runs
    driver.interrupt()  # e.g. the teardown after a guardrail abort
    assert driver.wait(60) is not None
    assert marker.exists(), "the rollback was cut short"


def test_journal_status_says_what_chaos_toolkit_calls_completed_but_did_not_run_as_written():
    ok = {"status": "completed", "deviated": False, "steady_states": {"before": {"steady_state_met": True}}}
    ran = {"status": "succeeded"}
    assert journal_status({**ok, "run": [ran], "rollbacks": [ran]}) == "completed"
    assert journal_status({**ok, "deviated": True}) == "deviated"
    assert journal_status({**ok, "steady_states": {"before": {"steady_state_met": False}}}) == "not-run"
    assert journal_status({**ok, "run": [ran, {"status": "failed"}]}) == "activity-failed"
    assert journal_status({**ok, "run": [{"status": "succeeded", "tolerance_met": False}]}) == "activity-failed"
    assert journal_status({**ok, "rollbacks": [{"status": "failed"}]}) == "activity-failed"
    assert journal_status({**ok, "status": "interrupted", "run": [{"status": "failed"}]}) == "interrupted"
