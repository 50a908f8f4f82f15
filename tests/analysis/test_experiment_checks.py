"""Each experiment is judged on whether it ran as written: an unmet steady state before the method
(its fault never injected), a deviation after it, or a failed activity fails the run."""

import json
from pathlib import Path

import lxml.etree
import lxml.html
from rundir_factory import T0, event, steady_rows, timeline, write_run

from harness.analysis.experiment_checks import experiment_checks
from harness.analysis.result import analyse, exit_code
from harness.report.notify import notification
from harness.report.reports import write_reports
from harness.report.summary import summary_line, verdict_table
from harness.status import ExitCode

FILE = "experiments/trip-breaker.json"
REPORT_TESTS = Path(__file__).resolve().parents[1] / "report"  # junit-10.xsd


def experiment(
    at: float,
    status: str | None = "completed",
    deviated: bool = False,
    before: bool | None = True,
    after: bool | None = True,
    unmet: tuple = (),
) -> list[dict]:
    """The events of one chaos block starting at T0+at, as the harness and the chaos control write them."""
    probes = [{"probe": name, "output": output} for name, output in unmet]
    events = [event(T0 + at, "chaos-start", name=FILE, pid=1)]
    if before is not None:
        events.append(
            event(T0 + at + 0.3, "hypothesis-end", "chaos", "hypothesis", met=before, unmet=[] if before else probes)
        )
    if before is not False:
        events.append(event(T0 + at + 0.4, "method-start", "chaos", "method"))
        if after is not None:
            events.append(
                event(T0 + at + 5, "hypothesis-end", "chaos", "hypothesis", met=after, unmet=[] if after else probes)
            )
    events.append(event(T0 + at + 6, "chaos-end", name=FILE, returncode=0, status=status, deviated=deviated))
    return events


def only(events):
    checks = experiment_checks(events)
    assert len(checks) == 1, checks
    return checks[0]


def test_an_experiment_whose_steady_state_held_before_and_after_passes():
    check = only(experiment(20))
    assert (check.block, check.experiment, check.state, check.start, check.end) == (1, FILE, "pass", T0 + 20, T0 + 26)
    assert check.reason.startswith("ran as written")


def test_a_steady_state_unmet_before_the_method_fails_naming_the_probe_although_chaos_says_completed():
    """chaostoolkit-lib ends such a run 'completed', not deviated, exit 0: the fault was never injected."""
    check = only(experiment(20, before=False, unmet=[("breaker-replica-1-closed", "'open'")]))
    assert check.state == "fail"
    assert "did not hold before the method (breaker-replica-1-closed answered 'open')" in check.reason
    assert "never injected" in check.reason


def test_a_steady_state_unmet_after_the_method_fails_as_deviated():
    check = only(experiment(20, deviated=True, after=False, unmet=[("scorer-lag-is-small", "4000")]))
    assert check.state == "fail" and "after the method (scorer-lag-is-small answered 4000)" in check.reason


def activity_end(at: float, name: str, phase: str, type_: str = "action", **detail) -> dict:
    return event(T0 + at, "activity-end", "chaos", name, phase=phase, type=type_, **detail)


def test_a_failed_method_action_a_probe_out_of_tolerance_and_a_failed_rollback_each_fail_it():
    """Chaos Toolkit records each of these and still ends the experiment 'completed', exit 0."""
    events = experiment(20)
    events[3:3] = [
        activity_end(21, "kill-one-replica", "method", status="failed", error="Traceback...\nStackError: no replica"),
        activity_end(22, "breaker-open", "method", "probe", status="succeeded", output="'closed'", tolerance_met=False),
        activity_end(22.5, "gateway-healthy", "method", "probe", status="succeeded", output="True", tolerance_met=True),
        activity_end(25.5, "heal", "rollback", status="failed", error="OSError: refused"),
    ]
    check = only(events)
    assert check.state == "fail"
    assert check.reason == (
        "method action kill-one-replica failed: StackError: no replica; "
        "method probe breaker-open answered 'closed', outside its tolerance; "
        "rollback action heal failed: OSError: refused"
    )


def test_probes_within_tolerance_and_succeeded_activities_pass():
    events = experiment(20)
    events[3:3] = [
        activity_end(21, "kill-one-replica", "method", status="succeeded", output="None"),
        activity_end(22, "breaker-open", "method", "probe", status="succeeded", output="'open'", tolerance_met=True),
        activity_end(25.5, "heal", "rollback", status="succeeded", output="None"),
    ]
    assert only(events).state == "pass"


def test_a_journal_status_failed_fails_the_experiment():
    check = only(experiment(20, status="failed"))
    assert check.state == "fail" and "ended it 'failed'" in check.reason


def test_an_experiment_that_aborted_or_was_interrupted_by_itself_or_left_no_journal_fails():
    """chaoslib ends a run 'aborted' on an unexpected error in the method, a control can interrupt
    it, and a crashed `chaos run` leaves no journal: none of these ran as written."""
    checks = experiment_checks(experiment(20, status="aborted") + experiment(40, status="interrupted"))
    assert [(c.block, c.state) for c in checks] == [(1, "fail"), (2, "fail")]
    assert "ended it 'aborted' by itself" in checks[0].reason
    assert "ended it 'interrupted' by itself" in checks[1].reason
    no_journal = only(experiment(20, status=None))
    assert no_journal.state == "fail" and "exited 0 without a journal" in no_journal.reason


