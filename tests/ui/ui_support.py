"""Helpers for `gameday ui` tests: the command line, a session in a child process, its HTTP API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import processes

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "loadprofiles" / "inference.py"

# Until harness.cli registers `ui` itself, register it the way the CLI will.
_SHIM = (
    "import sys\nfrom harness import cli\nfrom harness.ui.commands import register\n"
    "build = cli.build_parser\n"
    "def with_ui():\n    parser = build()\n"
    "    sub = next(a for a in parser._actions if a.__class__.__name__ == '_SubParsersAction')\n"
    "    'ui' in sub.choices or register(sub)\n    return parser\n"
    "cli.build_parser = with_ui\nsys.exit(cli.main(sys.argv[1:]))\n"
)


def gameday_command() -> list[str]:
    """`gameday` as a command line that knows `ui`."""
    return [sys.executable, "-c", _SHIM]


class UiSession:
    """`gameday ui` in a child process (its own session), with its HTTP API.

    `stop()` is Ctrl-C and a wait for the clean shutdown; whatever the command started and
    left (the stack's supervisord, Locust in its own session, `chaos run`) is then killed,
    also when a test timeout cuts the wait short (tests/processes.py)."""

    def __init__(self, tmp: Path, stack: str, base_port: int, web_port: int, *args: str):
        self.tmp, self.web_port = tmp, web_port
        self.reports = tmp / "runs"
        self.log = open(tmp / "ui.log", "wb")  # noqa: SIM115 - open for the child's whole life
        env = {**os.environ, "GAMEDAY_HOME": str(tmp / "home")}
        argv = [
            *gameday_command(),
            "ui",
            *args,
            "--stack-name",
            stack,
            "--base-port",
            str(base_port),
            "--web-port",
            str(web_port),
            "--reports",
            str(self.reports),
        ]
        self.owned = processes.Owned(argv, env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        self.proc = self.owned.proc
        self.left_behind: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            if "Locust web UI with the Game day tab" in self.output():  # not the notes naming the tab
                return
            time.sleep(0.2)
        raise TimeoutError(self.output())

    def output(self) -> str:
        return (self.tmp / "ui.log").read_text(errors="replace")

    def get(self, path: str) -> tuple[int, dict | str]:
        return self._call(urllib.request.Request(self.url + path))

    def post_json(self, path: str, body: dict) -> tuple[int, dict | str]:
        data = json.dumps(body).encode()
        return self._call(
            urllib.request.Request(
                self.url + path, data=data, method="POST", headers={"Content-Type": "application/json"}
            )
        )

    def post_form(self, path: str, form: dict) -> tuple[int, dict | str]:
        data = urllib.parse.urlencode(form).encode()
        return self._call(urllib.request.Request(self.url + path, data=data, method="POST"))

    def _call(self, req: urllib.request.Request) -> tuple[int, dict | str]:
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.status, _body(response.read(), response.headers.get_content_type())
        except urllib.error.HTTPError as exc:
            return exc.code, _body(exc.read(), exc.headers.get_content_type())

    def state(self) -> dict:
        code, body = self.get("/gameday/state")
        assert code == 200, (body, self.output()[-3000:])  # Locust's log has the view's traceback
        return body

    def wait_state(self, predicate, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state()
            if predicate(state):
                return state
            time.sleep(0.5)
        raise TimeoutError(json.dumps(state)[-3000:])

    def stop(self, timeout: float = 200.0) -> int | None:
        """Ctrl-C as a terminal sends it, and wait for the clean shutdown; its exit code (None if it
        had to be killed). What it left running is killed and listed in `left_behind`."""
        try:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGINT)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    pass
            return self.proc.poll()
        finally:
            self.left_behind = self.owned.kill()
            self.log.close()


def _body(raw: bytes, content_type: str) -> dict | str:
    return json.loads(raw) if content_type == "application/json" else raw.decode(errors="replace")


def ports() -> tuple[int, int]:
    """(stack base port, web port): they never overlap, as tests/support.py draws single ports and
    stack blocks from separate slices."""
    from support import free_base_port, free_port

    return free_base_port(), free_port()
