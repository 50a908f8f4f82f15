"""The k8s experiments' Chaos Toolkit actions (chaosk8s) against a real kube-apiserver.

The control plane (kube_support) is etcd + kube-apiserver + kube-controller-manager:
a Deployment's ReplicaSet creates Pod objects and replaces deleted ones, scaling moves
the ReplicaSet, NetworkPolicies are validated and stored. There is no kubelet, so no
pod ever runs or becomes ready. Each experiment of experiments/k8s/ is run the way a
game day runs it: by the harness's ChaosDriver (`chaos run --rollback-strategy=always`),
with the environment KubernetesRun gives the chaos child, as the namespace-limited user
of deploy/stack/rbac.yaml. Its method actions and rollbacks are the shipped ones; only
the steady-state hypothesis (its probes wait for ready replicas, which need a kubelet)
and the pauses are left out, except where a test says it runs the file unchanged.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kube_support import ADMIN, USER, deploy_stack, pod_names, wait_for

from harness.run.chaos_driver import ChaosDriver
from harness.spec.models import KubernetesTarget
from harness.targets.k8s.access import ALLOWED_CONTEXTS_ENV, ALLOWED_NAMESPACES_ENV
from harness.targets.k8s.labels import EXPIRES_AT, expiry_annotation
from harness.targets.kubernetes import KubernetesRun

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = ROOT / "experiments" / "k8s"
CONTEXT = "kind-gameday"  # the shipped game days' context, here the namespace-limited user
REPLICA = "app.kubernetes.io/name=model-replica"
_names = itertools.count()


@pytest.fixture(scope="module")
def kubeconfig(kube, tmp_path_factory):
    return kube.kubeconfig(tmp_path_factory.mktemp("kubeconfig") / "config", {CONTEXT: USER})


@pytest.fixture
def admin(kube):
    return kube.client(ADMIN)


@pytest.fixture
def namespace(kube, admin):
    """A namespace of its own with the stack deployed and its 3 model-replica pods created."""
    ns = kube.grant(f"chaos-{next(_names)}")
    deploy_stack(admin, ns)
    wait_for(lambda: len(pod_names(admin, ns, REPLICA)) == 3, 120, "3 model-replica pods")
    return ns


def without_readiness(name: str, method: list[str] | None = None, rollbacks: bool = True) -> dict:
    """The shipped experiment minus its steady-state hypothesis (no kubelet: nothing is ever
    ready) and its pauses; only the method actions named in `method` (all by default)."""
    doc = json.loads((EXPERIMENTS / name).read_text())
    doc.pop("steady-state-hypothesis", None)
    doc["method"] = [a for a in doc["method"] if method is None or a["name"] in method]
    for activity in doc["method"] + doc.get("rollbacks", []):
        activity.pop("pauses", None)
    if not rollbacks:
        doc.pop("rollbacks", None)
    return doc


def run_chaos(
    experiment: dict | Path, run_dir: Path, kubeconfig: Path, namespace: str, expires_at: float | None = None
) -> tuple[int, dict]:
    """`chaos run` as a game day starts it (ChaosDriver, KubernetesRun's env); its exit code and journal."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(experiment, dict):
        path = run_dir / "experiment.json"
        path.write_text(json.dumps(experiment))
        experiment = path
    target = KubernetesTarget(context=CONTEXT, namespace=namespace, allowed_namespaces=(namespace,))
    env = {**os.environ, **KubernetesRun(target, fault_budget_s=60, config_file=str(kubeconfig)).env()}
    if expires_at is not None:
        env["GAMEDAY_FAULT_EXPIRES_AT"] = expiry_annotation(expires_at)
    driver = ChaosDriver(experiment, run_dir, env=env)
    driver.start()
    code = driver.wait(180)
    if code is None:
        driver.kill()
        raise AssertionError(f"chaos run still running after 180 s: {(run_dir / 'chaos.out').read_text()}")
    journal = driver.journal()
    assert journal is not None, (run_dir / "chaos.out").read_text()
    return code, journal


def activity(journal: dict, name: str, section: str = "run") -> dict:
    return next(r for r in journal[section] if r["activity"]["name"] == name)


def test_terminate_pods_by_label_deletes_one_replica_pod_and_its_replicaset_replaces_it(
    admin, namespace, kubeconfig, tmp_path
):
    from kubernetes import client

    before = pod_names(admin, namespace, REPLICA)
    code, journal = run_chaos(without_readiness("kill-model-replica.json"), tmp_path, kubeconfig, namespace)
    assert code == 0 and journal["status"] == "completed", journal
    killed = activity(journal, "terminate-one-replica-pod")["output"]
    assert len(killed) == 1 and killed[0] in before

    # The controller-manager's ReplicaSet makes a new Pod object (it never runs: no kubelet).
    def replaced():
        names = pod_names(admin, namespace, REPLICA)
        return names if len(names) == 3 and killed[0] not in names else None

    after = wait_for(replaced, 120, "a replacement pod")
    assert len(after - before) == 1 and before - after == set(killed)
    owners = {
        p.metadata.owner_references[0].name
        for p in client.CoreV1Api(admin).list_namespaced_pod(namespace, label_selector=REPLICA).items
    }
    assert len(owners) == 1, f"the replacement belongs to the same ReplicaSet: {owners}"
    assert activity(journal, "keep-three-replicas", "rollbacks")["status"] == "succeeded"


def test_the_shipped_kill_experiment_kills_nothing_when_the_deployments_are_not_available(
    admin, namespace, kubeconfig, tmp_path
):
    # The file unchanged: its steady-state probes see 0 available replicas (no kubelet, so
    # no pod is ever ready), the method must not run, and the rollbacks still do.
    before = pod_names(admin, namespace, REPLICA)
    code, journal = run_chaos(EXPERIMENTS / "kill-model-replica.json", tmp_path, kubeconfig, namespace)
    assert code != 0 and journal["steady_states"]["before"]["steady_state_met"] is False, journal
    assert journal["run"] == []
    assert pod_names(admin, namespace, REPLICA) == before
    assert activity(journal, "keep-three-replicas", "rollbacks")["status"] == "succeeded"


def network_policies(admin, namespace: str) -> dict[str, dict]:
    from kubernetes import client

    items = client.NetworkingV1Api(admin).list_namespaced_network_policy(namespace).items
    return {p.metadata.name: admin.sanitize_for_serialization(p) for p in items}


def test_the_kafka_partition_is_a_validated_network_policy_created_and_then_removed(
    admin, namespace, kubeconfig, tmp_path
):
    expires = time.time() + 600
    code, journal = run_chaos(
        without_readiness("partition-kafka.json", ["partition-kafka"], rollbacks=False),
        tmp_path / "cut",
        kubeconfig,
        namespace,
        expires_at=expires,
    )
    assert code == 0, journal
    policy = network_policies(admin, namespace)["gameday-partition-kafka"]
    assert policy["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "gameday"
    assert policy["metadata"]["annotations"][EXPIRES_AT] == expiry_annotation(expires)
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "kafka"}}
    assert sorted(policy["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    assert not policy["spec"].get("ingress") and not policy["spec"].get("egress"), "deny all, both ways"

    code, journal = run_chaos(
        without_readiness("partition-kafka.json", ["remove-kafka-partition"], rollbacks=False),
        tmp_path / "heal",
        kubeconfig,
        namespace,
    )
    assert code == 0, journal
    assert "gameday-partition-kafka" not in network_policies(admin, namespace)


def test_the_partition_rollback_removes_the_policy_when_the_method_never_healed_it(
    admin, namespace, kubeconfig, tmp_path
):
    code, journal = run_chaos(
        without_readiness("partition-kafka.json", ["partition-kafka"]), tmp_path, kubeconfig, namespace
    )
    assert code == 0, journal
    assert activity(journal, "partition-kafka")["status"] == "succeeded"
    assert activity(journal, "remove-kafka-partition", "rollbacks")["status"] == "succeeded"
    assert network_policies(admin, namespace) == {}


def test_a_partition_left_by_a_killed_run_is_removed_by_gameday_cleanup(admin, namespace, kubeconfig, tmp_path):
    code, _ = run_chaos(
        without_readiness("partition-kafka.json", ["partition-kafka"], rollbacks=False),
        tmp_path,
        kubeconfig,
        namespace,
        expires_at=time.time() - 1,
    )
    assert code == 0 and "gameday-partition-kafka" in network_policies(admin, namespace)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "cleanup",
            "--kubernetes",
            "--context",
            CONTEXT,
            "--namespace",
            namespace,
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            ALLOWED_CONTEXTS_ENV: CONTEXT,
            ALLOWED_NAMESPACES_ENV: namespace,
        },
    )
    assert result.returncode == 0, result.stderr
    assert f"NetworkPolicy {namespace}/gameday-partition-kafka" in result.stdout
    assert network_policies(admin, namespace) == {}


