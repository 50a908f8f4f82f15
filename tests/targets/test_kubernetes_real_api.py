"""The harness's own Kubernetes calls against a real kube-apiserver (kube_support).

What the in-memory fake (k8s_api) cannot tell: that the API server accepts our
manifests, that the controller-manager turns the Locust Deployments into ReplicaSets
and pods and garbage-collects them after us, that the Role of deploy/stack/rbac.yaml
lets the harness do its work in its namespace and nothing outside, and that a refused
game day makes no request at all (the API server's audit log says so). There is no
kubelet: pods stay Pending, so the Locust pods never become ready here.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from kube_support import ADMIN, USER, deploy_stack, wait_for

from harness.errors import SpecError, TargetError
from harness.spec.loader import load_gameday
from harness.spec.models import KubernetesTarget
from harness.targets.k8s import objects
from harness.targets.k8s.access import ALLOWED_CONTEXTS_ENV, ALLOWED_NAMESPACES_ENV
from harness.targets.k8s.cleanup import cleanup_kubernetes, delete_run
from harness.targets.k8s.client import Cluster
from harness.targets.k8s.cluster_load import ClusterLocust
from harness.targets.k8s.labels import (
    EXPIRES_AT,
    RUN_LABEL,
    expires_at,
    expiry_annotation,
    run_selector,
)
from harness.targets.k8s.locust_objects import LocustPlan, manifests
from harness.targets.k8s.plan import locust_plan
from harness.targets.kubernetes import KubernetesRun

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "loadprofiles" / "inference.py"
SHIPPED = sorted((ROOT / "gamedays" / "k8s").glob("*.yaml"))
_names = itertools.count()


@pytest.fixture(scope="module")
def kubeconfig(kube, tmp_path_factory):
    """dev and kind-gameday (the shipped game days' context) are the namespace-limited user; prod is admin."""
    path = tmp_path_factory.mktemp("kubeconfig") / "config"
    return str(kube.kubeconfig(path, {"dev": USER, "kind-gameday": USER, "prod": ADMIN}))


@pytest.fixture
def admin(kube):
    return kube.client(ADMIN)


@pytest.fixture
def namespace(kube, admin, monkeypatch):
    """A namespace of its own, the stack deployed, the user bound; this machine allows it and context dev."""
    ns = kube.grant(f"harness-{next(_names)}")
    deploy_stack(admin, ns)
    monkeypatch.setenv(ALLOWED_CONTEXTS_ENV, "dev")
    monkeypatch.setenv(ALLOWED_NAMESPACES_ENV, ns)
    return ns


def make_plan(namespace: str, run: str = "r1", workers: int = 2, expires: float | None = None) -> LocustPlan:
    return LocustPlan(
        run=run,
        namespace=namespace,
        image="gameday:0.1.0",
        workers=workers,
        host=f"http://gateway.{namespace}.svc:80",
        profile_name="inference.py",
        profile_text=PROFILE.read_text(),
        inject_text="# inject\n",
        locust_args=("--gameday-shape", "constant_rate"),
        expires_at=time.time() + 600 if expires is None else expires,
    )


def run_objects(admin, namespace: str, run: str) -> dict[str, list[str]]:
    """Names of every object of `run` in `namespace`, by kind, including what the controllers made."""
    from kubernetes import client

    core, apps, selector = client.CoreV1Api(admin), client.AppsV1Api(admin), f"{RUN_LABEL}={run}"
    listed = {
        "ConfigMap": core.list_namespaced_config_map,
        "Service": core.list_namespaced_service,
        "Deployment": apps.list_namespaced_deployment,
        "ReplicaSet": apps.list_namespaced_replica_set,
        "Pod": core.list_namespaced_pod,
    }
    return {
        kind: sorted(
            o.metadata.name
            for o in call(namespace, label_selector=selector).items
            if o.metadata.deletion_timestamp is None
        )
        for kind, call in listed.items()
    }


# ---- the Locust objects of a cluster run ---------------------------------------------------


def test_locust_objects_are_created_with_expiry_and_their_pods_never_ready_without_a_kubelet(
    kube, admin, namespace, kubeconfig, tmp_path
):
    plan = make_plan(namespace, workers=2)
    driver = ClusterLocust(Cluster.connect("dev", kubeconfig), plan, tmp_path, ready_timeout_s=5)
    with pytest.raises(TargetError, match=r"gameday-locust-r1-master failed: 0/1 pods ready after 5s"):
        driver.start()  # no kubelet: the pods are created but never run
    made = wait_for(
        lambda: (found := run_objects(admin, namespace, "r1")) and len(found["Pod"]) == 3 and found,
        120,
        "the controllers' ReplicaSets and 3 pods",
    )
    assert made["ConfigMap"] == made["Service"] == ["gameday-locust-r1"]
    assert made["Deployment"] == ["gameday-locust-r1-master", "gameday-locust-r1-worker"]
    assert len(made["ReplicaSet"]) == 2
    for body in manifests(plan):
        meta = objects.listed(Cluster.connect("dev", kubeconfig), body["kind"], namespace, run_selector("r1"))
        stored = next(m for m in meta if m["name"] == body["metadata"]["name"])
        assert stored["annotations"][EXPIRES_AT] == expiry_annotation(plan.expires_at)
        assert expires_at(stored) == int(plan.expires_at)


def test_the_locust_service_selects_the_master_pod_and_the_workers_find_it_by_that_name(
    admin, namespace, kubeconfig, tmp_path
):
    from kubernetes import client

    plan = make_plan(namespace, workers=2)
    cluster = Cluster.connect("dev", kubeconfig)
    for body in manifests(plan):
        objects.create(cluster, body)
    core = client.CoreV1Api(admin)
    service = core.read_namespaced_service(plan.name, namespace)
    selector = ",".join(f"{k}={v}" for k, v in service.spec.selector.items())
    pods = wait_for(lambda: core.list_namespaced_pod(namespace, label_selector=selector).items, 120, "master pod")
    assert [p.metadata.owner_references[0].name.rsplit("-", 1)[0] for p in pods] == [f"{plan.name}-master"]
    worker = client.AppsV1Api(admin).read_namespaced_deployment(f"{plan.name}-worker", namespace)
    command = " ".join(worker.spec.template.spec.containers[0].command)
    assert f"--master-host {service.metadata.name}" in command
    assert service.spec.cluster_ip, "the API server gave the Service a cluster IP"


def test_stop_deletes_the_run_and_the_garbage_collector_takes_its_replicasets_and_pods(
    admin, namespace, kubeconfig, tmp_path
):
    cluster = Cluster.connect("dev", kubeconfig)
    other = ClusterLocust(cluster, make_plan(namespace, run="other"), tmp_path / "o", ready_timeout_s=1)
    driver = ClusterLocust(cluster, make_plan(namespace, run="r1"), tmp_path / "r", ready_timeout_s=1)
    for d in (other, driver):
        with pytest.raises(TargetError):
            d.start()
    wait_for(lambda: len(run_objects(admin, namespace, "r1")["Pod"]) == 3, 120, "the run's 3 pods")
    driver.stop()
    assert sorted(driver.removed) == sorted(
        f"{k} {namespace}/{n}"
        for k, n in [
            ("ConfigMap", "gameday-locust-r1"),
            ("Service", "gameday-locust-r1"),
            ("Deployment", "gameday-locust-r1-master"),
            ("Deployment", "gameday-locust-r1-worker"),
        ]
    )
    empty = {"ConfigMap": [], "Service": [], "Deployment": [], "ReplicaSet": [], "Pod": []}
    wait_for(lambda: run_objects(admin, namespace, "r1") == empty, 120, "ReplicaSets and pods collected")
    assert len(run_objects(admin, namespace, "other")["Deployment"]) == 2, "another run's objects stay"


def test_the_shipped_cluster_game_days_locust_manifests_pass_the_api_servers_validation(kube, admin, tmp_path):
    from kubernetes import client

    user = kube.client(USER)
    kinds = {
        "ConfigMap": client.CoreV1Api(user).create_namespaced_config_map,
        "Service": client.CoreV1Api(user).create_namespaced_service,
        "Deployment": client.AppsV1Api(user).create_namespaced_deployment,
    }
    checked = 0
    for path in SHIPPED:
        gameday = load_gameday(path, check_experiments=False)
        if gameday.load.where != "cluster":
            continue
        for body in manifests(locust_plan(gameday, "validate", "http://gateway.gameday.svc:80", time.time())):
            # Server-side dry run: admission, defaulting and validation (a Deployment's selector
            # must match its pod labels...), nothing stored. The server is 1.20 and drops fields
            # it does not know: tests/deploy checks the schema at 1.31 with kubernetes-validate.
            kinds[body["kind"]](gameday.target.namespace, body, dry_run="All")
            checked += 1
    assert checked >= 4
    assert run_objects(admin, "gameday", "validate")["Deployment"] == []


def test_a_duplicate_object_fails_with_the_api_servers_reason(namespace, kubeconfig):
    cluster = Cluster.connect("dev", kubeconfig)
    body = manifests(make_plan(namespace))[0]
    objects.create(cluster, body)
    with pytest.raises(TargetError, match=rf"create ConfigMap {namespace}/gameday-locust-r1 failed: 409 Conflict"):
        objects.create(cluster, body)


def test_deleting_an_object_already_gone_is_not_an_error(namespace, kubeconfig):
    cluster = Cluster.connect("dev", kubeconfig)
    for kind in ("Deployment", "Service", "ConfigMap", "NetworkPolicy"):
        assert objects.delete(cluster, kind, namespace, "nothing") is False
    assert delete_run(cluster, namespace, "r9") == []


# ---- finding the gateway ----------------------------------------------------------------------


def test_a_namespace_without_the_stack_says_to_deploy_it(kube, monkeypatch, kubeconfig):
    empty = kube.grant(f"empty-{next(_names)}")
    monkeypatch.setenv(ALLOWED_CONTEXTS_ENV, "dev")
    monkeypatch.setenv(ALLOWED_NAMESPACES_ENV, empty)
    run = KubernetesRun(
        KubernetesTarget(context="dev", namespace=empty, allowed_namespaces=(empty,)),
        where="cluster",
        config_file=kubeconfig,
    )
    with pytest.raises(TargetError, match=rf"kubectl apply -k deploy/stack -n {empty}"):
        run.up()


def test_the_stacks_gateway_service_is_found_by_label_and_has_no_external_address(namespace, kubeconfig):
    run = KubernetesRun(
        KubernetesTarget(context="dev", namespace=namespace, allowed_namespaces=(namespace,)),
        where="cluster",
        config_file=kubeconfig,
    )
    run.up()
    assert run.gateway["name"] == "gateway" and run.gateway["external_url"] is None


# ---- gameday cleanup --kubernetes ---------------------------------------------------------------


def gameday(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **env},
    )


