"""Reports of a run directory: report.html for people, junit.xml and result.json for machines.

    write_reports(run_dir) -> ReportPaths     every report, rebuilt from the directory alone
    summary_line(analysis) -> str             one line for the end of `gameday run`
    verdict_table(analysis) -> str            SLO verdicts as a plain-text table
    post_summary(url, analysis)               optional webhook (harness.report.notify)

Every report is a pure function of the run directory (DESIGN.md "Run directory"):
`gameday report RUN_DIR` gives the same verdicts as the run that wrote it.
"""

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
from harness.report.html import render_report
from harness.report.junit import junit_xml
from harness.report.summary import summary_line, verdict_table

__all__ = ["ReportPaths", "load_analysis", "summary_line", "verdict_table", "write_reports"]

HTML_FILE, JUNIT_FILE = "report.html", "junit.xml"


@dataclass(frozen=True)
class ReportPaths:
    """Where the reports went, and the exit code the run deserves (DESIGN.md exit codes)."""

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
        raise SpecError(f"'{run_dir}' is not a run directory (it has no events.jsonl); "
                        "pass a folder that `gameday run` wrote, e.g. reports/runs/<timestamp>-<name>")
    try:
        return analyse(path)
    except OSError as exc:
        raise SpecError(f"cannot read run directory '{run_dir}': {exc}") from None


def write_reports(run_dir: str | Path) -> ReportPaths:
    """Write result.json, report.html and junit.xml into `run_dir`; return their paths and the exit code."""
    analysis = load_analysis(run_dir)
    document = result_document(analysis)
    path = Path(run_dir)
    result = _write(path / RESULT_FILE, json.dumps(document, indent=2, allow_nan=False) + "\n")
    html = _write(path / HTML_FILE, render_report(analysis, document))
    junit = path / JUNIT_FILE
    junit.write_bytes(junit_xml(document))
    return ReportPaths(result, html, junit, exit_code(analysis), analysis)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
