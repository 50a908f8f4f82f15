"""The open-model generator at full speed: bare Locust against the harness's constant_rate.

    python benchmarks/open_model.py [--seconds 12] [--users 50] [--steps 5] [--rate R ...]

Against one local aiohttp "hello" server pinned to core 1, with every generator pinned
to core 0, side by side in one run:

    1. bare       Locust FastHttpUser, closed model, 50 users: the most it sends
    2. harness    the same user through `harness/load/inject.py` (the plugin recording),
                  `--gameday-shape steady --gameday-users 50`: the closed model's most
    3. clean      the highest constant_rate that keeps its schedule, found by a short
                  search: no second flagged `behind`, and schedule lag p99 < 10 ms over
                  the steady middle of the run (first 2 s and last 1 s left out)
    4. saturated  what constant_rate delivers when asked for far more than it can send
                  (1.5x bare): the rate at which the generator saturates

It prints each figure, the ratios (3)/(1) and (4)/(1) with the goal (>= 0.8) beside them,
and the generator's CPU per request for every variant (from the child's rusage, which a
busy machine inflates far less than it cuts req/s). Every variant uses the same
locustfile, started the way a game day starts it (`-f harness/load/inject.py,user.py`).

Scale-out (`load.processes: 2`): two worker processes on two free cores should carry
about twice the clean rate of one. That needs a core for the server and two more for
the workers (the master is nearly idle); on a machine with fewer than 4 cores it says so
instead of printing a number that would only measure two workers sharing one core.

`--rate R` (repeatable) skips the search and measures constant_rate at R only.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from support import free_port, wait_for_port  # noqa: E402

from harness.events import EventKind, kind_of  # noqa: E402
from harness.histogram import Histogram  # noqa: E402
from harness.samples import generator_rows, request_rows  # noqa: E402

SERVER = """
from aiohttp import web
async def hello(request):
    return web.Response(text="hello")
app = web.Application()
app.router.add_get("/", hello)
web.run_app(app, host="127.0.0.1", port={port}, access_log=None, print=None)
"""
USER = """
from locust import FastHttpUser, task
class Hello(FastHttpUser):
    @task
    def hello(self):
        self.client.get("/")
