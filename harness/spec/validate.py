"""Checks of a game day that look beyond the YAML: files, endpoints, timing, `chaos validate`,
and Locust importing the profile (the last two in child processes, side by side).

`check(context, parsed)` runs every check on whatever parsed, so a spec with a
typo in one SLO still gets its missing experiment reported in the same pass.
Each check adds `<file>: <yaml.path>: <message>` lines to `context.problems`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.spec import files, k8s_scope, profile_check
from harness.spec.models import LoadSpec
from harness.spec.profile_scan import ProfileFacts, scan_profile
from harness.spec.reader import Problems

CHAOS_VALIDATE_TIMEOUT_S = 60
EXPERIMENT_SUFFIXES = (".json", ".yaml", ".yml")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Context:
    """`check_experiments`: run the checks that start a child process (`chaos validate`, importing
    the profile with Locust); `check_files`: run every check that reads another file."""

    problems: Problems
    base_dir: Path
    check_experiments: bool = True
    check_files: bool = True


def base_dir(spec_path: Path, named: list[str]) -> str:
    """The directory relative spec paths resolve against (see harness.spec.loader's docstring)."""
    spec_dir = spec_path.parent
    candidates = (spec_dir, spec_dir.parent, Path.cwd())
    # The directory where most named files exist; a missing file then gets reported
    # against the directory where its siblings are.
    found = [sum((c / f).exists() for f in named) for c in candidates]
    return str(candidates[found.index(max(found))])


def check(context: Context, parsed: dict[str, Any]) -> None:
    """Every check below, on the parts of the spec that parsed."""
    facts = check_profile(context, parsed) if context.check_files else None
    if facts is not None:
        check_endpoints(context, parsed, facts.endpoints)
        check_correctness(context, parsed, facts.checks_correctness)
    readable = check_experiments(context, parsed) if context.check_files else []
    check_timing(context, parsed)
    k8s_scope.check(context, parsed, lambda relative: _resolve(context, relative))
    if context.check_files and context.check_experiments:
        check_in_children(context, parsed["load"] if facts is not None else None, readable)


def check_in_children(context: Context, load: LoadSpec | None, experiments: list[tuple[str, str, Path]]) -> None:
    """The checks that start a child process, side by side (each takes seconds): Locust importing the
    profile, and `chaos validate` on each (path, name, file) experiment that parsed."""
    with ThreadPoolExecutor(max_workers=1 + len(experiments)) as pool:
        probe = pool.submit(profile_check.problems, _resolve(context, load.profile), load) if load else None
        validations = [pool.submit(chaos_validate, file) for _, _, file in experiments]
        for where, message in probe.result() if probe else []:
            context.problems.add(where, message)
        for (path, name, file), validation in zip(experiments, validations):
            error = validation.result()
            if error:
                context.problems.add(
                    f"{path}.experiment", f"experiment {name!r} fails chaos validate: {error}{_looked_for(file, name)}"
                )


def check_profile(context: Context, parsed: dict[str, Any]) -> ProfileFacts | None:
    """Facts about the load profile (read, not run); reports a missing, unreadable or unparseable file."""
    load = parsed["load"]
    if load is None:
        return None
    path = _resolve(context, load.profile)
    try:
        facts = scan_profile(files.read_text(path))
    except files.FileProblem as exc:
        context.problems.add("load.profile", f"profile {load.profile!r} {exc}{_looked_for(path, load.profile)}")
        return None
    except SyntaxError as exc:
        context.problems.add(
            "load.profile", f"profile {load.profile!r} is not valid Python: {path}, line {exc.lineno}: {exc.msg}"
        )
        return None
    except ValueError as exc:  # ast refuses source holding a NUL byte
        context.problems.add("load.profile", f"profile {load.profile!r} is not valid Python: {exc}")
        return None
    return facts


def check_endpoints(context: Context, parsed: dict[str, Any], endpoints: frozenset[str] | None) -> None:
    """SLO and guardrail endpoints must be ones the profile requests (unknowable sets accept any)."""
    if endpoints is None:
        return
    for path, item in [*parsed["slos"], *parsed["guardrails"]]:
        if item.endpoint and item.endpoint not in endpoints:
            known = ", ".join(sorted(endpoints)) or "none found"
            context.problems.add(
                f"{path}.endpoint", f"unknown endpoint {item.endpoint!r}; the profile requests {known}"
            )


def check_correctness(context: Context, parsed: dict[str, Any], checks: bool) -> None:
    """A correctness SLO needs a profile that checks responses, or it could only ever be no-data."""
    if checks:
        return
    profile = parsed["load"].profile
    for path, slo in parsed["slos"]:
        if slo.sli == "correctness":
            context.problems.add(
                f"{path}.sli",
                f"'correctness' needs response checks, and profile {profile!r} has none; "
                "call harness.load.mark_correct(response, ok) in a catch_response block, "
                "or drop this SLO",
            )


def check_experiments(context: Context, parsed: dict[str, Any]) -> list[tuple[str, str, Path]]:
    """Each experiment file is readable JSON/YAML holding a mapping; (yaml path, name, file) of those
    that are, for `chaos validate` (check_in_children)."""
    readable = []
    for path, block in parsed["chaos"]:
        file = _resolve(context, block.experiment)
        problem = experiment_problem(file)
        if problem:
            context.problems.add(
                f"{path}.experiment", f"experiment {block.experiment!r} {problem}{_looked_for(file, block.experiment)}"
            )
        else:
            readable.append((path, block.experiment, file))
    return readable


def experiment_problem(file: Path) -> str | None:
    """Why `file` cannot be a Chaos Toolkit experiment at all, read the way `chaos run` reads it; None if it can."""
    if file.suffix not in EXPERIMENT_SUFFIXES:
        return f"must end in {', '.join(EXPERIMENT_SUFFIXES)} (Chaos Toolkit picks the parser by extension)"
    try:
        source = files.read_text(file)
    except files.FileProblem as exc:
        return str(exc)
    try:
        doc = json.loads(source) if file.suffix == ".json" else yaml.safe_load(source)
    except json.JSONDecodeError as exc:
        return f"is not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"
    except yaml.YAMLError as exc:
        return f"is not valid YAML: {' '.join(str(exc).split())}"
    except (ValueError, TypeError, RecursionError) as exc:
        return f"cannot be parsed: {exc}"
    if not isinstance(doc, dict):
        return (
            f"holds a {type(doc).__name__}, not a Chaos Toolkit experiment "
            "(a mapping with title, description and method)"
        )
    return None


def chaos_validate(path: Path) -> str | None:
    """None when `chaos validate path` succeeds, else its error lines (or why it could not run)."""
    # the `chaos` beside this interpreter first: `.venv/bin/gameday` works without an activated venv
    beside = Path(sys.executable).with_name("chaos")
    chaos = str(beside) if beside.exists() else shutil.which("chaos")
    if chaos is None:
        return "the `chaos` command is not installed (pip install chaostoolkit)"
    try:
        result = subprocess.run(
            [chaos, "--no-version-check", "--no-log-file", "validate", str(path)],
            capture_output=True,
            text=True,
            timeout=CHAOS_VALIDATE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {CHAOS_VALIDATE_TIMEOUT_S}s"
    if result.returncode == 0:
        return None
    lines = _ANSI.sub("", result.stdout + result.stderr).splitlines()
    errors = [line.split("ERROR]", 1)[1].strip() for line in lines if "ERROR]" in line]
    return "; ".join(errors) or (lines[-1] if lines else f"exit {result.returncode}")


def check_timing(context: Context, parsed: dict[str, Any]) -> None:
    """Warmup, chaos starts and the load's duration must leave a baseline and fit inside the load."""
    load, warmup = parsed["load"], parsed["warmup"]
    if load is None or warmup is None or not load.duration:
        return
    if warmup >= load.duration:
        context.problems.add("warmup", f"warmup {warmup:g}s leaves no time: the load lasts {load.duration:g}s")
    previous = None
    for path, block in parsed["chaos"]:
        _check_start(context, path, block.start_after, warmup, load.duration, previous)
        previous = block.start_after


def _check_start(
    context: Context, path: str, start: float, warmup: float, duration: float, previous: float | None
) -> None:
    where = f"{path}.start_after"
    if start >= duration:
        context.problems.add(where, f"chaos starts at {start:g}s, after the load ends at {duration:g}s")
    elif start <= warmup:
        context.problems.add(where, f"chaos starts at {start:g}s, within the {warmup:g}s warmup: there is no baseline")
    if previous is not None and start <= previous:
        context.problems.add(where, f"chaos blocks run in sequence: {start:g}s is not after the previous {previous:g}s")


def _looked_for(path: Path, named: str) -> str:
    """` (looked for /abs/path)` when the spec named the file by a relative path, else nothing."""
    return "" if str(path) == named else f" (looked for {path})"


def _resolve(context: Context, relative: str) -> Path:
    path = Path(relative)
    return path if path.is_absolute() else context.base_dir / path
