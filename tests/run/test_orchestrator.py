"""The orchestrator's step order, teardown and statuses, with the fakes of harness.run.fakes.

Real Locust and `chaos run` children are exercised by the end-to-end tests; here
the fakes (type-checked against the same seams as the real drivers) only stand in for
them so the orchestrator's own logic can be checked quickly and deterministically.
Every run here is on a ManualClock that the fakes share, so seconds of game day pass
without sleeping.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.clock import ManualClock
from harness.errors import SpecError
from harness.load.child import LOAD_START_TIMEOUT_S
from harness.run import orchestrator
from harness.run.fakes import FakeChaos, FakeLoad, FakeTarget, fake_drivers
from harness.run.progress import Progress
from harness.run.seams import Drivers
from harness.spec.models import ChaosBlock, GameDay, Guardrail, LoadSpec, LocalTarget
from harness.spec.slo_expr import parse_objective


def gameday(tmp_path: Path, duration=1.2, chaos_at=0.3, guardrails=()) -> GameDay:
    spec = tmp_path / "gd.yaml"
    spec.write_text("name: fake\n")
    return GameDay(
        name="fake",
        path=str(spec),
        target=LocalTarget(),
        load=LoadSpec(profile="p.py", shape="constant_rate", duration=duration),
        chaos=(ChaosBlock("exp.json", chaos_at),) if chaos_at is not None else (),
        warmup=0.1,
        guardrails=tuple(guardrails),
    )


@dataclass
class Made:
    """The fakes a run was given, to look at after it."""

    target: FakeTarget
    load: FakeLoad
    chaos: FakeChaos


def drivers(target=None, load=None, chaos=None) -> tuple[Drivers, Made]:
    made = Made(target or FakeTarget(), load or FakeLoad(1.2), chaos or FakeChaos(0.3))
    return fake_drivers(made.target, made.load, made.chaos), made


def run(gameday, run_dir, d, progress=None, clock=None) -> str:
    """orchestrator.run on a ManualClock (nothing here sleeps on real seconds)."""
    return orchestrator.run(gameday, run_dir, d, progress or quiet(), clock=clock or ManualClock())


def events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def kinds(run_dir: Path) -> list[str]:
    return [e["kind"] for e in events(run_dir) if e["source"] in ("harness", "target", "guardrail")]


def quiet() -> Progress:
    return Progress(stream=open(os.devnull, "w"), tty=False)


def test_completed_run_records_every_step_in_order(tmp_path):
    d, made = drivers()
    status = run(gameday(tmp_path), tmp_path, d)
    assert status == "completed"
    assert kinds(tmp_path) == [
        "run-start",
        "up",
        "load-start",
        "warmup-end",
        "chaos-start",
        "chaos-end",
        "load-stop",
        "down",
        "run-end",
    ]
    assert events(tmp_path)[-1]["detail"]["status"] == "completed"
    assert made.target.calls == ["up", "down"]


def test_run_copies_the_spec_into_the_run_directory(tmp_path):
    d, _ = drivers()
    (tmp_path / "run").mkdir()
    run(gameday(tmp_path), tmp_path / "run", d)
    assert (tmp_path / "run" / "gameday.yaml").read_text() == "name: fake\n"


def test_guardrail_breach_interrupts_chaos_and_ends_aborted(tmp_path):
    live = {"window_end": 1, "windows": {"5s": {"overall": {"requests": 10, "ok": 2, "error_rate": 0.8}}}}
    rail = Guardrail(sli="error_rate", window=5.0, abort_if=parse_objective("> 50%"))
    d, made = drivers(load=FakeLoad(1.5, live=live), chaos=FakeChaos(5.0))
    status = run(gameday(tmp_path, duration=1.5, guardrails=[rail]), tmp_path, d)
    assert status == "aborted"
    assert made.chaos.interrupted
    abort = next(e for e in events(tmp_path) if e["kind"] == "abort")
    assert abort["source"] == "guardrail" and abort["detail"]["observed"] == pytest.approx(0.8)
    assert made.load.stopped and made.target.calls[-1] == "down"


def test_guardrail_that_holds_does_not_abort(tmp_path):
    live = {"window_end": 1, "windows": {"5s": {"overall": {"requests": 10, "ok": 10, "error_rate": 0.0}}}}
    rail = Guardrail(sli="error_rate", window=5.0, abort_if=parse_objective("> 50%"))
    d, made = drivers(load=FakeLoad(1.0, live=live))
    assert run(gameday(tmp_path, duration=1.0, guardrails=[rail]), tmp_path, d) == "completed"
    assert not made.chaos.interrupted


def test_sigint_during_chaos_rolls_back_and_ends_interrupted(tmp_path):
    chaos = FakeChaos(5.0, on_start=lambda: os.kill(os.getpid(), signal.SIGINT))
    d, made = drivers(load=FakeLoad(3.0), chaos=chaos)
    # what this pytest process had: Python's own, or SIG_IGN when started in a script's background
    before = signal.getsignal(signal.SIGINT)
    status = run(gameday(tmp_path, duration=3.0), tmp_path, d)
    assert status == "interrupted"
    assert made.chaos.interrupted and made.load.stopped
    assert "chaos-rollback" in kinds(tmp_path)
    assert signal.getsignal(signal.SIGINT) is before  # handlers restored


def test_target_that_fails_to_start_ends_target_failed_without_load(tmp_path):
    d, made = drivers(target=FakeTarget(fail_up=True))
    assert run(gameday(tmp_path), tmp_path, d) == "target-failed"
    assert made.load.started is None
    assert kinds(tmp_path)[-1] == "run-end"


def test_load_generator_dying_early_crashes_the_run_but_still_rolls_back(tmp_path):
    d, made = drivers(load=FakeLoad(3.0, dies_after=0.5), chaos=FakeChaos(5.0))
    status = run(gameday(tmp_path, duration=3.0), tmp_path, d)
    assert status == "crashed"
    assert made.chaos.interrupted
    error = next(e for e in events(tmp_path) if e["kind"] == "error")
    assert "exited early" in error["detail"]["message"]


def test_failed_teardown_step_does_not_skip_the_others(tmp_path):
    class BadLoad(FakeLoad):
        def stop(self, timeout=15.0):
            raise RuntimeError("locust would not stop")

    d, made = drivers(load=BadLoad(1.0))
    status = run(gameday(tmp_path, duration=1.0, chaos_at=None), tmp_path, d)
    assert status == "crashed"
    assert made.target.calls == ["up", "down"]
    assert kinds(tmp_path)[-1] == "run-end"


def test_new_run_dir_is_unique_within_one_second(tmp_path):
    first = orchestrator.new_run_dir(tmp_path, "x")
    second = orchestrator.new_run_dir(tmp_path, "x")
    assert first != second and first.is_dir() and second.is_dir()


def test_new_run_dir_is_absolute_even_for_a_relative_reports_root(tmp_path, monkeypatch):
    """Locust and chaos run with other working directories: a relative path would land elsewhere."""
    monkeypatch.chdir(tmp_path)
    run_dir = orchestrator.new_run_dir("reports/runs", "x")
    assert run_dir.is_absolute() and run_dir.parent == tmp_path / "reports" / "runs"


def test_disk_filling_during_chaos_stops_the_run_rolls_back_and_ends_crashed(tmp_path, monkeypatch):
    # The disk "fills" once the fault is in: the minimum free space is raised above what is free.
    def fill():
        monkeypatch.setattr(orchestrator, "DISK_FREE_MIN_BYTES", 1 << 62)

    d, made = drivers(load=FakeLoad(3.0), chaos=FakeChaos(5.0, on_start=fill))
    progress = tmp_path / "progress.txt"
    with progress.open("w") as stream:
        status = run(gameday(tmp_path, duration=3.0), tmp_path, d, Progress(stream=stream, tty=False))
    assert status == "crashed"
    assert made.chaos.interrupted and made.load.stopped and made.target.calls[-1] == "down"
    error = next(e for e in events(tmp_path) if e["kind"] == "error")
    assert "the disk is full" in error["detail"]["message"]
    assert f"mounted at {orchestrator.mount_point(tmp_path)}" in progress.read_text()


def test_new_run_dir_under_a_file_is_invalid_input_naming_reports(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(SpecError, match="--reports"):
        orchestrator.new_run_dir(tmp_path / "file", "x")


def test_warmup_and_chaos_count_from_when_the_load_starts_sending(tmp_path):
    load = FakeLoad(1.6, starts_sending_after=0.5)  # Locust still importing and forking
    d, _ = drivers(load=load)
    run(gameday(tmp_path), tmp_path, d)
    by_kind = {e["kind"]: e["ts"] for e in events(tmp_path) if e["source"] == "harness"}
    tick = orchestrator.TICK_S
    assert by_kind["load-start"] - load.started == pytest.approx(0.5, abs=tick / 4)
    # warmup 0.1 s and start_after 0.3 s count from the test's start, not from the spawn
    assert by_kind["warmup-end"] - by_kind["load-start"] == pytest.approx(0.1, abs=1e-6)
    assert by_kind["chaos-start"] - by_kind["load-start"] == pytest.approx(0.3, abs=1e-6)


def test_a_load_generator_that_never_starts_its_test_crashes_the_run(tmp_path):
    clock = ManualClock()
    d, made = drivers(load=FakeLoad(500.0, starts_sending_after=600))
    status = run(gameday(tmp_path), tmp_path, d, clock=clock)
    assert status == "crashed" and made.load.stopped
    error = next(e for e in events(tmp_path) if e["kind"] == "error")
    assert f"did not start its test within {LOAD_START_TIMEOUT_S:g}s" in error["detail"]["message"]
    assert clock.now() - made.load.started == pytest.approx(LOAD_START_TIMEOUT_S, abs=1)
    assert "load-start" not in kinds(tmp_path) and "chaos-start" not in kinds(tmp_path)


def test_new_run_dir_keeps_a_hostile_game_day_name_inside_the_reports_root(tmp_path):
    for name in ("x/../../../escaped", "../..", "/etc/cron.d/x", "a b\nc"):
        path = orchestrator.new_run_dir(tmp_path / "runs", name)
        assert path.parent == (tmp_path / "runs").resolve(), (name, path)
    assert not (tmp_path / "escaped").exists()


def test_the_timeline_keeps_the_injected_clock_through_a_ten_minute_game_day(tmp_path):
    d, _ = drivers(load=FakeLoad(600.0), chaos=FakeChaos(60.0))
    assert run(gameday(tmp_path, duration=600.0, chaos_at=300.0), tmp_path, d) == "completed"
    ts = {e["kind"]: e["ts"] for e in events(tmp_path) if e["source"] == "harness"}
    assert ts["chaos-start"] - ts["load-start"] == pytest.approx(300.0, abs=1e-6)
    assert ts["chaos-end"] - ts["chaos-start"] == pytest.approx(60.0, abs=orchestrator.TICK_S + 1e-6)
    assert ts["load-stop"] - ts["load-start"] == pytest.approx(600.0, abs=orchestrator.TICK_S + 1e-6)


def test_an_interrupt_chaos_run_never_saw_is_sent_again_and_its_rollbacks_run(tmp_path):
    """The lost abort seen once in the suite: the child missed the first SIGINT. The teardown's
    wait sends it once more (5 s on) instead of waiting out the method with its faults on."""
    chaos = FakeChaos(60.0, on_start=lambda: os.kill(os.getpid(), signal.SIGINT), deaf_to=1)
    d, made = drivers(load=FakeLoad(3.0), chaos=chaos)
    assert run(gameday(tmp_path, duration=3.0), tmp_path, d) == "interrupted"
    assert made.chaos.resent and made.chaos.interrupted and not made.chaos.killed
    resent = [e for e in events(tmp_path) if e["kind"] == "error" and e["name"] == "chaos-rollback"]
    assert [e["detail"]["message"] for e in resent] == ["chaos run showed no sign of the interrupt; SIGINT sent again"]
    assert resent[0]["ts"] - made.chaos.asked_at >= 5.0
    assert "chaos-rollback" in kinds(tmp_path)


def test_an_interrupt_heard_at_once_is_never_sent_twice(tmp_path):
    """A second SIGINT that Chaos Toolkit does see skips the remaining rollbacks."""
    chaos = FakeChaos(60.0, on_start=lambda: os.kill(os.getpid(), signal.SIGINT))
    d, made = drivers(load=FakeLoad(3.0), chaos=chaos)
    assert run(gameday(tmp_path, duration=3.0), tmp_path, d) == "interrupted"
    assert made.chaos.interrupted and not made.chaos.resent
    assert not [e for e in events(tmp_path) if e["kind"] == "error"]


def test_rollbacks_that_never_end_are_killed_after_the_rollback_wait(tmp_path):
    chaos = FakeChaos(600.0, on_start=lambda: os.kill(os.getpid(), signal.SIGINT), deaf_to=2)
    d, made = drivers(load=FakeLoad(3.0), chaos=chaos)
    clock = ManualClock()
    assert run(gameday(tmp_path, duration=3.0), tmp_path, d, clock=clock) == "interrupted"
    assert made.chaos.resent and made.chaos.killed
    messages = [e["detail"]["message"] for e in events(tmp_path) if e["kind"] == "error"]
    assert messages[-1] == "rollbacks hung; killed chaos run"
    assert clock.now() - made.chaos.asked_at >= orchestrator.ROLLBACK_WAIT_S
