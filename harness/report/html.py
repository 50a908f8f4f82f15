"""report.html: one self-contained page a person reads to judge a run.

    render_report(analysis, document) -> str

jinja2 with autoescape on: everything that came from the target (error messages,
journal outputs, endpoint names) is escaped. The only markup marked safe is ours:
the vendored uPlot script and stylesheet (harness/report/static/, MIT) and the
chart data, which is JSON with `<`, `>` and `&` written as \\u escapes so that no
string inside it can close the <script> element that holds it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from harness.analysis.result import Analysis
from harness.report.charts import chart_data, metric_key, variant_key
from harness.report.compare import Comparison
from harness.report.failures import top_errors
from harness.report.journal import experiment_views
from harness.report.summary import format_duration, headline, scoped_sli

PHASE_ORDER = ("warmup", "baseline", "fault", "recovery", "run")
REQUEST_CHARTS = [
    {
        "id": "chart-latency",
        "title": "Latency (all endpoints)",
        "unit": "ms",
        "series": [
            {"key": "latency.p50", "label": "p50", "color": "#0969da"},
            {"key": "latency.p95", "label": "p95", "color": "#bf8700"},
            {"key": "latency.p99", "label": "p99", "color": "#cf222e"},
            {"key": "generator.lag.p99", "label": "load generator's own lag p99", "color": "#57606a"},
        ],
    },
    {
        "id": "chart-throughput",
        "title": "Throughput by outcome",
        "unit": "req/s",
        "series": [
            {"key": "ok", "label": "ok", "color": "#1a7f37"},
            {"key": "error", "label": "error", "color": "#cf222e"},
            {"key": "rate_limited", "label": "rate-limited (429)", "color": "#8250df"},
        ],
    },
    {
        "id": "chart-errors",
        "title": "Error rate",
        "unit": "%",
        "series": [{"key": "error_rate", "label": "error rate", "color": "#cf222e"}],
    },
]
EVENTS_CHART = {
    "id": "chart-events",
    "title": "Kafka end-to-end delivery (by production second)",
    "unit": "ms",
    "series": [
        {"key": "e2e.p50", "label": "e2e p50", "color": "#0969da"},
        {"key": "e2e.p99", "label": "e2e p99", "color": "#cf222e"},
        {"key": "lost", "label": "lost events", "color": "#000000", "scale": "events", "points": True},
        {"key": "duplicated", "label": "duplicated events", "color": "#bf8700", "scale": "events", "points": True},
    ],
}
ENDPOINT_COLUMNS = ("requests", "throughput", "availability", "latency.p50", "latency.p95", "latency.p99")
VARIANT_COLUMNS = ("requests", "availability", "latency.p50", "latency.p99", "correctness")
PALETTE = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#57606a")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The report templates' environment (autoescaped, undefined names are errors)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("harness.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(ms=fmt_ms, pct=fmt_pct, num=fmt_num, utc=fmt_utc, duration=format_duration, scoped=scoped_sli)
    env.globals.update(static=static, json_script=json_script)
    return env


def render_report(analysis: Analysis, document: Mapping[str, Any]) -> str:
    """The HTML report of one run (see the module docstring)."""
    t0 = _t0(document)
    charts: dict[str, Any] = {**chart_data(analysis), "t0": t0}
    context = {
        "doc": document,
        "head": headline(document),
        "t0": t0,
        "rel": lambda ts: fmt_rel(ts, t0),
        "verdicts": document["verdicts"],
        "phase_rows": _phase_rows(document),
        "endpoint_tables": _endpoint_tables(document),
        "degradation": document["degradation"],
        "recovery": document["recovery"],
        "experiments": experiment_views(analysis.run_dir),
        "charts": charts,
        "errors": top_errors(analysis.run_dir),
        # a worker that came back is a marker on the chart, not a loss for the headline
        "worker_losses": [m for m in charts["markers"] if m["kind"] == "generator" and "back" not in m],
        "chart_specs": REQUEST_CHARTS
        + ([EVENTS_CHART] if charts["has_events"] else [])
        + variant_charts(charts)
        + metric_charts(analysis),
        "variant_tables": _variant_tables(document),
        "metric_rows": document["metrics"]["series"],
    }
    return environment().get_template("report.html.j2").render(**context)


def variant_charts(charts: dict[str, Any]) -> list[dict[str, Any]]:
    """The variants side by side: one latency p99 chart and one correctness chart, a line per variant."""
    names = sorted({key.split(":")[1] for key in charts["series"] if key.startswith("variant:")})
    if not names:
        return []

    def lines(sli: str) -> list[dict[str, str]]:
        return [
            {"key": variant_key(name, sli), "label": name, "color": PALETTE[i % len(PALETTE)]}
            for i, name in enumerate(names)
        ]

    return [
        {
            "id": "chart-variant-latency",
            "title": "Latency p99 by variant",
            "unit": "ms",
            "series": lines("latency.p99"),
        },
        {
            "id": "chart-variant-correctness",
            "title": "Correctness by variant",
            "unit": "%",
            "series": lines("correctness"),
        },
    ]


def metric_charts(analysis: Analysis) -> list[dict[str, Any]]:
    """A chart per metric series the game day reads (its SLOs' and its `chart:` expressions)."""
    metrics = getattr(analysis, "metrics", None)
    specs = []
    for i, (source, expression) in enumerate(metrics.series if metrics is not None else ()):
        specs.append(
            {
                "id": f"chart-metric-{i}",
                "title": f"{expression} ({source})",
                "unit": "value",
                "series": [
                    {"key": metric_key(source, expression), "label": expression, "color": PALETTE[i % len(PALETTE)]}
                ],
            }
        )
    return specs


def _variant_tables(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per phase (warmup left out), one row per variant with its SLIs over all endpoints."""
    slis = document["variants"]["slis"]
    tables = []
    for name in PHASE_ORDER[1:]:
        rows = [
            {"variant": variant, **{c: (phases.get(name, {}).get("*") or {}).get(c) for c in VARIANT_COLUMNS}}
            for variant, phases in sorted(slis.items())
            if (phases.get(name, {}).get("*") or {}).get("requests")
        ]
        if rows:
            tables.append({"phase": name, "rows": rows})
    return tables


def _t0(document: Mapping[str, Any]) -> float | None:
    return (document["run"].get("load") or {}).get("start") or document["run"].get("started")


def _phase_rows(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name in PHASE_ORDER:
        phase = document["phases"].get(name) or {}
        for start, end in phase.get("windows", ()):
            rows.append(
                {
                    "name": name,
                    "start": start,
                    "end": end,
                    "seconds": phase.get("seconds", 0),
                    "generator_bound": phase.get("generator_bound", False),
                    "generator_bound_seconds": phase.get("generator_bound_seconds", 0),
                }
            )
    return rows


def _endpoint_tables(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per phase (warmup left out), one row per endpoint with the report's columns and apdex if computed."""
    tables = []
    for name in PHASE_ORDER[1:]:
        endpoints = document["slis"].get(name)
        if not endpoints:
            continue
        rows = [
            {"endpoint": ep, **{c: values.get(c) for c in ENDPOINT_COLUMNS}, "apdex": _apdex(values)}
            for ep, values in sorted(endpoints.items(), key=lambda kv: kv[0] != "*")
            if values.get("requests")
        ]
        if rows:
            tables.append({"phase": name, "rows": rows})
    return tables


def _apdex(values: dict[str, Any]) -> str:
    found = [(k, v) for k, v in values.items() if k.startswith("apdex(") and v is not None]
    return ", ".join(f"{k[6:-1]}: {v:.3f}" for k, v in found) or "–"


# ---- filters and globals ---------------------------------------------------------


def fmt_ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:.1f} ms"


def fmt_pct(ratio: float | None, digits: int = 2) -> str:
    return "–" if ratio is None else f"{ratio * 100:.{digits}f}%"


def fmt_num(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def fmt_utc(ts: float | None) -> str:
    return "–" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_rel(ts: float | None, t0: float | None) -> str:
    """Seconds since load start, e.g. 't+42.0s' (what the chart axis shows)."""
    if ts is None:
        return "–"
    return f"t+{ts - t0:.1f}s" if t0 is not None else fmt_utc(ts)


def json_script(value: Any) -> Markup:
    """JSON safe to inline inside <script type="application/json">: no '<', '>' or '&' survive."""
    text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


@cache
def static(name: str) -> Markup:
    """A vendored file from harness/report/static/, inlined as trusted markup."""
    return Markup(resources.files("harness.report").joinpath("static", name).read_text(encoding="utf-8"))


COMPARE_CHARTS = [
    {
        "id": "chart-compare-p99",
        "title": "Latency p99, reference (A) and candidate (B)",
        "unit": "ms",
        "series": [
            {"key": "a.p99", "label": "A p99", "color": "#0969da"},
            {"key": "b.p99", "label": "B p99", "color": "#cf222e"},
        ],
    },
    {
        "id": "chart-compare-errors",
        "title": "Error rate, A and B",
        "unit": "%",
        "series": [
            {"key": "a.error_rate", "label": "A error rate", "color": "#0969da"},
            {"key": "b.error_rate", "label": "B error rate", "color": "#cf222e"},
        ],
    },
]


def render_comparison(a: Analysis, b: Analysis, comparison: Comparison) -> str:
    """The comparison page of two runs (harness.report.compare.Comparison), A's phases shaded."""
    from harness.report.compare import overlay_data

    return (
        environment()
        .get_template("compare.html.j2")
        .render(c=comparison, charts=overlay_data(a, b), chart_specs=COMPARE_CHARTS)
    )
