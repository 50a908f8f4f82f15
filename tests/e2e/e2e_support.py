"""Shared helpers for end-to-end game days: real stacks, real Locust, real `chaos run`.

Specs are written into tmp dirs with short timings (tens of seconds), pointing at
the project's real profile and experiments by absolute path.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from support import free_base_port

ROOT = Path(__file__).resolve().parents[2]
GAMEDAY = [sys.executable, "-m", "harness.cli"]


def write_spec(path: Path, **spec) -> Path:
    """A game day YAML at `path`; relative profile/experiment paths are made absolute under the project."""
    load = spec.get("load", {})
    if "profile" in load and not os.path.isabs(load["profile"]):
        load["profile"] = str(ROOT / load["profile"])
    chaos = spec.get("chaos")
    for block in chaos if isinstance(chaos, list) else [chaos] if chaos else []:
        if not os.path.isabs(block["experiment"]):
            block["experiment"] = str(ROOT / block["experiment"])
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def gameday(*args: str, home: Path, timeout: float = 240, **popen) -> subprocess.CompletedProcess:
    env = {**os.environ, "GAMEDAY_HOME": str(home)}
    return subprocess.run([*GAMEDAY, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def result_of(reports: Path) -> tuple[Path, dict]:
    """The newest run directory under `reports` and its result.json."""
    runs = sorted(p for p in reports.iterdir() if p.is_dir())
    assert runs, f"no run directory under {reports}"
    return runs[-1], json.loads((runs[-1] / "result.json").read_text())


def verdicts(result: dict) -> dict[str, str]:
    return {v["slo"]: v["state"] for v in result["verdicts"]}


class Stack:
    """A running stack for several tests; runs pass --stack-name to reuse it."""

    def __init__(self, home: Path, name: str, defects: tuple[str, ...] = ()):
        self.home, self.name, self.defects = home, name, defects
        self.base_port = free_base_port()

    def up(self) -> None:
        args = ["stack", "up", "--name", self.name, "--base-port", str(self.base_port)]
        for defect in self.defects:
            args += ["--defect", defect]
        result = gameday(*args, home=self.home)
        assert result.returncode == 0, result.stdout + result.stderr

    def down(self) -> None:
        """Stop the stack; if `stack down` fails, kill its supervisord (the stack's processes die with
        it), so a failing teardown never leaves a stack running after the tests."""
        result = gameday("stack", "down", "--name", self.name, home=self.home)
        if result.returncode != 0:
            pidfile = self.home / "stacks" / self.name / "supervisord.pid"
            if pidfile.exists():
                os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
            raise AssertionError(f"`gameday stack down` failed: {result.stdout}{result.stderr}")

    def status(self) -> dict:
        return json.loads(gameday("stack", "status", "--name", self.name, "--json", home=self.home).stdout)


def run_shipped(gameday_file: str, tmp: Path) -> tuple[Path, dict]:
    """Run a shipped game day unchanged, on a stack of its own in `tmp`; assert it passed whole,
    with its reports, and that the stack it started is down again. Returns (run dir, result)."""
    from support import free_base_port

    reports, home = tmp / "runs", tmp / "home"
    done = gameday("run", gameday_file, "--reports", str(reports), "--base-port", str(free_base_port()),
                   home=home, timeout=420)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run_dir, result = result_of(reports)
    assert result["run"]["status"] == "completed"
    assert set(verdicts(result).values()) == {"pass"}, verdicts(result)
    assert (run_dir / "report.html").exists() and (run_dir / "junit.xml").exists()
    down = gameday("stack", "status", home=home)
    assert down.returncode == 4 and "not running" in down.stdout + down.stderr
    return run_dir, result