def replica_counts(admin, namespace: str) -> tuple[int, int, int]:
    """(Deployment spec.replicas, its ReplicaSet's spec.replicas, live pods) of model-replica."""
    from kubernetes import client

    apps = client.AppsV1Api(admin)
    deployment = apps.read_namespaced_deployment("model-replica", namespace).spec.replicas
    sets = apps.list_namespaced_replica_set(namespace, label_selector=REPLICA).items
    assert len(sets) == 1, [s.metadata.name for s in sets]
    return deployment, sets[0].spec.replicas, len(pod_names(admin, namespace, REPLICA))


def test_scale_down_and_back_up_moves_the_replicaset_and_its_pods(admin, namespace, kubeconfig, tmp_path):
    code, journal = run_chaos(
        without_readiness("scale-down-replicas.json", ["scale-replicas-to-one"], rollbacks=False),
        tmp_path / "down",
        kubeconfig,
        namespace,
    )
    assert code == 0, journal
    wait_for(lambda: replica_counts(admin, namespace) == (1, 1, 1), 120, "model-replica at 1/1/1")
    code, journal = run_chaos(
        without_readiness("scale-down-replicas.json", ["scale-replicas-back"], rollbacks=False),
        tmp_path / "up",
        kubeconfig,
        namespace,
    )
    assert code == 0, journal
    wait_for(lambda: replica_counts(admin, namespace) == (3, 3, 3), 120, "model-replica at 3/3/3")


