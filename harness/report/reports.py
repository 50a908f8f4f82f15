"""Every report of a run directory, rebuilt from the directory alone (see harness.report)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from harness.analysis.result import (
    RESULT_FILE,
    Analysis,
    analyse,
    exit_code,
    result_document,
)
from harness.errors import SpecError
from harness.files import atomic_write
from harness.report.html import render_report
from harness.report.junit import junit_xml
from harness.report.summary import summary_line, verdict_table

__all__ = ["ReportPaths", "load_analysis", "summary_line", "verdict_table", "write_reports"]

HTML_FILE, JUNIT_FILE = "report.html", "junit.xml"


@dataclass(frozen=True)
class ReportPaths:
    """Where the reports went, and the exit code the run deserves (harness.status.ExitCode)."""

    result: Path
    html: Path
    junit: Path
    exit_code: int
    analysis: Analysis


def load_analysis(run_dir: str | Path) -> Analysis:
    """The Analysis of `run_dir`; SpecError (exit 2) when it is not a readable run directory."""
    path = Path(run_dir)
    if not path.is_dir():
        raise SpecError(f"run directory '{run_dir}' does not exist; pass a folder under reports/runs/")
    if not (path / "events.jsonl").exists():
        raise SpecError(
            f"'{run_dir}' is not a run directory (it has no events.jsonl); "
            "pass a folder that `gameday run` wrote, e.g. reports/runs/<timestamp>-<name>"
        )
    try:
        return analyse(path)
    except OSError as exc:
        raise SpecError(f"cannot read run directory '{run_dir}': {exc}") from None


def write_reports(run_dir: str | Path) -> ReportPaths:
    """Write result.json, report.html and junit.xml into `run_dir`; return their paths and the exit code."""
    analysis = load_analysis(run_dir)
    document = result_document(analysis)
    path = Path(run_dir)
    # each through a temporary file renamed into place, so a report is whole or absent (a full
    # disk or a kill mid-write never leaves half a result.json for CI to read)
    result = atomic_write(path / RESULT_FILE, json.dumps(document, indent=2, allow_nan=False) + "\n")
    html = atomic_write(path / HTML_FILE, render_report(analysis, document))
    junit = atomic_write(path / JUNIT_FILE, junit_xml(document))
    return ReportPaths(result, html, junit, exit_code(analysis), analysis)