def test_an_experiment_the_harness_stopped_is_left_to_the_run_status():
    guardrail = experiment(20, status="interrupted")
    guardrail.insert(-1, event(T0 + 25, "abort", "guardrail", "error_rate"))
    ui_abort = experiment(40, status="interrupted")
    ui_abort.insert(-1, event(T0 + 45, "chaos-abort", name=FILE, reason="abort"))
    assert experiment_checks(guardrail + ui_abort) == ()
    assert experiment_checks(experiment(20)[:-1]) == ()  # no chaos-end: stopped by `gameday run`, or it crashed


def test_a_hypothesis_end_without_unmet_probes_from_an_older_run_still_fails_without_names():
    events = experiment(20, before=False)
    del events[1]["detail"]["unmet"]
    check = only(events)
    assert check.state == "fail" and "did not hold before the method, so the method never ran" in check.reason


def test_the_same_file_twice_gives_two_checks_told_apart_by_block():
    checks = experiment_checks(experiment(20) + experiment(40, before=False))
    assert [(c.block, c.experiment, c.state) for c in checks] == [(1, FILE, "pass"), (2, FILE, "fail")]


def test_a_chaos_end_without_its_start_is_ignored():
    assert experiment_checks(experiment(20)[1:]) == ()


def test_events_out_of_file_order_are_read_by_time():
    events = experiment(20, before=False) + experiment(40)
    checks = experiment_checks(list(reversed(events)))
    assert [c.state for c in checks] == ["fail", "pass"]


SPEC = """
name: three-faults
load: {profile: p.py, rate: 10, duration: 60s}
chaos:
  - {experiment: experiments/kill-model-replica.json, start_after: 10s}
  - {experiment: experiments/trip-breaker.json, start_after: 25s}
  - {experiment: experiments/partition-kafka.json, start_after: 40s}
warmup: 5s
slos:
  - {sli: availability, phase: recovery, objective: ">= 99%"}
  - {sli: recovery_time, objective: "< 20s"}
"""


def test_every_slo_passing_does_not_pass_a_run_whose_middle_experiment_never_injected_its_fault(tmp_path):
    """The nightly under `--defect breaker-never-recovers`: the first experiment leaves a breaker open,
    the second finds its steady state unmet and never runs its method, the third runs. Every SLO passes
    on the two faults that happened; the run must still fail, and every report must say why. (The
    factory's two faults carry no chaos-start/-end, so only the middle block is judged.)"""
    events = sorted(
        timeline(60, 5, [(10, 15), (40, 45)])
        + experiment(25, before=False, unmet=[("breaker-replica-1-closed", "'open'")]),
        key=lambda e: e["ts"],
    )
    run = write_run(tmp_path / "run", events, steady_rows(0, 60), spec=SPEC)
    analysis = analyse(run)
    assert [v.state for v in analysis.verdicts] == ["pass", "pass"]
    assert exit_code(analysis) == ExitCode.FAILED
    paths = write_reports(run)
    doc = json.loads(paths.result.read_text())
    assert doc["run"]["outcome"] == "fail" and doc["exit_code"] == 1
    assert [c["state"] for c in doc["experiment_checks"]] == ["fail"]
    assert "FAIL three-faults: 2/2 SLOs passed" in summary_line(analysis)
    assert f"experiment 1: {FILE} (the steady-state hypothesis did not hold before" in summary_line(analysis)
    assert any(line.startswith("FAIL") and FILE in line for line in verdict_table(analysis).splitlines())
    junit = lxml.etree.fromstring(paths.junit.read_bytes())
    failed = junit.xpath("//testcase[failure]")
    assert [(c.get("classname"), c.get("name")) for c in failed] == [
        ("gameday.three-faults.chaos", f"experiment 1: {FILE}")
    ]
    schema = lxml.etree.XMLSchema(lxml.etree.parse(str(REPORT_TESTS / "junit-10.xsd")))
    assert schema.validate(junit), schema.error_log
    notified = notification(analysis)["failed"]
    assert [(n["slo"], n["state"], n["objective"]) for n in notified] == [
        (f"experiment 1: {FILE}", "fail", "runs as written")
    ]
    assert junit.get("failures") == "1"
    page = lxml.html.fromstring(paths.html.read_bytes())
    warning = page.find_class("experiment-failed")
    assert len(warning) == 1 and "breaker-replica-1-closed answered 'open'" in warning[0].text_content()
    assert [r.get("data-state") for r in page.find_class("experiment-check")] == ["fail"]


def test_a_run_whose_experiments_all_ran_passes_with_a_passing_case_each(tmp_path):
    events = sorted(timeline(60, 5, [(10, 15)]) + experiment(25) + experiment(40), key=lambda e: e["ts"])
    run = write_run(tmp_path / "run", events, steady_rows(0, 60), spec=SPEC)
    paths = write_reports(run)
    doc = json.loads(paths.result.read_text())
    assert doc["exit_code"] == 0 and [c["state"] for c in doc["experiment_checks"]] == ["pass", "pass"]
    junit = lxml.etree.fromstring(paths.junit.read_bytes())
    assert len(junit.xpath("//testcase[@classname='gameday.three-faults.chaos']")) == 2 and not junit.xpath("//failure")
    assert not lxml.html.fromstring(paths.html.read_bytes()).find_class("experiment-failed")