def test_every_k8s_experiment_activity_is_allowed_by_the_role_in_its_namespace(
    kube, admin, namespace, kubeconfig, tmp_path
):
    # Readiness probes fail here (no kubelet) and some actions act on a state a previous one
    # changed; what must never happen is a 403: the Role must allow every call.
    made: set[str] = set()
    for path in sorted(EXPERIMENTS.glob("*.json")):
        doc = json.loads(path.read_text())
        probes = (doc.get("steady-state-hypothesis") or {}).get("probes", [])
        doc["method"] = [*probes, *doc["method"]]
        doc.pop("steady-state-hypothesis", None)
        for act in doc["method"] + doc.get("rollbacks", []):
            act.pop("pauses", None)
            act.pop("tolerance", None)
        since = time.time()
        run_chaos(doc, tmp_path / path.stem, kubeconfig, namespace)
        requests = kube.requests_since(since, USER)
        forbidden = [f"{r['verb']} {r['uri']}" for r in requests if r["code"] == 403]
        assert forbidden == [], f"{path.name}: the Role refuses {forbidden}"
        made.update(_kind_of(r) for r in requests)
    # every kind of call the experiments make was made, so none went unchecked
    assert {
        "list deployments",
        "patch deployments",
        "list pods",
        "delete pods",
        "create networkpolicies",
        "delete networkpolicies",
    } <= made, made


def _kind_of(request: dict) -> str:
    """'verb resource' of an audit entry: 'delete pods', 'list deployments'."""
    path = request["uri"].split("?")[0].split("/")
    resource = (
        path[path.index("namespaces") + 2]
        if "namespaces" in path and len(path) > path.index("namespaces") + 2
        else path[-1]
    )
    return f"{request['verb']} {resource}"


def test_outside_its_namespace_the_user_is_forbidden_and_nothing_is_terminated(
    kube, admin, namespace, kubeconfig, tmp_path
):
    from kubernetes import client

    other = f"unbound-{next(_names)}"  # exists, holds the stack, but no RoleBinding for the user
    client.CoreV1Api(admin).create_namespace({"metadata": {"name": other}})
    deploy_stack(admin, other)
    wait_for(lambda: len(pod_names(admin, other, REPLICA)) == 3, 120, "3 model-replica pods")
    before = pod_names(admin, other, REPLICA)
    since = time.time()
    _code, journal = run_chaos(without_readiness("kill-model-replica.json"), tmp_path, kubeconfig, other)
    terminate = activity(journal, "terminate-one-replica-pod")
    assert terminate["status"] == "failed" and "Forbidden" in "".join(terminate["exception"]), terminate
    assert activity(journal, "keep-three-replicas", "rollbacks")["status"] == "failed"
    requests = kube.requests_since(since, USER)
    assert requests and {r["code"] for r in requests if f"/namespaces/{other}/" in r["uri"]} == {403}, requests
    assert pod_names(admin, other, REPLICA) == before
    assert client.AppsV1Api(admin).read_namespaced_deployment("model-replica", other).spec.replicas == 3
