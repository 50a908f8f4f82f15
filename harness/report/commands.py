"""The report subcommands of `gameday`: report, history, compare.

    register(subparsers)   adds them to the CLI's argparse subparsers

Each returns the process exit code; errors are raised as GamedayError and printed
once by harness.cli.main.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import SpecError


def register(subparsers) -> None:
    """Add `report`, `history` and `compare` to the `gameday` command line."""
    report = subparsers.add_parser("report", help="rebuild report.html, junit.xml and result.json of a run")
    report.add_argument("run_dir", metavar="RUN_DIR", help="a run directory, e.g. reports/runs/<timestamp>-<name>")
    report.add_argument("--quiet", action="store_true", help="print only the summary line")
    report.set_defaults(func=cmd_report)

    history = subparsers.add_parser("history", help="write REPORTS_DIR/index.html: every run, newest first, trends")
    history.add_argument("reports_dir", metavar="REPORTS_DIR", nargs="?", default="reports",
                         help="where runs live (default: reports)")
    history.set_defaults(func=cmd_history)

    compare = subparsers.add_parser("compare", help="judge run B against run A; exit 1 on a regression")
    compare.add_argument("run_a", metavar="RUN_A", help="the reference run (e.g. the last release)")
    compare.add_argument("run_b", metavar="RUN_B", help="the candidate run")
    compare.add_argument("--output", "-o", help="comparison HTML (default: RUN_B/comparison.html)")
    compare.add_argument("--any-gameday", action="store_true",
                         help="compare runs of different game days (normally refused)")
    compare.set_defaults(func=cmd_compare)


def cmd_report(args: argparse.Namespace) -> int:
    from harness.report import summary_line, verdict_table, write_reports

    paths = write_reports(args.run_dir)
    if not args.quiet:
        print(verdict_table(paths.analysis))
        print(f"wrote {paths.html}, {paths.junit}, {paths.result}")
    print(summary_line(paths.analysis))
    return paths.exit_code


def cmd_history(args: argparse.Namespace) -> int:
    from harness.report.history import write_index

    print(f"wrote {write_index(args.reports_dir)}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from harness.report import load_analysis
    from harness.report.compare import compare
    from harness.report.html import render_comparison

    a, b = load_analysis(args.run_a), load_analysis(args.run_b)
    name_a, name_b = (x.gameday.name if x.gameday else None for x in (a, b))
    if name_a != name_b and not args.any_gameday:
        raise SpecError(f"RUN_A is game day '{name_a}' but RUN_B is '{name_b}'; compare runs of the same game day, "
                        "or pass --any-gameday")
    result = compare(a, b)
    output = Path(args.output) if args.output else Path(args.run_b) / "comparison.html"
    output.write_text(render_comparison(a, b, result), encoding="utf-8")
    for m in result.metrics:
        if m.score != "pass":
            print(f"{m.score.upper():<9} {m.phase:<9} {m.metric:<12} {m.median_a:.2f} -> {m.median_b:.2f} {m.unit} "
                  f"(p={m.p_value:.3g}) {m.why}")
    for s in result.slos:
        if s.score != "pass":
            print(f"{s.score.upper():<9} SLO {s.slo}: {s.state_a} -> {s.state_b} ({s.observed_b})")
    print(f"{result.verdict.upper()} compare: score {result.score:.0f}/100 over {len(result.rows)} checks; "
          f"wrote {output} (exit {result.exit_code})")
    return result.exit_code
