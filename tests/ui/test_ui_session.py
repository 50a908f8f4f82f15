"""`gameday ui` end to end: the real local stack, Locust's web UI in a child, `chaos run` children.

Driven through HTTP only, like a browser would: Locust's own /swarm and /stop, and
the Game day tab's API. Runs of about a minute in all; marked slow.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ui_support import PROFILE, UiSession, ports

pytestmark = pytest.mark.slow

EXPERIMENT = "kill-model-replica.json"


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ui")
    base, web = ports()
    ui = UiSession(tmp, "ui-test", base, web, "--profile", str(PROFILE))
    try:
        ui.wait_ready()
        yield ui
    finally:
        ui.stop()


def start_test(ui: UiSession) -> dict:
    code, body = ui.post_form("/swarm", {"user_count": "4", "spawn_rate": "4", "host": ""})
    assert code == 200 and body["success"], body
    return ui.wait_state(lambda s: s["test"]["running"] and s["test"]["run_dir"])


def events_of(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]


def test_an_unknown_experiment_name_is_refused_with_400(session):
    for name in ("no-such.json", "../gamedays/smoke.yaml", "/etc/passwd", "k8s/kill-model-replica.json", 42):
        code, body = session.post_json("/gameday/experiments/run", {"name": name})
        assert code == 400, (name, body)
        assert "unknown experiment" in body["error"]


def test_running_an_experiment_without_a_test_is_refused_with_409(session):
    code, body = session.post_json("/gameday/experiments/run", {"name": EXPERIMENT})
    assert code == 409 and "start a test first" in body["error"]


def test_locust_page_carries_the_game_day_tab(session):
    code, page = session.get("/")
    assert code == 200
    assert '"extended_tabs"' in page and "Game day" in page and "gameday/static/tab.js" in page


def test_abort_rolls_back_and_the_stopped_test_gets_a_report(session):
    state = start_test(session)
    run_dir = Path(state["test"]["run_dir"])
    code, body = session.post_json("/gameday/experiments/run", {"name": EXPERIMENT})
    assert code == 200, body
    session.wait_state(lambda s: "(method)" in (s["experiment"]["activity"] or ""))
    code, body = session.post_json("/gameday/experiments/abort", {})
    assert code == 200 and body["aborted"], body
    state = session.wait_state(lambda s: s["experiment"]["state"] not in ("running", "aborting"))
    journal = json.loads((run_dir / "journal.json").read_text())
    assert journal["status"] == "interrupted"
    assert [r["activity"]["name"] for r in journal["rollbacks"]] == ["ensure-replicas-running"]
    kinds = [(e["source"], e["kind"]) for e in events_of(run_dir)]
    for expected in [
        ("harness", "run-start"),
        ("load", "test-start"),
        ("harness", "chaos-start"),
        ("harness", "chaos-abort"),
        ("chaos", "rollback-end"),
        ("harness", "chaos-end"),
    ]:
        assert expected in kinds
    assert {"chaos-start", "rollback-end"} <= {e["kind"] for e in state["events"]}

    code, body = session.post_form("/stop", {})
    assert code == 200
    state = session.wait_state(lambda s: s["runs"] and s["runs"][0]["state"] in ("ready", "failed"), 120)
    run = state["runs"][0]
    assert run["state"] == "ready", run
    code, html = session.get("/gameday/" + run["href"])
    assert code == 200 and "availability" in html
    result = json.loads((run_dir / "result.json").read_text())
    assert result["run"]["status"] == "completed"
    assert result["phases"]["fault"]["windows"], result["phases"]


def test_ctrl_c_mid_experiment_rolls_back_and_reports_the_second_test(session):
    first = session.state()["runs"][0]["run_dir"] if session.state()["runs"] else None
    state = start_test(session)
    run_dir = Path(state["test"]["run_dir"])
    assert str(run_dir) != first  # every test is its own run directory
    code, body = session.post_json("/gameday/experiments/run", {"name": EXPERIMENT})
    assert code == 200, body
    session.wait_state(lambda s: "(method)" in (s["experiment"]["activity"] or ""))
    assert session.stop() == 0, session.output()[-3000:]
    assert session.left_behind == [], "Ctrl-C left processes running"
    journal = json.loads((run_dir / "journal.json").read_text())
    assert journal["status"] == "interrupted", journal["status"]
    assert journal["rollbacks"] and {r["status"] for r in journal["rollbacks"]} == {"succeeded"}, journal["rollbacks"]
    result = json.loads((run_dir / "result.json").read_text())
    assert result["run"]["status"] == "interrupted"
    assert "stopping local stack 'ui-test'" in session.output()