"""
INJECT = ROOT / "harness" / "load" / "inject.py"
SERVER_CORE, GENERATOR_CORE = 1, 0
SCALE_OUT_CORES = {0, 2, 3}  # master + two workers; the server keeps core 1
GOAL = 0.8
CLEAN_LAG_P99_MS = 10.0
SKIP_FIRST_S, SKIP_LAST_S = 2, 1


@dataclass
class Closed:
    rate: float  # req/s over the middle seconds
    cpu_us: float  # generator CPU per request
    starved: float  # share of the run Locust waited for a CPU (other work on its core)

    def line(self) -> str:
        return f"{self.rate:7.0f} req/s  ({self.cpu_us:.0f} us CPU/req{_starved(self.starved)})"


@dataclass
class Open:
    asked: float
    offered: float  # req/s the schedule offered (middle seconds)
    sent: float  # req/s sent (middle seconds, by intended second)
    behind: int  # seconds flagged behind
    seconds: int  # middle seconds
    lag_p99_ms: float  # schedule lag p99 over the middle seconds
    worst_p99_ms: float  # the worst single second's lag p99
    cpu_us: float
    delivered: float = 0.0  # req/s Locust sent over the middle seconds, whatever their intended time
    starved: float = 0.0

    @property
    def clean(self) -> bool:
        return self.seconds > 0 and self.behind == 0 and self.lag_p99_ms < CLEAN_LAG_P99_MS

    def line(self) -> str:
        verdict = "keeps its schedule" if self.clean else "misses its schedule"
        return (
            f"constant_rate {self.asked:7.0f}: sent {self.sent:7.0f} req/s, behind {self.behind}/{self.seconds} s, "
            f"lag p99 {self.lag_p99_ms:7.1f} ms (worst second {self.worst_p99_ms:7.1f} ms), "
            f"{self.cpu_us:5.0f} us CPU/req{_starved(self.starved)}: {verdict}"
        )


def _starved(share: float) -> str:
    return f", waited for a CPU {share:.0%} of the run" if share >= 0.01 else ""


def pinned(cores: set[int]):
    return lambda: os.sched_setaffinity(0, cores)


class Bench:
    """One server and a work directory; runs each generator variant against it."""

    def __init__(self, workdir: Path, seconds: int, users: int) -> None:
        self.workdir, self.seconds, self.users = workdir, seconds, users
        self.userfile = workdir / "user.py"
        self.userfile.write_text(USER)
        port = free_port()
        (workdir / "server.py").write_text(SERVER.format(port=port))
        self.server = subprocess.Popen(
            [sys.executable, str(workdir / "server.py")], preexec_fn=pinned({SERVER_CORE}), start_new_session=True
        )
        wait_for_port(port)
        self.url = f"http://127.0.0.1:{port}"
        self.runs = 0

    def close(self) -> None:
        self.server.terminate()
        self.server.wait(10)

    def _locust(self, files: str, args: list[str], cores: set[int]) -> tuple[Path, Path, float]:
        """Run Locust to completion; (csv prefix, run dir, CPU seconds it and its children used).

        Also notes in `self.starved` the share of its run Locust's main thread spent runnable
        but waiting for a CPU (/proc schedstat): other work on the generator's core."""
        self.runs += 1
        prefix, run_dir = self.workdir / f"csv-{self.runs}", self.workdir / f"run-{self.runs}"
        command = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            files,
            "--headless",
            "--host",
            self.url,
            "--only-summary",
            "--csv",
            str(prefix),
            *args,
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.Popen(
            command,
            preexec_fn=pinned(cores),
            env=env,
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            self.starved = _watch_starvation(proc, time.monotonic() + self.seconds + 90)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return prefix, run_dir, cpu

    def bare(self) -> Closed:
        prefix, _, cpu = self._locust(
            str(self.userfile),
            ["-u", str(self.users), "-r", str(self.users), "-t", f"{self.seconds}s"],
            {GENERATOR_CORE},
        )
        return Closed(middle_rate(prefix, self.seconds), cpu * 1e6 / total_requests(prefix), self.starved)

    def harness_closed(self) -> Closed:
        run_dir = self.workdir / f"run-{self.runs + 1}"
        prefix, _, cpu = self._locust(
            f"{INJECT},{self.userfile}",
            [
                "--gameday-run-dir",
                str(run_dir),
                "--gameday-shape",
                "steady",
                "--gameday-users",
                str(self.users),
                "--gameday-duration",
                f"{self.seconds}s",
            ],
            {GENERATOR_CORE},
        )
        return Closed(middle_rate(prefix, self.seconds), cpu * 1e6 / total_requests(prefix), self.starved)

    def open(self, rate: float, processes: int = 1) -> Open:
        run_dir = self.workdir / f"run-{self.runs + 1}"
        args = [
            "--gameday-run-dir",
            str(run_dir),
            "--gameday-shape",
            "constant_rate",
            "--gameday-rate",
            f"{rate:.0f}",
            "--gameday-duration",
            f"{self.seconds}s",
        ]
        cores = {GENERATOR_CORE}
        if processes > 1:
            master = str(free_port())
            args += [
                "--processes",
                str(processes),
                "--master-bind-host",
                "127.0.0.1",
                "--master-bind-port",
                master,
                "--master-port",
                master,
            ]
            cores = SCALE_OUT_CORES
        prefix, run_dir, cpu = self._locust(f"{INJECT},{self.userfile}", args, cores)
        result = open_result(rate, run_dir, cpu * 1e6 / max(total_requests(prefix), 1))
        result.delivered, result.starved = middle_rate(prefix, self.seconds), self.starved
        return result


def _schedstat(pid: int) -> tuple[int, int] | None:
    """(ns on a CPU, ns runnable but waiting for one) of the process's main thread."""
    try:
        on_cpu, waiting, _ = Path(f"/proc/{pid}/schedstat").read_text().split()
    except (OSError, ValueError):
        return None
    return int(on_cpu), int(waiting)


def _watch_starvation(proc: subprocess.Popen, deadline: float) -> float:
    """Wait for `proc`; the share of its life its main thread waited for a CPU (0..1)."""
    started, first, last = time.monotonic(), _schedstat(proc.pid), None
    while proc.poll() is None:
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(proc.args, 0)
        last = _schedstat(proc.pid) or last
        time.sleep(0.25)
    if first is None or last is None:
        return 0.0
    return (last[1] - first[1]) / 1e9 / max(time.monotonic() - started, 1e-9)


def middle_rate(prefix: Path, seconds: int) -> float:
    """Req/s between the 2nd second and the last-but-one, from Locust's stats history."""
    points = []
    with open(f"{prefix}_stats_history.csv") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                points.append((float(row["Timestamp"]), int(row["Total Request Count"])))
    start = points[0][0]
    middle = [(ts, n) for ts, n in points if start + SKIP_FIRST_S <= ts <= start + seconds - SKIP_LAST_S]
    (t0, n0), (t1, n1) = middle[0], middle[-1]
    return (n1 - n0) / (t1 - t0)


def total_requests(prefix: Path) -> int:
    with open(f"{prefix}_stats.csv") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                return int(row["Request Count"])
    raise RuntimeError(f"no Aggregated row in {prefix}_stats.csv")


def open_result(rate: float, run_dir: Path, cpu_us: float) -> Open:
    """The constant_rate run's figures over its middle seconds, from its run directory."""
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    start = next(e["ts"] for e in events if kind_of(e) == EventKind.TEST_START and e["detail"].get("role") != "worker")
    stop = next(e["ts"] for e in events if kind_of(e) == EventKind.TEST_STOP and e["detail"].get("role") != "worker")
    first, last = int(start) + SKIP_FIRST_S, int(stop) - SKIP_LAST_S  # whole seconds in [first, last)
    offered, behind, lag, per_second = defaultdict(int), set(), Histogram(), defaultdict(Histogram)
    for row in generator_rows(run_dir):
        if first <= row["ts"] < last:
            offered[row["ts"]] += row["offered"]
            if row["behind"]:
                behind.add(row["ts"])
            hist = Histogram.decode(row["hist"])
            lag.add(hist)
            per_second[row["ts"]].add(hist)
    sent = sum(r["count"] for r in request_rows(run_dir) if first <= r["ts"] < last)
    seconds = max(last - first, 1)
    worst = max((h.percentile(99) for h in per_second.values() if h.counts), default=0.0)
    return Open(
        rate,
        sum(offered.values()) / seconds,
        sent / seconds,
        len(behind),
        last - first,
        (lag.percentile(99) if lag.counts else 0.0) / 1000.0,
        worst / 1000.0,
        cpu_us,
    )


def search_clean(bench: Bench, ceiling: float, steps: int) -> tuple[Open | None, list[Open]]:
    """The highest clean constant_rate in (0, ceiling], by bisection on the rate."""
    low, high, best, tried = 0.0, ceiling, None, []
    rate = ceiling * 0.6
    for _ in range(steps):
        result = bench.open(rate)
        tried.append(result)
        print("  " + result.line(), flush=True)
        if result.clean:
            low, best = rate, result
        else:
            high = rate
        rate = (low + high) / 2
    return best, tried


def scale_out(bench: Bench, one: float, steps: int) -> str:
    """Two workers' clean rate beside one's, or why this machine cannot show it."""
    cores = os.cpu_count() or 1
    if cores < 4:
        return (
            f"scale-out (load.processes: 2): NOT MEASURED: this machine has {cores} cores; the server takes "
            f"core {SERVER_CORE} and the generator core {GENERATOR_CORE}, so two workers would share one core "
            "and their sum would measure nothing about scale-out. Run on >= 4 cores."
        )
    low, high, best = one, one * 2.5, None
    rate = one * 2
    for _ in range(steps):
        result = bench.open(rate, processes=2)
        print("  2 workers: " + result.line(), flush=True)
        if result.clean:
            low, best = rate, result
        else:
            high = rate
        rate = (low + high) / 2
    two = best.asked if best else 0.0
    return (
        f"scale-out (load.processes: 2, cores {sorted(SCALE_OUT_CORES)}): clean {two:.0f} req/s against "
        f"{one:.0f} for one process: {two / one if one else 0:.2f}x (goal about 2x)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=12)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--steps", type=int, default=5, help="constant_rate runs in the search")
    parser.add_argument("--rate", type=float, action="append", help="measure constant_rate at this rate only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gameday-open-") as tmp:
        bench = Bench(Path(tmp), args.seconds, args.users)
        try:
            if args.rate:
                for rate in args.rate:
                    print(bench.open(rate).line(), flush=True)
                return 0
            return run_all(bench, args)
        finally:
            bench.close()


def run_all(bench: Bench, args: argparse.Namespace) -> int:
    print(
        f"server on core {SERVER_CORE}, generator on core {GENERATOR_CORE}, {args.seconds} s a run, "
        f"middle seconds only; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    bare = bench.bare()
    print(f"1. bare Locust FastHttpUser, closed, {args.users} users:  {bare.line()}", flush=True)
    closed = bench.harness_closed()
    print(f"2. harness closed model (steady {args.users}):           {closed.line()}", flush=True)
    print("3. the highest constant_rate that keeps its schedule (bisection):", flush=True)
    clean, tried = search_clean(bench, bare.rate * 1.2, args.steps)
    print("4. saturation (constant_rate at 1.5x bare):", flush=True)
    saturated = bench.open(bare.rate * 1.5)
    print(f"  {saturated.line()}; Locust sent {saturated.delivered:.0f} req/s", flush=True)
    again = bench.bare()
    print(f"1. bare Locust again, last:                      {again.line()}", flush=True)
    best = max(bare, again, key=lambda c: c.rate)
    report(best, closed, clean, saturated)
    print(scale_out(bench, clean.asked if clean else 0.0, args.steps))
    runs = [bare, closed, *tried, saturated, again]
    starved = [r for r in runs if r.starved >= 0.05]
    if starved:
        print(
            f"warning: in {len(starved)} of {len(runs)} runs Locust waited for a CPU 5% of the time or more "
            f"(other work on core {GENERATOR_CORE}); the figures are below what an idle machine gives, "
            f"and the clean rate most of all (a 10 ms lag p99 cannot survive being descheduled)"
        )
    return 0


def report(bare: Closed, closed: Closed, clean: Open | None, saturated: Open) -> None:
    """The figures side by side, ratios against the better of the two bare runs, goals beside them."""
    clean_rate = clean.asked if clean else 0.0

    def goal(ratio: float) -> str:
        return f"(goal >= {GOAL}: {'met' if ratio >= GOAL else 'NOT met'})"

    print()
    print(f"(1) bare Locust closed max        {bare.rate:7.0f} req/s  {bare.cpu_us:4.0f} us CPU/req")
    print(
        f"(2) harness closed max            {closed.rate:7.0f} req/s  {closed.cpu_us:4.0f} us CPU/req  "
        f"(2)/(1) {closed.rate / bare.rate:.2f}"
    )
    clean_cpu = f"{clean.cpu_us:4.0f} us CPU/req" if clean else "   - us CPU/req"
    print(
        f"(3) constant_rate, clean          {clean_rate:7.0f} req/s  {clean_cpu}  "
        f"(3)/(1) {clean_rate / bare.rate:.2f} {goal(clean_rate / bare.rate)}"
    )
    print(
        f"(4) constant_rate, saturated      {saturated.delivered:7.0f} req/s  {saturated.cpu_us:4.0f} us CPU/req  "
        f"(4)/(1) {saturated.delivered / bare.rate:.2f} {goal(saturated.delivered / bare.rate)}"
    )
    if clean:
        print(
            f"open-model overhead: {clean.cpu_us / bare.cpu_us - 1:+.0%} generator CPU per request against bare "
            f"Locust (at the clean rate; the closed models run flat out, batching more per wake-up)"
        )


if __name__ == "__main__":
    sys.exit(main())
