"""Checks that keep a Kubernetes game day inside its allowed namespaces, before anything runs.

- `load.where`/`load.workers` belong to kubernetes targets; `workers` to `where: cluster`.
- Every namespace an experiment names must be in the target's `allowed_namespaces`:
  literal `ns`/`namespace` arguments anywhere in it, and the `default` (or literal
  value) of a configuration key called `ns`/`namespace` (one read from
  $GAMEDAY_K8S_NAMESPACE is the target's namespace: the harness sets it). `${...}` references are
  resolved through the configuration; a configuration read from the environment
  without a default is filled in by the harness with the target's namespace.
  A chaosk8s call without `ns` acts in chaosk8s's default namespace, `default`.
- Only providers known to stay inside a namespace may run against a cluster: python
  ones from the namespaced chaosk8s modules (NAMESPACED_MODULES) or from gameday's
  own `harness.` package. A `process` provider (it could run `kubectl --context
  prod`), a cluster-scoped module (chaosk8s.node: drain, cordon...) or any other
  python module (it could load the kubeconfig itself) is refused; so is a control
  from outside `harness.`.
- With `where: cluster` the sink reader runs beside the Locust master in the cluster
  (harness.targets.k8s.plan), started through the plugin's `--gameday-sink-*`
  options: `load.sink` may only use the options those take (CLUSTER_SINK_OPTIONS).
- An experiment's `secrets` may not carry chaosk8s's connection settings
  (KUBERNETES_CONTEXT, KUBERNETES_HOST, KUBECONFIG, ...): chaosk8s reads its
  secrets before the environment, so they would override the context the
  harness hands the chaos child.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

NS_KEYS = ("ns", "namespace")
HARNESS_NS_ENV = "GAMEDAY_K8S_NAMESPACE"
_REF = re.compile(r"^\$\{([^}]+)\}$")
CHAOSK8S_DEFAULT_NS = "default"  # every namespaced chaosk8s function's `ns` default
# chaosk8s modules whose every function acts in the namespace given as `ns`
# (tests/targets/test_kubernetes_spec.py checks this against the installed chaosk8s)
NAMESPACED_MODULES = frozenset(
    f"chaosk8s.{kind}.{part}"
    for kind in ("pod", "deployment", "networking", "service", "statefulset", "replicaset", "daemonset", "secret")
    for part in ("actions", "probes")
)
NO_CLUSTER_CALL = frozenset({"chaosk8s.pod.probes.should_be_found_in_logs"})  # reads a value, calls nothing
HARNESS_MODULES = "harness."
# load.sink options the Locust plugin's --gameday-sink-* flags take (harness.load.sink.add_locust_arguments)
CLUSTER_SINK_OPTIONS = ("bootstrap", "topic", "id_field", "url", "exchange", "queue", "callable")
# what chaosk8s.create_k8s_api_client reads from secrets (before the environment) to reach a cluster
CONNECTION_KEY = re.compile(r"^(KUBERNETES_\w+|KUBECONFIG)$")


def check(context: Any, parsed: dict[str, Any], resolve: Callable[[str], Path]) -> None:
    """Add a problem for each load field or experiment namespace outside the target's scope."""
    target, load = parsed["target"], parsed["load"]
    kubernetes = target is not None and getattr(target, "kind", "") == "kubernetes"
    if load is not None and not kubernetes and target is not None:
        if load.where != "local":
            context.problems.add("load.where", f"'where: {load.where}' needs a kubernetes target")
    if load is not None and load.workers is not None and load.where != "cluster":
        context.problems.add("load.workers", "workers applies to 'where: cluster'; use processes for local Locust")
    if kubernetes and load is not None and load.where == "cluster" and load.sink is not None:
        for key in load.sink.options:
            if key not in CLUSTER_SINK_OPTIONS:
                context.problems.add(
                    f"load.sink.{key}",
                    "with 'where: cluster' the sink runs beside the Locust master, "
                    f"which takes only {', '.join(CLUSTER_SINK_OPTIONS)}",
                )
    if not kubernetes or not context.check_files:
        return
    allowed = set(target.allowed_namespaces)
    for path, block in parsed["chaos"]:
        file = resolve(block.experiment)
        doc = _read(file)
        for where, namespace in experiment_namespaces(file):
            if namespace not in allowed:
                context.problems.add(
                    f"{path}.experiment",
                    f"experiment {block.experiment!r} names namespace "
                    f"{namespace!r} at {where}, which is not in allowed_namespaces {sorted(allowed)}",
                )
        for problem in scope_problems(doc):
            context.problems.add(f"{path}.experiment", f"experiment {block.experiment!r}: {problem}")


