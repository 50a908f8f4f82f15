"""How much the harness's recording plugin costs Locust, and how much disk its samples take.

    python benchmarks/load_overhead.py [--seconds 10] [--rounds 2] [--users 50]

Against one local aiohttp "hello" server pinned to core 1, with every generator
pinned to core 0, it runs in alternation (A B A B ...):

    bare     Locust FastHttpUser, nothing else
    plugin   the same user with `import harness.load.plugin` recording to a run directory
    wrk      (if installed; `apt-get install -y wrk`) the ceiling for this server

and prints the req/s of each, the plugin/bare ratio (goal >= 0.90), and the samples
disk use projected to one hour at 2,000 req/s (goal < 50 MB). Samples grow with
seconds x endpoints, not requests, so bytes per second of samples.jsonl x 3600 is
the projection; it is shown with the rate it was measured at.

This is the closed model only (no `--gameday-shape`): the plugin records, nothing keeps
a schedule. The open model, which every shipped game day uses, is measured by
`benchmarks/open_model.py` (clean and saturated constant_rate against bare Locust).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from support import free_port, wait_for_port  # noqa: E402

sys.path.insert(0, str(ROOT))
from harness.run.calibrate import hello_server  # noqa: E402

USER = """
{extra}
from locust import FastHttpUser, task
class Hello(FastHttpUser):
    @task
    def hello(self):
        self.client.get("/")
"""
SERVER_CORE, GENERATOR_CORE = 1, 0


def pinned(core: int):
    return lambda: os.sched_setaffinity(0, {core})


def start_server(workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    script = workdir / "server.py"
    script.write_text(hello_server(port))
    server = subprocess.Popen([sys.executable, str(script)], preexec_fn=pinned(SERVER_CORE))
    wait_for_port(port)
    return server, f"http://127.0.0.1:{port}"


def run_locust(
    workdir: Path, name: str, extra: str, url: str, args: argparse.Namespace, index: int
) -> tuple[float, Path]:
    locustfile = workdir / f"{name}.py"
    locustfile.write_text(USER.format(extra=extra))
    run_dir = workdir / f"run-{name}-{index}"
    prefix = workdir / f"{name}-{index}"
    command = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--host", url]
    command += ["-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds}s", "--only-summary"]
    command += ["--csv", str(prefix)]
    if extra:  # the plugin's variant records into a run directory of its own
        command += ["--gameday-run-dir", str(run_dir)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(
        command,
        preexec_fn=pinned(GENERATOR_CORE),
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=args.seconds + 60,
    )
    return aggregated_rps(Path(f"{prefix}_stats.csv")), run_dir


def aggregated_rps(stats_csv: Path) -> float:
    with open(stats_csv) as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                return float(row["Requests/s"])
    raise RuntimeError(f"no Aggregated row in {stats_csv}")


def run_wrk(url: str, args: argparse.Namespace) -> float | None:
    if not shutil.which("wrk"):
        return None
    out = subprocess.run(
        ["wrk", "-t1", f"-c{args.users}", f"-d{args.seconds}s", url],
        preexec_fn=pinned(GENERATOR_CORE),
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(match.group(1)) if match else None


def samples_projection(run_dir: Path, seconds: float) -> float:
    """Bytes of samples for one hour, from this run's samples.jsonl."""
    size = sum(path.stat().st_size for path in (run_dir / "samples").glob("*.jsonl"))
    return size / seconds * 3600


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args()
    if os.cpu_count() < 2:
        print("warning: fewer than 2 cores; server and generator share one", file=sys.stderr)
    results: dict[str, list[float]] = {"bare": [], "plugin": [], "wrk": []}
    projections = []
    with tempfile.TemporaryDirectory(prefix="gameday-bench-") as tmp:
        workdir = Path(tmp)
        server, url = start_server(workdir)
        try:
            for index in range(args.rounds):
                rps, _ = run_locust(workdir, "bare", "", url, args, index)
                results["bare"].append(rps)
                print(f"round {index + 1}: bare   {rps:8.0f} req/s", flush=True)
                rps, run_dir = run_locust(workdir, "plugin", "import harness.load.plugin  # noqa", url, args, index)
                results["plugin"].append(rps)
                projections.append((samples_projection(run_dir, args.seconds), rps))
                print(f"round {index + 1}: plugin {rps:8.0f} req/s", flush=True)
                wrk = run_wrk(url, args)
                if wrk is not None:
                    results["wrk"].append(wrk)
                    print(f"round {index + 1}: wrk    {wrk:8.0f} req/s", flush=True)
        finally:
            server.terminate()
            server.wait(10)
    report(results, projections)
    return 0


def report(results: dict[str, list[float]], projections: list[tuple[float, float]]) -> None:
    bare, plugin = statistics.mean(results["bare"]), statistics.mean(results["plugin"])
    print()
    print(f"bare Locust FastHttpUser   {bare:8.0f} req/s (mean of {len(results['bare'])})")
    print(f"with the harness plugin    {plugin:8.0f} req/s")
    if results["wrk"]:
        print(f"wrk (ceiling)              {statistics.mean(results['wrk']):8.0f} req/s")
    else:
        print("wrk (ceiling)              not installed (apt-get install -y wrk)")
    ratio = plugin / bare if bare else 0.0
    print(f"ratio plugin/bare          {ratio:8.3f}  (goal >= 0.90: {'met' if ratio >= 0.90 else 'NOT met'})")
    per_hour, rate = max(projections)
    print(
        f"samples for 1 h            {per_hour / 1e6:8.2f} MB  (measured at {rate:.0f} req/s, one endpoint; "
        f"goal < 50 MB at 2,000 req/s: {'met' if per_hour < 50e6 else 'NOT met'})"
    )


if __name__ == "__main__":
    sys.exit(main())