def test_cleanup_removes_expired_locust_objects_and_keeps_live_ones(admin, namespace, kubeconfig):
    cluster = Cluster.connect("dev", kubeconfig)
    for body in manifests(make_plan(namespace, run="crashed", expires=time.time() - 1)):
        objects.create(cluster, body)
    for body in manifests(make_plan(namespace, run="live")):
        objects.create(cluster, body)
    wait_for(lambda: len(run_objects(admin, namespace, "crashed")["Pod"]) == 3, 120, "the crashed run's pods")
    result = gameday(
        "cleanup", "--kubernetes", "--context", "dev", "--namespace", namespace, env={"KUBECONFIG": kubeconfig}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(f"{namespace}/gameday-locust-crashed") == 4, result.stdout
    assert "live" not in result.stdout
    empty = {"ConfigMap": [], "Service": [], "Deployment": [], "ReplicaSet": [], "Pod": []}
    wait_for(lambda: run_objects(admin, namespace, "crashed") == empty, 120, "the crashed run collected")
    assert len(run_objects(admin, namespace, "live")["Deployment"]) == 2


def policy(name: str, namespace: str, annotations: dict[str, str]) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": annotations,
            "labels": {"app.kubernetes.io/managed-by": "gameday"},
        },
        "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "kafka"}}},
    }


