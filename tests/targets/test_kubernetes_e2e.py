"""End to end on a real cluster: a short game day with Locust in the cluster and a pod kill.

Runs only when $KUBECONFIG reaches a cluster whose current context is listed in
$GAMEDAY_ALLOWED_CONTEXTS, with the stack deployed in namespace $GAMEDAY_E2E_NAMESPACE
(default gameday) and the image loaded (see docs/kubernetes.md). Skips otherwise.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def reachable_context() -> str | None:
    if not os.environ.get("KUBECONFIG"):
        return None
    from kubernetes import client, config

    try:
        _contexts, active = config.list_kube_config_contexts()
        api = config.new_client_from_config(context=active["name"])
        client.VersionApi(api).get_code(_request_timeout=5)
    except Exception:  # noqa: BLE001 - any failure means: no cluster to test against
        return None
    return active["name"]


@pytest.mark.slow
def test_short_game_day_on_a_real_cluster(tmp_path):
    context = reachable_context()
    if context is None:
        pytest.skip("no reachable cluster through $KUBECONFIG")
    if context not in os.environ.get("GAMEDAY_ALLOWED_CONTEXTS", "").split(","):
        pytest.skip(f"context {context!r} is not in $GAMEDAY_ALLOWED_CONTEXTS")
    namespace = os.environ.get("GAMEDAY_E2E_NAMESPACE", "gameday")
    spec = tmp_path / "e2e.yaml"
    spec.write_text(f"""name: k8s-e2e
target: {{kind: kubernetes, context: {context}, namespace: {namespace}, allowed_namespaces: [{namespace}]}}
load: {{profile: {ROOT}/loadprofiles/inference.py, rate: 20, duration: 45s, where: cluster, workers: 1}}
chaos: {{experiment: {ROOT}/experiments/k8s/kill-model-replica.json, start_after: 15s}}
warmup: 5s
slos:
  - {{sli: availability, phase: baseline, objective: ">= 90%"}}
""")
    result = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(spec), "--reports", str(tmp_path)],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert (run_dir / "samples" / "samples.jsonl").stat().st_size > 0
    from harness.targets.k8s.client import Cluster
    from harness.targets.k8s.objects import listed

    cluster = Cluster.connect(context)
    assert listed(cluster, "Deployment", namespace, "app.kubernetes.io/managed-by=gameday") == []
