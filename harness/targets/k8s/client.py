"""The `kubernetes` client for one kubeconfig context: the only door to a cluster.

Every call the harness makes goes through `Cluster`, so the contract tests can
point it at an HTTP server that speaks the Kubernetes API and see each one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.errors import SpecError, TargetError


def kube_contexts(config_file: str | None = None) -> list[str]:
    """The context names in the kubeconfig ($KUBECONFIG or ~/.kube/config); empty if there is none."""
    from kubernetes import config

    try:
        contexts, _active = config.list_kube_config_contexts(config_file=config_file)
    except (config.ConfigException, OSError, TypeError):
        return []
    return [c["name"] for c in contexts or []]


@dataclass
class Cluster:
    """API handles bound to one context. Build with `connect`."""

    context: str
    core: Any
    apps: Any
    networking: Any

    @classmethod
    def connect(cls, context: str, config_file: str | None = None) -> Cluster:
        from kubernetes import client, config

        try:
            api = config.new_client_from_config(config_file=config_file, context=context, persist_config=False)
        except config.ConfigException as exc:
            raise SpecError(f"cannot load kubeconfig context {context!r}: {exc}") from None
        return cls(context, client.CoreV1Api(api), client.AppsV1Api(api), client.NetworkingV1Api(api))


def api_error(action: str, exc: Exception) -> TargetError:
    """A TargetError that says which call failed, with the API server's reason."""
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None) or str(exc)
    hint = " (check the RBAC role: see docs/kubernetes.md)" if status == 403 else ""
    return TargetError(f"kubernetes API: {action} failed: {status or ''} {reason}{hint}".replace("  ", " "))
