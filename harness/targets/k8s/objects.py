"""Create, list and delete the kinds of objects gameday makes, through one table.

    KINDS: ConfigMap, Service, Deployment (Locust), NetworkPolicy (experiments' partitions)

Bodies are plain dicts (the manifests in locust_objects); listed objects come
back as the client's models, read through `meta()` into plain dicts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.clock import wait_until
from harness.targets.k8s.client import Cluster, api_error

# kind -> (api attribute on Cluster, method suffix)
KINDS: dict[str, tuple[str, str]] = {
    "Deployment": ("apps", "deployment"),
    "Service": ("core", "service"),
    "ConfigMap": ("core", "config_map"),
    "NetworkPolicy": ("networking", "network_policy"),
}
DELETE_ORDER = ("Deployment", "Service", "ConfigMap", "NetworkPolicy")


def _call(cluster: Cluster, kind: str, verb: str) -> Callable[..., Any]:
    api, suffix = KINDS[kind]
    return getattr(getattr(cluster, api), f"{verb}_namespaced_{suffix}")


def create(cluster: Cluster, body: dict[str, Any]) -> None:
    """Create one object from its manifest; TargetError naming it if the API refuses."""
    from kubernetes.client.rest import ApiException

    kind, ns, name = body["kind"], body["metadata"]["namespace"], body["metadata"]["name"]
    try:
        _call(cluster, kind, "create")(ns, body)
    except ApiException as exc:
        raise api_error(f"create {kind} {ns}/{name}", exc) from None


def listed(cluster: Cluster, kind: str, namespace: str, selector: str) -> list[dict[str, Any]]:
    """Metadata (name, annotations, creationTimestamp...) of each `kind` in `namespace` matching `selector`."""
    from kubernetes.client.rest import ApiException

    try:
        items = _call(cluster, kind, "list")(namespace, label_selector=selector).items
    except ApiException as exc:
        raise api_error(f"list {kind} in {namespace} ({selector})", exc) from None
    return [meta(item) for item in items]


def meta(item: Any) -> dict[str, Any]:
    m = item.metadata
    return {
        "name": m.name,
        "namespace": m.namespace,
        "labels": m.labels or {},
        "annotations": m.annotations or {},
        "creationTimestamp": m.creation_timestamp,
    }


def delete(cluster: Cluster, kind: str, namespace: str, name: str) -> bool:
    """Delete one object (its pods go with it); False if it was already gone."""
    from kubernetes.client.rest import ApiException

    # The answer is not read into a model: API servers before 1.23 answer a Service delete
    # with a Status, which the client's V1Service model rejects (a ValidationError, not an
    # ApiException), so the rest of the run's objects would be left behind.
    try:
        answer = _call(cluster, kind, "delete")(
            name, namespace, propagation_policy="Background", _preload_content=False
        )
        answer.read()  # drained, so the connection is reused
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise api_error(f"delete {kind} {namespace}/{name}", exc) from None
    return True


def delete_matching(
    cluster: Cluster, namespace: str, selector: str, keep: Callable[[dict[str, Any]], bool] = lambda _m: False
) -> list[str]:
    """Delete every gameday kind in `namespace` matching `selector` unless `keep(meta)`; 'Kind ns/name' of each."""
    removed = []
    for kind in DELETE_ORDER:
        for item in listed(cluster, kind, namespace, selector):
            if not keep(item) and delete(cluster, kind, namespace, item["name"]):
                removed.append(f"{kind} {namespace}/{item['name']}")
    return removed


def wait_available(cluster: Cluster, namespace: str, name: str, replicas: int, timeout_s: float) -> None:
    """Wait until Deployment `name` has `replicas` ready pods; TargetError saying what it had otherwise."""
    from kubernetes.client.rest import ApiException

    ready = [0]

    def available() -> bool:
        try:
            status = cluster.apps.read_namespaced_deployment_status(name, namespace).status
        except ApiException as exc:
            raise api_error(f"read Deployment {namespace}/{name}", exc) from None
        ready[0] = (status.ready_replicas or 0) if status else 0
        return ready[0] >= replicas

    if wait_until(available, timeout_s, interval=1.0):
        return
    raise api_error(
        f"wait for Deployment {namespace}/{name}",
        RuntimeError(
            f"{ready[0]}/{replicas} pods ready after {timeout_s:g}s; "
            f"see `kubectl -n {namespace} describe deployment {name}`"
        ),
    )
