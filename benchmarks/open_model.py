"""The open-model generator at full speed: bare Locust against the harness's constant_rate.

    python benchmarks/open_model.py [--seconds 12] [--users 50] [--steps 6] [--rate R ...] [--busy-target]

Against one local aiohttp "hello" server pinned to core 1, with every generator pinned
to core 0, side by side in one run:

    1. bare       Locust FastHttpUser, closed model, 50 users: the most it sends (measured
                  first and last; the ratios use the better of the two)
    2. harness    the same user file under the harness plugin, `steady` 50 users: the
                  closed model's most
    3. clean      the highest constant_rate that keeps its schedule, found by bisection:
                  no second flagged `behind`, and schedule lag p99 < 10 ms over the steady
                  middle of the run (its first 2 s and last 1 s left out); a rate missed
                  while other work kept Locust off its core 3% of the run is tried again
    4. saturated  what constant_rate sends when asked for far more than it can (1.5x
                  bare): the rate at which the generator saturates
    5. floor      the leanest sender on Locust's own HTTP client (benchmarks/floor_sender.py:
                  gevent greenlets and FastHttpSession, no Locust runner, no plugin): its
                  closed model flat out, and the highest rate its open model keeps, judged
                  and searched like (3). It is what an even schedule costs on this machine
                  with this client, whatever the harness does: (5)/(1) is what the leanest
                  open model on Locust's client kept here, (3)/(5) the harness against it

It prints each figure, the ratios (3)/(1) and (4)/(1) with the goal (>= 0.8) beside them,
(5)/(1) and (3)/(5), and the generator's CPU per request of every variant over the same middle seconds (its
main thread's time on a CPU from /proc schedstat, so start-up, which for the open model
includes spawning a pool of thousands of users, is left out; less disturbed by a busy
machine than req/s). The harness variants run the command line a game day runs
(`harness.load.child.locust_argv`: the plugin injected, `--only-summary`, no CSV); bare
Locust runs the same flags without the plugin. Requests are counted per second by a
one-line `request` listener in the user file, the same in every variant. How long
Locust waited for a CPU (/proc schedstat, plus the hypervisor's steal of core 0 from
/proc/stat) is shown per run: other work on core 0 lowers every figure, and the clean rate
most of all.

Scale-out (`load.processes: 2`): two worker processes on two free cores should carry
about twice the clean rate of one. That needs a core for the server and two more for
the workers (the master is nearly idle); on a machine with fewer than 4 cores it says so
instead of printing a number that would only measure two workers sharing one core.

`--rate R` (repeatable) skips the search and measures constant_rate at R only.

Where the rest of the gap lives, on a VM: each run also prints how often Locust's loop blocked
per request, and the header says what an idle core does (`idle_path`). Below saturation the
target idles between requests; on a KVM guest that halts idle vCPUs at once (cpuidle-haltpoll
with `guest_halt_poll_ns=0`, as on the machines this project is built on), every request then
wakes a halted vCPU through the host, and a generator on the same VM pays that in its send.
Bare Locust, flat out, keeps the target busy and never pays it. `--busy-target` runs a hello
server whose loop never sleeps, so that cost goes and the figures measure the generator
alone, as with a target on another machine; the default measures the plain server.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from support import free_port, wait_for_port  # noqa: E402

from harness.load.child import locust_argv  # noqa: E402
from harness.run.calibrate import SKIP_FIRST_S, SKIP_LAST_S, Judged, hello_server, judge, middle_seconds  # noqa: E402

# --busy-target: the server's loop never sleeps (a callback that reschedules itself), so a request
# never has to wake an idle target. See `main`'s help.
BUSY = """import asyncio
async def _never_sleep(app):
    loop = asyncio.get_running_loop()
    def again():
        loop.call_soon(again)
    loop.call_soon(again)
app.on_startup.append(_never_sleep)
"""
USER = """
import json, os, time
from locust import FastHttpUser, events, task

COUNTS = {}  # requests completed per second: the benchmark's only instrument, in every variant

@events.request.add_listener
def count(**_):
    second = int(time.time())
    COUNTS[second] = COUNTS.get(second, 0) + 1

@events.quitting.add_listener
def dump(**_):
    with open(os.environ["BENCH_COUNTS"], "w") as handle:
        json.dump(COUNTS, handle)

class Hello(FastHttpUser):
    @task
    def hello(self):
        self.client.get("/")
