"""Fast checks of the plain-Python parts of `gameday ui`: catalogue, session spec, live SLOs, activity."""

from __future__ import annotations

import json
import signal

import pytest
from ui_support import PROFILE, ROOT

from harness.errors import SpecError
from harness.spec.models import Slo
from harness.spec.slo_expr import parse_objective
from harness.ui import catalog
from harness.ui.live_slos import LivePhase, live_phase, live_rows
from harness.ui.runner import current_activity, next_journal
from harness.ui.session import session_spec


def test_catalog_lists_the_project_experiments_by_file_name():
    names = [e.name for e in catalog.list_experiments()]
    assert "kill-model-replica.json" in names
    assert all("/" not in n for n in names)


@pytest.mark.parametrize("name", ["../gamedays/smoke.yaml", "/etc/passwd", "k8s/kill-model-replica.json", "", None, 3])
def test_catalog_refuses_anything_not_listed(name):
    with pytest.raises(catalog.UnknownExperiment):
        catalog.find(name)


def test_session_from_a_profile_gets_the_default_slos(tmp_path):
    spec = session_spec(profile=str(PROFILE), stack="s1")
    gameday = spec.write(tmp_path / "gameday.yaml")
    assert [s.sli for s in gameday.slos] == ["availability", "error_rate", "latency.p99"]
    assert gameday.target.stack == "s1" and gameday.name == "inference-ui"


def test_session_from_a_game_day_keeps_its_slos_and_guardrails(tmp_path):
    spec = session_spec(str(ROOT / "gamedays" / "kill-model-replica.yaml"), stack="s2")
    gameday = spec.write(tmp_path / "gameday.yaml")
    assert len(gameday.slos) == 5 and gameday.guardrails
    assert spec.notes


def test_session_from_a_game_day_runs_its_load_shape(tmp_path):
    """Not Locust's 1-user closed model: the game day's open model, at its rate, for its duration."""
    spec = session_spec(str(ROOT / "gamedays" / "kill-model-replica.yaml"), stack="s2")
    assert spec.locust_args == ("--gameday-shape", "constant_rate", "--gameday-duration", "75", "--gameday-rate", "50")
    load = spec.write(tmp_path / "gameday.yaml").load
    assert (load.shape, load.duration, dict(load.params)) == ("constant_rate", 75.0, {"rate": 50.0})


def test_session_from_a_profile_leaves_the_load_to_the_form():
    assert session_spec(profile=str(PROFILE)).locust_args == ()


def test_session_needs_exactly_one_source():
    with pytest.raises(SpecError):
        session_spec()
    with pytest.raises(SpecError):
        session_spec("a.yaml", profile="b.py")


def _live(ok: int, total: int, p99_ms: float) -> dict:
    stats = {"requests": total, "ok": ok, "error_rate": (total - ok) / total, "p99_ms": p99_ms}
    return {"windows": {"5s": {"overall": stats, "endpoints": {}}}}


IN_BASELINE = LivePhase("baseline", running_s=30.0, ended=frozenset({"warmup"}), run_s=30.0)


def test_live_rows_judge_live_slis_and_leave_the_rest_to_the_report():
    slos = [
        Slo("availability", "run", parse_objective(">= 99%")),
        Slo("latency.p99", "run", parse_objective("< 250ms")),
        Slo("correctness", "run", parse_objective(">= 99%")),
    ]
    rows = live_rows(slos, _live(ok=90, total=100, p99_ms=120.0), IN_BASELINE)
    assert [(r["state"], r["value"]) for r in rows] == [("fail", "90.00%"), ("pass", "120.0 ms"), ("in report", "-")]
    assert [r["state"] for r in live_rows(slos, None, IN_BASELINE)] == ["no-data", "no-data", "in report"]


FAULT_SLO = Slo("availability", "fault", parse_objective(">= 99.9%"))
BASELINE_SLO = Slo("availability", "baseline", parse_objective(">= 99.5%"))