def test_cleanup_reads_each_expiry_form_and_the_servers_creation_time_plus_ttl(namespace, kubeconfig):
    cluster, now = Cluster.connect("dev", kubeconfig), time.time()
    for name, notes in {
        "expired": {EXPIRES_AT: expiry_annotation(now - 5)},
        "expired-epoch": {EXPIRES_AT: str(int(now - 5))},
        "live": {EXPIRES_AT: expiry_annotation(now + 600)},
        "no-expiry": {},
        "ttl": {EXPIRES_AT: "0", "gameday.io/ttl-seconds": "120"},
    }.items():
        objects.create(cluster, policy(name, namespace, notes))
    assert sorted(cleanup_kubernetes("dev", [namespace], now, config_file=kubeconfig)) == [
        f"NetworkPolicy {namespace}/expired",
        f"NetworkPolicy {namespace}/expired-epoch",
    ]
    # the API server's creationTimestamp (whole seconds) + 120 s
    assert cleanup_kubernetes("dev", [namespace], now + 60, config_file=kubeconfig) == []
    assert cleanup_kubernetes("dev", [namespace], now + 200, config_file=kubeconfig) == [
        f"NetworkPolicy {namespace}/ttl"
    ]
    remaining = objects.listed(cluster, "NetworkPolicy", namespace, "app.kubernetes.io/managed-by=gameday")
    assert sorted(m["name"] for m in remaining) == ["live", "no-expiry"]


