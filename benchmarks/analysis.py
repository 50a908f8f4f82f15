"""Time the analysis of a synthetic run directory: 1 hour x 20 endpoints of sample rows.

    python benchmarks/analysis.py [--seconds 3600] [--endpoints 20] [--workers 1]

Writes a run directory under a temporary folder (ok + error + rate_limited rows per
endpoint per second, a generator row per second, one fault in the middle and a
ledger of 10 events/s), then times `analyse` + `result_document` and prints the
wall and CPU seconds and the process's peak resident memory (ru_maxrss; writing the
directory streams, so the peak is the analysis's). Goal: under 5 s. On a shared
machine the wall time swings with other work; the CPU time much less.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from pathlib import Path

from harness.analysis import analyse, result_document
from harness.histogram import Histogram

T0 = 1_800_000_000


def synthesize(run: Path, seconds: int, endpoints: int, workers: int) -> int:
    """Write the run directory; returns the number of sample rows."""
    rng = random.Random(0)
    (run / "samples").mkdir(parents=True)
    (run / "ledger").mkdir()
    fault = (seconds // 2, seconds // 2 + 60)
    hists = _histogram_pool(rng)
    rows = 0
    with open(run / "samples" / "samples.jsonl", "w") as out:
        for s in range(seconds):
            slow = fault[0] <= s < fault[1]
            for e in range(endpoints):
                for worker in range(workers):
                    for outcome, count in (("ok", 95), ("error", 3 if slow else 1), ("rate_limited", 1)):
                        hist = hists[(outcome, slow, rng.randrange(8))]
                        out.write(
                            json.dumps(
                                {
                                    "ts": T0 + s,
                                    "endpoint": f"POST /v1/e{e}",
                                    "outcome": outcome,
                                    "count": count,
                                    "hist": hist,
                                    "sum_ms": count * 20.0,
                                    "max_ms": 90.0,
                                    "checked": count if outcome == "ok" else 0,
                                    "correct": count if outcome == "ok" else 0,
                                    "errors": {},
                                    "worker": str(worker),
                                }
                            )
                            + "\n"
                        )
                        rows += 1
            out.write(
                json.dumps(
                    {
                        "ts": T0 + s,
                        "endpoint": "*",
                        "outcome": "generator",
                        "offered": 97 * endpoints,
                        "lag_ms_max": 1.0,
                        "lag_ms_p99": 0.5,
                        "behind": False,
                        "cpu_warning": False,
                        "users": 50,
                        "workers": workers,
                        "hist": "",
                        "worker": None,
                    }
                )
                + "\n"
            )
            rows += 1
    _write_ledger(run, seconds, fault)
    _write_events(run, seconds, fault)
    (run / "gameday.yaml").write_text(SPEC.format(duration=seconds, start=fault[0]))
    return rows


def _histogram_pool(rng: random.Random) -> dict:
    """A few pre-encoded histograms to reuse, so writing the file is fast."""
    pool = {}
    for outcome in ("ok", "error", "rate_limited"):
        for slow in (False, True):
            for k in range(8):
                hist = Histogram()
                base = 80_000 if slow else 20_000
                hist.record_many(int(rng.lognormvariate(0, 0.4) * base) for _ in range(100))
                pool[(outcome, slow, k)] = hist.encode()
    return pool


def _write_ledger(run: Path, seconds: int, fault: tuple[int, int]) -> None:
    with open(run / "ledger" / "produced.jsonl", "w") as p, open(run / "ledger" / "consumed.jsonl", "w") as c:
        for s in range(seconds):
            for i in range(10):
                ts = T0 + s + i / 10
                p.write(json.dumps({"id": f"{s}-{i}", "ts": ts}) + "\n")
                delay = 5.0 if fault[0] <= s < fault[1] else 0.01
                c.write(json.dumps({"id": f"{s}-{i}", "ts": ts + delay}) + "\n")


def _write_events(run: Path, seconds: int, fault: tuple[int, int]) -> None:
    def event(ts, kind, source="harness", **detail):
        return json.dumps({"ts": T0 + ts, "source": source, "kind": kind, "name": kind, "detail": detail}) + "\n"

    with open(run / "events.jsonl", "w") as out:
        out.write(event(0, "load-start") + event(30, "warmup-end"))
        out.write(event(fault[0] - 1, "experiment-start", "chaos"))
        out.write(event(fault[0], "activity-start", "chaos", phase="method", type="action"))
        out.write(event(fault[1], "activity-end", "chaos", phase="rollback", type="action"))
        out.write(event(seconds, "load-stop") + event(seconds + 1, "run-end", status="completed"))


SPEC = """
name: benchmark
load: {{profile: p.py, rate: 2000, duration: {duration}s}}
chaos: {{experiment: e.json, start_after: {start}s}}
warmup: 30s
slos:
  - {{sli: latency.p99, endpoint: "POST /v1/e0", phase: baseline, objective: "< 150ms"}}
  - {{sli: availability, phase: fault, objective: ">= 99%"}}
  - {{sli: apdex(50ms), phase: run, objective: ">= 0.9"}}
  - {{sli: recovery_time, objective: "< 20s"}}
  - {{sli: events.lost, objective: "== 0"}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3600)
    parser.add_argument("--endpoints", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        rows = synthesize(run, args.seconds, args.endpoints, args.workers)
        size = (run / "samples" / "samples.jsonl").stat().st_size
        started, cpu_started = time.perf_counter(), time.process_time()
        analysis = analyse(run)
        document = result_document(analysis)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    states = [v["state"] for v in document["verdicts"]]
    print(f"rows={rows} samples_mb={size / 1e6:.1f} seconds={args.seconds} endpoints={args.endpoints}")
    print(f"analysis_seconds={elapsed:.2f} cpu_seconds={cpu:.2f} peak_memory_mb={peak / 1e6:.1f} verdicts={states}")
    print("goal: analysis_seconds < 5:", "met" if elapsed < 5 else "NOT met")


if __name__ == "__main__":
    main()
