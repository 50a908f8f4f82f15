"""`kill -9` of `gameday run` in each phase: any fault is rolled back, no child is orphaned,
and what was recorded is still readable and reported as `crashed`. And `kill -9` of a run or
of `gameday ui` that started its own stack leaves no process at all.

The children are tied to the orchestrator with the kernel's parent-death signal
(harness.proc): `chaos run` gets SIGINT (so its rollbacks run), Locust SIGINT, the sink
reader SIGTERM, the UI's Locust SIGTERM, and a stack the command started, its supervisord,
SIGTERM. A stack started separately keeps running.

The faults (a partition and a forced-open breaker, TTL 600 s) are removed by nothing
but the experiment's rollbacks, so a clean stack before their TTL, and the journal the
chaos child writes after the kill, prove that the rollbacks ran.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import processes
import psutil
import pytest
from e2e_support import (
    GAMEDAY,
    HELD_ROLLBACKS,
    ROOT,
    faults_on,
    gameday,
    held_fault_experiment,
    rollbacks_of,
    write_spec,
)
from reliability_support import events_of, processes_naming, wait_until
from support import free_base_port, free_port

pytestmark = pytest.mark.slow

# How long the faults hold before the rollbacks: past the test's kill in the fault phase,
# a few seconds when the test waits for the recovery phase.
HOLD_S = {"warmup": 300, "baseline": 300, "fault": 300, "recovery": 3}


def reached(run_dir: Path | None, stack, phase: str) -> bool:
    """True once the run is inside `phase`."""
    if run_dir is None:
        return False
    kinds = {e["kind"] for e in events_of(run_dir) if e["source"] == "harness"}
    if phase == "warmup":
        return "load-start" in kinds
    if phase == "baseline":
        return "warmup-end" in kinds
    if phase == "fault":
        return len(faults_on(stack)) >= 2
    return "chaos-end" in kinds


def sampled_since(run_dir: Path, since: float) -> bool:
    """True once the load recorded a second that began at or after `since`."""
    path = run_dir / "samples" / "samples.jsonl"
    if not path.exists():
        return False
    return any(json.loads(line)["ts"] >= int(since) for line in path.read_text().splitlines() if line.strip())


def journal_of(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / "journal.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


@pytest.mark.parametrize("phase", ["warmup", "baseline", "fault", "recovery"])
def test_kill_9_in_each_phase_rolls_back_leaves_no_orphan_and_keeps_the_record(healthy_stack, tmp_path, phase):
    experiment = tmp_path / "held.json"
    experiment.write_text(json.dumps(held_fault_experiment(healthy_stack.name, hold_s=HOLD_S[phase])))
    spec = write_spec(
        tmp_path / "gd.yaml",
        name="killed",
        target={"kind": "local", "stack": healthy_stack.name},
        load={"profile": "loadprofiles/inference.py", "shape": "constant_rate", "rate": 30, "duration": "60s"},
        chaos={"experiment": str(experiment), "start_after": "8s"},
        warmup="4s",
        slos=[{"sli": "availability", "phase": "run", "objective": ">= 99%"}],
    )
    runs = tmp_path / "runs"
    run = processes.Owned(
        [*GAMEDAY, "run", str(spec), "--reports", str(runs)],
        cwd=ROOT,
        env={**os.environ, "GAMEDAY_HOME": str(healthy_stack.home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def run_dir():
            return next(runs.iterdir(), None) if runs.exists() else None

        assert wait_until(lambda: reached(run_dir(), healthy_stack, phase), 90), f"the run never reached {phase}"
        entered, run_dir = time.time(), run_dir()
        assert wait_until(lambda: sampled_since(run_dir, entered), 30), f"nothing recorded in the {phase}"
        assert processes_naming(run_dir), "expected Locust, the sink reader (and chaos in the fault) to be running"

        run.proc.send_signal(signal.SIGKILL)  # the orchestrator alone, as `kill -9 <pid>` does
        run.proc.wait(10)

        chaos_started = phase in ("fault", "recovery")
        if chaos_started:
            # the chaos child, SIGINTed by the kernel at its parent's death, plays the rollbacks and
            # writes its journal; before that the journal does not exist (or still says running)
            assert wait_until(lambda: (journal_of(run_dir) or {}).get("rollbacks"), 60), (
                f"no rollback in the journal: {journal_of(run_dir)}"
            )
            journal = journal_of(run_dir)
            assert journal["status"] == ("interrupted" if phase == "fault" else "completed"), journal["status"]
            assert rollbacks_of(journal) == [(name, "succeeded") for name in HELD_ROLLBACKS]
        else:
            assert journal_of(run_dir) is None, "chaos ran before its start_after"
        assert wait_until(lambda: not faults_on(healthy_stack), 20), (
            f"faults outlived the harness (their TTL is 600 s): {faults_on(healthy_stack)}"
        )
        assert wait_until(lambda: not processes_naming(run_dir), 30), (
            f"orphans: {[p.info['cmdline'][:3] for p in processes_naming(run_dir)]}"
        )
        assert processes.carrying(run.token) == [], "a process of the killed run is still running"
    finally:
        run.stop()
    assert all(p["state"] == "RUNNING" for p in healthy_stack.status()["processes"]), "the stack was taken down"

    rows = [json.loads(line) for line in (run_dir / "samples" / "samples.jsonl").read_text().splitlines()]
    assert rows, "the samples written before the kill are gone"
    report = gameday("report", str(run_dir), home=healthy_stack.home)
    assert report.returncode == 4, report.stdout + report.stderr
    assert json.loads((run_dir / "result.json").read_text())["run"]["status"] == "crashed"
    assert (run_dir / "report.html").exists()


# ---- a command that owns its stack: kill -9 in each phase leaves no process ----------------
# The run or the UI session starts its own stack here, so its supervisord is its child: the
# children die by the parent-death signal (Locust, chaos, the sink, supervisord), and the stack's
# programs with supervisord (stack.launch). Nothing is left to find by the test's token.

OWNED_PHASES = ["stack-starting", "load-running", "chaos-running"]
PROFILE = ROOT / "loadprofiles" / "inference.py"


def commands_carrying(token: str) -> list[str]:
    """The command lines of the live (not zombie) processes that carry `token`."""
    found = []
    for proc in processes.carrying(token):
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                found.append(" ".join(proc.cmdline()))
        except psutil.Error:
            continue
    return found


def stack_starting(token: str) -> bool:
    """True once supervisord runs and has started some of the stack's programs."""
    commands = commands_carrying(token)
    return any("supervisord" in c for c in commands) and any("stack.launch" in c for c in commands)


