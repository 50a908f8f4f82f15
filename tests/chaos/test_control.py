"""The gameday control writes the timeline as it happens, and lines up with the journal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from harness.chaos import control

CONTROLS = [{"name": "gameday", "provider": {"type": "python", "module": "harness.chaos.control"}}]


def test_emit_appends_one_json_line_per_event(tmp_path, monkeypatch):
    monkeypatch.setenv("GAMEDAY_RUN_DIR", str(tmp_path))
    control.emit("activity-start", "a", {"phase": "method"}, ts=1.5)
    control.emit("activity-end", "a")
    lines = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert lines[0] == {
        "ts": 1.5,
        "source": "chaos",
        "kind": "activity-start",
        "name": "a",
        "detail": {"phase": "method"},
    }
    assert lines[1]["kind"] == "activity-end" and lines[1]["ts"] > 1e9


def test_emit_does_nothing_without_a_run_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("GAMEDAY_RUN_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert control.emit("activity-start", "a") is None
    assert list(tmp_path.iterdir()) == []


def write_experiment(path: Path, hypothesis_dir: str = "/tmp") -> Path:
    """A stack-free experiment: python probes/actions from the standard library, with pauses. Its
    steady-state hypothesis is that `hypothesis_dir` is a directory."""

    def act(name, func, args, kind="action", pauses=None):
        a = {
            "type": kind,
            "name": name,
            "provider": {"type": "python", "module": "os.path", "func": func, "arguments": args},
        }
        if kind == "probe":
            a["tolerance"] = True
        if pauses:
            a["pauses"] = pauses
        return a

    doc = {
        "title": "timeline",
        "description": "stack-free",
        "controls": CONTROLS,
        "steady-state-hypothesis": {
            "title": "tmp exists",
            "probes": [act("tmp", "isdir", {"s": hypothesis_dir}, "probe")],
        },
        "method": [
            act("first", "exists", {"path": "/"}, pauses={"before": 0.3, "after": 0.2}),
            act("second", "exists", {"path": "/tmp"}),
        ],
        "rollbacks": [act("undo", "exists", {"path": "/"})],
    }
    path.write_text(json.dumps(doc))
    return path


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def run_chaos(experiment: Path, run_dir: Path) -> None:
    """The real `chaos run` of `experiment`, with the control writing to `run_dir`."""
    chaos = Path(sys.executable).with_name("chaos")
    argv = [str(chaos), "--no-version-check", "--no-log-file", "run", "--rollback-strategy=always"]
    argv += ["--journal-path", str(run_dir / "journal.json"), str(experiment)]
    env = {**os.environ, "GAMEDAY_RUN_DIR": str(run_dir)}
    subprocess.run(argv, env=env, cwd=run_dir, check=True, capture_output=True, timeout=60)


def test_each_activity_event_lies_inside_its_journal_entry_after_its_pause(tmp_path):
    """Orderings, not a time bound (a busy machine cannot break them): chaoslib stamps the journal's
    start after any `pauses.before` and fires the registry's start_activity after that, and the
    end event carries the journal's own end. An event taken before the 0.3 s pause would start
    0.3 s before the journal's entry."""
    experiment = write_experiment(tmp_path / "exp.json")
    run_chaos(experiment, tmp_path)
    journal = json.loads((tmp_path / "journal.json").read_text())
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    runs = (
        journal["steady_states"]["before"]["probes"]
        + journal["run"]
        + journal["rollbacks"]
        + journal["steady_states"]["after"]["probes"]
    )
    starts = [e for e in events if e["kind"] == "activity-start"]
    ends = [e for e in events if e["kind"] == "activity-end"]
    assert len(starts) == len(ends) == len(runs) == 5
    ordered = sorted(runs, key=lambda r: r["start"])
    for run, start, end in zip(ordered, starts, ends):
        assert start["name"] == end["name"] == run["activity"]["name"]
        assert epoch(run["start"]) <= start["ts"] <= epoch(run["end"])
        assert abs(end["ts"] - epoch(run["end"])) < 1e-6  # the same instant, copied
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "experiment-start" and kinds[-1] == "experiment-end"
    assert events[-1]["detail"]["status"] == "completed"
    assert [e["detail"]["phase"] for e in starts] == ["hypothesis", "method", "method", "hypothesis", "rollback"]


