"""Checks that keep a Kubernetes game day inside its allowed namespaces, before anything runs.

- `load.where`/`load.workers` belong to kubernetes targets; `workers` to `where: cluster`.
- Every namespace an experiment names must be in the target's `allowed_namespaces`:
  literal `ns`/`namespace` arguments anywhere in it, and the `default` (or literal
  value) of a configuration key called `ns`/`namespace` (one read from
  $GAMEDAY_K8S_NAMESPACE is the target's namespace: the harness sets it). `${...}` references are
  resolved through the configuration; a configuration read from the environment
  without a default is filled in by the harness with the target's namespace.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

NS_KEYS = ("ns", "namespace")
HARNESS_NS_ENV = "GAMEDAY_K8S_NAMESPACE"
_REF = re.compile(r"^\$\{([^}]+)\}$")


def check(context: Any, parsed: dict[str, Any], resolve) -> None:
    """Add a problem for each load field or experiment namespace outside the target's scope."""
    target, load = parsed["target"], parsed["load"]
    kubernetes = target is not None and getattr(target, "kind", "") == "kubernetes"
    if load is not None and not kubernetes and target is not None:
        if load.where != "local":
            context.problems.add("load.where", f"'where: {load.where}' needs a kubernetes target")
    if load is not None and load.workers is not None and load.where != "cluster":
        context.problems.add("load.workers", "workers applies to 'where: cluster'; use processes for local Locust")
    if not kubernetes or not context.check_files:
        return
    allowed = set(target.allowed_namespaces)
    for path, block in parsed["chaos"]:
        file = resolve(block.experiment)
        for where, namespace in experiment_namespaces(file):
            if namespace not in allowed:
                context.problems.add(f"{path}.experiment", f"experiment {block.experiment!r} names namespace "
                                     f"{namespace!r} at {where}, which is not in allowed_namespaces {sorted(allowed)}")


def experiment_namespaces(file: Path) -> list[tuple[str, str]]:
    """(where, namespace) for every namespace the experiment names; empty if it cannot be read."""
    try:
        text = file.read_text(encoding="utf-8")
        doc = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError):
        return []     # check_experiments reports an unreadable experiment
    if not isinstance(doc, dict):
        return []
    config = doc.get("configuration") if isinstance(doc.get("configuration"), dict) else {}
    found = [(f"configuration.{k}", v) for k in NS_KEYS if k in config for v in _config_values(config[k])]
    for where, value in _ns_arguments(doc, ""):
        ref = _REF.match(value)
        if ref is None:
            found.append((where, value))
        elif ref.group(1) in config and ref.group(1) not in NS_KEYS:
            found += [(f"{where} (via ${{{ref.group(1)}}})", v) for v in _config_values(config[ref.group(1)])]
    return found


def _config_values(entry: Any) -> list[str]:
    if isinstance(entry, str):
        return [entry]
    if isinstance(entry, dict) and entry.get("type") == "env" and entry.get("key") == HARNESS_NS_ENV:
        return []     # the harness sets it to the target's namespace
    if isinstance(entry, dict) and isinstance(entry.get("default"), str):
        return [entry["default"]]
    return []


def _ns_arguments(node: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if key in NS_KEYS and isinstance(value, str) and not path.startswith("configuration"):
                yield here, value
            elif key != "configuration" or path:
                yield from _ns_arguments(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _ns_arguments(value, f"{path}[{i}]")
