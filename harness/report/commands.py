"""The report subcommands of `gameday`: report, history, compare.

    register(subparsers)   adds them to the CLI's argparse subparsers

Each returns the process exit code; errors are raised as GamedayError and printed
once by harness.cli.main.
"""

from __future__ import annotations

import argparse
import errno
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from harness.errors import HarnessError, SpecError
from harness.events import EVENTS_FILE
from harness.files import disk_free, mount_point
from harness.status import ExitCode


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `report`, `history` and `compare` to the `gameday` command line."""
    report = subparsers.add_parser("report", help="rebuild report.html, junit.xml and result.json of a run")
    report.add_argument("run_dir", metavar="RUN_DIR", help="a run directory, e.g. reports/runs/<timestamp>-<name>")
    report.add_argument("--quiet", action="store_true", help="print only the summary line")
    report.set_defaults(func=cmd_report)

    history = subparsers.add_parser("history", help="write REPORTS_DIR/index.html: every run, newest first, trends")
    history.add_argument(
        "reports_dir", metavar="REPORTS_DIR", nargs="?", default="reports", help="where runs live (default: reports)"
    )
    history.set_defaults(func=cmd_history)

    compare = subparsers.add_parser("compare", help="judge run B against run A; exit 1 on a regression")
    compare.add_argument("run_a", metavar="RUN_A", help="the reference run (e.g. the last release)")
    compare.add_argument("run_b", metavar="RUN_B", help="the candidate run")
    compare.add_argument("--output", "-o", help="comparison HTML (default: RUN_B/comparison.html)")
    compare.add_argument(
        "--any-gameday", action="store_true", help="compare runs of different game days (normally refused)"
    )
    compare.set_defaults(func=cmd_compare)


def cmd_report(args: argparse.Namespace) -> int:
    from harness.report import summary_line, verdict_table, write_reports

    check_run_dir(Path(args.run_dir))
    for warning in run_dir_warnings(Path(args.run_dir)):
        print(f"warning: {warning}", file=sys.stderr)
    paths = write_reports_or_fail(Path(args.run_dir), write_reports)
    if not args.quiet:
        print(verdict_table(paths.analysis))
        print(f"wrote {paths.html}, {paths.junit}, {paths.result}")
    print(summary_line(paths.analysis))
    return paths.exit_code


def check_run_dir(path: Path) -> None:
    """SpecError (exit 2) saying what to pass instead when `path` is not a run directory gameday can read."""
    hint = "pass a folder that `gameday run` wrote, e.g. reports/runs/<timestamp>-<name>"
    if not path.exists():
        raise SpecError(f"run directory '{path}' does not exist; {hint}")
    if not path.is_dir():
        raise SpecError(f"'{path}' is a file, not a run directory; {hint}")
    try:
        names = {p.name for p in path.iterdir()}
    except OSError as exc:
        raise SpecError(f"cannot list run directory '{path}' ({exc.strerror}); check its permissions") from None
    if EVENTS_FILE not in names:
        found = ", ".join(sorted(names)[:5]) or "nothing"
        raise SpecError(f"'{path}' is not a run directory: it has no {EVENTS_FILE} (it holds {found}); {hint}")
    if "gameday.yaml" not in names and _written_by_gameday_run(path):
        raise SpecError(
            f"'{path}' was written by `gameday run` but its gameday.yaml is missing, so its SLOs are "
            f"unknown; copy the game day spec the run used to {path / 'gameday.yaml'} and run "
            f"`gameday report {path}` again"
        )


def run_dir_warnings(path: Path) -> list[str]:
    """What a reader of the report should know about damaged input: skipped lines, a missing spec."""
    warnings = []
    if not (path / "gameday.yaml").exists():
        warnings.append(
            f"'{path}' has no gameday.yaml (an ad-hoc Locust run?): no SLOs to judge, "
            "the report shows measurements only"
        )
    skipped = unreadable_lines(path)
    if skipped:
        where = ", ".join(f"{name}: {count}" for name, count in skipped.items())
        warnings.append(
            f"skipped {sum(skipped.values())} unreadable line(s) ({where}): torn by a crash or a full "
            "disk, or not JSON; the report is built from every other line"
        )
    return warnings


def unreadable_lines(path: Path) -> dict[str, int]:
    """Per JSON-lines file of the run directory, the non-blank lines that are not a JSON object with a
    numeric `ts`: the lines every reader skips (harness.analysis.rundir). Files with none are left out."""
    counts = {}
    for file in sorted([path / EVENTS_FILE, *path.glob("samples/*.jsonl"), *path.glob("ledger/*.jsonl")]):
        if file.is_file():
            count = _count_unreadable(file)
            if count:
                counts[str(file.relative_to(path))] = count
    return counts


def _count_unreadable(file: Path) -> int:
    bad = 0
    try:
        with file.open("rb") as handle:
            for line in handle:
                bad += bool(line.strip()) and not _readable(line)
    except OSError:
        return 0  # the analysis reports a file it cannot read
    return bad


class _Stamped(msgspec.Struct):
    """A JSON object with a numeric `ts` (its other keys are not read)."""

    ts: float


_STAMPED = msgspec.json.Decoder(_Stamped)  # about 50x faster than json.loads for this question


def _readable(line: bytes) -> bool:
    """Whether `line` is a JSON object with a numeric ts."""
    try:
        _STAMPED.decode(line)
        return True
    except (msgspec.DecodeError, msgspec.ValidationError):
        return False


def _written_by_gameday_run(path: Path) -> bool:
    """True when the timeline holds the orchestrator's run-start (an ad-hoc Locust run has none)."""
    try:
        with (path / EVENTS_FILE).open("rb") as handle:
            return any(b'"run-start"' in line and b'"harness"' in line for line in handle)
    except OSError:
        return False


