"""`gameday calibrate`: what one Locust process keeps on schedule on this machine.

The advice to add Locust processes (harness.generator_capacity) needs one figure: the
highest constant_rate one process keeps on schedule. That figure belongs to the machine,
not to gameday: the same benchmark kept 10,776 req/s on one 2-core VM kind and 4,427 on
another, because what a halted core costs to wake differs (benchmarks/README.md). So it
is measured here, the way benchmarks/open_model.py measures it, and written to
`$GAMEDAY_HOME/generator-capacity.json`, which `gameday validate` and `gameday run` read.

What runs: the harness's own open model (constant_rate through the plugin, the command line
a game day runs: `harness.load.child.locust_argv`) against a local aiohttp "hello" server,
one Locust run per rate. With two cores or more the server is pinned to one and Locust to
another, as in the benchmark: the figure is what one process keeps on a core of its own
against a target that costs almost nothing, an upper bound for a real profile. A rate is
kept when no second of the run's middle is flagged `behind` and the schedule lag p99 over
those seconds is under 10 ms (`Judged.clean`, shared with the benchmark). The search
doubles from FIRST_RATE until a rate is missed, then bisects; the figure written is the
highest kept rate rounded down to 100.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness.errors import HarnessError
from harness.events import EVENTS_FILE, EventKind, kind_of
from harness.files import atomic_write
from harness.histogram import Histogram
from harness.load.child import LOAD_START_TIMEOUT_S, locust_argv
from harness.proc import Child
from harness.samples import generator_rows

CLEAN_LAG_P99_MS = 10.0
SKIP_FIRST_S, SKIP_LAST_S = 2, 1  # start-up and stop are not the generator's steady pace
FIRST_RATE = 1000.0
MAX_RATE = 64000.0  # the doubling stops here: a pool of that many users is already seconds to spawn
SERVER_CORE, GENERATOR_CORE = 1, 0

SERVER = """
from aiohttp import web
async def hello(request):
    return web.Response(text="hello")
app = web.Application()
{setup}app.router.add_get("/", hello)
web.run_app(app, host="127.0.0.1", port={port}, access_log=None, print=None)
"""
USER = """
from locust import FastHttpUser, task

class Hello(FastHttpUser):
    @task
    def hello(self):
        self.client.get("/")
