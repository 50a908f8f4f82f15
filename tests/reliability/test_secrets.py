"""Secrets never reach a run directory or a report.

A canary travels every way a secret reaches a game day: an env secret of the
experiment used as a `process` argument and as an `http` probe's Authorization
header (the target echoes it back in a 401 body, which the journal would record),
the environment of `gameday run`, and a locustfile sending `Authorization: Bearer
<canary>` to a target that answers 401 echoing the header (an error path the
samples record). Then every file of the run directory is grepped for it.

The same must hold when `gameday run` is killed with SIGKILL in the middle of the chaos:
the chaos child, told by its parent-death signal, still plays its rollbacks and writes
its journal, but the harness's pass after the child's exit never comes, so the gameday
control inside the child (harness.chaos.control) has to have kept the secret out.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_support import GAMEDAY, ROOT, result_of, write_spec
from reliability_support import SERVER, processes_naming, wait_until
from support import free_port, wait_for_port

from harness.chaos import redact

CANARY = "CANARY-5f3a9c1e7b2d4a60"

LOCUSTFILE = """
import os

from locust import FastHttpUser, constant, task


class Client(FastHttpUser):
    network_timeout = 2.0
    wait_time = constant(0)

    @task
    def whoami(self):
        self.client.get("/api/whoami", headers={"Authorization": "Bearer " + os.environ["GAMEDAY_TEST_SECRET"]})