def test_the_gameday_extension_marks_the_action_that_removes_the_fault(tmp_path):
    experiment = write_experiment(tmp_path / "exp.json")
    doc = json.loads(experiment.read_text())
    doc["extensions"] = [{"name": "gameday", "removes_fault": ["second"]}]
    experiment.write_text(json.dumps(doc))
    run_chaos(experiment, tmp_path)
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    marked = {e["name"] for e in events if e["kind"] == "activity-end" and e["detail"].get("removes_fault")}
    assert marked == {"second"}  # not the fault itself, not the rollback, not a probe


def test_without_the_extension_heal_and_restore_actions_remove_the_fault():
    assert control.removes_fault({"type": "action", "name": "heal-scorer-kafka"}, None)
    assert control.removes_fault({"type": "action", "name": "restore-canary-weight"}, None)
    assert not control.removes_fault({"type": "action", "name": "kill-one-replica"}, None)
    assert not control.removes_fault({"type": "probe", "name": "heal-probe"}, None)


def test_the_extension_overrides_the_name_convention():
    explicit = control.removal_names({"extensions": [{"name": "gameday", "removes_fault": ["un-partition"]}]})
    assert control.removes_fault({"type": "action", "name": "un-partition"}, explicit)
    assert not control.removes_fault({"type": "action", "name": "heal-kafka"}, explicit)
    assert control.removal_names({"extensions": [{"name": "other"}]}) is None


def test_a_hypothesis_unmet_before_the_method_is_recorded_with_the_probe_and_its_answer(tmp_path):
    """chaoslib then skips the method and still says 'completed'; the hypothesis-end event names the
    probe out of tolerance (harness.analysis.experiment_checks fails the experiment on it)."""
    experiment = write_experiment(tmp_path / "exp.json", hypothesis_dir=str(tmp_path / "absent"))
    run_chaos(experiment, tmp_path)
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    ends = [e["detail"] for e in events if e["kind"] == "hypothesis-end"]
    assert ends == [{"met": False, "unmet": [{"probe": "tmp", "output": "False"}]}]
    assert not [e for e in events if e["kind"] == "method-start"]
    assert json.loads((tmp_path / "journal.json").read_text())["status"] == "completed"


def test_a_method_probe_is_checked_against_its_tolerance_which_chaos_toolkit_ignores_there(tmp_path):
    """chaoslib records a method probe 'succeeded' whatever it answered; the control records whether
    the answer was within its tolerance, with chaoslib's own within_tolerance."""
    probe = {"type": "probe", "provider": {"type": "python", "module": "os.path", "func": "isdir"}}
    doc = {
        "title": "method probes",
        "description": "stack-free",
        "controls": CONTROLS,
        "method": [
            {
                **probe,
                "name": "tmp-is-a-dir",
                "tolerance": True,
                "provider": {**probe["provider"], "arguments": {"s": "/tmp"}},
            },
            {
                **probe,
                "name": "absent-is-a-dir",
                "tolerance": True,
                "provider": {**probe["provider"], "arguments": {"s": "/nope"}},
            },
            {**probe, "name": "no-tolerance", "provider": {**probe["provider"], "arguments": {"s": "/nope"}}},
        ],
    }
    (tmp_path / "exp.json").write_text(json.dumps(doc))
    run_chaos(tmp_path / "exp.json", tmp_path)
    ends = {
        e["name"]: e["detail"]
        for e in map(json.loads, (tmp_path / "events.jsonl").read_text().splitlines())
        if e["kind"] == "activity-end"
    }
    assert ends["tmp-is-a-dir"]["tolerance_met"] is True
    assert ends["absent-is-a-dir"]["tolerance_met"] is False and ends["absent-is-a-dir"]["status"] == "succeeded"
    assert "tolerance_met" not in ends["no-tolerance"]
    assert json.loads((tmp_path / "journal.json").read_text())["status"] == "completed"
