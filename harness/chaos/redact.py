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
here and are not redacted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

REDACTED = "***"
LOG_FILES = ("chaos.log", "chaos.out")
JOURNALS = "journal*.json"
MIN_LENGTH = 4   # shorter values would be replaced inside unrelated text; no real secret is that short


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
    ordered = sorted(set(secrets), key=len, reverse=True)   # a secret containing another goes first
    if not ordered:
        return
    run_dir = Path(run_dir)
    for journal in run_dir.glob(JOURNALS):
        _redact_json_file(journal, ordered)
    for name in LOG_FILES:
        _redact_text_file(run_dir / name, ordered)


def _redact_text(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        for form in _written_forms(secret):
            text = text.replace(form, REDACTED)
    return text


def _written_forms(secret: str) -> list[str]:
    """The secret as logs write it: raw, inside a Python repr (argument lists), inside JSON."""
    forms = {secret, repr(secret)[1:-1], repr(secret + "'")[1:-2], json.dumps(secret)[1:-1]}
    return sorted(forms, key=len, reverse=True)


def _redact_value(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return _redact_text(value, secrets)
    if isinstance(value, list):
        return [_redact_value(v, secrets) for v in value]
    if isinstance(value, dict):
        return {_redact_text(k, secrets): _redact_value(v, secrets) for k, v in value.items()}
    return value


def _redact_json_file(path: Path, secrets: list[str]) -> None:
    try:
        doc = json.loads(path.read_text())
    except ValueError:
        _redact_text_file(path, secrets)   # a journal cut short by a crash: redact it as text
        return
    path.write_text(json.dumps(_redact_value(doc, secrets), indent=2))


def _redact_text_file(path: Path, secrets: list[str]) -> None:
    if not path.exists():
        return
    text = path.read_text(errors="surrogateescape")
    redacted = _redact_text(text, secrets)
    if redacted != text:
        path.write_text(redacted, errors="surrogateescape")
