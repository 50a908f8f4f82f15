"""`gameday run` end to end on the real reference stack: exit codes, guardrails, Ctrl-C, data flow.

Each test runs a real short game day (tens of seconds): the stack under
supervisord, Locust in a child process, `chaos run` in another, and the
analysis and reports at the end. The shipped game days and their planted defects
run unchanged in test_shipped_gamedays.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess

import processes
import pytest
from chaos.stack_support import wait_until
from e2e_support import (
    GAMEDAY,
    HELD_ROLLBACKS,
    ROOT,
    Stack,
    faults_on,
    gameday,
    held_fault_experiment,
    result_of,
    rollbacks_of,
    write_spec,
)

pytestmark = pytest.mark.slow

SCORE = "POST /v1/score"


def base_spec(stack: str, **overrides) -> dict:
    """A short game day on `stack` (24 s of 40 req/s); tests replace its chaos and guardrails."""
    spec = {
        "name": "short-run",
        "target": {"kind": "local", "stack": stack},
        "load": {"profile": "loadprofiles/inference.py", "shape": "constant_rate", "rate": 40, "duration": "24s"},
        "chaos": {"experiment": "experiments/kill-model-replica.json", "start_after": "7s"},
        "warmup": "2s",
        "slos": [
            {"sli": "availability", "phase": "baseline", "objective": ">= 99%"},
            {"sli": "correctness", "endpoint": SCORE, "phase": "run", "objective": ">= 99.9%"},
        ],
    }
    spec.update(overrides)
    return spec


def run(spec_path, home, reports, *extra) -> subprocess.CompletedProcess:
    return gameday("run", str(spec_path), "--reports", str(reports), *extra, home=home)


def test_invalid_spec_exits_2_listing_every_problem(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        "name: bad\ntarget: {kind: local}\nload: {profile: nowhere.py, shape: warp, duration: 10s}\n"
        "slos:\n  - {sli: latency.p99, phase: lunch, objective: '<< 5'}\n"
    )
    result = gameday("run", str(spec), home=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for fragment in ("nowhere.py", "warp", "lunch", "<< 5"):
        assert fragment in result.stderr, result.stderr


def slow_gateway_experiment(stack: str) -> dict:
    """500 ms of latency on the client->gateway hop for 20 s, healed in the rollbacks."""
    hop = {"hop": "client-gateway", "stack": stack}
    return {
        "version": "1.0.0",
        "title": "slow gateway",
        "description": "latency on the public hop",
        "method": [
            {
                "type": "action",
                "name": "slow-down-gateway",
                "pauses": {"after": 20},
                "provider": {
                    "type": "python",
                    "module": "harness.chaos.network",
                    "func": "add_latency",
                    "arguments": {**hop, "ms": 500, "ttl": 60},
                },
            }
        ],
        "rollbacks": [
            {
                "type": "action",
                "name": "heal-gateway",
                "provider": {"type": "python", "module": "harness.chaos.network", "func": "heal", "arguments": hop},
            }
        ],
    }


def test_guardrail_breach_aborts_the_chaos_within_2s_and_rolls_back(healthy_stack, tmp_path):
    experiment = tmp_path / "slow-gateway.json"
    experiment.write_text(json.dumps(slow_gateway_experiment(healthy_stack.name)))
    spec = write_spec(
        tmp_path / "gd.yaml",
        **base_spec(
            healthy_stack.name,
            chaos={"experiment": str(experiment), "start_after": "8s"},
            guardrails=[{"sli": "latency.p99", "window": "5s", "abort_if": "> 300ms"}],
        ),
    )
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


def test_sigint_mid_fault_rolls_back_exits_3_with_a_report(healthy_stack, tmp_path):
    """Ctrl-C while faults hold that nothing but the rollbacks removes (TTL 600 s, held 300 s):
    the journal says the rollbacks ran and succeeded, and the stack itself has no fault left."""
    experiment = tmp_path / "held.json"
    experiment.write_text(json.dumps(held_fault_experiment(healthy_stack.name, hold_s=300)))
    spec = write_spec(
        tmp_path / "gd.yaml",
        **base_spec(healthy_stack.name, chaos={"experiment": str(experiment), "start_after": "5s"}),
    )
    run = processes.Owned(
        [*GAMEDAY, "run", str(spec), "--reports", str(tmp_path / "runs")],
        cwd=ROOT,
        env={**os.environ, "GAMEDAY_HOME": str(healthy_stack.home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_until(lambda: len(faults_on(healthy_stack)) >= 2, 90), "the faults never started"
        os.killpg(run.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends to its foreground group
        out, _ = run.proc.communicate(timeout=120)
        assert processes.carrying(run.token) == [], "the run left a process behind"
    finally:
        run.stop()
    run_dir, doc = result_of(tmp_path / "runs")
    assert run.proc.returncode == 3, out[-3000:]
    assert doc["run"]["status"] == "interrupted"
    assert (run_dir / "report.html").exists()
    journal = json.loads((run_dir / "journal.json").read_text())
    assert journal["status"] == "interrupted"
    assert rollbacks_of(journal) == [(name, "succeeded") for name in HELD_ROLLBACKS]
    assert faults_on(healthy_stack) == [], "a fault outlived the run"


def _healthy(stack: Stack) -> bool:
    doc = stack.status()
    return all(p["state"] == "RUNNING" for p in doc["processes"]) and not faults_on(stack)


def data_flow_spec(stack: str, chaos, duration: str, slos: list[dict]) -> dict:
    return {
        "name": "data-flow",
        "target": {"kind": "local", "stack": stack},
        "load": {
            "profile": "loadprofiles/inference.py",
            "shape": "constant_rate",
            "rate": 40,
            "duration": duration,
            "options": {"events-weight": 10},
            "sink": {"kind": "kafka", "topic": "scores"},
        },
        "chaos": chaos,
        "warmup": "2s",
        "slos": slos,
    }


def test_data_flow_loses_nothing_through_a_scorer_kill_and_a_partition(healthy_stack, tmp_path):
    """kill-scorer then partition-kafka in sequence: events are delayed, never lost, and the flow recovers."""
    # kill-scorer's fault lasts ~13 s; its recovery window must hold 5 good seconds before the partition
    chaos = [
        {"experiment": "experiments/kill-scorer.json", "start_after": "7s"},
        {"experiment": "experiments/partition-kafka.json", "start_after": "28s"},
    ]
    # p50, not p99: with a short baseline, the few events in flight when the scorer dies
    # (produced in the baseline's last moments) are a large share of its tail
    slos = [
        {"sli": "events.lost", "phase": "run", "objective": "== 0"},
        {"sli": "events.e2e_latency.p50", "phase": "baseline", "objective": "< 1s"},
        {"sli": "recovery_time", "objective": "< 20s"},
    ]
    spec = write_spec(tmp_path / "gd.yaml", **data_flow_spec(healthy_stack.name, chaos, "66s", slos))
    result = run(spec, healthy_stack.home, tmp_path / "runs")
    run_dir, doc = result_of(tmp_path / "runs")
    assert result.returncode == 0, result.stdout[-3000:]
    assert doc["ledger"]["produced"] > 300
    fault, baseline = doc["slis"]["fault"]["*"], doc["slis"]["baseline"]["*"]
    assert fault["events.e2e_latency.p99"] > 5 * baseline["events.e2e_latency.p50"], "the partition did not show"
    assert len(doc["recovery"]) == 2 and all(r["seconds"] is not None for r in doc["recovery"])
    assert (run_dir / "journal.json").exists() and (run_dir / "journal-2.json").exists()


def test_experiment_whose_steady_state_fails_before_the_method_fails_the_run_with_every_slo_passing(
    healthy_stack, tmp_path
):
    """`chaos run` ends an experiment whose hypothesis is unmet before the method 'completed', exit 0,
    with its method never run. The game day's SLOs all pass (nothing happened); the run must fail and
    name the probe, and the fault must indeed not have been injected."""
    kill = json.loads((ROOT / "experiments" / "kill-model-replica.json").read_text())
    kill["steady-state-hypothesis"] = {
        "title": "replica-1's breaker is open (never, on a healthy stack)",
        "probes": [
            {
                "type": "probe",
                "name": "breaker-replica-1-open",
                "provider": {
                    "type": "python",
                    "module": "harness.chaos.probes",
                    "func": "breaker_state",
                    "arguments": {"replica": "replica-1"},
                },
                "tolerance": "open",
            }
        ],
    }
    experiment = tmp_path / "unmet.json"
    experiment.write_text(json.dumps(kill))
    spec = write_spec(
        tmp_path / "gd.yaml",
        **base_spec(healthy_stack.name, chaos={"experiment": str(experiment), "start_after": "7s"}),
    )
    result = run(spec, healthy_stack.home, tmp_path / "runs")
    run_dir, doc = result_of(tmp_path / "runs")
    assert result.returncode == 1, result.stdout[-3000:]
    assert [v["state"] for v in doc["verdicts"]] == ["pass", "pass"]
    assert [(c["experiment"], c["state"]) for c in doc["experiment_checks"]] == [(str(experiment), "fail")]
    assert "breaker-replica-1-open answered 'closed'" in doc["experiment_checks"][0]["reason"], doc["experiment_checks"]
    assert "never injected" in result.stdout and doc["run"]["outcome"] == "fail"
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert not [e for e in events if e["kind"] == "activity-start" and (e["detail"] or {}).get("phase") == "method"]
    assert json.loads((run_dir / "journal.json").read_text())["status"] == "completed"  # what chaos said