def test_a_fault_slo_waits_for_the_fault_however_good_the_live_window_looks():
    """The broken UI judged every SLO over the last 5 s whatever the phase: availability@fault passed
    with no fault in."""
    healthy = _live(ok=100, total=100, p99_ms=20.0)
    rows = live_rows([FAULT_SLO, BASELINE_SLO], healthy, IN_BASELINE)
    assert [r["state"] for r in rows] == ["waiting for fault", "pass"]
    assert [r["value"] for r in rows] == ["-", "100.00%"]


def test_once_the_fault_is_in_only_its_slos_are_judged_and_the_baseline_is_over():
    in_fault = LivePhase("fault", running_s=8.0, ended=frozenset({"warmup", "baseline"}), run_s=40.0)
    rows = live_rows([FAULT_SLO, BASELINE_SLO], _live(ok=95, total=100, p99_ms=20.0), in_fault)
    assert [r["state"] for r in rows] == ["fail", "baseline over"]


def test_a_phase_is_judged_only_once_the_live_window_lies_inside_it():
    just_in = LivePhase("fault", running_s=2.0, ended=frozenset({"warmup", "baseline"}), run_s=40.0)
    assert live_rows([FAULT_SLO], _live(ok=100, total=100, p99_ms=20.0), just_in)[0]["state"] == "fault: first 5s"


def test_no_test_running_judges_nothing():
    assert [r["state"] for r in live_rows([FAULT_SLO, BASELINE_SLO], _live(100, 100, 20.0), None)] == [
        "waiting for fault",
        "waiting for baseline",
    ]


def _chaos(ts: float, source: str, kind: str, **detail) -> dict:
    return {"ts": ts, "source": source, "kind": kind, "name": "x", "detail": detail}


def test_live_phase_follows_warmup_baseline_fault_and_recovery():
    start = _chaos(130.0, "chaos", "activity-start", phase="method", type="action")
    probe = _chaos(125.0, "chaos", "activity-start", phase="hypothesis", type="probe")
    heal = _chaos(150.0, "chaos", "activity-end", phase="method", type="action", removes_fault=True)
    timeline = [probe, start, heal]
    phase = lambda now: live_phase(now, 100.0, 5.0, [e for e in timeline if e["ts"] <= now])  # noqa: E731
    assert phase(103.0).name == "warmup"
    assert (phase(128.0).name, phase(128.0).run_s) == ("baseline", 23.0)  # a hypothesis probe injects nothing
    assert (phase(140.0).name, phase(140.0).running_s) == ("fault", 10.0)
    assert phase(155.0).name == "recovery" and phase(155.0).ended == {"warmup", "baseline", "fault"}


def test_without_a_marked_heal_the_fault_lasts_until_the_rollbacks_or_the_experiment_end():
    start = _chaos(130.0, "chaos", "activity-start", phase="method", type="action")
    action_end = _chaos(131.0, "chaos", "activity-end", phase="method", type="action")
    rollback_end = _chaos(160.0, "chaos", "activity-end", phase="rollback", type="action")
    assert live_phase(150.0, 100.0, 5.0, [start, action_end]).name == "fault"
    assert live_phase(165.0, 100.0, 5.0, [start, action_end, rollback_end]).name == "recovery"
    assert live_phase(165.0, 100.0, 5.0, [start, action_end, _chaos(161.0, "harness", "chaos-end")]).name == "recovery"


def test_current_activity_names_the_open_activity_then_the_pause_after_it(tmp_path):
    def write(*events):
        (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))

    start = {"ts": 10.0, "source": "chaos", "kind": "activity-start", "name": "kill", "detail": {"phase": "method"}}
    end = {**start, "ts": 11.0, "kind": "activity-end"}
    write(start)
    assert current_activity(tmp_path, 0.0) == "kill (method)"
    write(start, end)
    assert current_activity(tmp_path, 0.0) == "after kill (method)"
    assert current_activity(tmp_path, 12.0) is None


def test_next_journal_numbers_experiments_within_a_run(tmp_path):
    assert next_journal(tmp_path) == "journal.json"
    (tmp_path / "journal.json").write_text("{}")
    assert next_journal(tmp_path) == "journal-2.json"


