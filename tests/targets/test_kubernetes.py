"""Kubernetes calls of the harness that need a kubelet, against the in-memory API server (k8s_api).

The real control plane of the contract tests (kube_support) has no kubelet: no pod runs
or becomes ready, and the Service proxy has no pod to reach. So what waits for ready
Locust pods or reads the master's files through the Service proxy is tested here; each
such test says why. Everything else runs against a real kube-apiserver in
test_kubernetes_real_api.py and test_kubernetes_chaos_real_api.py.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from k8s_api import FakeApiServer, write_kubeconfig
from support import free_port, wait_for_port

from harness.errors import SpecError, TargetError
from harness.spec.models import KubernetesTarget
from harness.targets import kubernetes as kubernetes_target
from harness.targets.k8s import cluster_load
from harness.targets.k8s.cleanup import cleanup_kubernetes
from harness.targets.k8s.client import Cluster
from harness.targets.k8s.cluster_load import CHUNK, ClusterLocust
from harness.targets.k8s.labels import EXPIRES_AT, MANAGED_BY, expiry_annotation
from harness.targets.k8s.locust_objects import EXIT_FILE, FILES_PORT, LocustPlan
from harness.targets.kubernetes import KubernetesRun

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def api():
    with FakeApiServer() as server:
        yield server


@pytest.fixture
def kubeconfig(api, tmp_path, monkeypatch):
    monkeypatch.setenv("GAMEDAY_ALLOWED_CONTEXTS", "dev")
    monkeypatch.setenv("GAMEDAY_ALLOWED_NAMESPACES", "gameday")
    return str(write_kubeconfig(tmp_path / "kubeconfig", api.url, ["dev", "prod"]))


def make_plan(run="r1", workers=3, expires_at=None) -> LocustPlan:
    return LocustPlan(
        run=run,
        namespace="gameday",
        image="gameday:test",
        workers=workers,
        host="http://gateway.gameday.svc:80",
        profile_name="inference.py",
        profile_text="# profile\n",
        inject_text="# inject\n",
        locust_args=("--gameday-shape", "constant_rate"),
        expires_at=expires_at if expires_at is not None else time.time() + 600,
    )


def gateway_service(api):
    api.put(
        "services",
        "gameday",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "gateway", "labels": {"app.kubernetes.io/name": "gateway"}},
            "spec": {"ports": [{"name": "http", "port": 80}]},
        },
    )


def policy(name: str, annotations: dict) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "labels": {MANAGED_BY: "gameday"}, "annotations": annotations},
        "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "kafka"}}},
    }


def target(**overrides) -> KubernetesTarget:
    fields = {"context": "dev", "namespace": "gameday", "allowed_namespaces": ("gameday",), **overrides}
    return KubernetesTarget(**fields)


def test_local_load_without_a_reachable_gateway_says_to_port_forward(api, kubeconfig):
    gateway_service(api)
    run = KubernetesRun(target(), where="local", config_file=kubeconfig, sink_forward=False)
    run.up()
    with pytest.raises(TargetError, match="port-forward svc/gateway"):
        _ = run.host


# ---- the data-flow ledger in Kubernetes mode ---------------------------------------------
def test_where_local_reads_the_ledger_through_a_kafka_port_forward(api, kubeconfig, monkeypatch):
    gateway_service(api)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    monkeypatch.setattr(kubernetes_target, "SINK_FORWARD", listener.getsockname())
    run = KubernetesRun(target(), where="local", config_file=kubeconfig)
    with pytest.raises(TargetError, match=r"port-forward svc/kafka \d+:9094"):
        run.up()  # nothing listens: the sink could not read anything
    listener.listen(1)
    try:
        run.up()
        host, port = listener.getsockname()
        assert run.sink_argv() == ["--kind", "kafka", "--bootstrap", f"{host}:{port}", "--topic", "scores"]
    finally:
        listener.close()


def test_where_cluster_runs_the_sink_beside_the_master_not_here(api, kubeconfig):
    from types import SimpleNamespace

    from harness.run.drivers import _sink

    run = KubernetesRun(target(), where="cluster", config_file=kubeconfig)
    assert run.sink_argv() is None
    ctx = SimpleNamespace(gameday=SimpleNamespace(load=SimpleNamespace(where="cluster", sink=None)), run_dir=".")
    assert _sink(ctx, run) is None


def test_the_master_starts_a_sink_reader_on_the_stacks_scores_topic():
    from harness.spec.loader import load_gameday
    from harness.targets.k8s.locust_objects import master
    from harness.targets.k8s.plan import locust_plan

    gameday = load_gameday(
        ROOT / "gamedays" / "k8s" / "kill-model-replica.yaml", check_experiments=False, check_files=False
    )
    command = master(locust_plan(gameday, "r1", "http://gateway.gameday.svc:80", time.time()))
    script = command["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert "--gameday-sink kafka --gameday-sink-bootstrap kafka:9092 --gameday-sink-topic scores" in script


def test_the_ledger_is_copied_back_with_the_samples(api, kubeconfig, tmp_path, master_files):
    # fake API: start() waits for ready pods and the files come through the Service proxy to a pod; both need a kubelet
    served, url = master_files
    api.proxy_to("gameday", f"gameday-locust-r1:{FILES_PORT}", url)
    (served / "ledger").mkdir()
    (served / "ledger" / "produced.jsonl").write_text('{"id": "a", "ts": 1.0}\n{"id": "b", "ts": 2.0}\n')
    (served / "ledger" / "consumed.jsonl").write_text('{"id": "a", "ts": 1.5}\n')
    driver = ClusterLocust(Cluster.connect("dev", kubeconfig), make_plan(), tmp_path / "run", ready_timeout_s=5)
    driver.start()
    driver.stop()
    for name in ("produced.jsonl", "consumed.jsonl"):
        assert (tmp_path / "run" / "ledger" / name).read_text() == (served / "ledger" / name).read_text()


def test_namespace_outside_allowed_namespaces_is_refused_before_any_call(api, kubeconfig, monkeypatch):
    monkeypatch.setenv("GAMEDAY_ALLOWED_NAMESPACES", "gameday,kube-system")  # the spec narrows the machine's list
    run = KubernetesRun(target(), extra_namespaces=("kube-system",), config_file=kubeconfig)
    with pytest.raises(SpecError, match="namespace 'kube-system' is not in allowed_namespaces"):
        run.up()
    assert api.calls == []


def test_a_spec_cannot_allow_a_namespace_the_machine_does_not(api, kubeconfig):
    """allowed_namespaces in the spec only narrows $GAMEDAY_ALLOWED_NAMESPACES: a spec listing
    kube-system is refused even when its own target namespace is allowed."""
    run = KubernetesRun(target(allowed_namespaces=("gameday", "kube-system")), config_file=kubeconfig)
    with pytest.raises(SpecError, match=r"namespace 'kube-system' is not allowed: \$GAMEDAY_ALLOWED_NAMESPACES"):
        run.up()
    assert api.calls == []


def test_no_namespace_is_allowed_when_the_machine_lists_none(api, kubeconfig, monkeypatch):
    monkeypatch.delenv("GAMEDAY_ALLOWED_NAMESPACES")
    with pytest.raises(SpecError, match="export GAMEDAY_ALLOWED_NAMESPACES=gameday"):
        KubernetesRun(target(), config_file=kubeconfig).up()
    assert api.calls == []


def test_chaos_child_env_names_context_namespace_and_expiry(kubeconfig):
    env = KubernetesRun(target(), fault_budget_s=100, config_file=kubeconfig).env()
    assert env["KUBERNETES_CONTEXT"] == "dev" and env["GAMEDAY_K8S_NAMESPACE"] == "gameday"
    assert env["GAMEDAY_FAULT_EXPIRES_AT"].endswith("Z")


def test_cluster_locust_creates_labelled_objects_with_expiry(api, kubeconfig):
    # fake API: start() returns only once the pods are ready, which needs a kubelet
    driver = ClusterLocust(Cluster.connect("dev", kubeconfig), make_plan(workers=3), run_dir=".", ready_timeout_s=5)
    driver.start()
    assert api.names("configmaps", "gameday") == ["gameday-locust-r1"]
    assert api.names("services", "gameday") == ["gameday-locust-r1"]
    assert api.names("deployments", "gameday") == ["gameday-locust-r1-master", "gameday-locust-r1-worker"]
    worker = api.objects[("deployments", "gameday", "gameday-locust-r1-worker")]
    assert worker["spec"]["replicas"] == 3
    assert worker["metadata"]["labels"]["gameday.io/run"] == "r1"
    assert EXPIRES_AT in worker["metadata"]["annotations"]


@pytest.fixture
def master_files(tmp_path):
    """The master pod's file-server container (harness.targets.k8s.files), run here on a directory.

    The fake API server stands in for the real one here: with no kubelet, a real
    control plane has no pod to proxy to."""
    served = tmp_path / "master"
    (served / "samples").mkdir(parents=True)
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.targets.k8s.files",
            "--directory",
            str(served),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        start_new_session=True,
    )
    try:
        wait_for_port(port, timeout=30)
        yield served, f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_samples_are_copied_from_the_master_through_the_service_proxy(api, kubeconfig, tmp_path, master_files):
    # fake API: the Service proxy to the master pod needs a running pod, so a kubelet
    served, url = master_files
    api.proxy_to("gameday", f"gameday-locust-r1:{FILES_PORT}", url)
    run_dir = tmp_path / "run"
    (run_dir / "samples").mkdir(parents=True)
    driver = ClusterLocust(Cluster.connect("dev", kubeconfig), make_plan(), run_dir, ready_timeout_s=5)
    driver.start()
    (served / "samples" / "samples.jsonl").write_text('{"ts": 1}\n{"ts": 2}\n{"ts": 3')  # last line torn
    driver.sync(force=True)
    assert driver.running is True
    (served / "samples" / "samples.jsonl").write_text('{"ts": 1}\n{"ts": 2}\n{"ts": 3}\n')
    (served / EXIT_FILE).write_text("0\n")
    driver.sync(force=True)
    assert (run_dir / "samples" / "samples.jsonl").read_text() == '{"ts": 1}\n{"ts": 2}\n{"ts": 3}\n'
    assert driver.returncode == 0 and driver.running is False


def test_samples_are_copied_incrementally_by_byte_range(api, kubeconfig, tmp_path, master_files):
    """Each sync asks only for the bytes after what it has; it never downloads the whole file again."""
    # fake API: the Service proxy to the master pod needs a running pod, so a kubelet
    served, url = master_files
    api.proxy_to("gameday", f"gameday-locust-r1:{FILES_PORT}", url)
    driver = ClusterLocust(Cluster.connect("dev", kubeconfig), make_plan(), tmp_path / "run", ready_timeout_s=5)
    driver.start()
    samples = served / "samples" / "samples.jsonl"
    first = "".join(f'{{"ts": {i}, "pad": "{"x" * 100}"}}\n' for i in range(2000))
    samples.write_text(first)
    driver.sync(force=True)
    with open(samples, "a") as out:
        out.write('{"ts": "new"}\n')
    api.proxied.clear()
    driver.sync(force=True)
    asked = [(rng, size) for path, rng, size in api.proxied if path == "samples/samples.jsonl"]
    assert asked[0] == (f"bytes={len(first)}-{len(first) + CHUNK - 1}", len('{"ts": "new"}\n')), asked
    assert (tmp_path / "run" / "samples" / "samples.jsonl").read_text() == samples.read_text()


def test_a_backlog_larger_than_a_chunk_is_copied_in_pieces(api, kubeconfig, tmp_path, master_files, monkeypatch):
    # fake API: the Service proxy to the master pod needs a running pod, so a kubelet
    monkeypatch.setattr(cluster_load, "CHUNK", 1000)
    served, url = master_files
    api.proxy_to("gameday", f"gameday-locust-r1:{FILES_PORT}", url)
    driver = ClusterLocust(Cluster.connect("dev", kubeconfig), make_plan(), tmp_path / "run", ready_timeout_s=5)
    driver.start()
    text = "".join(f'{{"ts": {i}}}\n' for i in range(1000))
    (served / "samples" / "samples.jsonl").write_text(text)
    for _ in range(10):
        driver.sync(force=True)
    assert (tmp_path / "run" / "samples" / "samples.jsonl").read_text() == text
    sizes = [size for path, _rng, size in api.proxied if path == "samples/samples.jsonl"]
    assert max(sizes) <= 1000


@pytest.fixture
def stuck_pod():
    """A server that accepts connections and never answers: the master pod behind a stuck proxy."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held = []
    done = threading.Event()

    def accept():
        while not done.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    done.set()
    listener.close()
    for conn in held:
        conn.close()


