"""Labels and annotations on every object gameday creates in a cluster, and expiry parsing.

app.kubernetes.io/managed-by=gameday   every object gameday (or its experiments) creates
gameday.io/run=<run id>                the run that created it (Locust objects)
gameday.io/expires-at                  when `gameday cleanup --kubernetes` may remove it:
                                       epoch seconds ("1767225600") or RFC 3339
                                       ("2026-01-01T00:00:00Z"); both are accepted
gameday.io/ttl-seconds                 fallback when expires-at is missing or "0":
                                       creationTimestamp + ttl
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "gameday"
RUN_LABEL = "gameday.io/run"
EXPIRES_AT = "gameday.io/expires-at"
TTL_SECONDS = "gameday.io/ttl-seconds"
MANAGED_SELECTOR = f"{MANAGED_BY}={MANAGER}"
_RUN_ID_BAD = re.compile(r"[^a-z0-9-]+")


def run_id(run_dir_name: str) -> str:
    """A label-safe id for a run directory name (lowercase, <= 63 chars, alphanumeric ends)."""
    return _RUN_ID_BAD.sub("-", run_dir_name.lower()).strip("-")[-63:].strip("-") or "run"


def run_selector(run: str) -> str:
    return f"{MANAGED_SELECTOR},{RUN_LABEL}={run}"


def expiry_annotation(expires_at: float) -> str:
    """The expires-at value gameday writes: RFC 3339 in UTC, readable in `kubectl describe`."""
    return datetime.fromtimestamp(int(expires_at), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> float | None:
    """Epoch seconds from an epoch number/string or an RFC 3339 string; None if neither."""
    if isinstance(value, datetime):
        return value.timestamp()
    text = str(value).strip() if value is not None else ""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def expires_at(metadata: Mapping[str, Any]) -> float | None:
    """When an object expires: its expires-at annotation, else creation + ttl-seconds; None if it says neither.

    An expires-at of 0 (an experiment run by plain `chaos run`, with no harness to
    fill it in) falls back to the TTL, and is already expired without one.
    """
    annotations = metadata.get("annotations") or {}
    stamp = parse_time(annotations.get(EXPIRES_AT)) if EXPIRES_AT in annotations else None
    if stamp:
        return stamp
    created = parse_time(metadata.get("creationTimestamp") or metadata.get("creation_timestamp"))
    ttl = parse_time(annotations.get(TTL_SECONDS))
    if created is not None and ttl is not None:
        return created + ttl
    return stamp
