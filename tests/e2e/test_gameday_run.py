"""`gameday run` end to end on the real reference stack: verdicts, exit codes, planted defects.

Each test runs a real short game day (tens of seconds): the stack under
supervisord, Locust in a child process, `chaos run` in another, and the
analysis and reports at the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from e2e_support import GAMEDAY, ROOT, Stack, gameday, result_of, verdicts, write_spec
from support import free_base_port

pytestmark = pytest.mark.slow

SCORE = "POST /v1/score"


def kill_replica_spec(stack: str, **overrides) -> dict:
    spec = {
        "name": "kill-model-replica",
        "target": {"kind": "local", "stack": stack},
        "load": {"profile": "loadprofiles/inference.py", "shape": "constant_rate", "rate": 40, "duration": "24s"},
        "chaos": {"experiment": "experiments/kill-model-replica.json", "start_after": "7s"},
        "warmup": "2s",
        "slos": [
            {"sli": "availability", "phase": "baseline", "objective": ">= 99%"},
            # the retry on another replica hides a dead one entirely; without it a few requests fail
            {"sli": "availability", "endpoint": SCORE, "phase": "fault", "objective": ">= 99.9%"},
            {"sli": "correctness", "endpoint": SCORE, "phase": "run", "objective": ">= 99.9%"},
            {"sli": "recovery_time", "objective": "< 20s"},
        ],
    }
    spec.update(overrides)
    return spec


def run(spec_path, home, reports, *extra) -> subprocess.CompletedProcess:
    return gameday("run", str(spec_path), "--reports", str(reports), *extra, home=home)


def test_kill_model_replica_passes_on_a_healthy_stack(healthy_stack, tmp_path):
    spec = write_spec(tmp_path / "gd.yaml", **kill_replica_spec(healthy_stack.name))
    result = run(spec, healthy_stack.home, tmp_path / "runs")
    run_dir, doc = result_of(tmp_path / "runs")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert set(verdicts(doc).values()) == {"pass"}
    assert (run_dir / "report.html").exists() and (run_dir / "junit.xml").exists()
    assert "report:" in result.stdout and str(run_dir / "report.html") in result.stdout


def test_kill_model_replica_fails_under_the_no_retry_defect(tmp_path):
    """The planted defect: without a retry on another replica, killed requests reach users."""
    home = tmp_path / "home"
    spec = write_spec(tmp_path / "gd.yaml", **kill_replica_spec("no-retry"))
    result = run(spec, home, tmp_path / "runs", "--defect", "no-retry", "--base-port", str(free_base_port()))
    _, doc = result_of(tmp_path / "runs")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    states = verdicts(doc)
    assert states[f"availability[{SCORE}]@fault >= 99.9%"] == "fail"
    assert doc["run"]["status"] == "completed"


def test_invalid_spec_exits_2_listing_every_problem(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: bad\ntarget: {kind: local}\nload: {profile: nowhere.py, shape: warp, duration: 10s}\n"
                    "slos:\n  - {sli: latency.p99, phase: lunch, objective: '<< 5'}\n")
    result = gameday("run", str(spec), home=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for fragment in ("nowhere.py", "warp", "lunch", "<< 5"):
        assert fragment in result.stderr, result.stderr


def slow_gateway_experiment(stack: str) -> dict:
    """500 ms of latency on the client->gateway hop for 20 s, healed in the rollbacks."""
    hop = {"hop": "client-gateway", "stack": stack}
    return {
        "version": "1.0.0", "title": "slow gateway", "description": "latency on the public hop",
        "method": [{"type": "action", "name": "slow-down-gateway", "pauses": {"after": 20},
                    "provider": {"type": "python", "module": "harness.chaos.network", "func": "add_latency",
                                 "arguments": {**hop, "ms": 500, "ttl": 60}}}],
        "rollbacks": [{"type": "action", "name": "heal-gateway",
                       "provider": {"type": "python", "module": "harness.chaos.network", "func": "heal",
                                    "arguments": hop}}],
    }


def test_guardrail_breach_aborts_the_chaos_within_2s_and_rolls_back(healthy_stack, tmp_path):
    experiment = tmp_path / "slow-gateway.json"
    experiment.write_text(json.dumps(slow_gateway_experiment(healthy_stack.name)))
    spec = write_spec(tmp_path / "gd.yaml", **kill_replica_spec(
        healthy_stack.name, chaos={"experiment": str(experiment), "start_after": "8s"},
        guardrails=[{"sli": "latency.p99", "window": "5s", "abort_if": "> 300ms"}]))
    result = run(spec, healthy_stack.home, tmp_path / "runs")
    run_dir, doc = result_of(tmp_path / "runs")
    assert result.returncode == 3, result.stdout[-3000:]
    assert doc["run"]["status"] == "aborted"
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    fault = next(e["ts"] for e in events if e["kind"] == "activity-start" and e["name"] == "slow-down-gateway")
    abort = next(e for e in events if e["kind"] == "abort")
    # the breach: the first second whose requests were slowed; its live window closes a second later
    assert abort["ts"] - fault < 2 + 2, "the guardrail reacted more than 2 s after the breach"
    journal = json.loads((run_dir / "journal.json").read_text())
    assert journal["status"] == "interrupted"
    assert [r["activity"]["name"] for r in journal["rollbacks"]] == ["heal-gateway"]
    assert _healthy(healthy_stack)


def test_sigint_mid_fault_exits_3_with_a_report_and_no_fault_left(healthy_stack, tmp_path):
    spec = write_spec(tmp_path / "gd.yaml", **kill_replica_spec(
        healthy_stack.name, chaos={"experiment": "experiments/partition-kafka.json", "start_after": "5s"}))
    env = {**os.environ, "GAMEDAY_HOME": str(healthy_stack.home)}
    proc = subprocess.Popen([*GAMEDAY, "run", str(spec), "--reports", str(tmp_path / "runs")], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not _has_toxic(healthy_stack):
        time.sleep(0.2)
    assert _has_toxic(healthy_stack), "the partition never started"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    run_dir, doc = result_of(tmp_path / "runs")
    assert proc.returncode == 3, out[-3000:]
    assert doc["run"]["status"] == "interrupted"
    assert (run_dir / "report.html").exists()
    assert not _has_toxic(healthy_stack), "a fault was left behind"


def _has_toxic(stack: Stack) -> bool:
    proxies = stack.status().get("proxies", [])
    return any(p.get("toxics") or p.get("enabled") is False for p in proxies)


def _healthy(stack: Stack) -> bool:
    doc = stack.status()
    return all(p["state"] == "RUNNING" for p in doc["processes"]) and not _has_toxic(stack)


def data_flow_spec(stack: str, chaos, duration: str, slos: list[dict]) -> dict:
    return {
        "name": "data-flow",
        "target": {"kind": "local", "stack": stack},
        "load": {"profile": "loadprofiles/inference.py", "shape": "constant_rate", "rate": 40, "duration": duration,
                 "options": {"events-weight": 10}, "sink": {"kind": "kafka", "topic": "scores"}},
        "chaos": chaos, "warmup": "2s", "slos": slos,
    }


def test_data_flow_loses_nothing_through_a_scorer_kill_and_a_partition(healthy_stack, tmp_path):
    """kill-scorer then partition-kafka in sequence: events are delayed, never lost, and the flow recovers."""
    # kill-scorer's fault lasts ~13 s; its recovery window must hold 5 good seconds before the partition
    chaos = [{"experiment": "experiments/kill-scorer.json", "start_after": "7s"},
             {"experiment": "experiments/partition-kafka.json", "start_after": "28s"}]
    # p50, not p99: with a short baseline, the few events in flight when the scorer dies
    # (produced in the baseline's last moments) are a large share of its tail
    slos = [{"sli": "events.lost", "phase": "run", "objective": "== 0"},
            {"sli": "events.e2e_latency.p50", "phase": "baseline", "objective": "< 1s"},
            {"sli": "recovery_time", "objective": "< 20s"}]
    spec = write_spec(tmp_path / "gd.yaml", **data_flow_spec(healthy_stack.name, chaos, "66s", slos))
    result = run(spec, healthy_stack.home, tmp_path / "runs")
    run_dir, doc = result_of(tmp_path / "runs")
    assert result.returncode == 0, result.stdout[-3000:]
    assert doc["ledger"]["produced"] > 300
    fault, baseline = doc["slis"]["fault"]["*"], doc["slis"]["baseline"]["*"]
    assert fault["events.e2e_latency.p99"] > 5 * baseline["events.e2e_latency.p50"], "the partition did not show"
    assert len(doc["recovery"]) == 2 and all(r["seconds"] is not None for r in doc["recovery"])
    assert (run_dir / "journal.json").exists() and (run_dir / "journal-2.json").exists()


def test_kill_scorer_loses_events_under_the_commit_before_produce_defect(tmp_path):
    home = tmp_path / "home"
    chaos = {"experiment": "experiments/kill-scorer.json", "start_after": "7s"}
    slos = [{"sli": "events.lost", "phase": "run", "objective": "== 0"},
            {"sli": "availability", "phase": "run", "objective": ">= 99%"}]
    spec = write_spec(tmp_path / "gd.yaml", **data_flow_spec("cbp", chaos, "24s", slos))
    result = run(spec, home, tmp_path / "runs", "--defect", "commit-before-produce",
                 "--base-port", str(free_base_port()))
    _, doc = result_of(tmp_path / "runs")
    assert result.returncode == 1, result.stdout[-3000:]
    states = verdicts(doc)
    assert states["events.lost@run == 0"] == "fail"
    assert states["availability@run >= 99%"] == "pass"


def test_trip_breaker_never_recovers_under_the_breaker_defect(tmp_path):
    home = tmp_path / "home"
    spec = write_spec(tmp_path / "gd.yaml", name="trip-breaker", target={"kind": "local", "stack": "bnr"},
                      load={"profile": "loadprofiles/inference.py", "shape": "constant_rate", "rate": 40,
                            "duration": "30s"},
                      chaos={"experiment": "experiments/trip-breaker.json", "start_after": "7s"}, warmup="2s",
                      slos=[{"sli": "availability", "phase": "baseline", "objective": ">= 99.5%"},
                            {"sli": "recovery_time", "objective": "< 10s"}])
    result = run(spec, home, tmp_path / "runs", "--defect", "breaker-never-recovers",
                 "--base-port", str(free_base_port()))
    _, doc = result_of(tmp_path / "runs")
    assert result.returncode == 1, result.stdout[-3000:]
    states = verdicts(doc)
    assert states["recovery_time@recovery < 10s"] == "fail"
    assert doc["recovery"][0]["never"] is True
    assert states["availability@baseline >= 99.5%"] == "pass"
