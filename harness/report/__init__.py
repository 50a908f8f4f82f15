"""Reports of a run directory: report.html for people, junit.xml and result.json for machines.

    write_reports(run_dir) -> ReportPaths     every report, rebuilt from the directory alone
    summary_line(analysis) -> str             one line for the end of `gameday run`
    verdict_table(analysis) -> str            SLO verdicts as a plain-text table
    post_summary(url, analysis)               optional webhook (harness.report.notify)

Every report is a pure function of the run directory (docs/architecture.md "Run directory"):
`gameday report RUN_DIR` gives the same verdicts as the run that wrote it.
"""

from typing import Any

# The names below load pandas and scipy (about 1.5 s). They are imported on first use,
# so commands that never build a report (`validate`, `stack`, `cleanup`) start fast.
_PUBLIC = (
    "ReportPaths",
    "load_analysis",
    "summary_line",
    "verdict_table",
    "write_reports",
    "HTML_FILE",
    "JUNIT_FILE",
    "RESULT_FILE",
)
__all__ = ["ReportPaths", "load_analysis", "summary_line", "verdict_table", "write_reports"]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        from harness.report import reports

        return getattr(reports, name)
    raise AttributeError(f"module 'harness.report' has no attribute {name!r}")