"""


def experiment(base_url: str) -> dict:
    return {
        "version": "1.0.0",
        "title": "An experiment that uses a secret",
        "description": "The secret is a process argument and an http header.",
        "secrets": {"app": {"token": {"type": "env", "key": "GAMEDAY_TEST_SECRET"}}},
        "method": [
            {
                "type": "action",
                "name": "use-the-token",
                "secrets": ["app"],
                "provider": {"type": "process", "path": "sh", "arguments": ["-c", 'test -n "$1"', "--", "${token}"]},
            },
            {
                "type": "probe",
                "name": "who-am-i",
                "secrets": ["app"],
                "provider": {
                    "type": "http",
                    "url": f"{base_url}/api/whoami",
                    "timeout": 3,
                    "headers": {"Authorization": "Bearer ${token}"},
                },
            },
        ],
        "rollbacks": [],
    }


def test_redaction_keeps_a_journal_valid_json_whatever_the_secret_contains(tmp_path):
    awkward = 'pa"ss\\word\n' + CANARY
    experiment = {"secrets": {"a": {"env": {"type": "env", "key": "S"}, "inline": "inline-secret", "short": "ab"}}}
    values = redact.secret_values(experiment, {"S": awkward})
    assert values == {awkward, "inline-secret"}
    (tmp_path / "journal.json").write_text(json.dumps({"output": f"echo {awkward}", "ab": "inline-secret!"}))
    (tmp_path / "chaos.log").write_text(f"Running: {awkward!r} inline-secret\n")
    redact.redact_run_dir(tmp_path, values)
    assert json.loads((tmp_path / "journal.json").read_text()) == {"output": "echo ***", "ab": "***!"}
    assert (
        CANARY not in (tmp_path / "chaos.log").read_text()
        and "inline-secret" not in (tmp_path / "chaos.log").read_text()
    )


def test_the_log_filter_in_the_chaos_child_redacts_messages_and_tracebacks_and_never_raises():
    formatter = logging.Formatter("%(message)s")
    secret_filter = redact.RedactingFilter(redact.resolved_values({"app": {"token": CANARY, "short": "ab"}}))
    try:
        raise RuntimeError(f"auth failed for {CANARY}")
    except RuntimeError:
        record = logging.LogRecord(
            "chaostoolkit", logging.DEBUG, __file__, 1, "Running: %s", ([CANARY],), sys.exc_info()
        )
    assert secret_filter.filter(record) and CANARY not in formatter.format(record)
    assert "Running: ['***']" in formatter.format(record) and "auth failed for ***" in formatter.format(record)

    class Unprintable:
        def __str__(self):
            raise ValueError("no")

    broken = logging.LogRecord("chaostoolkit", logging.INFO, __file__, 1, "%s", (Unprintable(),), None)
    assert secret_filter.filter(broken) and formatter.format(broken) == redact.WITHHELD


@pytest.fixture
def echoing_target():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), str(port), "echo-401"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for_port(port, 15)
    yield f"http://127.0.0.1:{port}"
    proc.kill()
    proc.wait(10)


def files_containing(run_dir: Path, needle: str) -> list[str]:
    return [
        str(path.relative_to(run_dir))
        for path in sorted(run_dir.rglob("*"))
        if path.is_file() and needle.encode() in path.read_bytes()
    ]


@pytest.mark.slow
def test_a_canary_secret_appears_in_no_file_of_the_run_directory(echoing_target, tmp_path):
    profile, exp = tmp_path / "locustfile.py", tmp_path / "uses-secret.json"
    profile.write_text(LOCUSTFILE)
    exp.write_text(json.dumps(experiment(echoing_target)))
    spec = write_spec(
        tmp_path / "gd.yaml",
        name="secrets",
        target={"kind": "http", "base_url": echoing_target},
        load={"profile": str(profile), "shape": "constant_rate", "rate": 10, "duration": "10s"},
        chaos={"experiment": str(exp), "start_after": "3s"},
        warmup="1s",
        slos=[{"sli": "availability", "phase": "run", "objective": ">= 99%"}],
    )
    env = {**os.environ, "GAMEDAY_HOME": str(tmp_path), "GAMEDAY_TEST_SECRET": CANARY}
    result = subprocess.run(
        [*GAMEDAY, "run", str(spec), "--reports", str(tmp_path / "runs")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    run_dir, _ = result_of(tmp_path / "runs")

    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]  # every request got a 401
    journal = json.loads((run_dir / "journal.json").read_text())
    assert [r["activity"]["name"] for r in journal["run"]] == ["use-the-token", "who-am-i"]
    assert journal["run"][0]["status"] == "succeeded", "the secret did not reach the process provider"
    assert journal["run"][1]["output"]["status"] == 401
    assert files_containing(run_dir, CANARY) == []
    assert CANARY not in result.stdout + result.stderr


def experiment_killed_mid_method(base_url: str) -> dict:
    """The secret in the title (logged before any control is configured), a process argument and an
    echoed probe body, then a long wait to be killed in, and a rollback that takes a second and
    prints the secret (its stdout goes to the journal)."""
    doc = experiment(base_url)
    doc["title"] += " as ${token}"
    doc["method"].append(
        {
            "type": "action",
            "name": "wait-to-be-killed",
            "provider": {"type": "process", "path": "sleep", "arguments": "30"},
        }
    )
    doc["rollbacks"] = [
        {
            "type": "action",
            "name": "rollback-with-the-token",
            "secrets": ["app"],
            "provider": {
                "type": "process",
                "path": "sh",
                "arguments": ["-c", 'sleep 1; echo "rolled back with $1"', "--", "${token}"],
            },
        }
    ]
    return doc


def activity_started(run_dir: Path | None, name: str) -> bool:
    path = None if run_dir is None else run_dir / "events.jsonl"
    if path is None or not path.exists():
        return False
    return any(
        json.loads(line).get("name") == name and json.loads(line).get("kind") == "activity-start"
        for line in path.read_text().splitlines()
        if line.strip()
    )


@pytest.mark.slow
def test_a_canary_secret_stays_out_of_the_run_directory_when_gameday_run_is_killed_mid_chaos(echoing_target, tmp_path):
    profile, exp = tmp_path / "locustfile.py", tmp_path / "uses-secret.json"
    profile.write_text(LOCUSTFILE)
    exp.write_text(json.dumps(experiment_killed_mid_method(echoing_target)))
    spec = write_spec(
        tmp_path / "gd.yaml",
        name="secrets-kill9",
        target={"kind": "http", "base_url": echoing_target},
        load={"profile": str(profile), "shape": "constant_rate", "rate": 10, "duration": "40s"},
        chaos={"experiment": str(exp), "start_after": "2s"},
        warmup="1s",
        slos=[{"sli": "availability", "phase": "run", "objective": ">= 99%"}],
    )
    env = {**os.environ, "GAMEDAY_HOME": str(tmp_path), "GAMEDAY_TEST_SECRET": CANARY}
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [*GAMEDAY, "run", str(spec), "--reports", str(runs)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def run_dir():
        return next(runs.iterdir(), None) if runs.exists() else None

    try:
        assert wait_until(lambda: activity_started(run_dir(), "wait-to-be-killed"), 60), "chaos never got mid-method"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        run_dir = run_dir()
        assert wait_until(lambda: not processes_naming(run_dir), 30), "the chaos child (or Locust) outlived the kill"
    finally:
        proc.kill()
        for child in processes_naming(tmp_path):
            child.kill()

    journal = json.loads((run_dir / "journal.json").read_text())
    assert journal["status"] == "interrupted"
    assert [(r["activity"]["name"], r["status"]) for r in journal["rollbacks"]] == [
        ("rollback-with-the-token", "succeeded")
    ]
    assert journal["rollbacks"][0]["output"]["stdout"] == "rolled back with ***\n"
    assert journal["run"][1]["output"]["body"] == "bad credentials: Bearer ***"
    assert files_containing(run_dir, CANARY) == []
    report = subprocess.run(
        [*GAMEDAY, "report", str(run_dir)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert report.returncode == 4, report.stdout + report.stderr  # crashed: the harness died
    assert files_containing(run_dir, CANARY) == [] and CANARY not in report.stdout + report.stderr
