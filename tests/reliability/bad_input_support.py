"""Helpers for tests/reliability/test_bad_input.py: the real CLI in a subprocess, bad files, tmpfs mounts.

Permission cases. The tests run as root, and root reads a mode-000 file anyway. So the
CLI runs under `setpriv` with CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH dropped from its
bounding set: it stays uid 0 (it can still reach the interpreter under /root), but file
modes apply to it as to anyone. Running as `nobody` instead does not work here: the venv's
interpreter lives under /root (mode 700). Without setpriv the permission cases are skipped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
GAMEDAY = [sys.executable, "-m", "harness.cli"]
PROFILE = ROOT / "loadprofiles" / "inference.py"
NO_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]


@dataclass(frozen=True)
class Result:
    code: int
    output: str  # stdout and stderr together, as a person sees them

    def refused(self, code: int, *fragments: str) -> None:
        """Assert exit `code`, every fragment in the output, and no traceback."""
        assert self.code == code, f"exit {self.code}, expected {code}:\n{self.output[-3000:]}"
        assert "Traceback" not in self.output, self.output[-3000:]
        for fragment in fragments:
            assert fragment in self.output, f"{fragment!r} not in:\n{self.output[-3000:]}"


def gameday(*args: str, timeout: float = 120, home: Path | None = None, prefix: list[str] | None = None) -> Result:
    """Run `gameday ARGS` (python -m harness.cli) from the project root; a hang fails the test."""
    env = {**os.environ, **({"GAMEDAY_HOME": str(home)} if home else {})}
    done = subprocess.run(
        [*(prefix or []), *GAMEDAY, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return Result(done.returncode, done.stdout + done.stderr)


def write_spec(
    path: Path, profile: Path = PROFILE, experiment: Path | None = None, port: int = 9, options: dict | None = None
) -> Path:
    """A small game day against an http target on 127.0.0.1:`port` (nothing need listen: every case
    here is refused before the target is touched). The experiment goes in `chaos[0]`."""
    load = {"profile": str(profile), "shape": "constant_rate", "rate": 5, "duration": "20s"}
    if options:
        load["options"] = options
    spec = {
        "name": path.stem,
        "target": {"kind": "http", "base_url": f"http://127.0.0.1:{port}"},
        "load": load,
        "warmup": "2s",
        "slos": [{"sli": "availability", "phase": "run", "objective": ">= 99%"}],
    }
    if experiment is not None:
        spec["chaos"] = [{"experiment": str(experiment), "start_after": "8s"}]
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def experiment(method: list | None = None, **extra) -> dict:
    """A Chaos Toolkit experiment with `method` (a harmless probe by default)."""
    doc = {"version": "1.0.0", "title": "bad input", "description": "a test experiment"}
    doc["method"] = (
        method
        if method is not None
        else [
            {
                "type": "probe",
                "name": "noop",
                "provider": {"type": "python", "module": "os.path", "func": "exists", "arguments": {"path": "/"}},
            }
        ]
    )
    doc.update(extra)
    return doc


def action(provider: dict) -> dict:
    return {"type": "action", "name": "the-action", "provider": provider}


def unreadable_prefix() -> list[str]:
    """The command prefix under which a mode-000 file cannot be read (root ignores file modes
    unless setpriv drops the capabilities that let it); fails the test without setpriv."""
    import pytest

    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv is missing, so root reads a mode-000 file anyway: apt-get install -y util-linux")
    return NO_DAC


def public_tmp() -> Path:
    """A directory every user can reach (pytest's tmp_path is under a 0700 directory)."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="gameday-bad-input-"))
    path.chmod(0o755)
    return path


@contextlib.contextmanager
def tmpfs(mount_at: Path, size: str):
    """A tmpfs of `size` at `mount_at`, unmounted on exit. Only root may mount: other users skip
    (the one case that cannot run there); as root a failed mount fails the test."""
    import pytest

    if os.geteuid() != 0:
        pytest.skip("the full-disk cases mount a small tmpfs, which needs root (CI runs as root)")
    mount_at.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_at)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs at {mount_at}: {done.stderr.strip() or done.returncode}")
    try:
        yield mount_at
    finally:
        if subprocess.run(["umount", str(mount_at)], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_at)], capture_output=True, check=False)


def fill(directory: Path, name: str = "filler") -> int:
    """Write zeros into `directory/name` until the disk refuses more; the bytes written."""
    written = 0
    chunk = b"\0" * 65536
    fd = os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        while True:
            try:
                written += os.write(fd, chunk)
            except OSError:
                if len(chunk) == 1:
                    return written
                chunk = chunk[: len(chunk) // 2]
    finally:
        os.close(fd)


def remount(mount_at: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(mount_at)], check=True, capture_output=True)