def test_a_test_started_while_the_last_one_closes_gets_its_own_run_directory(tmp_path):
    from types import SimpleNamespace

    from harness.load.rundir import RunDirWriter, resolve_run_dir
    from harness.ui.runs import UiRuns

    first = tmp_path / "runs" / "first"
    first.mkdir(parents=True)
    recorder = SimpleNamespace(writer=RunDirWriter(resolve_run_dir(str(first))))
    runs = UiRuns(recorder, None, "ui-unit")
    assert runs.begin() == first
    closing = runs.detach()  # test stop: the close goes on in the background...
    second = runs.begin()  # ...while the next test starts
    assert second != first and recorder.writer.run_dir == second
    assert runs.end(closing, "completed") == first

    def kinds(run_dir):
        return [json.loads(line)["kind"] for line in (run_dir / "events.jsonl").read_text().splitlines()]

    assert kinds(first) == ["run-start", "run-end"]
    assert kinds(second) == ["run-start"]  # still recording
    assert runs.runs[first.name]["state"] == "building" and runs.runs[second.name]["state"] == "recording"


class _EndedDriver:
    """A `chaos run` child that has exited after an abort; reading its exit status yields to
    other greenlets, as gevent's subprocess wait does, and one of them asks for the tab's view."""

    running, interrupted, status, returncode, started_at, journal_name = False, True, "interrupted", 1, 0.0, "j.json"

    def __init__(self, run_dir, ask):
        self.run_dir, self.ask, self.seen = run_dir, ask, []

    def journal(self):
        return {"status": "interrupted", "deviated": False}

    def wait(self, timeout):
        self.seen.append(self.ask())  # another greenlet's view, mid-recording
        return 1

    def resend_unseen_interrupt(self, now):
        return False  # it has exited


def _ended_runner(tmp_path, driver_class, experiment: str):
    """An ExperimentRunner whose last experiment's child has exited but whose end is not recorded yet."""
    from harness.run.timeline import Timeline
    from harness.ui.catalog import find
    from harness.ui.runner import ExperimentRunner, _Started

    runner = ExperimentRunner()
    driver = driver_class(tmp_path, lambda: runner.view()["state"])
    runner.last, runner.ended, runner.recorded = (_Started(find(experiment), driver, Timeline(tmp_path)), False, False)
    return runner, driver