def started(token: str, *names: str) -> bool:
    commands = commands_carrying(token)
    return all(any(name in c for c in commands) for name in names)


def kill_9_leaves_nothing(owned: processes.Owned, children: tuple[str, ...]) -> None:
    """`kill -9` of the command alone (as a test timeout does); then nothing carrying its token may
    remain. `children` name processes that must be running before the kill, so a test that killed
    too early (or a phase with nothing to orphan) cannot pass."""
    assert started(owned.token, *children), f"expected {children} running: {commands_carrying(owned.token)}"
    owned.proc.send_signal(signal.SIGKILL)
    owned.proc.wait(10)
    assert wait_until(lambda: not commands_carrying(owned.token), 120), (
        f"left running after kill -9: {commands_carrying(owned.token)}"
    )


@pytest.mark.parametrize("phase", OWNED_PHASES)
def test_kill_9_of_a_run_that_started_its_stack_leaves_no_process(tmp_path, phase):
    name, home, runs = "owned-run", tmp_path / "home", tmp_path / "runs"
    experiment = tmp_path / "held.json"
    experiment.write_text(json.dumps(held_fault_experiment(name, hold_s=300)))
    spec = write_spec(
        tmp_path / "gd.yaml",
        name="killed-own-stack",
        target={"kind": "local", "stack": name},
        load={"profile": "loadprofiles/inference.py", "shape": "constant_rate", "rate": 20, "duration": "120s"},
        chaos={"experiment": str(experiment), "start_after": "6s"},
        warmup="2s",
        slos=[{"sli": "availability", "phase": "run", "objective": ">= 99%"}],
    )
    run = processes.Owned(
        [*GAMEDAY, "run", str(spec), "--reports", str(runs), "--base-port", str(free_base_port())],
        cwd=ROOT,
        env={**os.environ, "GAMEDAY_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        run_dir = lambda: next(runs.iterdir(), None) if runs.exists() else None  # noqa: E731
        kinds = lambda: {e["kind"] for e in events_of(run_dir())} if run_dir() else set()  # noqa: E731
        if phase == "stack-starting":
            assert wait_until(lambda: stack_starting(run.token), 90), "the stack never started"
            kill_9_leaves_nothing(run, ("supervisord",))
            assert "up" not in kinds(), "the stack was up before the kill: not the phase under test"
        elif phase == "load-running":
            assert wait_until(lambda: "load-start" in kinds(), 150), "the load never started"
            kill_9_leaves_nothing(run, ("supervisord", "locust", "harness.load.sink"))
            assert "chaos-start" not in kinds()
        else:
            assert wait_until(lambda: "chaos-start" in kinds() and started(run.token, "chaos"), 150), (
                "chaos never started"
            )
            kill_9_leaves_nothing(run, ("supervisord", "locust", "harness.load.sink", "chaos"))
    finally:
        run.kill()


def ui_state(web_port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/gameday/state", timeout=30) as response:
        return json.load(response)


def ui_post(web_port: int, path: str, data: bytes, content_type: str) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{web_port}{path}", data=data, method="POST", headers={"Content-Type": content_type}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


UI_READY = "Locust web UI with the Game day tab"  # the launcher's line once Locust listens


def start_ui(tmp_path: Path, stack: str, **popen) -> tuple[processes.Owned, int, Path]:
    """`gameday ui --profile` on a stack of its own; (the command, its web port, its log)."""
    base, web = free_base_port(), free_port()
    log = tmp_path / "ui.log"
    with open(log, "wb") as out:
        ui = processes.Owned(
            [
                *GAMEDAY,
                "ui",
                "--profile",
                str(PROFILE),
                "--stack-name",
                stack,
                "--base-port",
                str(base),
                "--web-port",
                str(web),
                "--reports",
                str(tmp_path / "runs"),
            ],
            cwd=ROOT,
            env={**os.environ, "GAMEDAY_HOME": str(tmp_path / "home")},
            stdout=out,
            stderr=subprocess.STDOUT,
            **popen,
        )
    return ui, web, log


@pytest.mark.parametrize("phase", OWNED_PHASES)
def test_kill_9_of_gameday_ui_leaves_no_process(tmp_path, phase):
    ui, web, log = start_ui(tmp_path, "owned-ui")
    try:
        if phase == "stack-starting":
            assert wait_until(lambda: stack_starting(ui.token), 90), log.read_text()
            kill_9_leaves_nothing(ui, ("supervisord",))
            assert UI_READY not in log.read_text(), "the UI was up before the kill"
            return
        assert wait_until(lambda: UI_READY in log.read_text(), 150), log.read_text()
        ui_post(web, "/swarm", b"user_count=4&spawn_rate=4&host=", "application/x-www-form-urlencoded")
        assert wait_until(lambda: ui_state(web)["test"]["running"] and started(ui.token, "harness.load.sink"), 60)
        if phase == "chaos-running":
            ui_post(web, "/gameday/experiments/run", b'{"name": "kill-model-replica.json"}', "application/json")
            assert wait_until(lambda: "(method)" in (ui_state(web)["experiment"]["activity"] or ""), 60)
        children = ("supervisord", "locust", "harness.load.sink") + (("chaos",) if phase == "chaos-running" else ())
        kill_9_leaves_nothing(ui, children)
    finally:
        ui.kill()


def test_sigint_stops_gameday_ui_started_with_sigint_ignored(tmp_path):
    """A non-interactive shell starts `gameday ui &` with SIGINT ignored; SIGINT (what Ctrl-C and
    the docs' stop send) must still stop it cleanly, taking down the stack it started."""
    ui, _, log = start_ui(tmp_path, "sigint-ui", preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert wait_until(lambda: UI_READY in log.read_text(), 150), log.read_text()
        ui.proc.send_signal(signal.SIGINT)  # to the command alone, as `kill -INT <pid>` does
        assert ui.proc.wait(120) == 0, log.read_text()[-3000:]
        assert "stopping local stack 'sigint-ui'" in log.read_text()
        assert wait_until(lambda: not commands_carrying(ui.token), 30), commands_carrying(ui.token)
    finally:
        ui.kill()