def write_reports_or_fail(run_dir: Path, write: Callable[[Path], Any]) -> Any:
    """`write(run_dir)`, with a failure to write (full disk, read-only folder) as HarnessError (exit 4)."""
    started = time.time()
    try:
        return write(run_dir)
    except OSError as exc:
        _remove_partial_reports(run_dir, since=started - 1.0)
        raise HarnessError(cannot_write_message(run_dir, exc, "the reports")) from None


def _remove_partial_reports(run_dir: Path, since: float) -> None:
    """Delete the reports this failed attempt wrote (one may be cut short), so that no reader, such as
    `gameday history`, meets half a result.json; the run's recorded files are not touched."""
    from harness.report import HTML_FILE, JUNIT_FILE, RESULT_FILE

    for name in (RESULT_FILE, HTML_FILE, JUNIT_FILE):
        path = run_dir / name
        try:
            if path.stat().st_mtime >= since:
                path.unlink()
        except OSError:
            continue


def cannot_write_message(run_dir: Path, exc: OSError, what: str) -> str:
    """Why `what` could not be written under `run_dir`, and what to do; names the full disk and its mount."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"the disk is full: cannot write {what} under {run_dir} (filesystem mounted at "
            f"{mount_point(run_dir)}, {_free(run_dir)} free); free space there, then run "
            f"`gameday report {run_dir}` to rebuild the reports from what was recorded"
        )
    return f"cannot write {what} under {run_dir}: {exc.strerror or exc}; fix that, then run `gameday report {run_dir}`"


def _free(path: Path) -> str:
    free = disk_free(path)
    return "unknown space" if free is None else f"{free // 1024} KiB"


def cmd_history(args: argparse.Namespace) -> int:
    from harness.report.history import write_index

    print(f"wrote {write_index(args.reports_dir)}")
    return ExitCode.OK


def cmd_compare(args: argparse.Namespace) -> int:
    from harness.report import load_analysis
    from harness.report.compare import compare
    from harness.report.html import render_comparison

    for run_dir in (args.run_a, args.run_b):
        check_run_dir(Path(run_dir))
    a, b = load_analysis(args.run_a), load_analysis(args.run_b)
    name_a, name_b = (x.gameday.name if x.gameday else None for x in (a, b))
    if name_a != name_b and not args.any_gameday:
        raise SpecError(
            f"RUN_A is game day '{name_a}' but RUN_B is '{name_b}'; compare runs of the same game day, "
            "or pass --any-gameday"
        )
    result = compare(a, b)
    output = Path(args.output) if args.output else Path(args.run_b) / "comparison.html"
    output.write_text(render_comparison(a, b, result), encoding="utf-8")
    for m in result.metrics:
        if m.score != "pass":
            print(
                f"{m.score.upper():<9} {m.phase:<9} {m.metric:<12} {m.median_a:.2f} -> {m.median_b:.2f} {m.unit} "
                f"(p={m.p_value:.3g}) {m.why}"
            )
    for s in result.slos:
        if s.score != "pass":
            print(f"{s.score.upper():<9} SLO {s.slo}: {s.state_a} -> {s.state_b} ({s.observed_b})")
    print(
        f"{result.verdict.upper()} compare: score {result.score:.0f}/100 over {len(result.rows)} checks; "
        f"wrote {output} (exit {result.exit_code})"
    )
    return result.exit_code