def test_the_tab_shows_an_experiment_over_only_once_its_end_is_recorded(tmp_path):
    """A view taken while poll() is still recording chaos-end must not say the experiment is over:
    a client that then reads events.jsonl would find no chaos-end (a race seen in the suite)."""
    runner, driver = _ended_runner(tmp_path, _EndedDriver, "kill-model-replica.json")
    assert runner.view()["state"] == "interrupted"
    assert driver.seen and all(state == "aborting" for state in driver.seen)
    kinds = [json.loads(line)["kind"] for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert kinds.count("chaos-end") == 1


def test_the_tab_explains_an_experiment_that_ended_completed_without_running_its_method(tmp_path):
    """Chaos Toolkit says 'completed'; the tab says not-run, and why, so an ad hoc tester is not misled."""
    from harness.ui.runner import ExperimentRunner

    class NotRun(_EndedDriver):
        interrupted, status, returncode = False, "not-run", 0

        def journal(self):
            return {"status": "completed", "deviated": False, "steady_states": {"before": {"steady_state_met": False}}}

    runner, _ = _ended_runner(tmp_path, NotRun, "trip-breaker.json")
    view = runner.view()
    assert view["state"] == "not-run" and "never injected" in (view["note"] or "")
    assert runner.view()["note"] and ExperimentRunner().view()["note"] is None  # idle: nothing to explain


class _FakeChild:
    """Stands in for harness.proc.Child: counts the signals sent to its group."""

    def __init__(self):
        self.sent = []

    def signal(self, sig):
        self.sent.append(sig)
        return True


def _interrupted_driver(tmp_path):
    """A ChaosDriver whose child still runs, interrupted at t=100, without starting a process."""
    from harness.run.chaos_driver import ChaosDriver

    class Running(ChaosDriver):
        running = True

    driver = Running(ROOT / "experiments" / "kill-model-replica.json", tmp_path)
    driver._child = _FakeChild()
    driver.interrupted, driver.interrupted_at = True, 100.0
    return driver


def test_an_interrupt_chaos_run_never_saw_is_sent_once_more_after_five_seconds(tmp_path):
    driver = _interrupted_driver(tmp_path)
    assert not driver.resend_unseen_interrupt(104.0)  # too early to tell
    assert driver.resend_unseen_interrupt(105.5)
    assert not driver.resend_unseen_interrupt(110.0)  # once: a second SIGINT it did see would skip the rollbacks
    assert driver._child.sent == [signal.SIGINT] and driver.signalled


def test_an_interrupt_chaos_run_acted_on_is_never_sent_again(tmp_path):
    from harness import events
    from harness.events import Event

    driver = _interrupted_driver(tmp_path)
    events.append(tmp_path, Event(ts=100.5, source="chaos", kind="rollback-start", name="x", detail={}))
    assert not driver.resend_unseen_interrupt(200.0)
    assert driver._child.sent == []


def test_a_driver_sees_the_interrupt_in_the_control_events_after_it_was_sent(tmp_path):
    """ChaosDriver.interrupt_unseen reads the control's own record: only experiment-interrupted,
    rollback-start or experiment-end written after the SIGINT count."""
    from harness import events
    from harness.events import Event

    driver = _interrupted_driver(tmp_path)
    events.append(tmp_path, Event(ts=99.0, source="chaos", kind="rollback-start", name="x", detail={}))
    events.append(tmp_path, Event(ts=101.0, source="chaos", kind="activity-end", name="x", detail={}))
    assert driver.interrupt_unseen()
    events.append(tmp_path, Event(ts=102.0, source="chaos", kind="experiment-interrupted", name="x", detail={}))
    assert not driver.interrupt_unseen()


def test_the_ui_records_an_abort_it_had_to_send_again(tmp_path):
    from harness.run.timeline import Timeline
    from harness.ui.catalog import find
    from harness.ui.runner import ExperimentRunner, _Started

    driver = _interrupted_driver(tmp_path)
    runner = ExperimentRunner()
    runner.last, runner.ended, runner.recorded = (
        _Started(find("kill-model-replica.json"), driver, Timeline(tmp_path)),
        False,
        False,
    )
    runner.poll(now=104.0)
    runner.poll(now=106.0)
    runner.poll(now=107.0)
    recorded = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["kind"] for e in recorded] == ["error"]
    assert "SIGINT sent again" in recorded[0]["detail"]["message"] and recorded[0]["detail"]["signalled"]


class _StartedChild:
    """Stands in for harness.proc.Child once `chaos run` is up: counts the signals sent to its group,
    and runs until `exit(code)` (or, `exits_on_sigint`, until SIGINT reaches it: then exits 0)."""

    def __init__(self, exits_on_sigint=False):
        self.sent, self.pid, self.returncode, self.exits_on_sigint = [], 4242, None, exits_on_sigint

    @property
    def running(self):
        return self.returncode is None

    def signal(self, sig):
        self.sent.append(sig)
        if self.exits_on_sigint and sig == signal.SIGINT:
            self.exit(0)
        return True

    def exit(self, code):
        self.returncode = code

    def wait(self, timeout):
        return self.returncode


