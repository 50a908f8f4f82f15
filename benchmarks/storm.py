"""A memory storm: does the harness's memory stay bounded while the target misbehaves in every way?

    python benchmarks/storm.py [--minutes 10] [--rate 20] [--slot 15] [--processes 2] [--interval 5]
                               [--max-growth 1.0]

It runs a real `gameday run` (http target, a plain FastHttpUser locustfile that parses
JSON answers, constant_rate shape, Locust with --processes N) against
tests/reliability/misbehaving_server.py, restarted on the same port every --slot
seconds in the next behaviour of the cycle:

    ok -> errors (500s) -> hang (never answers; the 2 s client timeout fires) -> big (10 MB
    bodies) -> badjson (200 with a body that is not JSON) -> refuse (nothing listens) -> ok ...

so every kind of failure comes round again and again for the whole run. Every
--interval seconds it samples the RSS (psutil) of the orchestrator (`gameday run`) and
of each Locust process (master and workers) and the sink reader, and prints a row.

At the end it prints, per process, RSS first / last / max, the raw growth per minute
((last - first) / minutes, over the whole run and over its second half) and the
*floor growth*: the least-squares slope, in MB per minute, of the lowest RSS seen in each
cycle of behaviours that starts in the second
half of the run. The floor is what the process keeps; the peaks are 10 MB bodies and
piled-up hung requests in flight, which come and go with the behaviour of the moment
and would swamp a slope fitted to every sample. The first half is left out because a
Locust worker's RSS climbs in steps during the first big-body slots and then stays
flat: glibc raises its mmap threshold to the size of a freed 10 MB body (dynamic
threshold, up to 32 MB), so later bodies come from the heap, whose freed pages it keeps.
That high-water mark is bounded (by the bodies in flight at once); a leak is not, and
still grows in the second half.

Exit status: 0 when every process's floor growth is at most --max-growth MB/min,
1 when one grew faster, 4 when the run itself could not be measured.

Why 1 MB/min. The load recording keeps memory growing with seconds x endpoints, never
with requests (docs/architecture.md, "Load recording"). Here there is one endpoint and
at most a handful of outcomes a second,
each a per-second histogram of a few KB, and those are appended to the run directory
rather than kept: what may legitimately stay in memory is under 0.5 MB per minute even
if every row were kept. A leak that *does* scale with requests shows well above 1 MB/min
at the default 20 req/s (1,200 requests a minute): keeping 1 KB per request (an error
message, a response object) gives 1.2 MB/min, and keeping anything of a 10 MB body,
one per minute, gives 10. So 1 MB/min separates "bounded" from "leaks per request"
at this rate, with a margin over the allowed growth for allocator noise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "reliability"))
from reliability_support import SCORE_CLIENT, SERVER
from support import free_port, wait_for_port

GAMEDAY = [sys.executable, "-m", "harness.cli"]
BEHAVIOURS = ("ok", "errors", "hang", "big", "badjson", "refuse")
MB = 1024 * 1024
LOCUSTFILE = SCORE_CLIENT


class Target:
    """misbehaving_server.py on one port, switched from behaviour to behaviour ("refuse": not running)."""

    def __init__(self, port: int):
        self.port, self.mode, self._proc = port, "", None

    def switch(self, mode: str) -> None:
        self.stop()
        self.mode = mode
        if mode != "refuse":
            self._proc = subprocess.Popen(
                [sys.executable, str(SERVER), str(self.port), mode],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            wait_for_port(self.port, 15)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)
            self._proc = None


@dataclass
class Series:
    """RSS samples: (seconds since start, behaviour, cycle number, {process label: MB})."""

    rows: list[tuple[float, str, int, dict[str, float]]] = field(default_factory=list)

    def by_process(self) -> dict[str, list[tuple[float, int, float]]]:
        out: dict[str, list[tuple[float, int, float]]] = defaultdict(list)
        for t, _, cycle, rss in self.rows:
            for name, mb in rss.items():
                out[name].append((t, cycle, mb))
        return out


def write_spec(work: Path, args: argparse.Namespace, base_url: str) -> Path:
    profile = work / "locustfile.py"
    profile.write_text(LOCUSTFILE)
    spec = {
        "name": "storm",
        "target": {"kind": "http", "base_url": base_url},
        "warmup": "5s",
        "load": {
            "profile": str(profile),
            "shape": "constant_rate",
            "rate": args.rate,
            "duration": f"{int(args.minutes * 60)}s",
            "processes": args.processes,
        },
        "slos": [{"sli": "availability", "endpoint": "GET /api/score", "phase": "run", "objective": ">= 99%"}],
    }
    path = work / "storm.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def label(proc: psutil.Process, orchestrator: psutil.Process) -> str | None:
    """orchestrator, locust (the master or the only process), locust-worker, sink, or None (not ours)."""
    try:
        if proc.pid == orchestrator.pid:
            return "orchestrator"
        cmd = " ".join(proc.cmdline())
        if "locust" in cmd:
            return "locust" if proc.ppid() == orchestrator.pid else "locust-worker"
        if "harness.load.sink" in cmd:
            return "sink"
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass
    return None


def sample(orchestrator: psutil.Process) -> dict[str, float]:
    """RSS in MB of the orchestrator and each of its Locust/sink descendants (one key per pid)."""
    rss: dict[str, float] = {}
    try:
        procs = [orchestrator, *orchestrator.children(recursive=True)]
    except psutil.NoSuchProcess:
        return rss
    for proc in procs:
        name = label(proc, orchestrator)
        try:
            if name is not None:
                rss[name if name == "orchestrator" else f"{name}:{proc.pid}"] = proc.memory_info().rss / MB
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return rss


def storm(args: argparse.Namespace, work: Path) -> tuple[Series, int]:
    """Run the game day while cycling the target; the RSS series and `gameday run`'s exit code."""
    target = Target(free_port())
    target.switch("ok")  # the http target's start-up check needs an answer
    spec = write_spec(work, args, f"http://127.0.0.1:{target.port}")
    env = {**os.environ, "GAMEDAY_HOME": str(work / "home")}
    series, started = Series(), time.monotonic()
    try:
        with open(work / "gameday.out", "w") as out:
            proc = subprocess.Popen(
                [*GAMEDAY, "run", str(spec), "--reports", str(work / "runs")],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        orchestrator, slot = psutil.Process(proc.pid), 0
        print(f"{'t(s)':>6} {'target':8} RSS MB per process", flush=True)
        while proc.poll() is None:
            elapsed = time.monotonic() - started
            if int(elapsed // args.slot) != slot:
                slot = int(elapsed // args.slot)
                target.switch(BEHAVIOURS[slot % len(BEHAVIOURS)])
            rss = sample(orchestrator)
            series.rows.append((elapsed, target.mode, slot // len(BEHAVIOURS), rss))
            print(
                f"{elapsed:6.0f} {target.mode:8} " + "  ".join(f"{k}={v:.0f}" for k, v in sorted(rss.items())),
                flush=True,
            )
            deadline = time.monotonic() + args.interval
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.25)
        return series, proc.returncode
    finally:
        target.stop()


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (x, y) points; 0 with fewer than two."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return 0.0 if var == 0 else sum((x - mx) * (y - my) for x, y in points) / var


def floor_growth(samples: list[tuple[float, int, float]]) -> float:
    """MB/min: slope of the lowest RSS of each cycle of behaviours (at the cycle's middle time),
    over the cycles that start in the second half of the run (the first half is warm-up)."""
    cycles: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for t, cycle, mb in samples:
        cycles[cycle].append((t, mb))
    if not cycles:
        return 0.0
    half = (samples[0][0] + samples[-1][0]) / 2
    floors = [
        (sum(t for t, _ in pts) / len(pts) / 60, min(mb for _, mb in pts))
        for _, pts in sorted(cycles.items())
        if pts[0][0] >= half and len(pts) > 1
    ]
    return slope(floors)


def per_minute(samples: list[tuple[float, int, float]]) -> float:
    """(last - first) / minutes between them."""
    return (samples[-1][2] - samples[0][2]) / max((samples[-1][0] - samples[0][0]) / 60, 1e-9)


def second_half(samples: list[tuple[float, int, float]]) -> list[tuple[float, int, float]]:
    half = (samples[0][0] + samples[-1][0]) / 2
    return [s for s in samples if s[0] >= half] or samples[-1:]


def summarize(series: Series, max_growth: float) -> bool:
    """Print the per-process table; True when every floor growth is within `max_growth` MB/min."""
    ok = True
    print(f"\nRSS (MB) over {len(series.rows)} samples, {series.rows[-1][0] / 60:.1f} min:")
    print(
        f"  {'process':22} {'first':>7} {'last':>7} {'max':>7} {'raw MB/min':>11} {'2nd half MB/min':>16}"
        f" {'floor MB/min':>13}"
    )
    for name, samples in sorted(series.by_process().items()):
        values = [mb for _, _, mb in samples]
        growth = floor_growth(samples)
        ok &= growth <= max_growth
        print(
            f"  {name:22} {values[0]:7.1f} {values[-1]:7.1f} {max(values):7.1f} {per_minute(samples):11.2f} "
            f"{per_minute(second_half(samples)):16.2f} {growth:13.2f}{'' if growth <= max_growth else '  TOO MUCH'}"
        )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=int, default=20, help="requests per second (default 20)")
    parser.add_argument("--slot", type=float, default=15, help="seconds of each behaviour (default 15)")
    parser.add_argument("--processes", type=int, default=2, help="Locust worker processes (default 2)")
    parser.add_argument("--interval", type=float, default=5, help="seconds between RSS samples (default 5)")
    parser.add_argument("--max-growth", type=float, default=1.0, help="allowed floor growth, MB/min (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (run dir, logs) and print it")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gameday-storm-"))
    try:
        series, code = storm(args, work)
        print(f"\ngameday run exit {code} (1 expected: the availability SLO cannot hold in a storm)")
        if len(series.rows) < 3 or code not in (0, 1):
            print((work / "gameday.out").read_text()[-3000:], file=sys.stderr)
            return 4
        bounded = summarize(series, args.max_growth)
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"harness memory {'stayed bounded' if bounded else 'GREW'} (threshold {args.max_growth} MB/min of floor)")
    return 0 if bounded else 1


if __name__ == "__main__":
    sys.exit(main())
