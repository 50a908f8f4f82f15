"""The orchestrator side of `gameday ui`: target up, the Locust web UI as a child, clean shutdown.

    launch(options) -> exit code

Steps: build and validate the session's spec (before anything starts) ▶ target up
(a running local stack is reused and left running) ▶ Locust child with the plugin,
the profile and the Game day extension ▶ print the URL ▶ wait. Ctrl-C or SIGTERM
(which `harness.cli` turns into KeyboardInterrupt) ▶ SIGTERM to Locust, which rolls
back a running experiment and writes the last report before it exits ▶ target down
(only a stack this command started). Plain Python: locust is never imported here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.clock import wait_until
from harness.errors import HarnessError, SpecError
from harness.load.child import INJECT
from harness.proc import Child, listening
from harness.run.orchestrator import new_run_dir
from harness.status import ExitCode
from harness.targets.local import LocalRun
from harness.ui.session import SessionSpec, session_spec

EXTENSION = Path(__file__).with_name("extension.py")
STARTUP_TIMEOUT_S = 60.0
SHUTDOWN_TIMEOUT_S = 330.0  # Locust waits up to 300 s for rollbacks and the last report


@dataclass(frozen=True)
class UiOptions:
    """What `gameday ui` was asked for."""

    gameday: str | None = None
    profile: str | None = None
    target: str = "local"
    stack_name: str = "default"
    base_port: int | None = None
    defects: tuple[str, ...] = ()
    web_host: str = "127.0.0.1"
    web_port: int = 8089
    web_login: bool = False
    reports: str = "reports/runs"


def launch(options: UiOptions, out: Callable[[str], None] = print) -> int:
    """Run the session until Ctrl-C/SIGTERM or until Locust exits; returns Locust's exit code (0 on Ctrl-C)."""
    spec = session_spec(options.gameday, options.profile, options.stack_name)
    if options.target != spec.target_kind:
        raise SpecError(f"--target {options.target}: the session's target is '{spec.target_kind}'")
    run_dir = new_run_dir(options.reports, spec.name)
    try:
        spec.write(run_dir / "gameday.yaml")
    except SpecError:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    for note in spec.notes:
        out(f"note: {note}")
    target = _target(spec, options)
    try:
        host, env = _target_up(target, spec)
        return _serve(locust_argv(spec, options, host, run_dir), env, options, out)
    finally:
        if target is not None and target.config is not None:
            out(f"stopping {target.describe()}" if target.started else f"leaving {target.describe()} running")
            target.down()


def locust_argv(spec: SessionSpec, options: UiOptions, host: str, run_dir: Path) -> list[str]:
    """The Locust web UI command line: plugin, profile, extension; recording into `run_dir`."""
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        f"{INJECT},{spec.profile},{EXTENSION}",
        "--host",
        host,
        "--web-host",
        options.web_host,
        "--web-port",
        str(options.web_port),
        "--gameday-run-dir",
        str(run_dir),
        "--gameday-ui-spec",
        str(run_dir / "gameday.yaml"),
        *spec.locust_args,
    ]
    return argv + (["--web-login"] if options.web_login else [])


def _target(spec: SessionSpec, options: UiOptions) -> LocalRun | None:
    if spec.target_kind != "local":
        return None
    defects = tuple(spec.document["target"].get("defects") or ()) + options.defects
    return LocalRun(options.stack_name, defects, options.base_port)


def _target_up(target: LocalRun | None, spec: SessionSpec) -> tuple[str, dict[str, str]]:
    if target is None:
        assert spec.base_url is not None  # an http game day: load_gameday required its base_url
        return spec.base_url, dict(os.environ)
    target.up()
    sink = {"GAMEDAY_UI_SINK": json.dumps(target.sink_argv())} if target.sink_argv() else {}
    return target.host, {**os.environ, **target.env(), **sink}


def _serve(argv: list[str], env: dict[str, str], options: UiOptions, out: Callable[[str], None]) -> int:
    # SIGTERM if `gameday ui` dies (even by kill -9): Locust's own clean stop, which rolls back
    # a running experiment and writes the last report, instead of a web UI sending load forever.
    child = Child.start(argv, parent_death=signal.SIGTERM, env=env)
    try:
        _wait_for_web(child, options)
        out(f"Locust web UI with the Game day tab: http://{options.web_host}:{options.web_port}/  (Ctrl-C to stop)")
        return child.wait()
    except KeyboardInterrupt:
        out("stopping: a running experiment is rolled back and the last test's report is written ...")
        return _stop(child)
    finally:
        if child.running:
            _stop(child)


def _wait_for_web(child: Child, options: UiOptions) -> None:
    if not wait_until(
        lambda: not child.running or listening(options.web_host, options.web_port, 0.5), STARTUP_TIMEOUT_S
    ):
        raise HarnessError(
            f"the Locust web UI did not listen on {options.web_host}:{options.web_port} "
            f"within {STARTUP_TIMEOUT_S:g}s; is the port taken? pass --web-port"
        )
    if not child.running:
        raise HarnessError(f"Locust exited at start-up (exit {child.returncode}); see its output above")


def _stop(child: Child) -> int:
    """SIGTERM to Locust's group and wait for its rollbacks and report; SIGKILL if it hangs."""
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        child.stop(signal.SIGTERM, SHUTDOWN_TIMEOUT_S)
        return ExitCode.OK
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
