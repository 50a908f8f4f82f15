"""Fast checks of the plain-Python parts of `gameday ui`: catalogue, session spec, live SLOs, activity."""

from __future__ import annotations

import json

import pytest
from ui_support import PROFILE, ROOT

from harness.errors import SpecError
from harness.spec.models import Slo
from harness.spec.slo_expr import parse_objective
from harness.ui import catalog
from harness.ui.live_slos import live_rows
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


def test_session_needs_exactly_one_source():
    with pytest.raises(SpecError):
        session_spec()
    with pytest.raises(SpecError):
        session_spec("a.yaml", profile="b.py")


def _live(ok: int, total: int, p99_ms: float) -> dict:
    stats = {"requests": total, "ok": ok, "error_rate": (total - ok) / total, "p99_ms": p99_ms}
    return {"windows": {"5s": {"overall": stats, "endpoints": {}}}}


def test_live_rows_judge_live_slis_and_leave_the_rest_to_the_report():
    slos = [Slo("availability", "run", parse_objective(">= 99%")), Slo("latency.p99", "run", parse_objective("< 250ms")),
            Slo("correctness", "run", parse_objective(">= 99%"))]
    rows = live_rows(slos, _live(ok=90, total=100, p99_ms=120.0))
    assert [(r["state"], r["value"]) for r in rows] == [("fail", "90.00%"), ("pass", "120.0 ms"), ("in report", "-")]
    assert [r["state"] for r in live_rows(slos, None)] == ["no-data", "no-data", "in report"]


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
    closing = runs.detach()                     # test stop: the close goes on in the background...
    second = runs.begin()                       # ...while the next test starts
    assert second != first and recorder.writer.run_dir == second
    assert runs.end(closing, "completed") == first

    def kinds(run_dir):
        return [json.loads(line)["kind"] for line in (run_dir / "events.jsonl").read_text().splitlines()]

    assert kinds(first) == ["run-start", "run-end"]
    assert kinds(second) == ["run-start"]       # still recording
    assert runs.runs[first.name]["state"] == "building" and runs.runs[second.name]["state"] == "recording"