# ---- gameday run --dry-run -------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_dry_run_of_a_shipped_game_day_makes_no_request(kube, admin, kubeconfig, spec):
    since = time.time()
    result = gameday(
        "run",
        str(spec),
        "--dry-run",
        env={"KUBECONFIG": kubeconfig, ALLOWED_CONTEXTS_ENV: "kind-gameday", ALLOWED_NAMESPACES_ENV: "gameday"},
    )
    assert result.returncode == 0, result.stderr
    assert "kubernetes context 'kind-gameday', namespace 'gameday'" in result.stdout
    assert kube.requests_since(since, USER) == []


# ---- RBAC: the namespace-limited user of deploy/stack/rbac.yaml ---------------------------------


def test_the_user_runs_what_a_game_day_needs_in_its_namespace_without_a_single_403(
    kube, namespace, kubeconfig, tmp_path
):
    since = time.time()
    target = KubernetesRun(
        KubernetesTarget(context="dev", namespace=namespace, allowed_namespaces=(namespace,)),
        where="cluster",
        config_file=kubeconfig,
    )
    target.up()
    assert target.host == f"http://gateway.{namespace}.svc:80"
    driver = ClusterLocust(target.cluster, make_plan(namespace), tmp_path, ready_timeout_s=2)
    with pytest.raises(TargetError, match="pods ready"):
        driver.start()
    # Through the Service proxy (services/proxy): no endpoints, as no pod runs without a
    # kubelet, so the API server answers 503 (the copy itself is tested on the fake).
    assert driver.fetch("samples/samples.jsonl") is None
    driver.stop()
    requests = kube.requests_since(since, USER)
    assert [f"{r['verb']} {r['uri']}" for r in requests if r["code"] == 403] == []
    proxied = [r for r in requests if "/proxy/" in r["uri"]]
    assert proxied and all(r["code"] == 503 for r in proxied), proxied
    assert {r["verb"] for r in requests} >= {"list", "create", "get", "delete"}


