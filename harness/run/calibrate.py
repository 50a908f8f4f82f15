"""`gameday calibrate`: what one Locust process keeps on schedule on this machine.

The advice to add Locust processes (harness.generator_capacity) needs one figure: the
highest constant_rate one process keeps on schedule. That figure belongs to the machine,
not to gameday: the same benchmark kept 10,776 req/s on one 2-core VM kind and 4,427 on
another, because what a halted core costs to wake differs (benchmarks/README.md). So it
is measured here, the way benchmarks/open_model.py measures it, and written to
`$GAMEDAY_HOME/generator-capacity.json`, which `gameday validate` and `gameday run` read.

What runs: the harness's own open model (constant_rate through the plugin, the command line
a game day runs: `harness.load.child.locust_argv`) against a local aiohttp "hello" server,
one Locust run per rate. With two usable cores or more the server is pinned to one and
Locust to another, as in the benchmark: the figure is what one process keeps on a core of
its own against a target that costs almost nothing, an upper bound for a real profile. A
rate is kept when every second of the run's middle was recorded, none is flagged `behind`,
the schedule lag p99 over them is under 10 ms, and every request got an answer (a hello
server that died would refuse connections cheaply and flatter the figure): `Judged.clean`,
shared with the benchmark. The search doubles from FIRST_RATE until a rate is missed, then
bisects; the figure written is the highest kept rate rounded down to 100.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness.clock import wait_until
from harness.errors import HarnessError
from harness.events import EVENTS_FILE, EventKind, detail_of, kind_of
from harness.events import read as events_of
from harness.files import atomic_write
from harness.histogram import Histogram
from harness.load.child import LOAD_START_TIMEOUT_S, free_local_port, locust_argv
from harness.proc import Child, listening
from harness.samples import OK, generator_rows, request_rows

CLEAN_LAG_P99_MS = 10.0
SKIP_FIRST_S, SKIP_LAST_S = 2, 1  # start-up and stop are not the generator's steady pace
FIRST_RATE = 1000.0
MAX_RATE = 64000.0  # the doubling stops here: a pool of that many users is already seconds to spawn

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
    seconds: int  # middle seconds that have a generator row
    behind: int  # of those, seconds flagged behind
    lag_p99_ms: float
    worst_p99_ms: float  # the worst single second's lag p99
    missing: int = 0  # middle seconds with no generator row: the run did not record them
    failed: int = 0  # requests that did not get an ok answer from the hello target

    @property
    def clean(self) -> bool:
        """Kept its schedule: every middle second recorded, none behind, lag p99 under CLEAN_LAG_P99_MS,
        and every request answered (refused connections are cheap, and would flatter the rate)."""
        return (
            self.seconds > 0
            and self.missing == 0
            and self.failed == 0
            and self.behind == 0
            and self.lag_p99_ms < CLEAN_LAG_P99_MS
        )

    @property
    def verdict(self) -> str:
        return "keeps its schedule" if self.clean else "misses its schedule"

    def facts(self) -> str:
        """What the run's middle seconds showed (the benchmark prints them beside its own figures)."""
        unrecorded = f", {self.missing} s not recorded" if self.missing else ""
        failed = f", {self.failed} requests failed" if self.failed else ""
        return (
            f"behind {self.behind}/{self.seconds} s{unrecorded}{failed}, "
            f"lag p99 {self.lag_p99_ms:7.1f} ms (worst second {self.worst_p99_ms:7.1f} ms)"
        )

    def line(self) -> str:
        return f"constant_rate {self.rate:7.0f}: {self.facts()}: {self.verdict}"


def middle_seconds(run_dir: Path) -> tuple[int, int]:
    """The whole seconds [first, last) of the test's steady middle, from the run's timeline."""
    events = events_of(run_dir)

    def when(kind: EventKind) -> float:
        found = [e["ts"] for e in events if kind_of(e) == kind and detail_of(e).get("role") != "worker"]
        if not found:
            raise HarnessError(f"{run_dir / EVENTS_FILE}: no {kind.value} event; Locust did not run the test")
        return float(found[0])

    return int(when(EventKind.TEST_START)) + SKIP_FIRST_S, int(when(EventKind.TEST_STOP)) - SKIP_LAST_S