"""


def hello_server(port: int, setup: str = "") -> str:
    """The hello target's source (aiohttp answering "hello" on 127.0.0.1:`port`); `setup` is code
    run on the app before it serves. The benchmarks load the same target."""
    return SERVER.format(port=port, setup=setup)


@dataclass(frozen=True)
class Judged:
    """One constant_rate run over its middle seconds."""

    rate: float  # asked for
    seconds: int
    behind: int  # seconds flagged behind
    lag_p99_ms: float
    worst_p99_ms: float  # the worst single second's lag p99

    @property
    def clean(self) -> bool:
        """Kept its schedule: no second behind, lag p99 under CLEAN_LAG_P99_MS."""
        return self.seconds > 0 and self.behind == 0 and self.lag_p99_ms < CLEAN_LAG_P99_MS

    def line(self) -> str:
        verdict = "keeps its schedule" if self.clean else "misses its schedule"
        return (
            f"constant_rate {self.rate:7.0f}: behind {self.behind}/{self.seconds} s, "
            f"lag p99 {self.lag_p99_ms:7.1f} ms (worst second {self.worst_p99_ms:7.1f} ms): {verdict}"
        )


def middle_seconds(run_dir: Path) -> tuple[int, int]:
    """The whole seconds [first, last) of the test's steady middle, from the run's timeline."""
    events = [json.loads(line) for line in (run_dir / EVENTS_FILE).read_text().splitlines() if line.strip()]

    def when(kind: EventKind) -> float:
        found = [e["ts"] for e in events if kind_of(e) == kind and e["detail"].get("role") != "worker"]
        if not found:
            raise HarnessError(f"{run_dir / EVENTS_FILE}: no {kind.value} event; Locust did not run the test")
        return float(found[0])

    return int(when(EventKind.TEST_START)) + SKIP_FIRST_S, int(when(EventKind.TEST_STOP)) - SKIP_LAST_S


def judge(rate: float, run_dir: Path) -> Judged:
    """The constant_rate run in `run_dir` over its middle seconds."""
    first, last = middle_seconds(run_dir)
    behind: set[int] = set()
    lag, per_second = Histogram(), defaultdict[int, Histogram](Histogram)
    for row in generator_rows(run_dir):
        if first <= row["ts"] < last:
            if row["behind"]:
                behind.add(row["ts"])
            hist = Histogram.decode(row["hist"])
            lag.add(hist)
            per_second[row["ts"]].add(hist)
    worst = max((h.percentile(99) for h in per_second.values() if h.counts), default=0.0)
    p99 = lag.percentile(99) if lag.counts else 0.0
    seconds = max(last - first, 0)
    return Judged(
        rate=rate,
        seconds=seconds,
        behind=len(behind),
        lag_p99_ms=p99 / 1000.0,
        worst_p99_ms=worst / 1000.0,
    )


def search(measure: Callable[[float], Judged], steps: int, say: Callable[[str], None]) -> Judged | None:
    """The highest kept rate: doubling from FIRST_RATE to the first miss, then `steps` bisections
    between the highest kept rate (0 if none) and the lowest missed one; None if no rate was kept."""
    kept: Judged | None = None
    missed: float | None = None
    rate = FIRST_RATE
    while missed is None and rate <= MAX_RATE:
        result = measure(rate)
        say(result.line())
        if result.clean:
            kept, rate = result, rate * 2
        else:
            missed = rate
    if missed is None:
        return kept
    for _ in range(steps):
        low = kept.rate if kept else 0.0
        rate = round((low + missed) / 2)
        if rate - low < 100:
            break
        result = measure(rate)
        say(result.line())
        if result.clean:
            kept = result
        else:
            missed = rate
    return kept


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, server: Child, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.running:
            raise HarnessError(f"the calibration's hello server exited ({server.returncode}) before it listened")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise HarnessError(f"the calibration's hello server did not listen on 127.0.0.1:{port} within {timeout:g} s")


class Bench:
    """A hello server and a work directory; `measure(rate)` runs the open model at `rate` against it."""

    def __init__(self, workdir: Path, seconds: float) -> None:
        self.workdir, self.seconds, self.runs = workdir, seconds, 0
        self.pinned = (os.cpu_count() or 1) >= 2
        self.userfile = workdir / "hello_user.py"
        self.userfile.write_text(USER)
        port = _free_port()
        server = workdir / "hello_server.py"
        server.write_text(hello_server(port))
        self.server = Child.start([sys.executable, str(server)], parent_death=signal.SIGKILL)
        try:
            self._pin(self.server, SERVER_CORE)
            _wait_for_port(port, self.server, LOAD_START_TIMEOUT_S)
        except BaseException:
            self.close()
            raise
        self.url = f"http://127.0.0.1:{port}"

    def _pin(self, child: Child, core: int) -> None:
        if not self.pinned:
            return
        try:
            for task in os.listdir(f"/proc/{child.pid}/task"):  # every thread it has so far
                os.sched_setaffinity(int(task), {core})
        except OSError:
            pass  # it already exited: the run reports that itself

    def measure(self, rate: float) -> Judged:
        self.runs += 1
        run_dir = self.workdir / f"run-{self.runs}"
        argv = locust_argv(self.userfile, self.url, run_dir, "constant_rate", self.seconds, {"rate": rate}, None, {})
        log = self.workdir / f"locust-{self.runs}.log"
        with log.open("wb") as out:
            locust = Child.start(argv, parent_death=signal.SIGTERM, cwd=self.workdir, stdout=out, stderr=out)
        try:
            self._pin(locust, GENERATOR_CORE)
            code = locust.wait(self.seconds + LOAD_START_TIMEOUT_S + 30)
        finally:
            locust.stop(signal.SIGTERM, 10)
        if code is None or not (run_dir / EVENTS_FILE).exists():
            tail = log.read_text(errors="replace")[-2000:]
            raise HarnessError(f"Locust did not finish a {rate:.0f} req/s calibration run (exit {code}):\n{tail}")
        return judge(rate, run_dir)

    def close(self) -> None:
        self.server.stop(signal.SIGTERM, 10)


def calibrate(seconds: float, steps: int, path: Path, say: Callable[[str], None] = print) -> float:
    """Measure this machine, write `path`, return the figure written (req/s)."""
    with tempfile.TemporaryDirectory(prefix="gameday-calibrate-") as tmp:
        bench = Bench(Path(tmp), seconds)
        try:
            placement = (
                f"hello server on core {SERVER_CORE}, Locust on core {GENERATOR_CORE}"
                if bench.pinned
                else "one core: server and Locust share it"
            )
            say(f"calibrating one Locust process's open model ({placement}, {seconds:g} s a run):")
            best = search(bench.measure, steps, say)
        finally:
            bench.close()
    if best is None:
        raise HarnessError(
            "one Locust process kept none of the rates above on schedule here; "
            "is the machine busy? Run `gameday calibrate` again when it is idle"
        )
    rps = math.floor(best.rate / 100) * 100
    record = {
        "one_process_rps": rps,
        "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2),
        "kept": asdict(best),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(record, indent=2) + "\n")
    return rps
