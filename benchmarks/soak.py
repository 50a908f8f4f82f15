"""A long game day at a moderate rate: do memory, the sample store and the analysis stay flat?

    python benchmarks/soak.py [--minutes 60] [--rate 30] [--base-url URL] [--interval 10]

Without --base-url it starts a reference stack of its own (`gameday stack up` in a
temporary GAMEDAY_HOME, on a free port block), runs `gameday run` against it with
loadprofiles/inference.py, and takes the stack down at the end. With --base-url it
runs a plain GET / locustfile against that http target instead.

Every --interval seconds it samples the resident memory (psutil) of the orchestrator
(`gameday run`), each Locust process, the sink reader and each stack process (found by
their GAMEDAY_STACK marker), and the size of samples.jsonl. At the end it times
`gameday report RUN_DIR` and prints, per process: RSS first / last / max and whether
it stayed flat (the mean of the last third of the samples within 20% + 10 MB of the
mean of the second third; the first third is start-up), then the store's bytes per
minute in each half of the run and the analysis time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from support import free_base_port

GAMEDAY = [sys.executable, "-m", "harness.cli"]
MB = 1024 * 1024
PLAIN_PROFILE = """
from locust import FastHttpUser, constant, task


class Visitor(FastHttpUser):
    network_timeout = 5.0
    wait_time = constant(0)

    @task
    def index(self):
        self.client.get("/")