"""
SERVER_CORE, GENERATOR_CORE = 1, 0
SCALE_OUT_CORES = {0, 2, 3}  # master + two workers; the server keeps core 1
GOAL = 0.8
STARVED_RETRY = 0.03  # a missed rate is run again once if Locust waited this long for a CPU


@dataclass
class Closed:
    rate: float  # req/s over the middle seconds
    cpu_us: float  # generator CPU per request over the middle seconds (Ran.steady_us)
    starved: float  # share of the run Locust could not run: waiting for a CPU, or stolen by the host
    blocks: float  # times Locust's loop blocked per request (Ran.blocks)

    def line(self) -> str:
        cost = f"{self.cpu_us:.0f} us CPU/req, {self.blocks:.2f} blocks/req"
        return f"{self.rate:7.0f} req/s  ({cost}{_starved(self.starved)})"


@dataclass
class Open:
    judged: Judged  # asked-for rate, seconds behind, schedule lag (harness.run.calibrate)
    sent: float  # req/s Locust sent over the middle seconds
    cpu_us: float
    starved: float
    blocks: float
    label: str = "constant_rate"  # the floor's open model is "floor open"

    @property
    def asked(self) -> float:
        return self.judged.rate

    @property
    def clean(self) -> bool:
        return self.judged.clean

    def line(self) -> str:
        return (
            f"{self.label} {self.asked:7.0f}: sent {self.sent:7.0f} req/s, {self.judged.facts()}, "
            f"{self.cpu_us:4.0f} us CPU/req, {self.blocks:.2f} blocks/req{_starved(self.starved)}: "
            f"{self.judged.verdict}"
        )


def _starved(share: float) -> str:
    return f", waited for a CPU (or the host's steal) {share:.0%} of the run" if share >= 0.01 else ""


def pinned(cores: set[int]):
    return lambda: os.sched_setaffinity(0, cores)


@dataclass
class Ran:
    """What one Locust run left: requests per second, its run directory, starvation, CPU used."""

    counts: dict[int, int]
    run_dir: Path
    starved: float
    on_cpu: list[tuple[float, int, int]]  # (epoch s, ns the main thread had run, times it blocked), every 0.25 s

    def _per_request(self, first: int, last: int, field: int) -> float:
        """How much of the sampled `field` one request took over the middle seconds [first, last):
        start-up (imports, spawning a pool of thousands of users) and the stop left out."""
        inside = [sample for sample in self.on_cpu if first <= sample[0] <= last]
        if len(inside) < 2:
            return float("nan")
        start, end = inside[0], inside[-1]
        return (end[field] - start[field]) / max(self.rate(first, last) * (end[0] - start[0]), 1.0)

    def steady_us(self, first: int, last: int) -> float:
        """The main thread's CPU per request (us) over the middle seconds."""
        return self._per_request(first, last, 1) / 1e3

    def blocks(self, first: int, last: int) -> float:
        """How often the main thread blocked (its loop had nothing to do) per request over the
        middle seconds: each time, its core may go idle, and on a VM that halts the vCPU."""
        return self._per_request(first, last, 2)

    def rate(self, first: int, last: int) -> float:
        """Req/s completed over whole seconds [first, last)."""
        return sum(n for s, n in self.counts.items() if first <= s < last) / max(last - first, 1)


