"""Factory functions for the run directories the report tests read: healthy, failed, aborted, no data,
hostile (XSS), long (one hour), and pairs for `gameday compare`.

Each writes the files real producers write (events.jsonl, samples, ledger, journal.json,
gameday.yaml) through tests/analysis/rundir_factory.py, so the reports are built from
files on disk, as in production. `python tests/report/report_runs.py OUT_DIR` writes
them all under OUT_DIR to open by hand.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))

from rundir_factory import T0, event, generator_row, request_row, timeline, write_run

ENDPOINT = "POST /v1/score"
SPEC = """
name: {name}
description: {description}
target: {{kind: local, stack: default}}
load: {{profile: p.py, rate: 20, duration: {load_s}s}}
chaos: {{experiment: e.json, start_after: 25s}}
warmup: 5s
slos:
  - {{sli: latency.p99, endpoint: "POST /v1/score", phase: baseline, objective: "< 100ms"}}
  - {{sli: availability, phase: fault, objective: ">= 99%"}}
  - {{sli: recovery_time, objective: "< 10s"}}
  - {{sli: events.lost, phase: run, objective: "== 0"}}
"""
FAULT = (25, 35)


def _spec(name: str, load_s: int = 60, description: str = "a report fixture") -> str:
    return SPEC.format(name=name, load_s=load_s, description=json.dumps(description))


def _seconds(
    start: int,
    stop: int,
    latency_ms: float,
    per_second: int = 20,
    errors: int = 0,
    error_text: str = "HTTPError 503",
    seed: int = 1,
) -> list[dict]:
    """Rows for seconds [start, stop): ok requests around `latency_ms` (±10%) and `errors` errors each second."""
    rng = random.Random(seed * 1000 + start)
    rows = []
    for s in range(start, stop):
        rows.append(request_row(T0 + s, [latency_ms * rng.uniform(0.9, 1.1) for _ in range(per_second - errors)]))
        if errors:
            rows.append(request_row(T0 + s, [latency_ms] * errors, outcome="error", errors={error_text: errors}))
        rows.append(generator_row(T0 + s, per_second))
    return rows


def _ledger(load_s: int, lost_between: tuple[float, float] | None = None) -> tuple[list, list]:
    produced = [(f"e{i}", T0 + i * 0.5) for i in range(load_s * 2)]
    consumed = [
        (i, ts + 0.008) for i, ts in produced if not (lost_between and lost_between[0] <= ts - T0 < lost_between[1])
    ]
    return produced, consumed


def _journal(directory: Path, output: str = "killed replica-1", error: str = "") -> None:
    def run(name: str, type_: str, status: str = "succeeded", out: object = None, exc: str = "") -> dict:
        doc = {
            "activity": {"name": name, "type": type_},
            "status": status,
            "output": out,
            "start": "2027-01-15T08:00:25",
            "end": "2027-01-15T08:00:26",
            "duration": 0.4,
        }
        if exc:
            doc["exception"] = [exc]
        if type_ == "probe":
            doc["tolerance_met"] = status == "succeeded"
        return doc

    journal = {
        "experiment": {"title": "Kill one model replica"},
        "status": "completed",
        "deviated": False,
        "start": "2027-01-15T08:00:24",
        "end": "2027-01-15T08:00:36",
        "steady_states": {
            "before": {"steady_state_met": True, "probes": [run("gateway-healthy", "probe", out={"status": 200})]},
            "after": {"steady_state_met": True, "probes": [run("gateway-healthy", "probe")]},
            "during": [],
        },
        "run": [run("kill-replica", "action", out=output)],
        "rollbacks": [run("restart-replica", "action", "failed" if error else "succeeded", exc=error)],
    }
    (directory / "journal.json").write_text(json.dumps(journal))


def healthy_run(
    directory: Path, name: str = "kill-one-model-replica", seed: int = 1, fault_latency_ms: float = 40.0
) -> Path:
    rows = (
        _seconds(0, 25, 20, seed=seed) + _seconds(25, 35, fault_latency_ms, seed=seed) + _seconds(35, 60, 20, seed=seed)
    )
    produced, consumed = _ledger(60)
    write_run(directory, timeline(60, 5, [FAULT]), rows, produced, consumed, spec=_spec(name))
    _journal(directory)
    return directory


def failed_run(directory: Path, name: str = "kill-one-model-replica", seed: int = 1) -> Path:
    """Errors in the fault, high latency after it (never recovers), events lost during the fault."""
    rows = _seconds(0, 25, 20, seed=seed) + _seconds(25, 35, 60, errors=6, seed=seed) + _seconds(35, 60, 400, seed=seed)
    produced, consumed = _ledger(60, lost_between=FAULT)
    write_run(directory, timeline(60, 5, [FAULT]), rows, produced, consumed, spec=_spec(name))
    _journal(directory, error="TimeoutError: replica-1 did not come back")
    return directory


def aborted_run(directory: Path) -> Path:
    """A guardrail aborts 3 s into the fault; the rollback still runs and the run ends `aborted`."""
    rows = _seconds(0, 25, 20) + _seconds(25, 29, 30, errors=15) + _seconds(29, 40, 20)
    abort = event(T0 + 28, "abort", source="guardrail", name="error_rate", observed=0.75, abort_if="> 50%")
    events = [e for e in timeline(40, 5, [(25, 29)]) if e["kind"] != "run-end"]
    events += [abort, event(T0 + 41, "run-end", status="aborted")]
    write_run(directory, events, rows, spec=_spec("abort-me", load_s=40))
    _journal(directory)
    return directory


def no_data_run(directory: Path) -> Path:
    """The load started and stopped but no sample row was written (a dead generator)."""
    write_run(directory, timeline(30, 5, []), [], spec=_spec("silent", load_s=30))
    return directory


HOSTILE = '<script>alert("xss")</script><img src=x onerror=alert(1)>'


def hostile_run(directory: Path) -> Path:
    """The target answers with markup in error messages, journal outputs and exceptions."""
    rows = _seconds(0, 25, 20) + _seconds(25, 35, 40, errors=5, error_text=f"500: {HOSTILE}") + _seconds(35, 60, 20)
    abort = event(T0 + 30, "abort", source="guardrail", name=HOSTILE, observed=HOSTILE)
    events = timeline(60, 5, [FAULT], extra=[abort])
    write_run(directory, events, rows, *_ledger(60), spec=_spec("hostile", description=HOSTILE))
    _journal(directory, output=HOSTILE, error=f"Exception: {HOSTILE}")
    return directory


def long_run(directory: Path, seconds: int = 3600, endpoints: int = 4) -> Path:
    """One hour at 20 req/s per endpoint with a ledger of 2 events a second: the 5 MB budget's worst case."""
    rows = []
    for s in range(seconds):
        for e in range(endpoints):
            rows.append(request_row(T0 + s, [20.0 + (s % 7)] * 20, endpoint=f"POST /v1/ep{e}"))
        rows.append(generator_row(T0 + s, 20 * endpoints))
    faults = [(600 * k + 300, 600 * k + 360) for k in range(seconds // 600)]
    write_run(directory, timeline(seconds, 5, faults), rows, *_ledger(seconds), spec=_spec("hour", load_s=seconds))
    return directory


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "report-fixtures")
    for factory in (healthy_run, failed_run, aborted_run, no_data_run, hostile_run):
        print(factory(out / factory.__name__.removesuffix("_run")))


def with_experiment(run_dir, met_before: bool):
    """Append a second chaos block to a run's timeline: one that ran, or one whose steady state did not
    hold before the method (so it injected nothing, and the run looks milder, not better)."""
    events = [
        event(T0 + 40, "chaos-start", name="experiments/trip-breaker.json", pid=1),
        event(T0 + 40.3, "hypothesis-end", "chaos", "h", met=met_before, unmet=[]),
        event(T0 + 46, "chaos-end", name="experiments/trip-breaker.json", returncode=0, status="completed"),
    ]
    with (run_dir / "events.jsonl").open("a") as out:
        out.writelines(json.dumps(e) + "\n" for e in events)
    return run_dir
