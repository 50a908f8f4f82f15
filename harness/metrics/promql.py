"""PromQL range queries to a Prometheus server, for `kind: prometheus` metrics sources.

    query_range(url, expr, start, end, step, timeout) -> list of result series
    fetch(url, exprs, start, end, step, path)          every expression, one line each, into `path`

Users who already run Prometheus keep using it: the expressions an SLO or a chart
names are asked of `/api/v1/query_range` (the HTTP API every Prometheus serves) over
the run's span when the run ends, and the answers are kept in the run directory
(harness.metrics.store), so the report never asks the server again.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from harness.errors import TargetError
from harness.files import JsonlAppender

MAX_POINTS = 11_000  # Prometheus refuses a range query of more points than this per series


class QueryError(TargetError):
    """Prometheus could not be asked, or refused the query (its own message)."""


def query_range(url: str, expr: str, start: float, end: float, step: float, timeout: float = 30.0) -> list[dict]:
    """The `matrix` result of `expr` over [start, end] at `step` seconds; QueryError otherwise."""
    step = max(step, (end - start) / MAX_POINTS)
    query = urllib.parse.urlencode({"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"})
    request = urllib.request.Request(
        f"{url.rstrip('/')}/api/v1/query_range",
        data=query.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:  # 400/422: a bad expression; the body says why
        body = _json_or_none(exc)
        raise QueryError(f"HTTP {exc.code}: {(body or {}).get('error', exc.reason)}") from None
    except (OSError, ValueError) as exc:
        raise QueryError(f"{type(exc).__name__}: {exc}") from None
    if not isinstance(body, dict) or body.get("status") != "success":
        raise QueryError(f"Prometheus answered {str(body)[:200]}")
    data = body.get("data") or {}
    if data.get("resultType") != "matrix":
        raise QueryError(f"expected a range vector (matrix), got {data.get('resultType')!r}")
    return list(data.get("result") or [])


def _json_or_none(exc: urllib.error.HTTPError) -> dict | None:
    try:
        return json.loads(exc.read())
    except (OSError, ValueError):
        return None


def fetch(url: str, exprs: list[str], start: float, end: float, step: float, path: Path) -> list[str]:
    """Query every expression and append one line each to `path`; returns the errors (empty: all answered)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    appender = JsonlAppender(path)
    errors = []
    try:
        for expr in exprs:
            row: dict[str, Any] = {"ts": round(time.time(), 3), "expr": expr, "start": start, "end": end, "step": step}
            try:
                row["result"] = query_range(url, expr, start, end, step)
            except QueryError as exc:
                row["error"] = str(exc)
                errors.append(f"{expr}: {exc}")
            appender.append([row])
    finally:
        appender.close()
    return errors
