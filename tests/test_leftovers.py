"""The session-end check (tests/leftovers.py) fails a suite that leaves a process behind.

Each test runs a real pytest on a tiny test file of its own, with the plugin loaded the
way tests/conftest.py loads it, and reads its exit code and output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

TESTS = Path(__file__).resolve().parent

# A daemon, as supervisord is: the shell exits at once, `sleep` is reparented to init,
# out of the test's process group and tree. The test writes its pid for the check below.
LEAKS_A_DAEMON = """
import subprocess
from pathlib import Path

def test_starts_a_daemon_and_forgets_it():
    out = subprocess.run(["sh", "-c", "sleep 600 >/dev/null 2>&1 & echo $!"],
                         capture_output=True, text=True, check=True).stdout
    Path("{pidfile}").write_text(out.strip())
"""

CLEANS_UP = """
import subprocess

def test_starts_a_process_and_stops_it():
    proc = subprocess.Popen(["sleep", "600"], start_new_session=True)
    proc.kill()
    proc.wait()
"""


def inner_pytest(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess:
    test_file = tmp_path / "test_inner.py"
    test_file.write_text(source.replace("{pidfile}", str(tmp_path / "daemon.pid")))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "leftovers",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            "-c",
            os.devnull,
            "-o",
            "leftover_grace=2",
            *args,
            str(test_file),
        ],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("workers", [[], ["-n", "1"]], ids=["serial", "xdist"])
def test_a_process_left_running_fails_the_session_and_is_killed(tmp_path, workers):
    result = inner_pytest(tmp_path, LEAKS_A_DAEMON, *workers)
    pid = int((tmp_path / "daemon.pid").read_text())
    try:
        out = result.stdout + result.stderr
        assert result.returncode == 1, out
        assert "1 passed" in out, out  # the test itself passed; the check failed the session
        assert "still running" in out and f"pid {pid}," in out and "sleep 600" in out, out
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    finally:
        if psutil.pid_exists(pid):
            psutil.Process(pid).kill()


@pytest.mark.parametrize("workers", [[], ["-n", "1"]], ids=["serial", "xdist"])
def test_a_session_that_stops_what_it_started_passes(tmp_path, workers):
    result = inner_pytest(tmp_path, CLEANS_UP, *workers)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "still running" not in result.stdout + result.stderr