class Bench:
    """One server and a work directory; runs each generator variant against it."""

    def __init__(self, workdir: Path, seconds: int, users: int, busy_target: bool = False) -> None:
        self.workdir, self.seconds, self.users = workdir, seconds, users
        self.userfile = workdir / "user.py"
        self.userfile.write_text(USER)
        port = free_port()
        (workdir / "server.py").write_text(hello_server(port, BUSY if busy_target else ""))
        self.server = subprocess.Popen(
            [sys.executable, str(workdir / "server.py")], preexec_fn=pinned({SERVER_CORE}), start_new_session=True
        )
        wait_for_port(port)
        self.url = f"http://127.0.0.1:{port}"
        self.runs = 0

    def close(self) -> None:
        self.server.terminate()
        self.server.wait(10)

    def _run(self, argv: list[str], cores: set[int], run_dir: Path) -> Ran:
        """Run Locust to completion; kill its process group if it overstays."""
        counts_file = self.workdir / f"counts-{self.runs}.json"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_COUNTS": str(counts_file)}
        proc = subprocess.Popen(
            argv, preexec_fn=pinned(cores), env=env, cwd=self.workdir,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            starved, on_cpu = _watch_starvation(proc, time.monotonic() + self.seconds + 90)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait()
        counts = {int(s): n for s, n in json.loads(counts_file.read_text()).items()}
        return Ran(counts, run_dir, starved, on_cpu)

    def _harness(self, shape: str, params: dict[str, float], processes: int | None = None) -> Ran:
        self.runs += 1
        run_dir = self.workdir / f"run-{self.runs}"
        argv = locust_argv(self.userfile, self.url, run_dir, shape, self.seconds, params, processes, {})
        return self._run(argv, SCALE_OUT_CORES if processes else {GENERATOR_CORE}, run_dir)

    def bare(self) -> Closed:
        self.runs += 1
        argv = [sys.executable, "-m", "locust", "-f", str(self.userfile), "--headless", "--host", self.url,
                "-u", str(self.users), "-r", str(self.users), "--run-time", f"{self.seconds}s",
                "--stop-timeout", "5", "--only-summary", "--loglevel", "WARNING"]  # fmt: skip
        ran = self._run(argv, {GENERATOR_CORE}, self.workdir)
        first = min(ran.counts)
        first, last = first + SKIP_FIRST_S, first + self.seconds - SKIP_LAST_S
        return Closed(ran.rate(first, last), ran.steady_us(first, last),
                      ran.starved, ran.blocks(first, last))  # fmt: skip

    def harness_closed(self) -> Closed:
        ran = self._harness("steady", {"users": self.users})
        first, last = middle_seconds(ran.run_dir)
        return Closed(ran.rate(first, last), ran.steady_us(first, last), ran.starved, ran.blocks(first, last))

    def open(self, rate: float, processes: int | None = None) -> Open:
        ran = self._harness("constant_rate", {"rate": float(round(rate))}, processes)
        return open_result(rate, ran)

    def _floor(self, mode: str, amount: float) -> tuple[dict, float]:
        """benchmarks/floor_sender.py on the generator's core: its JSON figures, and its starvation."""
        argv = [sys.executable, str(Path(__file__).with_name("floor_sender.py")), self.url, mode, f"{amount:g}",
                str(self.seconds)]  # fmt: skip
        err = self.workdir / "floor_sender.err"
        with err.open("w") as stderr:
            proc = subprocess.Popen(
                argv, preexec_fn=pinned({GENERATOR_CORE}), stdout=subprocess.PIPE, stderr=stderr,
                start_new_session=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
            )  # fmt: skip
            try:
                starved, _ = _watch_starvation(proc, time.monotonic() + self.seconds + 90)
                out = proc.stdout.read() if proc.stdout else ""
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, 9)
                    proc.wait()
        lines = out.strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"floor_sender.py {mode} {amount:g} exited {proc.returncode}: {err.read_text()[-2000:]}")
        return json.loads(lines[-1]), starved

    def floor_closed(self) -> Closed:
        figures, starved = self._floor("closed", self.users)
        return Closed(figures["rate"], figures["cpu_us"], starved, figures["blocks"])

    def floor_open(self, rate: float) -> Open:
        rate = float(round(rate))
        figures, starved = self._floor("open", rate)
        judged = Judged(
            rate=rate,
            seconds=figures["seconds"],
            behind=figures["behind"],
            lag_p99_ms=figures["lag_p99_ms"],
            worst_p99_ms=figures["worst_p99_ms"],
            missing=figures["missing"],
            failed=figures["failed"],
        )
        return Open(judged, figures["rate"], figures["cpu_us"], starved, figures["blocks"], label="floor open")


def _schedstat(pid: int) -> tuple[int, int] | None:
    """(ns on a CPU, ns runnable but waiting for one) of the process's main thread."""
    try:
        on_cpu, waiting, _ = Path(f"/proc/{pid}/schedstat").read_text().split()
    except (OSError, ValueError):
        return None
    return int(on_cpu), int(waiting)