def test_a_stuck_proxy_cannot_hang_the_run(api, kubeconfig, tmp_path, stuck_pod):
    # fake API: a pod that stops answering behind the Service proxy needs a kubelet to run it
    api.proxy_to("gameday", f"gameday-locust-r1:{FILES_PORT}", stuck_pod)
    driver = ClusterLocust(Cluster.connect("dev", kubeconfig), make_plan(), tmp_path / "run", ready_timeout_s=5)
    driver.start()
    syncing = threading.Thread(target=driver.sync, kwargs={"force": True}, daemon=True)
    syncing.start()
    syncing.join(timeout=120)  # generous: the request timeout is seconds
    assert not syncing.is_alive(), "sync still blocked on a proxy that never answers"
    assert driver.fetch_failures == 1 and driver.returncode is None


def test_cleanup_refuses_a_namespace_named_only_on_its_command_line(api, kubeconfig):
    """`gameday cleanup --kubernetes --namespace kube-system` must not allow kube-system by naming it."""
    api.put("networkpolicies", "kube-system", policy("expired", {EXPIRES_AT: expiry_annotation(time.time() - 5)}))
    with pytest.raises(SpecError, match="namespace 'kube-system' is not allowed"):
        cleanup_kubernetes("dev", ["kube-system"], time.time(), config_file=kubeconfig)
    assert api.calls == [] and api.names("networkpolicies", "kube-system") == ["expired"]


