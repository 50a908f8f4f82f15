"""End to end on a real cluster: a short game day with Locust in the cluster and a pod kill.

Runs only when $KUBECONFIG reaches a cluster whose current context is listed in
$GAMEDAY_ALLOWED_CONTEXTS, with the stack deployed in namespace $GAMEDAY_E2E_NAMESPACE
(default gameday, which $GAMEDAY_ALLOWED_NAMESPACES must list) and the image loaded:
docs/kubernetes.md steps 1 to 3 and 5. Skips otherwise.

A pass means the game day passed: exit 0 (every SLO met), baseline availability of at
least 99% read back from result.json, the pod kill's rollback run and succeeded in the
chaos journal, the data-flow ledger copied back from the cluster with nothing lost, and
no Locust object left behind. Exit 1 (an SLO failed) is a failure of this test.
"""

from __future__ import annotations

import json
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


def listed(variable: str) -> list[str]:
    return [item.strip() for item in os.environ.get(variable, "").split(",") if item.strip()]


@pytest.mark.slow
def test_short_game_day_on_a_real_cluster(tmp_path):
    context = reachable_context()
    if context is None:
        pytest.skip("no reachable cluster through $KUBECONFIG")
    namespace = os.environ.get("GAMEDAY_E2E_NAMESPACE", "gameday")
    if context not in listed("GAMEDAY_ALLOWED_CONTEXTS") or namespace not in listed("GAMEDAY_ALLOWED_NAMESPACES"):
        pytest.skip(f"context {context!r} or namespace {namespace!r} is not allowed on this machine")
    spec = tmp_path / "e2e.yaml"
    spec.write_text(f"""name: k8s-e2e
target: {{kind: kubernetes, context: {context}, namespace: {namespace}, allowed_namespaces: [{namespace}]}}
load: {{profile: {ROOT}/loadprofiles/inference.py, rate: 20, duration: 60s, where: cluster, workers: 1}}
chaos: {{experiment: {ROOT}/experiments/k8s/kill-model-replica.json, start_after: 20s}}
warmup: 5s
slos:
  - {{sli: availability, phase: baseline, objective: ">= 99%"}}
""")
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(spec), "--reports", str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    outcome = json.loads((run_dir / "result.json").read_text())
    assert outcome["slis"]["baseline"]["*"]["availability"] >= 0.99, outcome["slis"]["baseline"]["*"]
    assert [v["state"] for v in outcome["verdicts"]] == ["pass"]
    journal = json.loads((run_dir / "journal.json").read_text())
    rollbacks = [(r["activity"]["name"], r["status"]) for r in journal["rollbacks"]]
    assert rollbacks == [("keep-three-replicas", "succeeded")], rollbacks
    ledger = outcome["ledger"]
    assert ledger["produced"] > 0 and ledger["delivered"] == ledger["produced"], ledger
    from harness.targets.k8s.client import Cluster
    from harness.targets.k8s.objects import listed as listed_objects

    cluster = Cluster.connect(context)
    assert listed_objects(cluster, "Deployment", namespace, "app.kubernetes.io/managed-by=gameday") == []