def test_a_poll_while_chaos_run_is_still_starting_leaves_the_experiment_to_its_end(tmp_path, monkeypatch):
    """gevent's fork waits for the exec cooperatively, so the tab's ticker (or a second Run click)
    gets in while `start()` is under way. Seen in the suite: the ticker took the driver that had no
    child yet for one that had exited, began to record its end, failed half-way, and the tab then
    showed the experiment running for ever, with no chaos-end in events.jsonl."""
    from harness.errors import ExperimentBusy
    from harness.run.chaos_driver import ChaosDriver
    from harness.ui import runner as runner_module
    from harness.ui.catalog import find
    from harness.ui.runner import ExperimentRunner

    runner = ExperimentRunner()
    experiment = find("kill-model-replica.json")
    mid_start = []

    class Starting(ChaosDriver):
        def start(self):
            runner.poll()  # the ticker, while the fork waits for the exec
            mid_start.append(runner.view()["state"])
            with pytest.raises(ExperimentBusy, match="is starting"):
                runner.start(experiment, tmp_path)  # a second click on Run
            self._child = _StartedChild()

    monkeypatch.setattr(runner_module, "ChaosDriver", Starting)
    runner.start(experiment, tmp_path)
    assert mid_start == ["idle"]
    runner.poll()
    assert runner.view()["state"] == "running"
    runner.last.driver._child.exit(0)
    assert runner.view()["state"] == "exited 0"
    kinds = [json.loads(line)["kind"] for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert kinds == ["chaos-start", "chaos-end"]


def test_an_abort_asked_for_while_chaos_run_starts_interrupts_it_once_it_has_started(tmp_path, monkeypatch):
    from harness.run.chaos_driver import ChaosDriver
    from harness.ui import runner as runner_module
    from harness.ui.catalog import find
    from harness.ui.runner import ExperimentRunner

    runner = ExperimentRunner()
    answers = []

    class Starting(ChaosDriver):
        def start(self):
            answers.append(runner.abort("user"))  # the Abort button, while the fork waits for the exec
            answers.append(runner.abort("guardrail"))  # asked again: already pending
            self._child = _StartedChild()

    monkeypatch.setattr(runner_module, "ChaosDriver", Starting)
    runner.start(find("kill-model-replica.json"), tmp_path)
    assert answers == [True, False]
    assert runner.last.driver._child.sent == [signal.SIGINT]
    assert runner.view()["state"] == "aborting"
    recorded = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [(e["kind"], e["detail"].get("reason")) for e in recorded] == [
        ("chaos-start", None),
        ("chaos-abort", "user"),
    ]


def test_a_failed_start_drops_the_abort_asked_for_while_it_started(tmp_path, monkeypatch):
    from harness.run.chaos_driver import ChaosDriver
    from harness.ui import runner as runner_module
    from harness.ui.catalog import find
    from harness.ui.runner import ExperimentRunner

    runner = ExperimentRunner()
    failing = [True]

    class Starting(ChaosDriver):
        def start(self):
            if failing.pop():
                runner.abort("user")
                raise OSError("exec failed")
            self._child = _StartedChild()

    monkeypatch.setattr(runner_module, "ChaosDriver", Starting)
    failing.insert(0, False)
    with pytest.raises(OSError):
        runner.start(find("kill-model-replica.json"), tmp_path)
    runner.start(find("kill-model-replica.json"), tmp_path)  # the next Run is not hit by that abort
    assert runner.last.driver._child.sent == [] and runner.view()["state"] == "running"


def test_stopping_the_test_while_an_experiment_starts_waits_for_it_and_rolls_it_back(tmp_path, monkeypatch):
    """The test's stop (or Locust's quit) during the start: finish() waits for the child to exist,
    then interrupts it, instead of ending the run before `chaos run` began."""
    import gevent

    from harness.run.chaos_driver import ChaosDriver
    from harness.ui import runner as runner_module
    from harness.ui.catalog import find
    from harness.ui.runner import ExperimentRunner

    runner = ExperimentRunner()

    class Starting(ChaosDriver):
        def start(self):
            gevent.sleep(0.05)  # the fork waiting for the exec: other greenlets run
            self._child = _StartedChild(exits_on_sigint=True)

    monkeypatch.setattr(runner_module, "ChaosDriver", Starting)
    starter = gevent.spawn(runner.start, find("kill-model-replica.json"), tmp_path)
    gevent.sleep(0)
    assert runner.starting == "kill-model-replica.json"
    runner.finish(timeout=60)
    # when finish() returns the run may be closed: by then the child existed and was interrupted
    assert runner.last is not None and runner.last.driver._child.sent == [signal.SIGINT]
    starter.get(timeout=60)
    recorded = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["kind"] for e in recorded] == ["chaos-start", "chaos-abort", "chaos-end", "chaos-rollback"]
