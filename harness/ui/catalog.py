"""The experiments the web UI may start: files in the project's `experiments/` folder, by name.

The folder comes from where this package is installed, never from user input, and
the UI's Run API takes a *name* that must be in `list_experiments()`; a path, a
name with a slash, or anything not listed is refused. Kubernetes experiments live
in `experiments/k8s/` and are not listed (the UI drives the local stack).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

import harness
from harness.errors import SpecError

EXPERIMENTS_DIR = Path(harness.__file__).resolve().parent.parent / "experiments"
SUFFIXES = (".json", ".yaml", ".yml")


@dataclass(frozen=True)
class Experiment:
    """One startable experiment: its file name (the API's key), title and path on disk."""

    name: str
    title: str
    path: Path


class UnknownExperiment(SpecError):
    """The name is not one of the listed experiments."""


def list_experiments(folder: Path = EXPERIMENTS_DIR) -> list[Experiment]:
    """Every experiment file directly in `folder`, sorted by name."""
    if not folder.is_dir():
        return []
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in SUFFIXES)
    return [Experiment(p.name, _title(p), p) for p in files]


def find(name: object, folder: Path = EXPERIMENTS_DIR) -> Experiment:
    """The listed experiment called `name`; UnknownExperiment (with the known names) otherwise."""
    known = {e.name: e for e in list_experiments(folder)}
    if not isinstance(name, str) or name not in known:
        shown = repr(name)[:80]
        raise UnknownExperiment(
            f"unknown experiment {shown}: pick one of {', '.join(known) or 'none'} "
            f"(only files in {folder} can be started)"
        )
    return known[name]


def _title(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
        doc = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError):
        return path.stem
    return str(doc.get("title") or path.stem) if isinstance(doc, dict) else path.stem
