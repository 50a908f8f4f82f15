"""The most frequent error messages the load generator saw, per endpoint, for the report.

    top_errors(run_dir, limit=20) -> list[ErrorCount]

The messages are whatever the target answered (status lines, exception text,
response bodies the profile quoted): untrusted, shown escaped by the template.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from harness.samples import samples_path

MESSAGE_CHARS = 300
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class ErrorCount:
    endpoint: str
    message: str
    count: int


def top_errors(run_dir: str | Path, limit: int = 20) -> list[ErrorCount]:
    """The `limit` commonest (endpoint, message) pairs over the whole run, commonest first."""
    counts: Counter[tuple[str, str]] = Counter()
    path = samples_path(run_dir)
    if not path.exists():
        return []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if '"errors"' not in line:
                continue
            _add(counts, line)
    return [ErrorCount(encodable(ep), encodable(msg[:MESSAGE_CHARS]), n) for (ep, msg), n in counts.most_common(limit)]


def encodable(text: str) -> str:
    """`text` with lone surrogates replaced by U+FFFD, so that it can be written as UTF-8.

    JSON lets a target send "\\ud800" (a half of a surrogate pair); json.loads turns it into a
    Python str that every UTF-8 writer rejects, which would cost the run its report.
    """
    return LONE_SURROGATE.sub("\ufffd", text)


def _add(counts: Counter, line: str) -> None:
    try:
        row = json.loads(line)
    except ValueError:
        return
    errors = row.get("errors") if isinstance(row, dict) else None
    if isinstance(errors, dict):
        for message, count in errors.items():
            if isinstance(count, int):
                counts[(str(row.get("endpoint", "?")), str(message))] += count