"""


def write_spec(work: Path, minutes: float, rate: int, base_url: str | None, stack: str) -> Path:
    if base_url:
        profile = work / "locustfile.py"
        profile.write_text(PLAIN_PROFILE)
        target, endpoint = {"kind": "http", "base_url": base_url}, "GET /"
    else:
        profile, target, endpoint = ROOT / "loadprofiles/inference.py", {"kind": "local", "stack": stack}, None
    slos = [
        {"sli": "availability", "phase": "run", "objective": ">= 99%"},
        {"sli": "latency.p99", "phase": "run", "objective": "< 500ms", **({"endpoint": endpoint} if endpoint else {})},
    ]
    spec = {
        "name": "soak",
        "target": target,
        "warmup": "5s",
        "slos": slos,
        "load": {"profile": str(profile), "shape": "constant_rate", "rate": rate, "duration": f"{int(minutes * 60)}s"},
    }
    path = work / "soak.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def label(proc: psutil.Process, orchestrator_pid: int, home: Path) -> str | None:
    """What a process is in this soak, or None if it is not ours."""
    try:
        if proc.pid == orchestrator_pid:
            return "orchestrator"
        cmd = " ".join(proc.cmdline())
        if str(home) not in proc.environ().get("GAMEDAY_STACK", "") and orchestrator_pid not in [
            p.pid for p in proc.parents()
        ]:
            return None
        if "locust" in cmd:
            return "locust" if "--processes" not in cmd or proc.parent().pid == orchestrator_pid else "locust-worker"
        if "harness.load.sink" in cmd:
            return "sink"
        if "GAMEDAY_STACK" in proc.environ():
            return "stack:supervisord" if "supervisord" in cmd else "stack:" + stack_name(proc)
        return "other:" + proc.name()
    except (psutil.NoSuchProcess, psutil.AccessDenied, IndexError):
        return None


def stack_name(proc: psutil.Process) -> str:
    """A stack process's supervisord program name (supervisord sets it in each child's environment)."""
    return proc.environ().get("SUPERVISOR_PROCESS_NAME") or proc.name()


def sample(orchestrator_pid: int, home: Path) -> dict[str, float]:
    """RSS in MB per labelled process (the same label summed, with a #n suffix per pid)."""
    rss: dict[str, float] = {}
    for proc in psutil.process_iter():
        name = label(proc, orchestrator_pid, home)
        if name is None:
            continue
        try:
            key = name if name not in rss else f"{name}#{proc.pid}"
            rss[key] = proc.memory_info().rss / MB
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return rss


def run_soak(args: argparse.Namespace, work: Path, home: Path) -> tuple[Path, list[tuple[float, dict, int]], int]:
    stack = "soak"
    spec = write_spec(work, args.minutes, args.rate, args.base_url, stack)
    env = {**os.environ, "GAMEDAY_HOME": str(home)}
    reports = work / "runs"
    with open(work / "gameday.out", "w") as out:
        stack_args = [] if args.base_url else ["--stack-name", stack]
        proc = subprocess.Popen(
            [*GAMEDAY, "run", str(spec), "--reports", str(reports), *stack_args],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    series: list[tuple[float, dict, int]] = []
    started = time.monotonic()
    while proc.poll() is None:
        store = reports.glob("*/samples/samples.jsonl")
        size = sum(p.stat().st_size for p in store)
        series.append((time.monotonic() - started, sample(proc.pid, home), size))
        print(
            f"  t={series[-1][0]:5.0f}s  store={size / MB:6.2f} MB  "
            + " ".join(f"{k}={v:.0f}" for k, v in sorted(series[-1][1].items())),
            flush=True,
        )
        deadline = time.monotonic() + args.interval
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
    run_dir = max(p for p in reports.iterdir() if p.is_dir())
    return run_dir, series, proc.returncode


def flat(values: list[float]) -> bool:
    if len(values) < 3:
        return True
    third = len(values) // 3
    middle, last = values[third : 2 * third], values[2 * third :]
    base = sum(middle) / len(middle)
    return sum(last) / len(last) <= base * 1.2 + 10


def summarize(series: list[tuple[float, dict, int]]) -> bool:
    by_proc: dict[str, list[float]] = defaultdict(list)
    for _, rss, _ in series:
        for name, mb in rss.items():
            by_proc[name].append(mb)
    all_flat = True
    print(f"\nRSS (MB) over {len(series)} samples:")
    print(f"  {'process':32} {'first':>7} {'last':>7} {'max':>7}  flat")
    for name, values in sorted(by_proc.items()):
        ok = flat(values)
        all_flat &= ok or name.startswith("stack:")  # the target's memory is the target's business
        print(f"  {name:32} {values[0]:7.1f} {values[-1]:7.1f} {max(values):7.1f}  {'yes' if ok else 'NO'}")
    return all_flat


def store_rates(series: list[tuple[float, dict, int]]) -> tuple[float, float]:
    """Sample-store growth in MB per minute over the first and the second half of the run."""
    half = len(series) // 2
    if half < 1:
        return 0.0, 0.0

    def rate(a, b):
        return (b[2] - a[2]) / MB / max(b[0] - a[0], 1e-9) * 60

    return rate(series[0], series[half]), rate(series[half], series[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--rate", type=int, default=30, help="requests per second (default 30)")
    parser.add_argument("--base-url", help="an http target instead of a reference stack of our own")
    parser.add_argument("--interval", type=float, default=10, help="seconds between RSS samples")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gameday-soak-") as tmp:
        work, home = Path(tmp), Path(tmp) / "home"
        env = {**os.environ, "GAMEDAY_HOME": str(home)}
        if not args.base_url:
            up = subprocess.run(
                [*GAMEDAY, "stack", "up", "--name", "soak", "--base-port", str(free_base_port())],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            if up.returncode != 0:
                print(up.stdout + up.stderr, file=sys.stderr)
                return 4
        try:
            run_dir, series, code = run_soak(args, work, home)
        finally:
            if not args.base_url:
                subprocess.run(
                    [*GAMEDAY, "stack", "down", "--name", "soak"], env=env, cwd=ROOT, capture_output=True, check=False
                )
        return report(run_dir, series, code, env)


def report(run_dir: Path, series: list, code: int, env: dict) -> int:
    store = run_dir / "samples" / "samples.jsonl"
    rows = sum(1 for _ in store.open())
    started = time.monotonic()
    rebuilt = subprocess.run(
        [*GAMEDAY, "report", str(run_dir)], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    analysis_s = time.monotonic() - started
    result = json.loads((run_dir / "result.json").read_text())
    print(
        "\n`gameday run` ended with:\n"
        + "".join((run_dir.parents[1] / "gameday.out").read_text().splitlines(True)[-12:])
    )
    print(
        f"gameday run exit {code}; `gameday report` rebuilt: exit {rebuilt.returncode}, status "
        f"{result['run']['status']}, verdicts {[v['state'] for v in result['verdicts']]}"
    )
    memory_flat = summarize(series)
    first, second = store_rates(series)
    print(
        f"\nsample store: {store.stat().st_size / MB:.2f} MB, {rows} rows; "
        f"growth {first:.3f} MB/min (first half) vs {second:.3f} MB/min (second half): "
        f"{'flat' if abs(second - first) <= 0.2 * max(first, 1e-9) + 0.01 else 'NOT flat'}"
    )
    print(f"analysis (`gameday report`, exit {rebuilt.returncode}): {analysis_s:.2f} s")
    print(f"harness memory {'stayed flat' if memory_flat else 'GREW'}")
    return 0 if memory_flat else 1


if __name__ == "__main__":
    sys.exit(main())
