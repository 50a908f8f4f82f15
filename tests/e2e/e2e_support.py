"""Shared helpers for end-to-end game days: real stacks, real Locust, real `chaos run`.

Specs are written into tmp dirs with short timings (tens of seconds), pointing at
the project's real profile and experiments by absolute path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import processes
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


def gameday(*args: str, home: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    """The real `gameday` CLI with GAMEDAY_HOME=home. On a timeout (its own or the test's) it
    gets SIGINT, so a run rolls back and stops the stack it started; whatever it started
    is then killed (tests/processes.py), and the exception goes on."""
    env = {**os.environ, "GAMEDAY_HOME": str(home)}
    return processes.run([*GAMEDAY, *args], env=env, cwd=ROOT, timeout=timeout)


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
        if result.returncode != 0:
            self.kill()
        assert result.returncode == 0, result.stdout + result.stderr

    def down(self) -> None:
        """Stop the stack; if `stack down` fails or times out, kill every process that carries the
        stack's marker, so a failing teardown never leaves a stack running after the tests."""
        try:
            result = gameday("stack", "down", "--name", self.name, home=self.home, timeout=120)
        finally:
            left = self.kill()
        assert result.returncode == 0 and not left, (
            f"`gameday stack down` failed: {result.stdout}{result.stderr}; killed: {left}"
        )

    def status(self) -> dict:
        return json.loads(gameday("stack", "status", "--name", self.name, "--json", home=self.home).stdout)

    def kill(self) -> list[str]:
        """SIGKILL the stack's supervisord, then whatever still carries the stack's marker; what was killed."""
        return kill_stack(self.home / "stacks" / self.name)


def kill_stack(state_dir: Path) -> list[str]:
    """SIGKILL a stack's supervisord (its children die with it: PR_SET_PDEATHSIG) and every process
    still carrying the stack's marker; describes what was killed."""
    import psutil

    from stack.supervise import marked_processes

    left = []
    pidfile = state_dir / "supervisord.pid"
    try:
        supervisord = psutil.Process(int(pidfile.read_text().strip()))
        if any("supervisord" in part for part in supervisord.cmdline()):
            left.append(supervisord)
    except (OSError, ValueError, psutil.Error):
        pass
    left += marked_processes(state_dir)
    described = [processes.describe(p) for p in left]
    processes.kill_all(left, grace=0)
    return described


def run_shipped(
    gameday_file: str, tmp: Path, *extra: str, timeout: float = 720
) -> tuple[subprocess.CompletedProcess, Path, dict]:
    """`gameday run <gameday_file>` exactly as a user runs a shipped file (the file itself, from the
    project root), on a stack the run starts in `tmp`; `extra` are more CLI flags (`--defect`).
    Asserts the run directory is whole and no process of the stack it started is left.
    Returns (the finished command, its run directory, its result.json).

    A free port block can be taken between the check and the stack's start (another test
    session on the machine); a run that fails at once for that is run again on another block."""
    home = tmp / "home"
    for attempt in range(3):
        reports = tmp / f"runs-{attempt}"
        done = gameday(
            "run",
            gameday_file,
            "--reports",
            str(reports),
            "--base-port",
            str(free_base_port()),
            *extra,
            home=home,
            timeout=timeout,
        )
        if not (done.returncode == 4 and "already in use" in done.stdout + done.stderr):
            break
    output = done.stdout[-3000:] + done.stderr[-3000:]
    assert reports.exists() and any(reports.iterdir()), f"no run directory; exit {done.returncode}: {output}"
    assert (max(reports.iterdir()) / "result.json").exists(), f"no result.json; exit {done.returncode}: {output}"
    run_dir, result = result_of(reports)
    for report in ("report.html", "junit.xml"):
        assert (run_dir / report).exists(), f"{report} missing; exit {done.returncode}: {output}"
    left = kill_stack(home / "stacks" / "default")
    assert left == [], f"the stack the run started was still running: {left}"
    return done, run_dir, result


def held_fault_experiment(stack: str, hold_s: float, ttl_s: float = 600) -> dict:
    """Two faults that nothing in the method undoes: scorer-kafka partitioned and replica-1's
    breaker forced open, both with a TTL far beyond any test's wait, held for `hold_s` seconds.
    Only the rollbacks heal them, so a stack found clean before the TTL proves they ran."""

    def act(name: str, module: str, func: str, args: dict, **extra) -> dict:
        return {
            "type": "action",
            "name": name,
            **extra,
            "provider": {
                "type": "python",
                "module": f"harness.chaos.{module}",
                "func": func,
                "arguments": {"stack": stack, **args},
            },
        }

    return {
        "version": "1.0.0",
        "title": "faults held until rolled back",
        "description": "a partition and a forced-open breaker that only the rollbacks remove",
        "method": [
            act("partition-scorers", "network", "partition", {"service": "scorer-kafka", "ttl": ttl_s}),
            act(
                "force-breaker-open",
                "gateway",
                "trip_breaker",
                {"replica": "replica-1", "ttl": ttl_s},
                pauses={"after": hold_s},
            ),
        ],
        "rollbacks": [
            act("heal-scorers", "network", "heal", {"hop": "scorer-kafka"}),
            act("reset-breakers", "gateway", "reset_breakers", {}),
        ],
    }


HELD_ROLLBACKS = ["heal-scorers", "reset-breakers"]


def faults_on(stack: Stack) -> list[str]:
    """Every fault present on the stack right now: toxics, disabled hops, stopped or frozen
    processes, forced breakers, a moved canary weight (asked of the proxy, supervisord, gateway)."""
    from chaos.stack_support import faults_present

    from stack.config import StackConfig

    return faults_present(StackConfig.load(stack.home / "stacks" / stack.name / "stack.json"))


def rollbacks_of(journal: dict) -> list[tuple[str, str]]:
    """(activity name, status) of each rollback in a Chaos Toolkit journal."""
    return [(r["activity"]["name"], r["status"]) for r in journal.get("rollbacks", [])]