def test_the_master_file_server_serves_only_its_directory(master_files, tmp_path):
    import requests

    served, url = master_files
    (tmp_path / "secret.txt").write_text("not for you")
    assert requests.get(f"{url}/healthz", timeout=10).text == "ok"
    assert requests.get(f"{url}/%2E%2E/secret.txt", timeout=10).status_code == 404
    assert requests.get(f"{url}/samples", timeout=10).status_code == 404  # a directory
    (served / "events.jsonl").write_text("0123456789")
    partial = requests.get(f"{url}/events.jsonl", headers={"Range": "bytes=4-"}, timeout=10)
    assert (partial.status_code, partial.text) == (206, "456789")
    assert requests.get(f"{url}/events.jsonl", headers={"Range": "bytes=10-"}, timeout=10).status_code == 416


def test_locust_accepts_the_masters_command_line(tmp_path):
    """The master pod's Locust command, with the pod's paths mapped here, parses: every shape,
    run-dir and sink flag is one the plugin knows (an unknown one would crash the pod)."""
    import shlex

    from harness.spec.loader import load_gameday
    from harness.targets.k8s.locust_objects import PROFILE_DIR, RUN_DIR, master
    from harness.targets.k8s.plan import locust_plan

    gameday = load_gameday(
        ROOT / "gamedays" / "k8s" / "kill-model-replica.yaml", check_experiments=False, check_files=False
    )
    script = master(locust_plan(gameday, "r1", "http://gateway.gameday.svc:80", time.time()))
    script = script["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    here = {
        f"{PROFILE_DIR}/gameday_inject.py": str(ROOT / "harness" / "load" / "inject.py"),
        f"{PROFILE_DIR}/inference.py": str(ROOT / "loadprofiles" / "inference.py"),
        RUN_DIR: str(tmp_path),
    }
    argv = shlex.split(script.split(" 2>&1")[0])
    for pod_path, local in here.items():
        argv = [arg.replace(pod_path, local) for arg in argv]
    result = subprocess.run(
        [sys.executable, *argv[1:], "--list"], check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "InferenceUser" in result.stdout


# ---- expiry covers the longest run -----------------------------------------------------------
def test_locust_objects_do_not_expire_before_the_longest_run_ends():
    """Cleanup may delete objects whose expiry passed, so it must come after every wait a run can
    make: both readiness waits, the test start, Locust's own --run-time, its stop and the sink's drain."""
    from harness.load.child import LOAD_START_TIMEOUT_S
    from harness.spec.loader import load_gameday
    from harness.targets.k8s.plan import locust_plan

    gameday = load_gameday(
        ROOT / "gamedays" / "k8s" / "kill-model-replica.yaml", check_experiments=False, check_files=False
    )
    now = time.time()
    plan = locust_plan(gameday, "r1", "http://gateway.gameday.svc:80", now)
    args = [*plan.locust_args, *plan.sink_args]

    def flag(name: str) -> float:
        return float(args[args.index(name) + 1].rstrip("s"))

    longest = (
        2 * cluster_load.READY_TIMEOUT_S
        + LOAD_START_TIMEOUT_S
        + flag("--run-time")
        + flag("--stop-timeout")
        + flag("--gameday-sink-drain")
    )
    assert plan.expires_at - now >= longest + 60, (plan.expires_at - now, longest)


def test_faults_of_a_cluster_run_outlive_the_locust_readiness_waits(kubeconfig):
    from harness.load.child import LOAD_START_TIMEOUT_S

    local = KubernetesRun(target(), where="local", fault_budget_s=100, config_file=kubeconfig)
    cluster = KubernetesRun(target(), where="cluster", fault_budget_s=100, config_file=kubeconfig)
    assert cluster.expires_at - local.expires_at >= 2 * cluster_load.READY_TIMEOUT_S + LOAD_START_TIMEOUT_S - 1