@pytest.mark.parametrize(
    "call",
    [
        "list_namespace",
        "list_node",
        "list_pod_for_all_namespaces",
        "list_namespaced_secret:gameday",
        "list_namespaced_pod:kube-system",
        "create_namespaced_config_map:default",
    ],
)
def test_the_user_is_forbidden_outside_its_namespace_and_from_secrets(kube, call):
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    name, _, ns = call.partition(":")
    method = getattr(client.CoreV1Api(kube.client(USER)), name)
    args = (ns,) if ns else ()
    if name.startswith("create"):
        args += ({"metadata": {"name": "x"}},)
    with pytest.raises(ApiException) as refused:
        method(*args)
    assert refused.value.status == 403


def test_the_user_cannot_grant_itself_more(kube):
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    binding = {
        "metadata": {"name": "more"},
        "subjects": [{"kind": "User", "name": USER}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
    }
    with pytest.raises(ApiException) as refused:
        client.RbacAuthorizationV1Api(kube.client(USER)).create_namespaced_role_binding("gameday", binding)
    assert refused.value.status == 403


@pytest.mark.parametrize("resource, subresource, verb", [("pods", "portforward", "create")])
def test_the_user_may_do_what_docs_kubernetes_tells_it_to(kube, resource, subresource, verb):
    from kubernetes import client

    attributes = {"namespace": "gameday", "verb": verb, "resource": resource, "subresource": subresource}
    review = client.AuthorizationV1Api(kube.client(USER)).create_self_subject_access_review(
        {"spec": {"resourceAttributes": attributes}}
    )  # asks the server's own RBAC authorizer
    assert review.status.allowed, review.status.reason


def test_a_namespace_the_machine_allows_but_rbac_does_not_fails_with_the_rbac_hint(
    admin, namespace, kubeconfig, monkeypatch
):
    from kubernetes import client

    other = f"unbound-{next(_names)}"
    client.CoreV1Api(admin).create_namespace({"metadata": {"name": other}})
    monkeypatch.setenv(ALLOWED_NAMESPACES_ENV, f"{namespace},{other}")
    target = KubernetesRun(
        KubernetesTarget(context="dev", namespace=other, allowed_namespaces=(other,)), config_file=kubeconfig
    )
    with pytest.raises(TargetError, match=r"list Services in .* failed: 403 Forbidden \(check the RBAC role"):
        target.up()


# ---- the allow-list: refused before any request ------------------------------------------------


def write_spec(tmp_path: Path, context: str, namespace: str, secrets: dict | None = None) -> Path:
    experiment = {
        "title": "t",
        "description": "d",
        "secrets": {"k8s": secrets} if secrets else {},
        "method": [
            {
                "type": "action",
                "name": "kill",
                "provider": {
                    "type": "python",
                    "module": "chaosk8s.pod.actions",
                    "func": "terminate_pods",
                    "arguments": {"label_selector": "app.kubernetes.io/name=model-replica", "ns": namespace},
                    **({"secrets": ["k8s"]} if secrets else {}),
                },
            }
        ],
    }
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(experiment))
    spec = tmp_path / "gd.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "name": "refused",
                "target": {
                    "kind": "kubernetes",
                    "context": context,
                    "namespace": namespace,
                    "allowed_namespaces": [namespace],
                },
                "load": {"profile": str(PROFILE), "rate": 5, "duration": "20s", "where": "cluster", "workers": 1},
                "chaos": {"experiment": str(tmp_path / "exp.yaml"), "start_after": "5s"},
                "slos": [{"sli": "availability", "phase": "run", "objective": ">= 99%"}],
            }
        )
    )
    return spec


def assert_refused_without_a_request(kube, since: float, result: subprocess.CompletedProcess, *needles: str):
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr
    assert kube.requests_since(since, ADMIN) == [] and kube.requests_since(since, USER) == []


REFUSED_RUNS = {
    "context": ("prod", None, "context 'prod' is not allowed"),
    "namespace": ("dev", "kube-system", "namespace 'kube-system' is not allowed"),
}