def scope_problems(doc: Any) -> list[str]:
    """Why an experiment could reach outside its namespace or context: providers, controls, secrets."""
    if not isinstance(doc, dict):
        return []
    out = []
    for where, provider in _providers(doc, ""):
        kind, module = provider.get("type"), provider.get("module")
        if kind == "process":
            out.append(
                f"{where} is a process provider ({provider.get('path')!r}); a command can reach any "
                "cluster or context, so a kubernetes game day may only use python providers"
            )
        elif kind == "python" and not _allowed_module(module, control="controls[" in where):
            out.append(
                f"{where} calls python module {module!r}, which is not known to stay inside a namespace; "
                "a kubernetes game day may call chaosk8s's namespaced modules (pod, deployment, networking, "
                "service, statefulset, replicaset, daemonset, secret) and harness.*"
            )
    secrets = _mapping_at(doc, "secrets")
    for scope, values in secrets.items():
        for key in values if isinstance(values, dict) else ():
            if CONNECTION_KEY.match(str(key)):
                out.append(
                    f"secrets.{scope}.{key} would choose the cluster chaosk8s connects to; the harness "
                    "sets the context from the target (allowed by $GAMEDAY_ALLOWED_CONTEXTS): remove it"
                )
    return out


def _mapping_at(doc: dict[Any, Any], key: str) -> dict[Any, Any]:
    """doc[key] when it is a mapping, else {} (`chaos validate` reports a malformed experiment)."""
    value = doc.get(key)
    return value if isinstance(value, dict) else {}


def _allowed_module(module: Any, control: bool) -> bool:
    """harness.* anywhere; the namespaced chaosk8s modules as activities (they are not controls)."""
    if not isinstance(module, str):
        return False
    return module.startswith(HARNESS_MODULES) or (not control and module in NAMESPACED_MODULES)


def _providers(node: Any, path: str) -> Iterator[tuple[str, dict]]:
    """(where, provider) of every activity and control in the experiment, wherever it sits."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if key == "provider" and isinstance(value, dict):
                yield here, value
            elif key not in ("configuration", "secrets"):
                yield from _providers(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _providers(value, f"{path}[{i}]")


def _read(file: Path) -> Any:
    try:
        text = file.read_text(encoding="utf-8")
        return json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError):
        return None  # check_experiments reports an unreadable experiment


def experiment_namespaces(file: Path) -> list[tuple[str, str]]:
    """(where, namespace) for every namespace the experiment names; empty if it cannot be read.

    A chaosk8s call with no `ns` argument names chaosk8s's default namespace.
    """
    doc = _read(file)
    if not isinstance(doc, dict):
        return []
    config = _mapping_at(doc, "configuration")
    found = [(f"configuration.{k}", v) for k in NS_KEYS if k in config for v in _config_values(config[k])]
    for where, value in _ns_arguments(doc, ""):
        ref = _REF.match(value)
        if ref is None:
            found.append((where, value))
        elif ref.group(1) in config and ref.group(1) not in NS_KEYS:
            found += [(f"{where} (via ${{{ref.group(1)}}})", v) for v in _config_values(config[ref.group(1)])]
    for where, provider in _providers(doc, ""):
        module, func = provider.get("module"), provider.get("func")
        arguments = _mapping_at(provider, "arguments")
        if module in NAMESPACED_MODULES and f"{module}.{func}" not in NO_CLUSTER_CALL and "ns" not in arguments:
            found.append((f"{where}.arguments (no ns: chaosk8s's default)", CHAOSK8S_DEFAULT_NS))
    return found


def _config_values(entry: Any) -> list[str]:
    if isinstance(entry, str):
        return [entry]
    if isinstance(entry, dict) and entry.get("type") == "env" and entry.get("key") == HARNESS_NS_ENV:
        return []  # the harness sets it to the target's namespace
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
