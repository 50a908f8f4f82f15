"""Import the load profile the way `gameday run` will, in a child process, before any load starts.

    problems(profile, load) -> list[(yaml path, message)]

The static scan (profile_scan) cannot see a profile that raises at import, defines
no User class, or does not accept an option the spec passes; Locust would only
say so after the target is up. So the profile is imported by Locust's own loader
in a child (harness.load.profile_probe), with the very arguments the run passes
(harness.load.child.locust_argv), and its findings come back as problems on
`load.profile` or `load.options.<key>`. The child, not this process, imports
locust: its gevent monkey-patching must never reach the orchestrator.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.load.child import locust_argv  # the same argv as the run
from harness.spec.models import LoadSpec

PROBE_TIMEOUT_S = 60
_BOOT = "import locust; from harness.load.profile_probe import main; main()"


def problems(profile: Path, load: LoadSpec) -> list[tuple[str, str]]:
    """(yaml path, message) for everything Locust would refuse about this profile and these options."""
    with tempfile.TemporaryDirectory(prefix="gameday-profile-check-") as scratch:
        result, failure = _run_probe(profile, load, Path(scratch))
    if failure:
        return [("load.profile", f"profile {load.profile!r} could not be imported with Locust: {failure}")]
    return [_located(problem, load, result.get("custom_options", [])) for problem in result["problems"]]


def _run_probe(profile: Path, load: LoadSpec, scratch: Path) -> tuple[dict, str | None]:
    argv = locust_argv(
        profile.resolve(),
        "http://127.0.0.1:1",
        scratch / "run",
        load.shape or "constant_rate",
        load.duration or 1.0,
        load.params,
        None,
        load.options,
    )
    result_file = scratch / "probe.json"
    try:
        # cwd is a fresh directory, as the run's is (Locust puts the cwd on sys.path)
        done = subprocess.run(
            [sys.executable, "-c", _BOOT, str(result_file), *argv[3:]],
            cwd=scratch,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {}, f"importing it did not finish within {PROBE_TIMEOUT_S}s (does it block at import?)"
    try:
        return json.loads(result_file.read_text(encoding="utf-8")), None
    except (OSError, ValueError):
        lines = (done.stderr or done.stdout).strip().splitlines()
        return {}, f"the check exited {done.returncode}: {lines[-1] if lines else 'no output'}"


def _located(problem: dict, load: LoadSpec, custom: list[str]) -> tuple[str, str]:
    where = f"{problem['file']}, line {problem['line']}" if problem.get("line") else problem["file"]
    kind, message = problem["kind"], problem["message"]
    if kind == "syntax":
        return "load.profile", f"profile {load.profile!r} is not valid Python: {where}: {message}"
    if kind == "import":
        return "load.profile", (
            f"profile {load.profile!r} raised {message} when Locust imported it ({where}); "
            f"fix it, then check with: locust -f {problem['file']} --list"
        )
    if kind == "no-users":
        return "load.profile", f"profile {load.profile!r} {message}"
    return _option_problem(problem, load, custom)


def _option_problem(problem: dict, load: LoadSpec, custom: list[str]) -> tuple[str, str]:
    option = problem.get("option") or ""
    key = next((k for k in load.options if f"--{k.replace('_', '-')}" == option), None)
    accepted = ", ".join(o.lstrip("-").replace("-", "_") for o in custom) or "none"
    path = f"load.options.{key}" if key else "load.options"
    return path, (
        f"profile {load.profile!r} does not accept this: {problem['message']} (options it accepts: {accepted})"
    )