@pytest.mark.parametrize("refused", REFUSED_RUNS)
def test_run_refused_by_the_machines_allow_list_makes_no_request(kube, namespace, kubeconfig, tmp_path, refused):
    context, ns, message = REFUSED_RUNS[refused]
    since = time.time()
    result = gameday(
        "run",
        str(write_spec(tmp_path, context, ns or namespace)),
        "--reports",
        str(tmp_path / "runs"),
        env={"KUBECONFIG": kubeconfig},
    )
    assert result.returncode != 0 and message in result.stdout + result.stderr, result.stdout + result.stderr
    assert kube.requests_since(since, ADMIN) == [] and kube.requests_since(since, USER) == []


@pytest.mark.parametrize("refused", REFUSED_RUNS)
def test_run_refused_by_the_machines_allow_list_exits_2_before_making_a_run_directory(
    namespace, kubeconfig, tmp_path, refused
):
    context, ns, message = REFUSED_RUNS[refused]
    result = gameday(
        "run",
        str(write_spec(tmp_path, context, ns or namespace)),
        "--reports",
        str(tmp_path / "runs"),
        env={"KUBECONFIG": kubeconfig},
    )
    assert result.returncode == 2 and message in result.stderr, result.stdout + result.stderr
    assert not (tmp_path / "runs").exists()


def test_an_experiments_secrets_cannot_switch_to_another_context(kube, namespace, kubeconfig, tmp_path):
    since = time.time()
    spec = write_spec(tmp_path, "dev", namespace, secrets={"KUBERNETES_CONTEXT": "prod"})
    result = gameday("run", str(spec), "--reports", str(tmp_path / "runs"), env={"KUBECONFIG": kubeconfig})
    assert_refused_without_a_request(kube, since, result, "KUBERNETES_CONTEXT")


def test_cleanup_with_a_context_or_namespace_not_allowed_makes_no_request(kube, namespace, kubeconfig):
    since = time.time()
    result = gameday(
        "cleanup", "--kubernetes", "--context", "prod", "--namespace", namespace, env={"KUBECONFIG": kubeconfig}
    )
    assert_refused_without_a_request(kube, since, result, "context 'prod' is not allowed")
    result = gameday(
        "cleanup", "--kubernetes", "--context", "dev", "--namespace", "kube-system", env={"KUBECONFIG": kubeconfig}
    )
    assert_refused_without_a_request(kube, since, result, "namespace 'kube-system' is not allowed")


@pytest.mark.parametrize(
    "context, allowed, message",
    [
        ("prod", "dev", "context 'prod' is not allowed"),  # in the kubeconfig, not allowed
        ("staging", "dev,staging", "context 'staging' is not in the kubeconfig"),  # allowed, not there
    ],
)
def test_target_up_refuses_a_context_before_any_request(
    kube, namespace, kubeconfig, monkeypatch, context, allowed, message
):
    monkeypatch.setenv(ALLOWED_CONTEXTS_ENV, allowed)
    since = time.time()
    run = KubernetesRun(
        KubernetesTarget(context=context, namespace=namespace, allowed_namespaces=(namespace,)), config_file=kubeconfig
    )
    with pytest.raises(SpecError, match=message):
        run.up()
    assert kube.requests_since(since, ADMIN) == [] and kube.requests_since(since, USER) == []


def test_the_allowed_context_reaches_the_real_server_so_the_refusals_above_are_not_vacuous(kube, namespace, kubeconfig):
    since = time.time()
    result = gameday(
        "cleanup", "--kubernetes", "--context", "dev", "--namespace", namespace, env={"KUBECONFIG": kubeconfig}
    )
    assert result.returncode == 0, result.stderr
    assert any(f"/namespaces/{namespace}/" in r["uri"] for r in kube.requests_since(since, USER))
    with pytest.raises(SpecError):
        KubernetesRun(
            KubernetesTarget(context="prod", namespace=namespace, allowed_namespaces=(namespace,)),
            config_file=kubeconfig,
        ).check()
