"""The cluster objects of one distributed Locust run, as plain manifests (dicts).

    ConfigMap   gameday-locust-<run>          the profile and the plugin injector
    Service     gameday-locust-<run>          master: 5557 (workers), 8090 (run files)
    Deployment  gameday-locust-<run>-master   1 pod: locust --master + a file server
    Deployment  gameday-locust-<run>-worker   N pods: locust --worker

Samples travel from the master to the harness like this: the master's plugin
writes the run directory into an emptyDir, a second container serves that
directory read-only over HTTP with byte ranges (harness.targets.k8s.files), and
the harness reads what is new through the API server's Service proxy
(`.../services/NAME:files/proxy/PATH`).
No exec, no port-forward, only the `kubernetes` client. The master's command
ends with `sleep`, so the Deployment does not restart a finished test; the exit
code lands in `locust.exit` in the run directory.

The data-flow ledger lives in that run directory too: the master writes
`ledger/produced.jsonl` (what workers ship it), and, given `--gameday-sink*`, starts
a sink reader at test start that writes `ledger/consumed.jsonl` and keeps reading
for the drain seconds after the test, before Locust exits.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.targets.k8s.labels import (
    EXPIRES_AT,
    MANAGED_BY,
    MANAGER,
    RUN_LABEL,
    expiry_annotation,
)

MASTER_PORT = 5557
# what each pod requests (memory is also its limit); workers' sizes come from the plan
MASTER_CPU, MASTER_MEMORY = "200m", "384Mi"
FILES_CPU, FILES_MEMORY = "50m", "96Mi"
WORKER_CPU, WORKER_MEMORY = "250m", "384Mi"
FILES_PORT = 8090
RUN_DIR = "/gameday/run"
PROFILE_DIR = "/gameday/profile"
EXIT_FILE = "locust.exit"


@dataclass(frozen=True)
class LocustPlan:
    """Everything needed to build the objects; `locust_args` are the shape and option flags."""

    run: str
    namespace: str
    image: str
    workers: int
    host: str
    profile_name: str
    profile_text: str
    inject_text: str
    locust_args: tuple[str, ...]
    expires_at: float
    sink_args: tuple[str, ...] = ()  # the master's --gameday-sink* flags (its sink reader)
    worker_cpu: str = WORKER_CPU  # each worker pod's CPU request (no CPU limit: it may burst)
    worker_memory: str = WORKER_MEMORY  # each worker pod's memory request and limit

    @property
    def name(self) -> str:
        return f"gameday-locust-{self.run}"[:52].rstrip("-")


def manifests(plan: LocustPlan) -> list[dict[str, Any]]:
    """ConfigMap, Service, master and worker Deployments, in creation order."""
    return [config_map(plan), service(plan), master(plan), worker(plan)]


def metadata(plan: LocustPlan, name: str, role: str | None = None) -> dict[str, Any]:
    labels = {MANAGED_BY: MANAGER, RUN_LABEL: plan.run, "app.kubernetes.io/name": "gameday-locust"}
    if role:
        labels["app.kubernetes.io/component"] = role
    return {
        "name": name,
        "namespace": plan.namespace,
        "labels": labels,
        "annotations": {EXPIRES_AT: expiry_annotation(plan.expires_at)},
    }


def config_map(plan: LocustPlan) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(plan, plan.name),
        "data": {plan.profile_name: plan.profile_text, "gameday_inject.py": plan.inject_text},
    }


def service(plan: LocustPlan) -> dict[str, Any]:
    ports = [
        {"name": "master", "port": MASTER_PORT, "targetPort": MASTER_PORT},
        {"name": "files", "port": FILES_PORT, "targetPort": FILES_PORT},
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(plan, plan.name, "master"),
        "spec": {"selector": _selector(plan, "master"), "ports": ports},
    }


def master(plan: LocustPlan) -> dict[str, Any]:
    locust = _locust(
        plan,
        [
            "--master",
            "--headless",
            "--expect-workers",
            str(plan.workers),
            "--host",
            plan.host,
            "--gameday-run-dir",
            RUN_DIR,
            *plan.locust_args,
            *plan.sink_args,
        ],
    )
    script = (
        f"{locust} 2>&1 | tee {RUN_DIR}/locust.log; echo ${{PIPESTATUS[0]}} > {RUN_DIR}/{EXIT_FILE}; exec sleep 86400"
    )
    files = _container(
        "files",
        plan.image,
        ["python", "-m", "harness.targets.k8s.files", "--directory", RUN_DIR, "--port", str(FILES_PORT)],
        cpu=FILES_CPU,
        memory=FILES_MEMORY,
    )
    files["ports"] = [{"name": "files", "containerPort": FILES_PORT}]
    files["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": FILES_PORT}, "periodSeconds": 2}
    main = _container("locust", plan.image, ["bash", "-c", script], cpu=MASTER_CPU, memory=MASTER_MEMORY)
    main["ports"] = [{"name": "master", "containerPort": MASTER_PORT}]
    main["env"] = [{"name": "GAMEDAY_RUN_DIR", "value": RUN_DIR}]
    return _deployment(plan, "master", 1, [main, files], run_volume=True)


def worker(plan: LocustPlan) -> dict[str, Any]:
    args = ["--worker", "--master-host", plan.name, "--master-port", str(MASTER_PORT), *plan.locust_args]
    container = _container(
        "locust",
        plan.image,
        ["bash", "-c", f"exec {_locust(plan, args)}"],
        cpu=plan.worker_cpu,
        memory=plan.worker_memory,
    )
    return _deployment(plan, "worker", plan.workers, [container], run_volume=False)


def _locust(plan: LocustPlan, args: list[str]) -> str:
    files = f"{PROFILE_DIR}/gameday_inject.py,{PROFILE_DIR}/{plan.profile_name}"
    return shlex.join(["python", "-m", "locust", "-f", files, *args])


def _container(name: str, image: str, command: list[str], cpu: str, memory: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "command": command,
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}},
        "volumeMounts": [{"name": "profile", "mountPath": PROFILE_DIR, "readOnly": True}],
    }


def _deployment(plan: LocustPlan, role: str, replicas: int, containers: list[dict], run_volume: bool) -> dict:
    volumes: list[dict[str, Any]] = [{"name": "profile", "configMap": {"name": plan.name}}]
    if run_volume:
        volumes.append({"name": "run", "emptyDir": {}})
        for container in containers:
            container["volumeMounts"].append({"name": "run", "mountPath": RUN_DIR})
    pod = {
        "metadata": {"labels": {**metadata(plan, "", role)["labels"]}},
        "spec": {"containers": containers, "volumes": volumes, "terminationGracePeriodSeconds": 10},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(plan, f"{plan.name}-{role}", role),
        "spec": {"replicas": replicas, "selector": {"matchLabels": _selector(plan, role)}, "template": pod},
    }


def _selector(plan: LocustPlan, role: str) -> Mapping[str, str]:
    return {RUN_LABEL: plan.run, "app.kubernetes.io/component": role}