def _blocked(pid: int) -> int:
    """How many times the process's main thread blocked (voluntary context switches)."""
    try:
        status = Path(f"/proc/{pid}/task/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("voluntary_ctxt_switches")), 0)


def idle_path() -> str:
    """What a core does when it has nothing to run: on a KVM guest with the cpuidle-haltpoll
    driver and `haltpoll.guest_halt_poll_ns=0`, every idle moment halts the vCPU (a VM exit),
    and waking it again costs the waker an interrupt through the host."""
    driver_file = Path("/sys/devices/system/cpu/cpuidle/current_driver")
    driver = driver_file.read_text().strip() if driver_file.exists() else "none"
    poll_file = Path("/sys/module/haltpoll/parameters/guest_halt_poll_ns")
    if driver != "haltpoll" or not poll_file.exists():
        return f"cpuidle driver {driver}"
    poll_ns = int(poll_file.read_text())
    if poll_ns == 0:
        return "cpuidle haltpoll, guest halt polling OFF (haltpoll.guest_halt_poll_ns=0): an idle vCPU halts at once"
    return f"cpuidle haltpoll, an idle vCPU polls up to {poll_ns / 1000:.0f} us before it halts"


def _steal(core: int) -> tuple[int, int]:
    """(steal, all) jiffies of `core` from /proc/stat: time the hypervisor gave the core to others."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            fields = [int(f) for f in line.split()[1:]]
            return fields[7], sum(fields[:8])
    return 0, 0


def _watch_starvation(proc: subprocess.Popen, deadline: float) -> tuple[float, list[tuple[float, int, int]]]:
    """Wait for `proc`; the share of its life it could not run (0..1): its main thread waiting
    for a CPU, plus the hypervisor's steal of the generator's core (on a VM, the clean rate varied
    by a third between runs minutes apart); and (epoch s, ns on a CPU, times blocked) of its main
    thread every 0.25 s."""
    started, first, last, on_cpu = time.monotonic(), _schedstat(proc.pid), None, []
    steal_before = _steal(GENERATOR_CORE)
    while proc.poll() is None:
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(proc.args, 0)
        sample = _schedstat(proc.pid)
        if sample is not None:
            last = sample
            on_cpu.append((time.time(), sample[0], _blocked(proc.pid)))
        time.sleep(0.25)
    steal_after = _steal(GENERATOR_CORE)
    stolen = (steal_after[0] - steal_before[0]) / max(steal_after[1] - steal_before[1], 1)
    if first is None or last is None:
        return stolen, on_cpu
    return (last[1] - first[1]) / 1e9 / max(time.monotonic() - started, 1e-9) + stolen, on_cpu


def open_result(rate: float, ran: Ran) -> Open:
    """The constant_rate run's figures over its middle seconds, judged as `gameday calibrate` judges them."""
    first, last = middle_seconds(ran.run_dir)
    judged = judge(rate, ran.run_dir, (first, last))
    return Open(judged, ran.rate(first, last), ran.steady_us(first, last), ran.starved, ran.blocks(first, last))


def search_clean(
    measure: Callable[[float], Open], ceiling: float, steps: int, prefix: str = "  "
) -> tuple[Open | None, list]:
    """The highest rate below `ceiling` that `measure` finds clean, by bisection (first try: 0.7 x ceiling)."""
    low, high, best, tried = 0.0, ceiling, None, []
    rate = ceiling * 0.7
    for _ in range(steps):
        result = measure(rate)
        tried.append(result)
        print(prefix + result.line(), flush=True)
        if not result.clean and result.starved >= STARVED_RETRY:
            result = measure(rate)  # other work took the core: that run said nothing
            tried.append(result)
            print(prefix + "again: " + result.line(), flush=True)
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
    best, _ = search_clean(lambda rate: bench.open(rate, 2), one * 2.5, steps, "  2 workers: ")
    two = best.asked if best else 0.0
    return (
        f"scale-out (load.processes: 2, cores {sorted(SCALE_OUT_CORES)}): clean {two:.0f} req/s against "
        f"{one:.0f} for one process: {two / one if one else 0:.2f}x (goal about 2x)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=12)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--steps", type=int, default=6, help="constant_rate runs in the search")
    parser.add_argument("--rate", type=float, action="append", help="measure constant_rate at this rate only")
    parser.add_argument(
        "--busy-target",
        action="store_true",
        help="a hello server whose loop never sleeps: a request then never wakes an idle target, whose wake-up "
        "a generator on the same VM pays in its send (bare Locust, flat out, keeps the target busy and never "
        "pays it); the figures then measure the generator alone, as with a target on another machine",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gameday-open-") as tmp:
        bench = Bench(Path(tmp), args.seconds, args.users, args.busy_target)
        target = "a hello server that never sleeps (--busy-target)" if args.busy_target else "a plain hello server"
        print(f"target: {target}; idle path of the cores: {idle_path()}", flush=True)
        try:
            if args.rate:
                for rate in args.rate:
                    print(bench.open(rate).line(), flush=True)
                return 0
            return run_all(bench, args)
        finally:
            bench.close()


def unstarved(measure, label: str, tries: int = 3) -> Closed:
    """The best of up to `tries` closed-model runs, stopping at the first Locust had its core for."""
    best = None
    for attempt in range(tries):
        result = measure()
        print(("   again: " + " " * (len(label) - 10) if attempt else label) + result.line(), flush=True)
        best = result if best is None or result.rate > best.rate else best
        if result.starved < STARVED_RETRY:
            break
    assert best is not None
    return best


def run_all(bench: Bench, args: argparse.Namespace) -> int:
    print(
        f"server on core {SERVER_CORE}, generator on core {GENERATOR_CORE}, {args.seconds} s a run, "
        f"middle seconds only; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    # bare is the search's ceiling: a starved first measurement would cap every later one
    bare = unstarved(bench.bare, f"1. bare Locust FastHttpUser, closed, {args.users} users:  ")
    closed = unstarved(bench.harness_closed, f"2. harness closed model (steady {args.users}):           ")
    print("3. the highest constant_rate that keeps its schedule (bisection):", flush=True)
    clean, tried = search_clean(bench.open, bare.rate, args.steps)
    print("4. saturation (constant_rate at 1.5x bare):", flush=True)
    saturated = bench.open(bare.rate * 1.5)
    print("  " + saturated.line(), flush=True)
    print("5. the floor: the leanest sender on Locust's HTTP client (benchmarks/floor_sender.py):", flush=True)
    floor_closed = unstarved(bench.floor_closed, f"  closed, {args.users} greenlets flat out:         ")
    # its own closed model may beat bare Locust's: the search must be able to find out
    floor, floor_tried = search_clean(bench.floor_open, max(bare.rate, floor_closed.rate), args.steps)
    again = bench.bare()
    print(f"1. bare Locust again, last:                      {again.line()}", flush=True)
    report(max(bare, again, key=lambda c: c.rate), closed, clean, saturated, floor_closed, floor)
    print(scale_out(bench, clean.asked if clean else 0.0, args.steps))
    runs = [bare, closed, *tried, saturated, floor_closed, *floor_tried, again]
    starved = [r for r in runs if r.starved >= 0.05]
    if starved:
        print(
            f"warning: in {len(starved)} of {len(runs)} runs Locust waited for a CPU 5% of the time or more "
            f"(other work on core {GENERATOR_CORE}); the figures are below what an idle machine gives, "
            "and the clean rate most of all (a 10 ms lag p99 cannot survive being descheduled)"
        )
    return 0


def report(
    bare: Closed, closed: Closed, clean: Open | None, saturated: Open, floor_closed: Closed, floor: Open | None
) -> None:
    """The figures side by side, ratios against the better of the two bare runs, goals beside them."""
    clean_rate = clean.asked if clean else 0.0
    floor_rate = floor.asked if floor else 0.0

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
        f"(4) constant_rate, saturated      {saturated.sent:7.0f} req/s  {saturated.cpu_us:4.0f} us CPU/req  "
        f"(4)/(1) {saturated.sent / bare.rate:.2f} {goal(saturated.sent / bare.rate)}"
    )
    floor_cpu = f"{floor.cpu_us:4.0f} us CPU/req" if floor else "   - us CPU/req"
    print(
        f"(5) floor, closed max             {floor_closed.rate:7.0f} req/s  {floor_closed.cpu_us:4.0f} us CPU/req  "
        f"(5c)/(1) {floor_closed.rate / bare.rate:.2f}"
    )
    print(
        f"(5) floor, open, clean            {floor_rate:7.0f} req/s  {floor_cpu}  "
        f"(5)/(1) {floor_rate / bare.rate:.2f}: what the leanest open model on Locust's client kept here"
    )
    print(f"(3)/(5) {clean_rate / floor_rate if floor_rate else 0:.2f}: the harness's clean rate against that floor")
    if clean:
        print(
            f"open-model overhead: {clean.cpu_us / bare.cpu_us - 1:+.0%} generator CPU per request against bare "
            f"Locust, {clean.cpu_us / closed.cpu_us - 1:+.0%} against the harness's closed model (at the clean "
            f"rate, which sends requests one at a time as they fall due; the closed models run flat out)"
        )


if __name__ == "__main__":
    sys.exit(main())
