"""Kubernetes game day specs: load.where/workers, the namespace scope of experiments, and --dry-run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.spec.loader import load_gameday

ROOT = Path(__file__).resolve().parents[2]
GAMEDAY = ROOT / "gamedays" / "k8s" / "kill-model-replica.yaml"
PROFILE = ROOT / "loadprofiles" / "inference.py"


def write_spec(
    tmp_path: Path,
    load_extra: str = "where: cluster, workers: 3",
    target: str | None = None,
    experiment: dict | None = None,
) -> Path:
    target = target or "{kind: kubernetes, context: dev, namespace: gameday, allowed_namespaces: [gameday]}"
    chaos = ""
    if experiment is not None:
        (tmp_path / "exp.json").write_text(json.dumps(experiment))
        chaos = f"chaos: {{experiment: {tmp_path / 'exp.json'}, start_after: 20s}}\n"
    spec = tmp_path / "g.yaml"
    spec.write_text(
        f"name: g\ntarget: {target}\nload: {{profile: {PROFILE}, rate: 10, duration: 60s, {load_extra}}}\n"
        f'{chaos}warmup: 5s\nslos: [{{sli: availability, phase: run, objective: ">= 99%"}}]\n'
    )
    return spec


def experiment(ns_argument: str, config_default: str = "gameday") -> dict:
    return {
        "title": "t",
        "description": "d",
        "configuration": {"ns": {"type": "env", "key": "OTHER_NS", "default": config_default}},
        "method": [
            {
                "type": "action",
                "name": "kill",
                "provider": {
                    "type": "python",
                    "module": "chaosk8s.pod.actions",
                    "func": "terminate_pods",
                    "arguments": {"label_selector": "app=x", "ns": ns_argument},
                },
            }
        ],
    }


def test_where_cluster_and_workers_load_for_a_kubernetes_target(tmp_path):
    gameday = load_gameday(write_spec(tmp_path), check_experiments=False)
    assert (gameday.load.where, gameday.load.workers) == ("cluster", 3)


def test_where_cluster_is_refused_for_a_local_target(tmp_path):
    with pytest.raises(SpecError, match="needs a kubernetes target"):
        load_gameday(write_spec(tmp_path, "where: cluster", target="{kind: local}"), check_experiments=False)


def test_workers_without_where_cluster_is_refused(tmp_path):
    with pytest.raises(SpecError, match="workers applies to 'where: cluster'"):
        load_gameday(write_spec(tmp_path, "workers: 2"), check_experiments=False)


def test_namespace_outside_the_allow_list_is_refused(tmp_path):
    target = "{kind: kubernetes, context: dev, namespace: prod, allowed_namespaces: [gameday]}"
    with pytest.raises(SpecError, match="namespace 'prod' is not in allowed_namespaces"):
        load_gameday(write_spec(tmp_path, target=target), check_experiments=False)


def test_experiment_naming_another_namespace_literally_is_refused(tmp_path):
    with pytest.raises(SpecError, match="names namespace 'kube-system'"):
        load_gameday(write_spec(tmp_path, experiment=experiment("kube-system")), check_experiments=False)


def test_experiment_reaching_another_namespace_through_configuration_is_refused(tmp_path):
    with pytest.raises(SpecError, match="names namespace 'prod'"):
        load_gameday(
            write_spec(tmp_path, experiment=experiment("${ns}", config_default="prod")), check_experiments=False
        )


def test_experiment_inside_the_allow_list_loads(tmp_path):
    gameday = load_gameday(write_spec(tmp_path, experiment=experiment("${ns}")), check_experiments=False)
    assert gameday.chaos


def test_every_k8s_experiment_stays_in_the_shipped_game_days_namespace():
    for spec in (ROOT / "gamedays" / "k8s").glob("*.yaml"):
        load_gameday(spec, check_experiments=False)


def test_dry_run_prints_the_plan_and_creates_no_run_directory(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(GAMEDAY), "--dry-run", "--reports", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "KUBECONFIG": str(tmp_path / "none")},
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "kubernetes context 'kind-gameday', namespace 'gameday'" in out
    assert "Deployment gameday-locust-dry-run-worker replicas=2" in out
    assert "Deployment gameday-locust-dry-run-master replicas=1" in out
    assert "chaosk8s.pod.actions.terminate_pods" in out and "scale_deployment" in out
    assert "availability[POST /v1/score]@fault >= 99%" in out
    assert not (tmp_path / "runs").exists()


# ---- what an experiment may call against a cluster (harness.spec.k8s_scope) -------------
def with_method(provider: dict, **extra) -> dict:
    return {
        "title": "t",
        "description": "d",
        **extra,
        "method": [{"type": "action", "name": "act", "provider": provider}],
    }


def refused(tmp_path, doc: dict) -> str:
    with pytest.raises(SpecError) as info:
        load_gameday(write_spec(tmp_path, experiment=doc), check_experiments=False)
    return str(info.value)


def test_experiment_secrets_cannot_choose_the_kubernetes_context(tmp_path):
    doc = experiment("${ns}")
    doc["secrets"] = {"k8s": {"KUBERNETES_CONTEXT": "prod"}}
    doc["method"][0]["provider"]["secrets"] = ["k8s"]
    assert "secrets.k8s.KUBERNETES_CONTEXT would choose the cluster" in refused(tmp_path, doc)


def test_experiment_secrets_cannot_point_chaosk8s_at_another_api_server(tmp_path):
    doc = experiment("${ns}")
    doc["secrets"] = {"k8s": {"KUBERNETES_HOST": "https://prod:6443", "KUBERNETES_API_KEY": "t"}}
    message = refused(tmp_path, doc)
    assert "secrets.k8s.KUBERNETES_HOST" in message and "secrets.k8s.KUBERNETES_API_KEY" in message


def test_cluster_scoped_node_drain_is_refused(tmp_path):
    doc = with_method(
        {
            "type": "python",
            "module": "chaosk8s.node.actions",
            "func": "drain_nodes",
            "arguments": {"label_selector": "kubernetes.io/os=linux"},
        }
    )
    assert "calls python module 'chaosk8s.node.actions'" in refused(tmp_path, doc)


def test_process_provider_running_kubectl_is_refused(tmp_path):
    doc = with_method(
        {"type": "process", "path": "kubectl", "arguments": "--context prod -n kube-system delete pods --all"}
    )
    assert "method[0].provider is a process provider ('kubectl')" in refused(tmp_path, doc)


def test_a_python_module_outside_the_namespaced_ones_is_refused(tmp_path):
    doc = with_method({"type": "python", "module": "mytools.k8s", "func": "anything", "arguments": {"ns": "gameday"}})
    assert "calls python module 'mytools.k8s'" in refused(tmp_path, doc)


def test_a_control_outside_the_harness_is_refused(tmp_path):
    doc = experiment("${ns}")
    doc["controls"] = [{"name": "mine", "provider": {"type": "python", "module": "chaosk8s.pod.actions"}}]
    assert "controls[0].provider calls python module 'chaosk8s.pod.actions'" in refused(tmp_path, doc)


def test_chaosk8s_call_without_ns_acts_in_default_and_is_refused(tmp_path):
    doc = with_method(
        {
            "type": "python",
            "module": "chaosk8s.pod.actions",
            "func": "terminate_pods",
            "arguments": {"label_selector": "app=x"},
        }
    )
    assert "names namespace 'default' at method[0].provider.arguments (no ns" in refused(tmp_path, doc)


def test_every_shipped_k8s_experiment_passes_the_scope_checks():
    from harness.spec.k8s_scope import _read, scope_problems

    for path in (ROOT / "experiments" / "k8s").glob("*.json"):
        assert scope_problems(_read(path)) == [], path


def test_namespaced_modules_take_ns_in_the_installed_chaosk8s():
    """The table is a promise about chaosk8s: each function of those modules takes `ns`
    (default 'default'), except the ones listed as making no cluster call."""
    import importlib
    import inspect

    from harness.spec.k8s_scope import (
        CHAOSK8S_DEFAULT_NS,
        NAMESPACED_MODULES,
        NO_CLUSTER_CALL,
    )

    checked = 0
    for name in NAMESPACED_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue  # e.g. chaosk8s.replicaset has no probes
        for func_name, func in inspect.getmembers(module, inspect.isfunction):
            if func.__module__ != name or func_name.startswith("_") or f"{name}.{func_name}" in NO_CLUSTER_CALL:
                continue
            ns = inspect.signature(func).parameters.get("ns")
            assert ns is not None and ns.default == CHAOSK8S_DEFAULT_NS, f"{name}.{func_name}"
            checked += 1
    assert checked > 30


def test_a_cluster_sink_option_the_master_cannot_take_is_refused(tmp_path):
    spec = write_spec(
        tmp_path, "where: cluster, workers: 1, sink: {kind: kafka, bootstrap: 'kafka:9092', start_at: earliest}"
    )
    with pytest.raises(SpecError, match="load.sink.start_at: with 'where: cluster' the sink runs beside"):
        load_gameday(spec, check_experiments=False)


def test_worker_resources_size_the_locust_worker_pods(tmp_path):
    import time

    from harness.targets.k8s.locust_objects import worker
    from harness.targets.k8s.plan import locust_plan

    target = (
        "{kind: kubernetes, context: dev, namespace: gameday, allowed_namespaces: [gameday], "
        "worker_resources: {cpu: 100m, memory: 256Mi}}"
    )
    gameday = load_gameday(write_spec(tmp_path, target=target), check_experiments=False)
    pod = worker(locust_plan(gameday, "r1", "http://gateway", time.time()))["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"memory": "256Mi"},
    }


def test_bad_worker_resources_are_refused_with_their_path(tmp_path):
    target = (
        "{kind: kubernetes, context: dev, namespace: gameday, allowed_namespaces: [gameday], "
        "worker_resources: {cpu: lots, memory: 1GB, disk: 1Gi}}"
    )
    with pytest.raises(SpecError) as info:
        load_gameday(write_spec(tmp_path, target=target), check_experiments=False)
    message = str(info.value)
    assert "target.worker_resources.cpu" in message and "target.worker_resources.memory" in message
    assert "disk" in message


@pytest.mark.parametrize(
    "allowed, message",
    [
        ({"GAMEDAY_ALLOWED_NAMESPACES": "gameday"}, "context 'dev' is not allowed"),
        ({"GAMEDAY_ALLOWED_CONTEXTS": "dev"}, "namespace 'gameday' is not allowed"),
    ],
)
def test_a_run_the_machine_does_not_allow_exits_2_before_making_a_run_directory(tmp_path, allowed, message):
    from k8s_api import write_kubeconfig

    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:9", ["dev"])  # never reached
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            str(write_spec(tmp_path, "where: cluster")),
            "--reports",
            str(tmp_path / "runs"),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "KUBECONFIG": str(kubeconfig), **allowed},
    )
    assert result.returncode == 2 and message in result.stderr, result.stdout + result.stderr
    assert not (tmp_path / "runs").exists()
