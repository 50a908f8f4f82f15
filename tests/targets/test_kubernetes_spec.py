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


def write_spec(tmp_path: Path, load_extra: str = "where: cluster, workers: 3", target: str | None = None,
               experiment: dict | None = None) -> Path:
    target = target or "{kind: kubernetes, context: dev, namespace: gameday, allowed_namespaces: [gameday]}"
    chaos = ""
    if experiment is not None:
        (tmp_path / "exp.json").write_text(json.dumps(experiment))
        chaos = f"chaos: {{experiment: {tmp_path / 'exp.json'}, start_after: 20s}}\n"
    spec = tmp_path / "g.yaml"
    spec.write_text(f"name: g\ntarget: {target}\nload: {{profile: {PROFILE}, rate: 10, duration: 60s, {load_extra}}}\n"
                    f"{chaos}warmup: 5s\n")
    return spec


def experiment(ns_argument: str, config_default: str = "gameday") -> dict:
    return {"title": "t", "description": "d",
            "configuration": {"ns": {"type": "env", "key": "OTHER_NS", "default": config_default}},
            "method": [{"type": "action", "name": "kill", "provider": {
                "type": "python", "module": "chaosk8s.pod.actions", "func": "terminate_pods",
                "arguments": {"label_selector": "app=x", "ns": ns_argument}}}]}


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
        load_gameday(write_spec(tmp_path, experiment=experiment("${ns}", config_default="prod")),
                     check_experiments=False)


def test_experiment_inside_the_allow_list_loads(tmp_path):
    gameday = load_gameday(write_spec(tmp_path, experiment=experiment("${ns}")), check_experiments=False)
    assert gameday.chaos


def test_every_k8s_experiment_stays_in_the_shipped_game_days_namespace():
    for spec in (ROOT / "gamedays" / "k8s").glob("*.yaml"):
        load_gameday(spec, check_experiments=False)


def test_dry_run_prints_the_plan_and_creates_no_run_directory(tmp_path):
    result = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(GAMEDAY), "--dry-run",
                             "--reports", str(tmp_path / "runs")], capture_output=True, text=True, timeout=120,
                            cwd=ROOT, env={"PATH": "/usr/bin:/bin", "KUBECONFIG": str(tmp_path / "none")})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "kubernetes context 'kind-gameday', namespace 'gameday'" in out
    assert "Deployment gameday-locust-dry-run-worker replicas=2" in out
    assert "Deployment gameday-locust-dry-run-master replicas=1" in out
    assert "chaosk8s.pod.actions.terminate_pods" in out and "scale_deployment" in out
    assert "availability[POST /v1/score]@fault >= 99%" in out
    assert not (tmp_path / "runs").exists()