def judge(rate: float, run_dir: Path, middle: tuple[int, int] | None = None) -> Judged:
    """The constant_rate run in `run_dir` over its `middle` seconds (default `middle_seconds`), from its samples."""
    first, last = middle or middle_seconds(run_dir)
    behind: set[int] = set()
    lag, per_second = Histogram(), defaultdict[int, Histogram](Histogram)
    for row in generator_rows(run_dir):
        if first <= row["ts"] < last:
            if row["behind"]:
                behind.add(row["ts"])
            hist = Histogram.decode(row["hist"])
            lag.add(hist)
            per_second[row["ts"]].add(hist)
    failed = sum(row["count"] for row in request_rows(run_dir) if first <= row["ts"] < last and row["outcome"] != OK)
    worst = max((h.percentile(99) for h in per_second.values() if h.counts), default=0.0)
    p99 = lag.percentile(99) if lag.counts else 0.0
    return Judged(
        rate=rate,
        seconds=len(per_second),
        behind=len(behind),
        lag_p99_ms=p99 / 1000.0,
        worst_p99_ms=worst / 1000.0,
        missing=max(last - first, 0) - len(per_second),
        failed=failed,
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


class Bench:
    """A hello server and a work directory; `measure(rate)` runs the open model at `rate` against it.

    With two usable cores (this process's affinity, not the host's count: a container may
    have fewer) the server gets one and Locust another, each pinned; otherwise they share."""

    def __init__(self, workdir: Path, seconds: float) -> None:
        self.workdir, self.seconds, self.runs = workdir, seconds, 0
        usable = sorted(os.sched_getaffinity(0))
        self.cores = (usable[0], usable[1]) if len(usable) >= 2 else None  # (Locust's, the server's)
        self.userfile = workdir / "hello_user.py"
        self.userfile.write_text(USER)
        port = free_local_port()
        server = workdir / "hello_server.py"
        server.write_text(hello_server(port))
        self.server_log = workdir / "hello_server.log"
        with self.server_log.open("wb") as out:
            self.server = Child.start(
                [sys.executable, str(server)], parent_death=signal.SIGKILL, stdout=out, stderr=out
            )
        try:
            self._pin(self.server, 1)
            if not wait_until(lambda: not self.server.running or listening("127.0.0.1", port), LOAD_START_TIMEOUT_S):
                raise HarnessError(
                    f"the calibration's hello server did not listen on 127.0.0.1:{port} "
                    f"within {LOAD_START_TIMEOUT_S:g} s"
                )
            if not self.server.running:
                raise HarnessError(
                    f"the calibration's hello server exited ({self.server.returncode}) before it listened:\n"
                    + self.server_log.read_text(errors="replace")[-2000:]
                )
        except BaseException:
            self.close()
            raise
        self.url = f"http://127.0.0.1:{port}"

    @property
    def placement(self) -> str:
        if self.cores is None:
            return "one usable core: the hello server and Locust share it"
        return f"hello server on core {self.cores[1]}, Locust on core {self.cores[0]}"

    def _pin(self, child: Child, which: int) -> None:
        if self.cores is None:
            return
        try:
            for task in os.listdir(f"/proc/{child.pid}/task"):  # every thread it has so far
                os.sched_setaffinity(int(task), {self.cores[which]})
        except (FileNotFoundError, ProcessLookupError):
            pass  # it already exited: the caller finds out from its exit code

    def measure(self, rate: float) -> Judged:
        self.runs += 1
        run_dir = self.workdir / f"run-{self.runs}"
        argv = locust_argv(self.userfile, self.url, run_dir, "constant_rate", self.seconds, {"rate": rate}, None, {})
        log = self.workdir / f"locust-{self.runs}.log"
        with log.open("wb") as out:
            locust = Child.start(argv, parent_death=signal.SIGTERM, cwd=self.workdir, stdout=out, stderr=out)
        try:
            self._pin(locust, 0)
            code = locust.wait(self.seconds + LOAD_START_TIMEOUT_S + 30)
        finally:
            locust.stop(signal.SIGTERM, 10)
        if not self.server.running:
            tail = self.server_log.read_text(errors="replace")[-2000:]
            raise HarnessError(f"the calibration's hello server exited ({self.server.returncode}):\n{tail}")
        if code is None or not (run_dir / EVENTS_FILE).exists():
            tail = log.read_text(errors="replace")[-2000:]
            raise HarnessError(f"Locust did not finish a {rate:.0f} req/s calibration run (exit {code}):\n{tail}")
        return judge(rate, run_dir)

    def close(self) -> None:
        self.server.stop(signal.SIGTERM, 10)


def calibrate(seconds: float, steps: int, path: Path, say: Callable[[str], None] = print) -> int:
    """Measure this machine, write `path`, return the figure written (req/s)."""
    with tempfile.TemporaryDirectory(prefix="gameday-calibrate-") as tmp:
        bench = Bench(Path(tmp), seconds)
        try:
            say(f"calibrating one Locust process's open model ({bench.placement}, {seconds:g} s a run):")
            best = search(bench.measure, steps, say)
        finally:
            bench.close()
    if best is None:
        raise HarnessError(
            "one Locust process kept none of the rates above on schedule here; "
            "is the machine busy? Run `gameday calibrate` again when it is idle"
        )
    return write_figure(best, path)


def write_figure(best: Judged, path: Path) -> int:
    """Write the calibration for the highest kept run `best` (its rate rounded down to 100) to `path`."""
    rps = math.floor(best.rate / 100) * 100
    record = {
        "one_process_rps": rps,
        "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": len(os.sched_getaffinity(0)),
        "load_average": round(os.getloadavg()[0], 2),
        "kept": asdict(best),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(record, indent=2) + "\n")
    return rps
