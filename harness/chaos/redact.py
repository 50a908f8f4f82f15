"""Keep an experiment's secrets out of the run directory.

Chaos Toolkit writes resolved secrets where we keep them: its debug log records every
process provider's arguments, and the journal records each probe's output (an http
body may echo an Authorization header). After `chaos run` ends, the values named in
the experiment's `secrets` block (inline strings, and `{"type": "env"}` entries
resolved from the environment the child ran with) are replaced by `***` in
journal*.json, chaos.log and chaos.out. Values shorter than 4 characters are left
alone (they would match unrelated text). The journal is redacted value by value, so it
stays valid JSON whatever the secret contains.

Secrets resolved elsewhere (vault, a provider's own environment lookups) are not known
to that pass. They are known inside the chaos child, though, and the gameday control
(harness.chaos.control) redacts there as things are written, with every value Chaos
Toolkit resolved: each log record on its way to chaos.log and chaos.out (RedactingFilter),
each timeline event, and the journal just before `chaos run` writes it. That is what
keeps secrets out when `gameday run` is killed with SIGKILL and the pass after the
child's exit never comes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

REDACTED = "***"
LOG_FILES = ("chaos.log", "chaos.out")
JOURNALS = "journal*.json"
MIN_LENGTH = 4  # shorter values would be replaced inside unrelated text; no real secret is that short


def secret_values(experiment: Mapping[str, Any], environ: Mapping[str, str]) -> set[str]:
    """Every non-empty secret value the experiment declares, as the child would resolve it."""
    values: set[str] = set()
    scopes = experiment.get("secrets") if isinstance(experiment, Mapping) else None
    for scope in (scopes or {}).values() if isinstance(scopes, Mapping) else ():
        for entry in scope.values() if isinstance(scope, Mapping) else ():
            value = _resolve(entry, environ)
            if value and len(value) >= MIN_LENGTH:
                values.add(value)
    return values


def _resolve(entry: Any, environ: Mapping[str, str]) -> str | None:
    if isinstance(entry, Mapping):
        if entry.get("type") == "env":
            return environ.get(str(entry.get("key", ""))) or (str(entry["default"]) if "default" in entry else None)
        return None
    return entry if isinstance(entry, str) else None


def resolved_values(secrets: Any) -> list[str]:
    """The values of Chaos Toolkit's resolved Secrets ({scope: {key: value}}), longest first, so that
    a secret that contains another is replaced whole."""
    values: set[str] = set()
    for scope in secrets.values() if isinstance(secrets, Mapping) else ():
        for value in scope.values() if isinstance(scope, Mapping) else ():
            if isinstance(value, str) and len(value) >= MIN_LENGTH:
                values.add(value)
    return sorted(values, key=len, reverse=True)


def read_experiment(path: str | Path) -> dict[str, Any]:
    """The experiment as a mapping ({} if it cannot be read: nothing to redact is better than a crash)."""
    try:
        text = Path(path).read_text()
        doc = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError):
        return {}
    return doc if isinstance(doc, dict) else {}


def redact_run_dir(run_dir: str | Path, secrets: Iterable[str]) -> None:
    """Replace every secret in the run directory's chaos files with `***`, in place."""
    ordered = sorted(set(secrets), key=len, reverse=True)  # a secret containing another goes first
    if not ordered:
        return
    run_dir = Path(run_dir)
    for journal in run_dir.glob(JOURNALS):
        _redact_json_file(journal, ordered)
    for name in LOG_FILES:
        _redact_text_file(run_dir / name, ordered)


def redact_text(text: str, secrets: list[str]) -> str:
    """`text` with each secret (longest first), in any form a log or a journal writes it, as `***`."""
    for secret in secrets:
        for form in _written_forms(secret):
            text = text.replace(form, REDACTED)
    return text


def _written_forms(secret: str) -> list[str]:
    """The secret as logs write it: raw, inside a Python repr (argument lists), inside JSON."""
    forms = {secret, repr(secret)[1:-1], repr(secret + "'")[1:-2], json.dumps(secret)[1:-1]}
    return sorted(forms, key=len, reverse=True)


def redact_value(value: Any, secrets: list[str]) -> Any:
    """A copy of a JSON-like value with every string (keys too) passed through redact_text."""
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, (list, tuple)):
        return [redact_value(v, secrets) for v in value]
    if isinstance(value, dict):
        return {redact_text(k, secrets): redact_value(v, secrets) for k, v in value.items()}
    return value


def redact_in_place(document: dict, secrets: list[str]) -> None:
    """Redact a dict in place (its nested values are replaced by redacted copies, never mutated), for
    a journal whose writer holds a reference to that very dict."""
    redacted = redact_value(document, secrets)
    document.clear()
    document.update(redacted)


def _redact_json_file(path: Path, secrets: list[str]) -> None:
    try:
        doc = json.loads(path.read_text())
    except ValueError:
        _redact_text_file(path, secrets)  # a journal cut short by a crash: redact it as text
        return
    path.write_text(json.dumps(redact_value(doc, secrets), indent=2))


def _redact_text_file(path: Path, secrets: list[str]) -> None:
    if not path.exists():
        return
    text = path.read_text(errors="surrogateescape")
    redacted = redact_text(text, secrets)
    if redacted != text:
        path.write_text(redacted, errors="surrogateescape")


class RedactingFilter(logging.Filter):
    """A handler filter that writes each record with its secrets as `***`.

    It runs inside `chaos run`, on the logging path of every activity and rollback, so it
    never raises: a record it cannot redact is replaced by a notice instead of reaching
    the file, and the activity that logged it carries on.
    """

    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self._redact(record)
        except Exception:  # noqa: BLE001 - logging must never fail a rollback
            record.msg, record.args, record.exc_info, record.exc_text = WITHHELD, None, None, None
        return True

    def _redact(self, record: logging.LogRecord) -> None:
        record.msg, record.args = redact_text(record.getMessage(), self.secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info, self.secrets)


WITHHELD = "[gameday: log record withheld, it could not be redacted]"


def install_log_redaction(secrets: list[str], logger_names: Iterable[str] = ("chaostoolkit", "")) -> None:
    """Add a RedactingFilter with `secrets` to every handler of the named loggers ("" is the root)
    and to logging's last-resort handler; a second call replaces the first one's secrets."""
    handlers = [h for name in logger_names for h in logging.getLogger(name).handlers]
    for handler in [*handlers, logging.lastResort]:
        if handler is None:
            continue
        for old in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
            handler.removeFilter(old)
        handler.addFilter(RedactingFilter(secrets))
