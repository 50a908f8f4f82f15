"""The `kubernetes` target: a namespace of a cluster, reached through one kubeconfig context.

gameday does not deploy the stack (`kubectl apply -k deploy/stack` does, once); during
a run it only:
- refuses a context or namespace that is not allowed, before anything runs (k8s.access);
- finds the gateway's Service (label app.kubernetes.io/name=gateway);
- with `load.where: cluster`, runs Locust as a master and N workers there
  (k8s.cluster_load), deleting them at the end; the data-flow sink reader runs
  beside the master and its ledger is copied back with the samples;
- with `load.where: local`, reads the pipeline's output for the ledger through
  `kubectl port-forward svc/kafka 9094` (the Kafka pod's sink listener advertises
  127.0.0.1:9094, so the reader's connections all go through the forward);
- tells the `chaos run` child the context, namespace and the expiry to stamp on faults.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from harness.errors import TargetError
from harness.load.child import LOAD_START_TIMEOUT_S
from harness.proc import listening
from harness.spec.models import KubernetesTarget
from harness.targets.k8s import access
from harness.targets.k8s.client import Cluster, api_error, kube_contexts
from harness.targets.k8s.kafka_pod import SINK_LISTENER_PORT
from harness.targets.k8s.labels import expiry_annotation

GATEWAY_SELECTOR = "app.kubernetes.io/name=gateway"
EXPIRY_MARGIN_S = 300.0  # faults outlive a run by this much at most, if rollbacks never ran
SINK_FORWARD = ("127.0.0.1", SINK_LISTENER_PORT)  # where: local reads Kafka through this port-forward


class KubernetesRun:
    """The cluster during one game day. `fault_budget_s` is how long faults may live (run length + margin)."""

    def __init__(
        self,
        spec: KubernetesTarget,
        where: str = "local",
        fault_budget_s: float = 600.0,
        extra_namespaces: tuple[str, ...] = (),
        config_file: str | None = None,
        sink_forward: bool = True,
    ):
        self.spec, self.where, self.config_file = spec, where, config_file
        self.sink_forward = sink_forward and where == "local"  # the default sink needs the port-forward
        self.namespaces = (spec.namespace, *extra_namespaces)
        if where == "cluster":
            # chaos starts after the Locust pods are ready and the test started: those waits delay it
            from harness.targets.k8s.cluster_load import READY_TIMEOUT_S

            fault_budget_s += 2 * READY_TIMEOUT_S + LOAD_START_TIMEOUT_S
        self.expires_at = time.time() + fault_budget_s + EXPIRY_MARGIN_S
        self.cluster: Cluster | None = None
        self.gateway: dict[str, Any] = {}

    def check(self) -> None:
        """SpecError (exit 2, nothing touched) if the context, a namespace or any of the spec's
        allowed_namespaces is not allowed on this machine (k8s.access)."""
        check_allowed(self.spec, self.namespaces, self.config_file)

    def up(self, say: Callable[[str], None] = print) -> None:
        self.check()
        self.cluster = Cluster.connect(self.spec.context, self.config_file)
        self.gateway = find_gateway(self.cluster, self.spec.namespace)
        if self.sink_forward and not listening(*SINK_FORWARD, timeout=2):
            raise TargetError(
                f"load.where is local, so the data-flow sink reads Kafka from here, but nothing listens on "
                f"{SINK_FORWARD[0]}:{SINK_FORWARD[1]}; run `kubectl -n {self.spec.namespace} port-forward svc/kafka "
                f"{SINK_FORWARD[1]}:{SINK_LISTENER_PORT} &` (or set load.sink to where this machine reads the output)"
            )

    def down(self) -> None:
        """Nothing to stop: the stack stays deployed; Locust objects are deleted by the load driver."""

    @property
    def connected(self) -> Cluster:
        """The cluster `up` connected to; TargetError before `up`."""
        if self.cluster is None:
            raise TargetError(f"{self.describe()}: not connected yet")
        return self.cluster

    @property
    def host(self) -> str:
        """The gateway URL as the load generator sees it: in-cluster DNS, or reachable from here."""
        if self.where == "cluster":
            return self.gateway["cluster_url"]
        url = self.spec.gateway_url or self.gateway.get("external_url")
        if not url:
            raise TargetError(
                f"load.where is local but the gateway Service in {self.spec.namespace!r} has no external address; "
                f"run `kubectl -n {self.spec.namespace} port-forward svc/{self.gateway['name']} 8080:80` and set "
                "target.gateway_url: http://127.0.0.1:8080, or use load.where: cluster"
            )
        return url

    def env(self) -> dict[str, str]:
        """For the chaos child (chaosk8s reads KUBERNETES_CONTEXT; experiments read the rest)."""
        env = {
            "KUBERNETES_CONTEXT": self.spec.context,
            "GAMEDAY_K8S_NAMESPACE": self.spec.namespace,
            "GAMEDAY_FAULT_EXPIRES_AT": expiry_annotation(self.expires_at),
        }
        if self.config_file:
            env["KUBECONFIG"] = self.config_file
        return env

    def sink_argv(self) -> list[str] | None:
        """The local sink reader (where: local): the Kafka pod's sink listener through the port-forward.

        None with where: cluster, where the reader runs beside the Locust master (k8s.plan.sink_args).
        """
        if self.where != "local":
            return None
        return ["--kind", "kafka", "--bootstrap", f"{SINK_FORWARD[0]}:{SINK_FORWARD[1]}", "--topic", "scores"]

    def describe(self) -> str:
        return f"kubernetes {self.spec.context}/{self.spec.namespace}"

    def detail(self) -> dict[str, Any]:
        return {
            "context": self.spec.context,
            "namespace": self.spec.namespace,
            "gateway": self.gateway.get("name"),
            "load_where": self.where,
            "started_by_run": False,
        }


def check_allowed(spec: KubernetesTarget, namespaces: tuple[str, ...] = (), config_file: str | None = None) -> None:
    """SpecError unless this machine allows the target's context and namespaces; makes no API call.

    `gameday run` calls it before it makes a run directory (exit 2, nothing started), and
    the target again when it comes up."""
    access.require(
        spec.context,
        namespaces or (spec.namespace,),
        spec.allowed_namespaces,
        kube_contexts(config_file if config_file is not None else kubeconfig_file()),
    )


def find_gateway(cluster: Cluster, namespace: str) -> dict[str, Any]:
    """The gateway Service: its name, in-cluster URL and (LoadBalancer) external URL; TargetError if none."""
    from kubernetes.client.rest import ApiException

    try:
        services = cluster.core.list_namespaced_service(namespace, label_selector=GATEWAY_SELECTOR).items
    except ApiException as exc:
        raise api_error(f"list Services in {namespace}", exc) from None
    if not services:
        raise TargetError(
            f"no Service labelled {GATEWAY_SELECTOR} in namespace {namespace!r}; "
            f"deploy the stack first: kubectl apply -k deploy/stack -n {namespace}"
        )
    svc = services[0]
    port = svc.spec.ports[0].port
    ingress = (svc.status.load_balancer.ingress or []) if svc.status and svc.status.load_balancer else []
    external = next((f"http://{i.ip or i.hostname}:{port}" for i in ingress if i.ip or i.hostname), None)
    return {
        "name": svc.metadata.name,
        "port": port,
        "external_url": external,
        "cluster_url": f"http://{svc.metadata.name}.{namespace}.svc:{port}",
    }


def kubeconfig_file() -> str | None:
    """$KUBECONFIG's first file, or None for the client's default (~/.kube/config)."""
    value = os.environ.get("KUBECONFIG", "")
    return value.split(os.pathsep)[0] or None
