"""Plain-text forms of a run's outcome, for the terminal and for webhooks.

summary_line(analysis) -> str    one line for the end of `gameday run`
verdict_table(analysis) -> str   the SLO verdicts, then the experiments', as an aligned text table
scoped_sli(verdict) -> str       the SLI with its variant, comparison or metric agg
headline(document) -> Headline   the facts both of those and the HTML headline show
experiment_rows(document)        each experiment check as a verdict-shaped row, for every listing
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.analysis.result import Analysis, exit_code, result_document
from harness.status import RunStatus

# What a terminal or a CI log viewer acts on instead of showing: C0/C1 controls and DEL (ANSI escapes
# that recolour, clear or retitle the screen, OSC 8 links, OSC 52 clipboard writes), line breaks
# (a new line starting "::" is a GitHub Actions workflow command), Unicode line/paragraph separators
# and bidi overrides (text that reads differently from what it holds).
UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
OUTCOME_WORDS: dict[str, str] = {
    "pass": "PASS",
    "fail": "FAIL",
    "inconclusive": "INCONCLUSIVE",
    **{status: status.upper().replace("-", " ") for status in RunStatus if status != RunStatus.COMPLETED},
}


@dataclass(frozen=True)
class Headline:
    outcome: str  # pass | fail | aborted | interrupted | target-failed | crashed
    word: str  # PASS, FAIL, ...
    name: str
    target: str
    duration_s: float | None
    passed: int
    total: int
    exit_code: int


def headline(document: Mapping[str, Any]) -> Headline:
    """The headline facts of a result document (harness.analysis.result.result_document)."""
    run, gameday = document["run"], document["gameday"]
    load = run.get("load") or {}
    duration = (load["end"] - load["start"]) if load.get("start") is not None and load.get("end") is not None else None
    verdicts = document["verdicts"]
    return Headline(
        run["outcome"],
        OUTCOME_WORDS.get(run["outcome"], run["outcome"].upper()),
        gameday.get("name") or "(unnamed game day)",
        describe_target(gameday.get("target")),
        duration,
        sum(v["state"] == "pass" for v in verdicts),
        len(verdicts),
        document["exit_code"],
    )


def experiment_rows(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each experiment check (harness.analysis.experiment_checks) shaped as a verdict (`slo`, `state`,
    `objective`, `observed`, `observed_text`), so that every listing of verdicts shows it the same
    way; [] for a result.json written before the checks existed."""
    return [
        {
            "slo": f"experiment {c['block']}: {c['experiment']}",
            "experiment": c["experiment"],
            "state": c["state"],
            "objective": "runs as written",
            "observed": None,
            "observed_text": c["reason"],
        }
        for c in document.get("experiment_checks") or ()
    ]


def describe_target(target: dict[str, Any] | None) -> str:
    """'local (default)', 'http https://staging.example', 'kubernetes ns=serving'..."""
    if not target:
        return "unknown target"
    kind = target.get("kind", "?")
    extra = [f"{k}={v}" for k, v in target.items() if k != "kind" and v not in (None, "", [], {})]
    return f"{kind} ({', '.join(map(str, extra))})" if extra else str(kind)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown duration"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def summary_line(analysis: Analysis) -> str:
    """E.g. 'FAIL kill-one-model-replica: 3/4 SLOs passed in 2m00s; failed: latency.p99 ... (exit 1)'."""
    document = result_document(analysis)
    head = headline(document)
    line = f"{head.word} {head.name}: {head.passed}/{head.total} SLOs passed in {format_duration(head.duration_s)}"
    failed = [f"{v['slo']} (observed {v['observed_text']})" for v in document["verdicts"] if v["state"] != "pass"]
    failed += [f"{e['slo']} ({e['observed_text']})" for e in experiment_rows(document) if e["state"] != "pass"]
    if failed:
        line += "; not passed: " + "; ".join(failed)
    return printable(f"{line} (exit {exit_code(analysis)})")


def verdict_table(analysis: Analysis) -> str:
    """The SLO verdicts as a plain-text table, one row per SLO, columns aligned; then a row per
    experiment, which is judged too (harness.analysis.experiment_checks): did it run as written?"""
    document = result_document(analysis)
    rows: list[tuple[str, ...]] = [("VERDICT", "SLI", "PHASE", "ENDPOINT", "OBJECTIVE", "OBSERVED")]
    for v in document["verdicts"]:
        observed = v["observed_text"] + (f" ({v['reason']})" if v["reason"] else "")
        rows.append((v["state"].upper(), scoped_sli(v), v["phase"], v["endpoint"] or "*", v["objective"], observed))
    for e in experiment_rows(document):
        rows.append(
            (
                e["state"].upper(),
                "experiment",
                "fault",
                e["experiment"],
                e["objective"],
                e["observed_text"],
            )
        )
    if len(rows) == 1:
        return "no SLOs in this game day"
    rows = [tuple(map(printable, row)) for row in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(r, widths)), r[-1]]) for r in rows)


def scoped_sli(verdict: Mapping[str, Any]) -> str:
    """'latency.p99{canary vs stable}', 'latency.p99{canary}', 'metric:lag max', or the bare SLI."""
    compare, metric = verdict.get("compare"), verdict.get("metric") or {}
    if compare:
        return f"{verdict['sli']}{{{compare.get('variant')} vs {compare.get('against')}}}"
    if verdict.get("variant"):
        return f"{verdict['sli']}{{{verdict['variant']}}}"
    if metric.get("agg"):
        return f"{verdict['sli']} {metric['agg']}"
    if metric.get("within") is not None:
        return f"{verdict['sli']} within {metric['within']:g}s"
    return verdict["sli"]


def printable(text: str) -> str:
    """`text` as one inert line: every character in UNSHOWABLE written as a visible escape (`\\x1b`,
    `\\n`...), so that names and texts the target or the spec carry cannot steer the terminal or
    the CI log that shows the summary."""
    return UNSHOWABLE.sub(_escape, text)


def _escape(match: re.Match) -> str:
    return match.group().encode("unicode_escape").decode("ascii")
