"""`gameday history [REPORTS_DIR]`: reports/index.html, every run newest first, with trends per game day.

    collect(reports_dir) -> list[RunSummary]       newest first
    write_index(reports_dir) -> Path               writes <reports_dir>/index.html

Runs are the directories holding an events.jsonl, directly under REPORTS_DIR or
under REPORTS_DIR/runs/. A run's result.json is used when it is at least as new
as its events.jsonl; otherwise the run is analysed from its files (nothing is
written into it). A directory that cannot be read is listed with its error
instead of stopping the page.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.analysis.result import (
    RESULT_FILE,
    RESULT_VERSION,
    analyse,
    result_document,
)
from harness.errors import SpecError
from harness.report.html import environment
from harness.report.summary import experiment_rows

INDEX_FILE = "index.html"


@dataclass(frozen=True)
class RunSummary:
    dir: Path
    name: str
    started: float | None
    outcome: str
    duration_s: float | None
    verdicts: tuple[dict[str, Any], ...] = ()
    experiments: tuple[dict[str, Any], ...] = ()  # experiment checks as verdict-shaped rows (summary.experiment_rows)
    error: str = ""
    report: str | None = None  # report.html relative to the index, when it exists

    @property
    def values(self) -> dict[str, float | None]:
        return {v["slo"]: v.get("observed") for v in self.verdicts}


@dataclass(frozen=True)
class Trend:
    name: str
    slos: tuple[str, ...]
    runs: tuple[RunSummary, ...]  # oldest first
    chart_id: str = ""
    specs: list[dict[str, Any]] = field(default_factory=list)


def run_dirs(reports_dir: Path) -> list[Path]:
    """Every directory under `reports_dir` or `reports_dir`/runs that has an events.jsonl."""
    found = [p.parent for pattern in ("*/events.jsonl", "runs/*/events.jsonl") for p in reports_dir.glob(pattern)]
    return sorted(set(found))


def collect(reports_dir: str | Path) -> list[RunSummary]:
    """A RunSummary for every run under `reports_dir`, newest first."""
    root = Path(reports_dir)
    if not root.is_dir():
        raise SpecError(
            f"reports directory '{reports_dir}' does not exist; pass the folder `gameday run` "
            "writes into (default: reports)"
        )
    runs = [_summary(root, path) for path in run_dirs(root)]
    return sorted(runs, key=lambda r: (r.started or 0.0, str(r.dir)), reverse=True)


def _summary(root: Path, path: Path) -> RunSummary:
    try:
        document = _document(path)
    except Exception as exc:  # noqa: BLE001 - one broken run must not hide the others
        return RunSummary(path, path.name, None, "unreadable", None, error=f"{type(exc).__name__}: {exc}")
    run = document["run"]
    load = run.get("load") or {}
    duration = load["end"] - load["start"] if load.get("start") is not None and load.get("end") is not None else None
    report = path / "report.html"
    return RunSummary(
        path,
        document["gameday"].get("name") or path.name,
        run.get("started"),
        run["outcome"],
        duration,
        tuple(document["verdicts"]),
        tuple(experiment_rows(document)),
        report=_relative_href(os.path.relpath(report, root)) if report.exists() else None,
    )


def _document(path: Path) -> Mapping[str, Any]:
    stored = path / RESULT_FILE
    if stored.exists() and stored.stat().st_mtime >= (path / "events.jsonl").stat().st_mtime:
        document = json.loads(stored.read_text(encoding="utf-8"))
        if document.get("version") == RESULT_VERSION:
            return document
    return result_document(analyse(path))


def trends(runs: list[RunSummary]) -> list[Trend]:
    """Per game day (two runs or more), its SLOs' observed values across runs, oldest first."""
    by_name: dict[str, list[RunSummary]] = {}
    for run in runs:
        if not run.error:
            by_name.setdefault(run.name, []).append(run)
    out = []
    for i, (name, group) in enumerate(sorted(by_name.items())):
        if len(group) < 2:
            continue
        slos = tuple(dict.fromkeys(label for run in group for label in run.values))
        specs = [
            {
                "id": f"trend-{i}-{j}",
                "title": slo,
                "unit": "value",
                "series": [{"key": slo, "label": slo, "color": "#0969da"}],
            }
            for j, slo in enumerate(slos)
        ]
        out.append(Trend(name, slos, tuple(reversed(group)), f"trend-{i}", specs))
    return out


def _trend_data(trend: Trend) -> dict[str, Any]:
    return {
        "t": [float(i + 1) for i in range(len(trend.runs))],
        "t0": 0,
        "xlabel": "run (oldest first)",
        "series": {slo: [run.values.get(slo) for run in trend.runs] for slo in trend.slos},
        "phases": [],
        "markers": [],
    }


def write_index(reports_dir: str | Path) -> Path:
    """Write `reports_dir`/index.html and return its path."""
    runs = collect(reports_dir)
    found = trends(runs)
    html = (
        environment()
        .get_template("history.html.j2")
        .render(runs=runs, trends=[{"trend": t, "data": _trend_data(t)} for t in found], reports_dir=str(reports_dir))
    )
    path = Path(reports_dir) / INDEX_FILE
    path.write_text(html, encoding="utf-8")
    return path


def _relative_href(path: str) -> str:
    """`path` as a link that stays relative: percent-encoded, and led by ./ so that a run folder
    named like a URL scheme (`javascript:...`) cannot turn the link into one."""
    return "./" + urllib.parse.quote(path.replace(os.sep, "/"))
